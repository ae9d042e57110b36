"""Auditing the history: tamper evidence (verify, signed checkpoints), reports, diffs, erasure.

Replays themselves are runners and live in consumers/ (consumers/replay.py, audit_sources.py).
"""
