"""Job timeouts for workers on threads, kept by one watchdog thread per process.

RQ's ``TimerDeathPenalty`` (the only one that works off the main thread, where ``SIGALRM``
cannot reach) starts a ``threading.Timer``, a new thread, for every job and cancels it after:
about 0.2 ms of CPU per job on a small machine, for a timeout that almost never fires. Here
each worker thread only notes its deadline; one watchdog thread sleeps until the earliest one
and, if a job is still running then, raises the timeout in its thread exactly as RQ's timer
does (``PyThreadState_SetAsyncExc``: it lands when the thread next runs Python code, so a call
blocked in C, such as a socket read with its own timeout, ends first).
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
import time
from functools import cache
from typing import Any

from rq.timeouts import BaseDeathPenalty, JobTimeoutException


@cache
def _timeout_class(exception: type[BaseException], timeout: float) -> type[BaseException]:
    """The exception to raise, carrying RQ's message (an async exception is raised from its
    class, so the message goes in a subclass, not in the class RQ shares across threads)."""
    message = f"Task exceeded maximum timeout value ({timeout} seconds)"

    def __init__(self: BaseException, *args: Any) -> None:
        exception.__init__(self, message)

    def __reduce__(self: BaseException) -> tuple[type[BaseException], tuple[Any, ...]]:
        return exception, self.args  # pickled as RQ's own class

    # Named as RQ's class, so a failed job's record reads as it always did.
    return type(exception.__name__, (exception,), {
        "__init__": __init__, "__reduce__": __reduce__,
        "__module__": exception.__module__, "__qualname__": exception.__qualname__})


class Watchdog(threading.Thread):
    """Deadlines of running jobs; fires the ones still armed when they pass."""

    def __init__(self) -> None:
        super().__init__(name="job-deadlines", daemon=True)
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        #: token -> (deadline, thread, exception to raise there)
        self._armed: dict[int, tuple[float, int, type[BaseException]]] = {}
        self._tokens = itertools.count()

    def arm(self, seconds: float, exception: type[BaseException]) -> int:
        thread = threading.get_ident()
        deadline = time.monotonic() + seconds
        with self._wake:
            token = next(self._tokens)
            self._armed[token] = (deadline, thread, exception)
            heapq.heappush(self._heap, (deadline, token))
            if self._heap[0][1] == token:  # earlier than what the watchdog sleeps towards
                self._wake.notify()
        return token

    def disarm(self, token: int) -> None:
        """The job is over. (A deadline that passed just then raises in ``disarm`` itself,
        which RQ's ``BaseDeathPenalty.__exit__`` ignores, as with its own timer.)"""
        with self._wake:  # its heap entry stays, skipped when it comes up, or compacted
            self._armed.pop(token, None)
            if len(self._heap) > 2 * len(self._armed) + 64:
                self._heap = [(due, armed) for armed, (due, _, _) in self._armed.items()]
                heapq.heapify(self._heap)

    def run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                deadline, token = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                _, thread, exception = self._armed.pop(token)
                _raise_in(thread, exception)


def _raise_in(thread: int, exception: type[BaseException]) -> None:
    found = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread),
                                                       ctypes.py_object(exception))
    if found > 1:  # never expected: undo rather than hit several threads
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), None)


_watchdog: Watchdog | None = None
_started = threading.Lock()


def watchdog() -> Watchdog:
    global _watchdog
    with _started:
        if _watchdog is None or not _watchdog.is_alive():
            _watchdog = Watchdog()
            _watchdog.start()
        return _watchdog


class WatchdogDeathPenalty(BaseDeathPenalty):
    """RQ's death penalty interface, on the process's watchdog."""

    def __init__(self, timeout: float, exception: type[BaseException] = JobTimeoutException,
                 **kwargs: Any) -> None:
        super().__init__(timeout, exception, **kwargs)
        self._armed: tuple[Watchdog, int] | None = None

    def setup_death_penalty(self) -> None:
        if self._timeout > 0:
            keeper = watchdog()  # disarmed on the same one: tokens are the watchdog's own
            self._armed = keeper, keeper.arm(self._timeout,
                                             _timeout_class(self._exception, self._timeout))

    def cancel_death_penalty(self) -> None:
        if self._armed is not None:
            keeper, token = self._armed
            keeper.disarm(token)
            self._armed = None
