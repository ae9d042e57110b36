"""``eoc bridge``: the websocket bridge on its own, fed by the board topic on Kafka (cluster mode).

It reads the compacted ``eoc.boards`` topic from the beginning for its snapshot, then follows
it; tokens are checked with the system's secret (EOC_TOKEN_SECRET) and secret places are
opened for the roles that may see them with the keyring of the store (EOC_STORE, EOC_PG_DSN).
The dashboard page is served on the same port, so ``http://<host>:<port>/#token=...`` opens it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from consumers.telemetry import kafka_down
from eoc.app.config import Settings
from eoc.app.keyring import Keyring
from eoc.app.metrics import Metrics, configure_logging, watch_dependency
from eoc.main.loop import run_serving
from events.sealing import Unreadable, unseal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bridge", help="run the websocket bridge and dashboard against Kafka (cluster mode)")
    p.add_argument("--port", type=int, help="websocket and dashboard port (default EOC_PORT + 1)")
    p.add_argument("--topic", help="the compacted board topic (default: EOC_TOPIC_PREFIX + eoc.boards)")
    p.add_argument("--no-page", action="store_true", help="websocket only; do not serve the dashboard")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError  # lazy: the CLI starts fast

    from eoc.main.cluster import ClusterSettings  # lazy: the CLI starts fast
    from ui_bridge.kafka_feed import KafkaBoardFeed  # lazy: the CLI starts fast
    from ui_bridge.server import start_bridge  # lazy: the CLI starts fast

    cluster = ClusterSettings.from_env()
    configure_logging(cluster.log_level, cluster.log_format)
    settings = Settings.from_env()
    topic = args.topic or cluster.layout.boards
    from eoc.app.config import secure_data_dir  # lazy: the CLI starts fast
    from eoc.http.transport import server_ssl  # lazy: the CLI starts fast
    from eoc.main.bootstrap import (  # lazy: the CLI starts fast
        make_authenticator,
        make_keyring,
        open_identity,
    )  # lazy: the CLI starts fast

    secure_data_dir(settings.data_dir)
    keyring: Keyring = make_keyring(settings)
    # The same user directory and access log as the API: revoked sessions close here too.
    directory, access_log = open_identity(settings)
    signer = make_authenticator(settings, directory)

    def unseal_place(centre_id: str, token: str) -> dict[str, float] | None:
        try:
            return unseal(keyring.get(f"place:{centre_id}"), token)
        except Unreadable:
            return None

    port = args.port or settings.port + 1
    metrics = Metrics("bridge")
    watch_dependency(metrics, "kafka", lambda: kafka_down(settings.kafka_bootstrap))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        down_since: float | None = None
        while True:  # Kafka may come up after the bridge (a deployment starts them together)
            feed = KafkaBoardFeed(settings.kafka_bootstrap, topic, wait_for_topic_s=None)
            try:
                handle = await start_bridge(feed, signer, unseal_place,
                                            host=settings.host, port=port, serve_page=not args.no_page, map_tiles=settings.map_tiles,
                                            api_url=settings.api_url or None, api_port=settings.port,
                                            access_log=access_log, allowed_origins=settings.allowed_origins,
                                            max_unauthenticated=settings.ws_max_unauthenticated,
                                            max_per_user=settings.ws_max_per_user,
                                            ssl=server_ssl(settings.tls_cert, settings.tls_key), metrics=metrics)
                break
            except KafkaError as problem:
                if down_since is None:  # one line for the outage, not one per attempt
                    down_since = loop.time()
                    print(f"eoc bridge: Kafka at {settings.kafka_bootstrap} is down ({type(problem).__name__}); "
                          "waiting for it", flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)
                if stop.is_set():
                    return
        if down_since is not None:
            print(f"eoc bridge: Kafka is back after {loop.time() - down_since:.0f} s", flush=True)
        print(f"EOC bridge on ws://{settings.host}:{handle.port}/ fed by {topic} on {settings.kafka_bootstrap}")
        if not args.no_page:
            where = settings.api_url or f"port {settings.port} of this host"
            print(f"  dashboard  http://{settings.host}:{handle.port}/ (its pages send people to sign in at the API: {where})")
        try:
            await stop.wait()
        finally:
            await handle.stop()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_serving(main())  # uvloop
    finally:
        keyring.close()
        directory.close()
        access_log.close()
    return 0
