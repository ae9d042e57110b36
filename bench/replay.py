"""Replay speed: a full replay of the ``eoc.events`` stream from Kafka, next to the raw read
rate of the same topic with the same client and to Kafka's own consumer.

    python -m bench.replay --events 100000 --repeat 3

One run, in this order and alternating ``--repeat`` times over the same topic:
* **replay** — ``consumers.replay.replay(KafkaSource(...))``: aiokafka reads every record,
  ``loads_object`` (orjson), ``Envelope.from_dict`` (upcasting), ``projections.fold``: what
  ``eoc replay --from kafka`` does, without the progress bar;
* **decode** — the same read and decoding, no fold (where the time goes);
* **raw read** — each Python client (kafka-python, aiokafka, confluent-kafka when installed:
  the suite's raw readers, bench/scenarios/replay.py) reads every record and decodes its
  value, nothing else; the fastest of them: the floor for a Python replay;
* **Kafka's ConsumerPerformance** (kafka-tools 4.3.1, Java, ``scripts/services
  fetch-kafka-tools``): the broker's and the protocol's floor, ``--messages N`` from the start.

The stream: ``--events`` events of the seeded history (tests/support/history.py, through
``history`` in bench/scenarios/replay.py: the real domain aggregates, three provinces, drills), published as
the relay publishes them (key = province, the stored envelope's JSON, CloudEvents headers) to a
fresh topic of 8 partitions, deleted afterwards unless ``--keep``. Figures and ratios are printed and written to
``bench/results/replay.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from .scenarios.replay import envelopes, history, kafka_readers, publish, timed
from .services import env as services_env

print = functools.partial(print, flush=True)  # noqa: A001 (progress lines while it runs)
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "replay.json"


def make_stream(events: int, seed: int) -> list[dict[str, Any]]:
    return envelopes(history(events, seed))


def run_replay(bootstrap: str, topic: str) -> dict[str, Any]:
    from consumers.replay import replay
    from eoc.audit.sources import KafkaSource

    t0 = time.perf_counter()
    result = replay(KafkaSource(bootstrap, topic))
    seconds = time.perf_counter() - t0
    return {"events": result.events, "seconds": seconds, "rate": result.events / seconds, "rows": len(result.rows)}


def run_decode(bootstrap: str, topic: str) -> dict[str, Any]:
    from eoc.audit.sources import KafkaSource

    t0 = time.perf_counter()
    n = sum(1 for _ in KafkaSource(bootstrap, topic).envelopes())
    seconds = time.perf_counter() - t0
    return {"events": n, "seconds": seconds, "rate": n / seconds}


def run_raw(bootstrap: str, topic: str) -> dict[str, Any]:
    """Each Python client reads every record and decodes its value, nothing else (the suite's
    raw readers, bench/scenarios/replay.py); the fastest of them."""
    rates = {name: timed(lambda read=read: read(bootstrap, topic)) for name, read in kafka_readers().items()}
    fastest = max(rates, key=lambda name: rates[name]["rate"])
    return {**rates[fastest], "client": fastest, "clients": rates}


def run_consumer_performance(bootstrap: str, topic: str, messages: int, env: dict[str, str]) -> dict[str, Any]:
    classpath = env.get("EOC_KAFKA_TOOLS_CLASSPATH")
    if not classpath or not list(Path(classpath.rstrip("*")).glob("kafka-tools-*.jar")):
        subprocess.run([str(ROOT / "scripts" / "services"), "fetch-kafka-tools"], check=True)
        classpath = services_env()["EOC_KAFKA_TOOLS_CLASSPATH"]
    command = ["java", "-Xms256m", "-Xmx512m", f"-Dlog4j2.configurationFile={env.get('EOC_KAFKA_TOOLS_LOG4J', '')}",
               "-cp", classpath, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap,
               "--topic", topic, "--messages", str(messages), "--group", f"eoc-bench-{uuid.uuid4().hex[:8]}",
               "--timeout", "60000"]
    t0 = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"ConsumerPerformance failed: {out.stderr[-2000:]}")
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    header = [h.strip() for h in lines[-2].split(",")]
    values = [v.strip() for v in lines[-1].split(",")]
    row = dict(zip(header, values, strict=False))
    number = re.compile(r"^-?\d+(\.\d+)?$")
    parsed = {k: float(v) if number.match(v) else v for k, v in row.items()}
    return {"events": int(parsed.get("data.consumed.in.nMsg", 0)), "rate": float(parsed["nMsg.sec"]),
            "fetch_rate": float(parsed.get("fetch.nMsg.sec", parsed["nMsg.sec"])), "wall_s": wall,
            "output": row, "command": " ".join(command[:4] + ["-cp", "$EOC_KAFKA_TOOLS_CLASSPATH"] + command[6:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1403)
    parser.add_argument("--bootstrap", help="default: scripts/services env")
    parser.add_argument("--keep", action="store_true", help="keep the bench topic")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    subprocess.run([str(ROOT / "scripts" / "services"), "start", "kafka"], check=True, capture_output=True)
    env = services_env()
    bootstrap = args.bootstrap or env["EOC_KAFKA_BOOTSTRAP"]
    t0 = time.perf_counter()
    values = make_stream(args.events, args.seed)
    generated_s = time.perf_counter() - t0
    size = sum(len(json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()) for v in values)
    topic = f"bench.replay.{uuid.uuid4().hex[:10]}"
    published_s = publish(bootstrap, topic, values)
    print(f"stream: {len(values):,} events ({size / len(values):.0f} B each on average), generated in "
          f"{generated_s:.1f} s, published to {topic} (8 partitions) in {published_s:.1f} s")
    runs: dict[str, list[dict[str, Any]]] = {"replay": [], "decode": [], "raw": [], "kafka_consumer_performance": []}
    try:
        for i in range(args.repeat):
            runs["replay"].append(run_replay(bootstrap, topic))
            runs["decode"].append(run_decode(bootstrap, topic))
            runs["raw"].append(run_raw(bootstrap, topic))
            runs["kafka_consumer_performance"].append(
                run_consumer_performance(bootstrap, topic, len(values), env))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]['rate']:,.0f}/s" for k, v in runs.items()))
    finally:
        if not args.keep:
            from kafka import KafkaAdminClient

            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="eoc-bench")
            admin.delete_topics([topic])
            admin.close()
    for r in runs["replay"]:
        assert r["events"] == len(values), "the replay did not fold every event"
    median = {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()}
    cp_fetch = statistics.median(r["fetch_rate"] for r in runs["kafka_consumer_performance"])
    ratios = {
        "replay / raw read": median["replay"] / median["raw"],
        "decode / raw read": median["decode"] / median["raw"],
        "replay / ConsumerPerformance": median["replay"] / median["kafka_consumer_performance"],
        "raw read / ConsumerPerformance": median["raw"] / median["kafka_consumer_performance"],
    }
    print(f"\nmedians of {args.repeat} runs, events per second:")
    print(f"  full replay (read + decode + upcast + fold)  {median['replay']:>10,.0f}")
    print(f"  read + decode + upcast, no fold              {median['decode']:>10,.0f}")
    print(f"  raw read + decode (fastest Python client)    {median['raw']:>10,.0f}")
    print(f"  Kafka ConsumerPerformance (Java)             {median['kafka_consumer_performance']:>10,.0f}"
          f"  (fetch only: {cp_fetch:,.0f})")
    for name, value in ratios.items():
        print(f"  {name:<32} {value:.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {
        "command": f"python -m bench.replay --events {args.events} --repeat {args.repeat}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1min_at_end": load},
        "stream": {"events": len(values), "mean_bytes": round(size / len(values)), "partitions": 8,
                   "generated_s": round(generated_s, 2), "published_s": round(published_s, 2)},
        "median_rate": {k: round(v) for k, v in median.items()},
        "consumer_performance_fetch_rate": round(cp_fetch),
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"\nwritten to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
