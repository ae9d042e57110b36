"""The cluster processes: ``eoc api``, ``eoc relay``, ``eoc worker``, ``eoc exchange`` and ``eoc topics``.

Settings come from the environment (see eoc/main/cluster.py and docs/cluster.md). Each process
stops cleanly on SIGTERM or SIGINT; the relay and the worker are also safe to kill (-9): they
resume with nothing lost and nothing counted twice.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from consumers.telemetry import kafka_down
from eoc.app.metrics import configure_logging
from eoc.main.cluster import (
    ClusterSettings,
    check_kafka,
    describe_topics,
    ensure_topics,
    wait_for_kafka,
    what_failed,
)
from eoc.main.loop import settle_heap

ASYNCAPI = Path(__file__).resolve().parents[2] / "events" / "asyncapi.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="serve the command API of a cluster (PostgreSQL store, Kafka telemetry)")
    p.add_argument("--host", help="bind address (default EOC_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default EOC_PORT or 8123)")
    p.set_defaults(run=run_api)

    p = sub.add_parser("relay", help="publish every stored event to Kafka (eoc.events), in log order")
    p.set_defaults(run=run_relay)

    p = sub.add_parser("worker", help="run a Faust worker: fold the topics into the boards (eoc.boards)")
    p.add_argument("--web-port", type=int, help="Faust's web port (default EOC_WORKER_WEB_PORT; none: no web)")
    p.set_defaults(run=run_worker)

    p = sub.add_parser("exchange", help="keep the partner topic (eoc.exchange.partner: EIDO, EDXL-HAVE, CAP) "
                                        "in step with the boards; no secret place ever")
    p.set_defaults(run=run_exchange)

    p = sub.add_parser("watchdog", help="the staff-safety watchdog of a cluster (exactly one active; others stand by)")
    p.add_argument("--every", type=float, default=30.0, help="seconds between sweeps (default 30)")
    p.set_defaults(run=run_watchdog)

    p = sub.add_parser("topics", help="create the cluster's topics (idempotent) and describe them")
    p.add_argument("--asyncapi", nargs="?", const=str(ASYNCAPI), metavar="PATH",
                   help=f"instead, write the AsyncAPI document (default {ASYNCAPI.relative_to(ASYNCAPI.parents[1])}; - for stdout)")
    p.add_argument("--check", action="store_true", help="only describe; exit 1 if a topic is missing or differs")
    p.set_defaults(run=run_topics)


def run_topics(args: argparse.Namespace) -> int:
    cs = ClusterSettings.from_env()
    if args.asyncapi:
        from consumers.asyncapi import render  # lazy: the CLI starts fast

        text = render()
        if args.asyncapi == "-":
            sys.stdout.write(text)
        else:
            Path(args.asyncapi).write_text(text, encoding="utf-8")
            print(f"wrote {args.asyncapi}")
        return 0
    configure_logging(cs.log_level, cs.log_format)
    check_kafka(cs)  # down: one line (eoc topics: Kafka at ... is down), not a 30 s wait and a traceback
    states = describe_topics(cs) if args.check else ensure_topics(cs)
    specs = cs.layout.specs()
    print(f"{'topic':46} {'status':9} {'parts':>5}  cleanup.policy   retention.ms")
    for state in states:
        cfg = specs[state.name]["configs"]
        print(f"{state.name:46} {state.status:9} {state.partitions:>5}  {cfg['cleanup.policy']:16} {cfg['retention.ms']}")
        for problem in state.problems:
            print(f"    ! {problem}")
    return 1 if any(s.problems for s in states) else 0


def run_relay(args: argparse.Namespace) -> int:
    """Publish the log to Kafka; while Kafka is down, wait for it (one line), then resume
    where Kafka's partitions end (the relay's resume point), as after a restart."""
    import logging  # lazy: the CLI starts fast
    import threading  # lazy: the CLI starts fast

    from eoc.app.metrics import serve_health  # lazy: the CLI starts fast
    from eoc.main.cluster import build_relay  # lazy: the CLI starts fast

    log = logging.getLogger("eoc.relay")
    cs = ClusterSettings.from_env()
    configure_logging(cs.log_level, cs.log_format)
    settings = cs.core(token_secret=b"the-relay-issues-no-tokens")  # a bad setting stops it first
    stop = threading.Event()
    current: list = []

    def on_signal(_sig: int, _frame: object) -> None:
        stop.set()
        for relay in current:
            relay.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = None
    while not stop.is_set():
        if not wait_for_kafka(cs, "relay", stop):
            break
        try:
            ensure_topics(cs)
            relay = build_relay(cs, settings=settings)
        except Exception as exc:  # Kafka went again between the check and the client, or the store
            log.warning("the relay could not start: %s; trying again",
                        what_failed(exc, kafka=cs.kafka_bootstrap, dsn=settings.pg_dsn))
            stop.wait(1.0)
            continue
        current[:] = [relay]
        if cs.metrics_port is not None:
            if server is None:
                server = serve_health(relay.metrics, cs.web_bind, cs.metrics_port)
            else:
                server.metrics = relay.metrics  # type: ignore[attr-defined]  # the new relay's figures
        try:
            relay.run()
        except Exception as exc:
            if stop.is_set():
                break
            log.warning("the relay stopped: %s; it starts again", what_failed(exc, kafka=cs.kafka_bootstrap, dsn=settings.pg_dsn))
            stop.wait(1.0)
        finally:
            relay.close()
            relay.app.close()
    if server is not None:
        server.shutdown()
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from consumers.worker import run_worker as run  # lazy: the CLI starts fast
    from eoc.app.metrics import logging_config  # lazy: the CLI starts fast
    from eoc.main.cluster import build_worker  # lazy: the CLI starts fast

    cs = ClusterSettings.from_env()
    if args.web_port:
        from dataclasses import replace  # lazy: the CLI starts fast

        cs = replace(cs, worker_web_port=args.web_port)
    configure_logging(cs.log_level, cs.log_format)
    if not wait_for_kafka(cs, "worker"):
        return 0
    ensure_topics(cs)  # Faust does not create its source topics with the right partitions
    app = build_worker(cs)
    settle_heap()
    run(app, loglevel=cs.log_level, logging_config=logging_config(cs.log_level, cs.log_format),
        recovery_stall_s=cs.worker_recovery_stall_s)
    return 0


def run_exchange(args: argparse.Namespace) -> int:
    from consumers.exchange_feed import ExchangePublisher  # lazy: the CLI starts fast
    from eoc.main.cluster import heartbeat  # lazy: the CLI starts fast

    cs = ClusterSettings.from_env()
    configure_logging(cs.log_level, cs.log_format)
    ensure_topics(cs)
    publisher = ExchangePublisher(cs.kafka_bootstrap, cs.layout, heartbeat=heartbeat(cs))

    def stop(_sig: int, _frame: object) -> None:
        publisher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        publisher.run()
    finally:
        publisher.close()
    return 0


def run_api(args: argparse.Namespace) -> int:
    import uvicorn  # lazy: the CLI starts fast

    from eoc.http.api import create_api  # lazy: the CLI starts fast
    from eoc.main.cluster import build_api  # lazy: the CLI starts fast

    cs = ClusterSettings.from_env()
    configure_logging(cs.log_level, cs.log_format)
    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = cs.core(**overrides)
    # The API takes commands with Kafka down (they need only PostgreSQL): topics are the
    # relay's and the worker's to make then; position reports wait for Kafka, and the
    # TelemetryPublisher says so in one line.
    if kafka_down(cs.kafka_bootstrap) is None:
        ensure_topics(cs)
    api = build_api(cs, settings=settings)
    from ui_bridge.server import mount_dashboard  # lazy: the CLI starts fast

    app = create_api(api.system)
    # The dashboard's pages (sign-in first) beside the API: the bridge sends people here to sign in.
    mount_dashboard(app, bridge_port=settings.bridge_port or settings.port + 1, map_tiles=settings.map_tiles)
    tls = settings.tls_cert is not None
    settle_heap()
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                    ssl_certfile=str(settings.tls_cert) if tls else None,
                    ssl_keyfile=str(settings.tls_key) if tls else None)
    finally:
        api.close()
    return 0


def run_watchdog(args: argparse.Namespace) -> int:
    """Missed safety check-ins in cluster mode: the boards from the eoc.boards topic, the
    command through the PostgreSQL store. A PostgreSQL advisory lock keeps exactly one
    watchdog active; replicas wait as hot standbys, as the relay's do."""
    import logging  # lazy: the CLI starts fast
    import threading  # lazy: the CLI starts fast

    from consumers.relay import AdvisoryLock  # lazy: the CLI starts fast
    from eoc.app.watchdog import Watchdog  # lazy: the CLI starts fast
    from eoc.main.cluster import build_api  # lazy: the CLI starts fast

    cs = ClusterSettings.from_env()
    configure_logging(cs.log_level, cs.log_format)
    cluster = build_api(cs)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    lock = AdvisoryLock(cluster.system.settings.pg_dsn or "", f"eoc-watchdog:{cs.layout.events}")
    if cs.metrics_port is not None and cluster.system.metrics is not None:
        from eoc.app.metrics import serve_health  # lazy: the CLI starts fast

        serve_health(cluster.system.metrics, cs.web_bind, cs.metrics_port)
    try:
        lock(stop)  # wait to be the one watchdog
        dog = Watchdog(cluster.system)
        while not stop.is_set():
            try:
                dog.sweep()
            except Exception:  # a bad sweep never stops the watchdog
                logging.getLogger(__name__).exception("safety watchdog sweep failed")
            stop.wait(args.every)
    finally:
        lock.close()
        cluster.close()
    return 0
