"""Group commit: commands queued together are saved in one transaction, and a refused one
leaves no trace even when it shares the batch (and an aggregate) with accepted ones."""

from __future__ import annotations

import asyncio
import threading
import time

from eoc.app import commands as c
from eoc.app.writer import off_loop, on_loop
from eoc.domain.errors import OverCapacity, Refused
from tests.support.history import claims
from tests.support.scenario import IN_QAZVIN

WHO = claims("QZV")


def _hold_the_writer(service) -> tuple[threading.Event, threading.Thread]:
    """The writer busy with a command that waits for the gate: what is queued meanwhile waits too."""
    gate, entered = threading.Event(), threading.Event()

    def held() -> dict:
        entered.set()
        gate.wait(10)
        return {}

    holder = threading.Thread(target=service._run, args=(held,))
    holder.start()
    entered.wait(10)
    return gate, holder


def _queue_behind_a_gate(service, calls):
    """Hold the writer on a gate, queue ``calls`` from threads, then open the gate."""
    gate, holder = _hold_the_writer(service)
    results: list = [None] * len(calls)

    def call(i: int) -> None:
        try:
            results[i] = calls[i]()
        except (Refused, ZeroDivisionError) as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    while service.writer._queue.qsize() < len(calls):  # all queued behind the gate
        time.sleep(0.001)
    batches_before = service.writer.batches
    gate.set()
    for t in threads + [holder]:
        t.join(10)
    return results, service.writer.batches - batches_before


OVERRIDE = "the court placed her in the house at once"


def test_a_refused_transfer_in_a_batch_leaves_no_half_behind(system):
    svc = system.service
    source = svc.register_centre(c.RegisterCentre(province="QZV", county="Qazvin", name="Centre",
                                                  kind="residential_level_1", capacity=5, location=IN_QAZVIN), WHO)["centre_id"]
    house = svc.register_centre(c.RegisterCentre(province="QZV", county="Qazvin", name="House",
                                                 kind="safe_house", capacity=1, location=IN_QAZVIN), WHO)["centre_id"]
    a = svc.admit_client(source, c.AdmitClient(route="self"), WHO)["client_id"]
    b = svc.admit_client(source, c.AdmitClient(route="self"), WHO)["client_id"]

    results, batches = _queue_behind_a_gate(svc, [
        # Before a served holding period: each with the supervisor's recorded override.
        lambda: svc.transfer_client(source, c.TransferClient(client_id=a, to_centre_id=house,
                                                             override_reason=OVERRIDE), WHO),
        lambda: svc.transfer_client(source, c.TransferClient(client_id=b, to_centre_id=house,
                                                             override_reason=OVERRIDE), WHO),  # house full
        lambda: svc.discharge_client(source, c.DischargeClient(client_id=b, reason="returned_home"), WHO),
    ])
    assert batches == 1, "the three commands were committed together"
    assert "position" in results[0]
    assert isinstance(results[1], OverCapacity)
    assert "position" in results[2], "b was still at the source: the refused transfer took nothing out"
    src = system.app.repository.get(__import__("uuid").UUID(source))
    dst = system.app.repository.get(__import__("uuid").UUID(house))
    assert src.clients == {} and list(dst.clients) == [a]
    kinds = [system.app.mapper.to_domain_event(n).type
             for n in system.app.recorder.select_notifications(start=0, limit=100)]
    assert kinds[-4:] == ["HoldingRuleOverridden", "ClientTransferredOut", "ClientTransferredIn",
                          "ClientDischarged"]  # the refused transfer's override went with it


def test_every_command_of_a_batch_learns_its_own_position(system):
    svc = system.service
    results, batches = _queue_behind_a_gate(svc, [
        lambda: svc.receive_call(c.ReceiveCall(province="QZV", county="Qazvin"), WHO) for _ in range(20)])
    assert batches == 1
    positions = sorted(r["position"] for r in results)
    assert len(set(positions)) == 20
    log = {n.id: str(system.app.mapper.to_domain_event(n).originator_id)
           for n in system.app.recorder.select_notifications(start=0, limit=100)}
    assert {log[r["position"]] for r in results} == {r["call_id"] for r in results}


def test_a_bug_in_one_handler_does_not_fail_the_rest_of_its_batch(system):
    svc = system.service

    def broken() -> dict:
        svc._save(svc._get(object, "not-a-uuid", "thing"))  # never reached: NotFound first
        return {}

    def buggy() -> dict:
        raise ZeroDivisionError("a bug in a handler")

    results, batches = _queue_behind_a_gate(svc, [
        lambda: svc.receive_call(c.ReceiveCall(province="QZV", county="Qazvin"), WHO),
        lambda: svc._run(buggy),
        lambda: svc._run(broken),
        lambda: svc.receive_call(c.ReceiveCall(province="QZV", county="Qazvin"), WHO),
    ])
    assert batches == 1
    assert "call_id" in results[0] and "call_id" in results[3]
    assert isinstance(results[1], ZeroDivisionError)
    assert isinstance(results[2], Refused) and results[2].code == "not_found"
    assert len(system.app.recorder.select_notifications(start=0, limit=10)) == 2


def test_commands_awaited_on_the_event_loop_share_a_batch_and_keep_their_refusals(system):
    """The command API's endpoints await the writer (``on_loop``): the service's method runs on the
    loop's own thread, the commands of many requests still share one batch, decided in the order
    they were queued, and a refusal comes back to its own caller."""
    svc = system.service
    centre = svc.register_centre(c.RegisterCentre(province="QZV", county="Qazvin", name="One bed",
                                                  kind="residential_level_1", capacity=1, location=IN_QAZVIN),
                                 WHO)["centre_id"]
    gate, holder = _hold_the_writer(svc)

    async def admit_two() -> tuple[list, int, list[int], int]:
        ran_on: list[int] = []

        def admit() -> dict:
            ran_on.append(threading.get_ident())
            return svc.admit_client(centre, c.AdmitClient(route="self"), WHO)

        waiting = [asyncio.ensure_future(on_loop(admit)) for _ in range(2)]
        while svc.writer._queue.qsize() < 2:  # both queued behind the gate, no thread held
            await asyncio.sleep(0.001)
        before = svc.writer.batches
        gate.set()
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        return answers, svc.writer.batches - before, ran_on, threading.get_ident()

    answers, batches, ran_on, loop_thread = asyncio.run(admit_two())
    holder.join(10)
    assert batches == 1
    # The one bed goes to whichever was queued first (a store read before it may finish in either
    # order); the other is refused and its declined admission recorded, in the same batch.
    admitted = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, OverCapacity)]
    assert len(admitted) == 1 and admitted[0]["admitted"] is True
    assert len(refused) == 1 and refused[0].details["declined_recorded"] is True
    assert refused[0].details["position"] == admitted[0]["position"] + 1
    assert ran_on == [loop_thread, loop_thread]


def test_what_blocks_runs_in_a_thread_only_for_a_coroutine():
    here = threading.get_ident()
    assert off_loop(threading.get_ident) == here  # a thread's caller: directly

    def boom() -> None:
        raise ZeroDivisionError("in the worker")

    def on_the_loop() -> tuple[int, int, str]:
        try:
            off_loop(boom)
        except ZeroDivisionError as exc:  # the worker's error, raised where it was called
            caught = str(exc)
        return threading.get_ident(), off_loop(threading.get_ident), caught

    async def main() -> tuple[int, int, str]:
        return await on_loop(on_the_loop)

    loop_thread, worker, caught = asyncio.run(main())
    assert loop_thread == here and worker != here and caught == "in the worker"
