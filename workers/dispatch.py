"""Put work on the RQ queue.

Every piece of work is first marked in the store's ``pending`` set by the same Lua script that
made it necessary; the job is then enqueued here. If a process dies between the two, the
sweeper finds the mark and enqueues it again, so nothing is lost; jobs are idempotent, so
nothing is doubled.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import redis
from rq import Queue, Retry

from routing.types import Work

# Backoff for transient failures (Twilio/Slack 429 or 5xx, network): 1 s, 2 s, 5 s, 15 s, 60 s.
RETRY = Retry(max=5, interval=[1, 2, 5, 15, 60])
#: Seconds RQ keeps a finished job (whose result is None). Not 0: RQ deletes such a job at
#: once by reading its executions back first, 7 of the 16 round trips of a job's bookkeeping
#: (RQ 3.0); with an expiry everything is written in the success's own transaction.
RESULT_TTL = 1

#: The job that does each kind of work (every kind has one; a test checks it).
JOBS = {
    Work.SLACK: "workers.jobs.relay_to_slack",
    Work.TWILIO: "workers.jobs.send_to_twilio",
    Work.BOT: "workers.jobs.deliver_to_bot",
    Work.STATUS: "workers.jobs.show_status",
    Work.CARD: "workers.jobs.update_card",
    Work.ALERT: "workers.jobs.alert_agent",
    Work.AWAY: "workers.jobs.alert_away",
    Work.REMIND: "workers.jobs.remind_agent",
    Work.ESCALATION: "workers.jobs.notify_supervisors",
    Work.BULK: "workers.bulk.send_chunk",
    Work.PROGRESS: "workers.bulk.show_progress",
    Work.PROBLEM: "workers.jobs.report_problem",
}


class Dispatcher:
    def __init__(self, rq_redis: redis.Redis, queue: str = "relaydesk") -> None:
        self.queue = Queue(queue, connection=rq_redis)

    def enqueue(self, *members: str) -> None:
        """Enqueue the jobs for pending entries such as ``slack:v12`` or ``status:m7``,
        in one round trip."""
        if not members:
            return
        self.queue.enqueue_many([
            Queue.prepare_data(
                JOBS[Work(kind)], (ident,), retry=RETRY, result_ttl=RESULT_TTL,
                failure_ttl=86400,
            )
            for kind, _, ident in (m.partition(":") for m in members)
        ])

    def later(self, seconds: float, member: str) -> None:
        """Enqueue the job for a mark after ``seconds`` (a throttled job, instead of sleeping;
        RQ's scheduler, which runs in the worker, moves it to the queue when due)."""
        kind, _, ident = member.partition(":")
        # RQ's scheduled registry counts whole seconds (it truncates): round up, never early.
        when = datetime.fromtimestamp(math.ceil(time.time() + seconds), tz=UTC)
        self.queue.enqueue_at(when, JOBS[Work(kind)], ident, retry=RETRY,
                              result_ttl=RESULT_TTL, failure_ttl=86400)
