"""The load generator counts answers the same way whether it paces requests or sends flat out:
a 2xx is answered, a 4xx is answered and refused, a 5xx failed, a transport error failed and
noted by kind; every answer has a latency and a status count."""

from __future__ import annotations

import asyncio
import itertools

from bench.loadgen import Run, flat_out, paced

STATUSES = (200, 404, 503, 0)  # 0: the transport fails


def _send():
    turn = itertools.cycle(STATUSES)

    async def send(_due: float) -> int:
        status = next(turn)
        if status == 0:
            raise ConnectionError("refused by the test")
        return status

    return send


def _check(run: Run) -> None:
    assert run.started >= len(STATUSES)
    transport_errors = sum(run.errors.values())
    answers = sum(run.statuses.values())
    assert transport_errors > 0 and "ConnectionError: refused by the test" in run.errors
    assert len(run.latencies_ms) == answers == run.started - transport_errors
    assert run.answered == run.statuses.get(200, 0) + run.statuses.get(404, 0)
    assert run.refused == run.statuses.get(404, 0) > 0
    assert run.failed == run.statuses.get(503, 0) + transport_errors
    assert run.statuses.get(503, 0) > 0


def test_paced_counts_answers_refusals_and_failures() -> None:
    _check(asyncio.run(paced(_send(), rate=400, seconds=0.1)))


def test_flat_out_counts_answers_refusals_and_failures() -> None:
    _check(asyncio.run(flat_out(_send(), connections=2, seconds=0.02)))
