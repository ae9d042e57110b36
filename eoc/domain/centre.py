"""A centre or house (مرکز / خانه): its capacity and the clients (مددجو) staying in it.

Admissions, holding periods, transfers and discharges are events of the place, so that the
place's own version number serialises them: two admissions racing for the last bed cannot
both be stored (optimistic concurrency), and capacity is never exceeded.
Drill clients (مانور) fill a separate, imaginary set of the same beds.
"""

from __future__ import annotations

from typing import Any, cast

from eoc.domain.base import Context, EOCAggregate, Recorded
from eoc.domain.errors import (
    AlreadyResident,
    CentreNotOpen,
    Forbidden,
    HoldingNotServed,
    InvalidCommand,
    NotFound,
    NotResident,
    NotResidential,
    OverCapacity,
)
from eoc.domain.workspace import active_holds
from events import catalogue as ev
from events import workspace as ws
from events.envelope import iso
from events.vocabulary import RESIDENTIAL_KINDS, SECRET_KINDS, CentreKind, Role


class Centre(EOCAggregate):
    name: str
    kind: CentreKind
    capacity: int
    secret: bool
    is_open: bool
    clients: dict[str, dict[str, Any]]  # client id -> {"since", "holding_until", "drill"}

    def __init__(self) -> None:  # annotated state comes only from events, never from arguments
        pass

    @classmethod
    def register(
        cls, payload: ev.CentreRegistered, ctx: Context, province: str, county: str, **kw: Any
    ) -> Centre:
        return cls.start(payload, ctx, province, county, **kw)

    @property
    def residential(self) -> bool:
        return self.kind in RESIDENTIAL_KINDS

    def occupied(self, drill: bool = False) -> int:
        return sum(1 for c in self.clients.values() if c["drill"] == drill)

    def free(self, drill: bool = False) -> int:
        return self.capacity - self.occupied(drill)

    def must_be_open(self) -> None:
        if not self.is_open:
            raise CentreNotOpen(f"{self.name} is closed", centre_id=str(self.id))

    def change_capacity(self, capacity: int, ctx: Context) -> None:
        self.must_be_open()
        if capacity < self.occupied():
            raise OverCapacity(
                f"{self.name} holds {self.occupied()} clients; capacity cannot drop to {capacity}",
                occupied=self.occupied(),
                capacity=self.capacity,
            )
        self.record(ev.CentreCapacityChanged(capacity=capacity, previous=self.capacity), ctx)

    def close(self, reason: str, ctx: Context) -> None:
        self.must_be_open()
        if self.occupied(False) or self.occupied(True):
            raise InvalidCommand(
                f"{self.name} still holds {self.occupied()} clients; transfer or discharge them first",
                occupied=self.occupied(),
            )
        self.record(ev.CentreClosed(reason=reason), ctx)

    def must_take_admissions(self) -> None:
        """Open and residential: checked before anything is made for an admission (a key)."""
        self.must_be_open()
        if not self.residential:
            raise NotResidential(
                f"{self.name} ({self.kind}) is not a residential centre (مرکز نگهداری) and keeps no one "
                "overnight; admit the client to a residential crisis-intervention centre, or refer",
                centre_id=str(self.id), kind=str(self.kind))

    def holds(self) -> dict[str, dict[str, Any]]:
        """Places held for incoming clients (رزرو): hold id -> {"until", "drill"}."""
        return cast(dict[str, dict[str, Any]], self.__dict__.setdefault("_holds", {}))

    def free_now(self, ctx: Context, except_hold: str | None = None) -> int:
        """Free places at this moment: held places that have not expired are not free."""
        held = active_holds({k: v for k, v in self.holds().items() if k != except_hold}, ctx.now, ctx.exercise)
        return self.free(ctx.exercise) - held

    def hold_place(self, payload: ws.PlaceHeld, ctx: Context) -> None:
        self.must_take_admissions()
        if payload.until <= ctx.now:
            raise InvalidCommand("a place is held until a moment in the future")
        if self.free_now(ctx) <= 0:
            raise OverCapacity(f"{self.name} has no free place to hold", capacity=self.capacity,
                               occupied=self.occupied(ctx.exercise))
        self.record(payload, ctx)

    def release_hold(self, hold_id: str, reason: str, ctx: Context) -> None:
        if hold_id not in self.holds():
            raise NotFound(f"no held place {hold_id} at {self.name}", hold_id=hold_id)
        self.record(ws.PlaceHoldReleased(hold_id=hold_id, reason=reason), ctx)

    def admit(self, payload: ev.ClientAdmitted, ctx: Context, hold_id: str | None = None) -> bool:
        """Admit the client, or record the declined admission when full. True if admitted.

        With ``hold_id`` the place held for this client is taken (and the hold released)."""
        self.must_take_admissions()
        if payload.client in self.clients:
            raise AlreadyResident("the client is already staying here", client=payload.client)
        if hold_id is not None and hold_id not in self.holds():
            raise NotFound(f"no held place {hold_id} at {self.name}", hold_id=hold_id)
        if self.free_now(ctx, except_hold=hold_id) <= 0:
            self.record(
                ev.AdmissionDeclined(
                    route=payload.route,
                    capacity=self.capacity,
                    occupied=self.occupied(ctx.exercise),
                    client=payload.client,
                    incident_id=payload.incident_id,
                ),
                ctx,
            )
            return False
        self.record(payload, ctx)
        if hold_id is not None:
            self.record(ws.PlaceHoldReleased(hold_id=hold_id, reason="admitted"), ctx)
        return True

    def start_holding(self, payload: ev.HoldingPeriodStarted, ctx: Context) -> None:
        self._must_hold(payload.client)
        if self.kind in SECRET_KINDS:
            raise InvalidCommand("the holding period is kept at the intervention centre, before the house")
        if payload.destination_kind not in SECRET_KINDS:
            raise InvalidCommand("a holding period leads to a safe house or a health house")
        self.record(payload, ctx)

    def transfer_out(self, client: str, to: Centre, ctx: Context, override_reason: str | None = None) -> None:
        self._must_hold(client)
        if to.id == self.id:
            raise InvalidCommand("a transfer needs two different places")
        if to.kind in SECRET_KINDS:
            self._holding_served(client, to, ctx, override_reason)
        self.record(ev.ClientTransferredOut(client=client, to_centre_id=to.id, to_province=to.province), ctx)

    def transfer_in(self, client: str, frm: Centre, ctx: Context) -> None:
        self.must_be_open()
        if not self.residential:
            raise NotResidential(f"{self.name} ({self.kind}) is not a residential place and keeps no one",
                                 centre_id=str(self.id), kind=str(self.kind))
        if client in self.clients:
            raise AlreadyResident("the client is already staying at the destination", client=client)
        drill = frm.clients.get(client, {}).get("drill", ctx.exercise)
        if self.free(drill) <= 0:
            raise OverCapacity(
                f"{self.name} is full ({self.occupied(drill)}/{self.capacity}); nothing was moved",
                capacity=self.capacity,
                occupied=self.occupied(drill),
            )
        self.record(
            ev.ClientTransferredIn(client=client, from_centre_id=frm.id, from_province=frm.province), ctx
        )

    def _holding_served(self, client: str, to: Centre, ctx: Context, override_reason: str | None) -> None:
        """A move to a safe or health house only after the holding period (قرنطینه) is served,
        unless a provincial supervisor overrides it with a reason (an event auditors see)."""
        until = self.clients[client].get("holding_until")
        if until is not None and iso(ctx.now) >= until:
            return
        if override_reason is None:
            why = ("no holding period was started" if until is None
                   else f"the holding period ends at {until}")
            raise HoldingNotServed(
                f"a client moves to a safe or health house only after a holding period (قرنطینه) of "
                f"15–20 days at the intervention centre: {why}; a provincial supervisor may override "
                "it with a reason (override_reason)", client=client, holding_until=until)
        if ctx.actor.role != Role.PROVINCIAL_SUPERVISOR:
            raise Forbidden("only a provincial supervisor may override the holding period",
                            role=str(ctx.actor.role))
        self.record(ev.HoldingRuleOverridden(client=client, to_centre_id=to.id, reason=override_reason,
                                             holding_until=until), ctx)

    def discharge(self, payload: ev.ClientDischarged, ctx: Context) -> None:
        self._must_hold(payload.client)
        self.record(payload, ctx)

    def _must_hold(self, client: str) -> None:
        if client not in self.clients:
            raise NotResident(f"the client is not staying at {self.name}", client=client)

    # --- state changes

    def when_CentreRegistered(self, p: dict[str, Any], e: Recorded) -> None:
        self.place(e)
        self.name = p["name"]
        self.kind = CentreKind(p["kind"])
        self.capacity = p["capacity"]
        self.secret = p["secret"]
        self.is_open = True
        self.clients = {}

    def when_CentreCapacityChanged(self, p: dict[str, Any], e: Recorded) -> None:
        self.capacity = p["capacity"]

    def when_CentreClosed(self, p: dict[str, Any], e: Recorded) -> None:
        self.is_open = False

    def when_ClientAdmitted(self, p: dict[str, Any], e: Recorded) -> None:
        self.clients[p["client"]] = {"since": e.occurred_at, "holding_until": None, "drill": e.exercise}

    def when_AdmissionDeclined(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_HoldingPeriodStarted(self, p: dict[str, Any], e: Recorded) -> None:
        self.clients[p["client"]] = {**self.clients[p["client"]], "holding_until": p["ends_at"]}

    def when_HoldingRuleOverridden(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_ClientTransferredOut(self, p: dict[str, Any], e: Recorded) -> None:
        self.clients.pop(p["client"], None)

    def when_ClientTransferredIn(self, p: dict[str, Any], e: Recorded) -> None:
        self.clients[p["client"]] = {"since": e.occurred_at, "holding_until": None, "drill": e.exercise}

    def when_ClientDischarged(self, p: dict[str, Any], e: Recorded) -> None:
        self.clients.pop(p["client"], None)

    def when_PlaceHeld(self, p: dict[str, Any], e: Recorded) -> None:
        self.holds()[p["hold_id"]] = {"until": p["until"], "drill": e.exercise}

    def when_PlaceHoldReleased(self, p: dict[str, Any], e: Recorded) -> None:
        self.holds().pop(p["hold_id"], None)
