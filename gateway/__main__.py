"""Command line: ``python -m gateway {up,web,worker,config,simulate}``."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
from pathlib import Path

from gateway.settings import desk_redis, load_settings
from routing.config import ConfigError, Workspace, load_config


def _workspace(path: str) -> Workspace:
    try:
        return load_config(path)
    except ConfigError as exc:
        sys.exit(str(exc))


def cmd_web(_: argparse.Namespace) -> None:
    from aiohttp import web

    from gateway.app import create_app
    from gateway.logs import configure

    settings = load_settings()
    configure(settings.log_format, settings.log_level, settings.log_bodies)
    app = create_app(settings, _workspace(settings.gateway_config))
    mode = "sandbox (local Twilio and Slack stand-ins)" if settings.sandbox else "live"
    print(f"relaydesk web on {settings.local_url} [{mode}]", file=sys.stderr, flush=True)
    gc.freeze()  # what start-up built lives on: full collections need not walk it again
    web.run_app(app, host=settings.host, port=settings.port, print=None,
                access_log=None, handle_signals=True)


def cmd_worker(args: argparse.Namespace) -> None:
    from gateway.logs import configure
    from workers.context import Context
    from workers.main import run

    s = load_settings()
    configure(s.log_format, s.log_level, s.log_bodies)
    context = Context.build(
        workspace=_workspace(s.gateway_config), redis_url=s.redis_url,
        rq_redis_url=s.rq_redis_url, namespace=s.redis_namespace, queue=s.rq_queue,
        twilio_sid=s.twilio_account_sid, twilio_token=s.twilio_auth_token,
        twilio_api_base=s.twilio_api_base, slack_token=s.slack_bot_token,
        slack_api_base=s.slack_api_base, public_url=s.public_url, sandbox=s.sandbox,
        twilio_overrides=s.twilio_connection_overrides,
    )
    print(f"relaydesk worker on queue {s.rq_queue}", file=sys.stderr, flush=True)
    run(context, s.rq_redis_url, s.rq_queue, burst=args.burst, sweeper_grace=s.sweeper_grace,
        metrics_port=s.worker_metrics_port)


def cmd_up(_: argparse.Namespace) -> None:
    """Embedded Redis (unless REDIS_URL is set), then the Procfile's processes, restarted if
    they crash (see gateway.supervisor)."""
    from gateway.redis_launcher import EmbeddedRedis
    from gateway.supervisor import Supervisor, read_procfile

    settings = load_settings()
    _workspace(settings.gateway_config)  # fail fast, before starting anything
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["WEB_PORT"] = str(settings.port)
    server = None
    if settings.embedded_redis:
        data = Path(settings.relaydesk_var) / "redis"
        server = EmbeddedRedis(data, port=settings.embedded_redis_port,
                               appendfsync=os.environ.get("REDIS_APPENDFSYNC", "everysec")).start()
        print(f"embedded redis on {settings.redis_url} (data in {data})", file=sys.stderr)
    env["REDIS_URL"] = settings.redis_url  # what every other command derives, made explicit
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):  # web and worker counters, summed at /metrics
        metrics_dir = Path(settings.relaydesk_var) / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # a new run starts its counters at 0
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    processes = {name: [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
                 for name, argv in read_procfile("Procfile").items()}
    try:
        code = Supervisor(processes, env).run()
    finally:
        if server:
            server.stop()
    if code:
        sys.exit(code)


def cmd_config_check(args: argparse.Namespace) -> None:
    workspace = _workspace(args.file)
    print(f"{args.file}: ok ({len(workspace.campaigns)} campaigns, "
          f"{len(workspace.agents)} agents)")


def cmd_token_create(args: argparse.Namespace) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    import json

    from routing.permissions import Principal, new_token, token_hash
    from routing.store import Store

    settings = load_settings()
    workspace = _workspace(settings.gateway_config)
    if args.agent and workspace.agent(args.agent) is None:
        sys.exit(f"no agent {args.agent!r} in {settings.gateway_config}")
    if args.bot and (workspace.campaign(args.bot) is None or workspace.campaign(args.bot).bot
                     is None):
        sys.exit(f"campaign {args.bot!r} does not exist or has no bot")
    principal = (Principal("agent", args.name or args.agent, agent=args.agent) if args.agent
                 else Principal("bot", args.name or args.bot, campaign=args.bot) if args.bot
                 else Principal("admin", args.name or "admin"))
    token = new_token()
    store = Store(desk_redis(settings), settings.redis_namespace)
    store.add_token(token_hash(token), json.dumps(principal.to_json()))
    print(token)


def cmd_token_revoke(args: argparse.Namespace) -> None:
    import redis

    from routing.permissions import token_hash
    from routing.store import Store

    settings = load_settings()
    store = Store(redis.Redis.from_url(settings.redis_url, decode_responses=True),
                  settings.redis_namespace)
    sys.exit(0 if store.revoke_token(token_hash(args.token)) else "no such token")


def cmd_route_explain(args: argparse.Namespace) -> None:
    """The routing dry run from the command line."""
    import asyncio
    import json

    import redis.asyncio as aioredis

    from gateway.api.conversations import explain
    from routing import actions
    from routing.errors import ActionError
    from routing.store import Store

    settings = load_settings()
    workspace = _workspace(settings.gateway_config)
    desk_redis(settings).close()  # a dry run against an empty Redis would mislead

    async def run() -> dict:
        client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            ctx = actions.Ctx(workspace, Store(client, settings.redis_namespace))
            return explain(await actions.dry_run(ctx, None, args.campaign, args.contact),
                           args.campaign)
        finally:
            await client.aclose()

    try:
        answer = asyncio.run(run())
    except ActionError as exc:
        sys.exit(exc.reason)
    print(json.dumps(answer, indent=2, ensure_ascii=False))


def cmd_bulk_send(args: argparse.Namespace) -> None:
    """A CSV of recipients as a bulk of active messages, with a progress bar."""
    from gateway.bulk_cli import send

    settings = load_settings()
    token = args.token or os.environ.get("RELAYDESK_TOKEN", "")
    if not token and settings.sandbox:
        from gateway.app import SANDBOX_ADMIN_TOKEN

        token = SANDBOX_ADMIN_TOKEN
    if not token:
        sys.exit("give --token (or RELAYDESK_TOKEN): a marketing agent's or an admin's token")
    try:
        data = send(args.url or settings.local_url, token, args.campaign, args.template,
                    Path(args.file), args.department, wait=not args.no_wait)
    except (OSError, ValueError, RuntimeError) as exc:
        sys.exit(str(exc))
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items() if v)
    print(f"bulk {data['id']} {data['status']}: {counts}")


def cmd_templates_sync(args: argparse.Namespace) -> None:
    """The account's Content API templates, and whether each configured WhatsApp template is
    one of them, approved, with as many variables as the config declares."""
    from channels.twilio.client import make_client
    from channels.twilio.content import compare, list_templates

    settings = load_settings()
    workspace = _workspace(args.config or settings.gateway_config)
    client = make_client(settings.twilio_account_sid, settings.twilio_auth_token,
                         settings.twilio_api_base)
    account = list_templates(client)
    print(f"{len(account)} Content API template(s) in the account:")
    for t in account:
        print(f"  {t.sid}  {t.name} ({t.language}; {', '.join(t.types)}; "
              f"{len(t.variables)} variable(s); WhatsApp: {t.whatsapp or 'not submitted'})")
    rows = compare([(c.id, t.name, t.content_sid or "", len(t.variables))
                    for c in workspace.campaigns if c.channel == "whatsapp"
                    for t in c.templates], account)
    print("configured WhatsApp templates:")
    for where, problem in rows:
        print(f"  {where}: {problem}")
    if any(problem != "ok" for _, problem in rows):
        sys.exit(1)


def cmd_simulate(args: argparse.Namespace) -> None:
    from gateway.simulate import main

    main(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="embedded Redis + web + worker (what `make run` does)").set_defaults(
        func=cmd_up)
    sub.add_parser("web", help="the HTTP gateway").set_defaults(func=cmd_web)
    worker = sub.add_parser("worker", help="the RQ worker")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=cmd_worker)
    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a YAML config file")
    check.add_argument("file")
    check.set_defaults(func=cmd_config_check)
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command",
                                                                      required=True)
    create = token.add_parser("create", help="create a token (printed once, stored hashed)")
    kind = create.add_mutually_exclusive_group()
    kind.add_argument("--agent", default="", help="a token acting as this agent")
    kind.add_argument("--bot", default="", help="a bot token scoped to this campaign")
    create.add_argument("--name", default="", help="a label for audit trails")
    create.set_defaults(func=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token")
    revoke.set_defaults(func=cmd_token_revoke)
    route = sub.add_parser("route", help="routing tools").add_subparsers(dest="route_command",
                                                                         required=True)
    explain = route.add_parser("explain", help="where a new conversation would go now, and why")
    explain.add_argument("--campaign", required=True)
    explain.add_argument("--contact", required=True, help="contact id or E.164 phone")
    explain.set_defaults(func=cmd_route_explain)
    templates = sub.add_parser("templates", help="active-message templates").add_subparsers(
        dest="templates_command", required=True)
    sync = templates.add_parser("sync", help="list the account's Content API templates and "
                                "check the configured WhatsApp ones against them")
    sync.add_argument("--config", default="", help="YAML config (default: GATEWAY_CONFIG)")
    sync.set_defaults(func=cmd_templates_sync)
    bulk = sub.add_parser("bulk", help="bulk active messages").add_subparsers(
        dest="bulk_command", required=True)
    bulk_send = bulk.add_parser("send", help="send a template to the recipients of a CSV "
                                "(a `to` column, one column per variable), with a progress bar")
    bulk_send.add_argument("file")
    bulk_send.add_argument("--campaign", required=True)
    bulk_send.add_argument("--template", required=True)
    bulk_send.add_argument("--department", default="", help="replies go to this department")
    bulk_send.add_argument("--token", default="", help="API token (default: RELAYDESK_TOKEN; "
                           "the sandbox admin token in sandbox mode)")
    bulk_send.add_argument("--url", default="", help="the gateway (default: its local URL)")
    bulk_send.add_argument("--no-wait", action="store_true", help="do not wait for the end")
    bulk_send.set_defaults(func=cmd_bulk_send)
    sim = sub.add_parser("simulate", help="be a customer and an agent against the sandbox")
    from gateway.simulate import add_arguments

    add_arguments(sim)
    sim.set_defaults(func=cmd_simulate)
    return p


def main(argv: list[str] | None = None) -> None:
    import redis

    args = parser().parse_args(argv)
    try:
        args.func(args)
    except redis.ConnectionError as exc:
        sys.exit(f"cannot reach Redis ({exc}); is `make run` up, and does this command have "
                 "the same REDIS_URL (or EMBEDDED_REDIS_PORT) as it?")


if __name__ == "__main__":
    main()
