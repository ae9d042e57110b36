"""Benchmarks. ``python -m bench`` (or ``eoc bench``) runs the suite: every scenario with its
baseline from the same run, one table, bench/results/latest.json. Some modules also run on their
own (``python -m bench.fanout``, ``python -m bench.replay``) and write bench/results/<name>.json."""
