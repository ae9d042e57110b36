"""Centres and houses (مراکز): admissions, stays, holding periods, transfers, discharges.

The simulator keeps its own belief of who stays where, so that teams head for a centre with
a free bed (they phone ahead and reserve it). When every bed is taken the admission is still
asked for: the system refuses it with 409 and records it as unmet demand.
A few clients are sent on to a safe house or a health house: they wait the 15 to 20 day
holding period (قرنطینه) at the centre, then are transferred (both places in one command).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eoc.simulator import casework
from eoc.simulator.geo import Point, distance_km
from events.vocabulary import (
    RESIDENTIAL_KINDS,
    SECRET_KINDS,
    CentreKind,
    DischargeReason,
    ReferralRoute,
    Role,
)

if TYPE_CHECKING:
    from eoc.simulator.profiles import PlaceSpec
    from eoc.simulator.province import ProvinceSim

DAY = 86400.0
OPENING_SHARE = 0.4  # a newly registered centre opens with this share of its beds taken
TRANSFER_ATTEMPTS = 5  # a house that stays full: try again daily, then refer elsewhere
# Places that take the referrals of line 123 (houses are secret; bases keep no one).
SERVING_KINDS = (CentreKind.OUTPATIENT, CentreKind.RESIDENTIAL_LEVEL_1, CentreKind.RESIDENTIAL_LEVEL_2)


@dataclass
class Place:
    spec: PlaceSpec
    id: str
    location: Point
    capacity: int
    clients: set[str] = field(default_factory=set)
    reserved: int = 0  # beds a team on its way has asked the centre to keep

    @property
    def kind(self) -> CentreKind:
        return self.spec.kind

    @property
    def free(self) -> int:
        return self.capacity - len(self.clients) - self.reserved

    @property
    def crisis_centre(self) -> bool:
        """A residential crisis-intervention centre (not a secret house)."""
        return self.kind in RESIDENTIAL_KINDS and self.kind not in SECRET_KINDS


class CentreDesk:
    def __init__(self, province: ProvinceSim) -> None:
        self.p = province
        self.who = province.who(Role.CENTRE_STAFF, "centre-staff")
        self.places: dict[str, Place] = {}

    # ------------------------------------------------------------------ where to

    def crisis_centres(self) -> list[Place]:
        return [pl for pl in self.places.values() if pl.crisis_centre]

    def houses(self, kind: CentreKind) -> list[Place]:
        return [pl for pl in self.places.values() if pl.kind == kind]

    def bed_for(self, near: Point) -> Place | None:
        """The nearest crisis centre with a free bed, which is then reserved."""
        free = [pl for pl in self.crisis_centres() if pl.free > 0]
        if not free:
            return None
        place = min(free, key=lambda pl: distance_km(pl.location, near))
        place.reserved += 1
        return place

    def nearest_residential(self, near: Point) -> Place | None:
        centres = self.crisis_centres()
        return min(centres, key=lambda pl: distance_km(pl.location, near)) if centres else None

    def referral_centre(self, county: str, near: Point) -> Place | None:
        """Where line 123 refers a caller: the county's centre, else the nearest one."""
        serving = [pl for pl in self.places.values() if pl.kind in SERVING_KINDS]
        local = [pl for pl in serving if pl.spec.county == county]
        pool = local or serving
        return min(pool, key=lambda pl: distance_km(pl.location, near)) if pool else None

    # ------------------------------------------------------------------ admissions and stays

    async def admit(self, place: Place, route: ReferralRoute, rng: random.Random, *,
                    incident_id: str | None = None) -> bool | None:
        """True: admitted (and the stay goes on by itself); False: declined, full; None: no answer."""
        details = casework.client(rng)
        body: dict[str, Any] = {"route": str(route), "client": details}
        if incident_id:
            body["incident_id"] = incident_id
        a = await self.p.client.send("admit_client", f"/centres/{place.id}/admissions", body, self.who)
        if a.ok:
            client = a["client_id"]
            place.clients.add(client)
            self._stay(place, client, details, random.Random(rng.getrandbits(64)))
            return True
        if a.error == "over_capacity":
            return False
        return None

    def _stay(self, place: Place, client: str, details: dict[str, Any], rng: random.Random) -> None:
        if place.kind in SECRET_KINDS:
            job = self._house_stay(place, client, rng)
        elif rng.random() < casework.HOLDING_SHARE / 0.8 and details.get("sex") == "female":
            job = self._hold_then_transfer(place, client, details, rng)
        else:
            job = self._short_stay(place, client, rng)
        self.p.tasks.spawn(job, f"{self.p.code}:stay:{client}")

    async def _short_stay(self, place: Place, client: str, rng: random.Random,
                          days: float | None = None) -> None:
        await self.p.clock.sleep((days if days is not None else casework.short_stay_days(rng)) * DAY)
        await self.discharge(place, client, casework.pick(rng, casework.CENTRE_DISCHARGES))

    async def _house_stay(self, place: Place, client: str, rng: random.Random, days: float | None = None) -> None:
        await self.p.clock.sleep((days if days is not None else casework.house_stay_days(rng)) * DAY)
        await self.discharge(place, client, casework.pick(rng, casework.HOUSE_DISCHARGES))

    def _destination(self, details: dict[str, Any]) -> CentreKind | None:
        """Girls go on to a health house, women to a safe house, if the province has one."""
        girl = int(details.get("age", 30)) < 18
        order = ((CentreKind.HEALTH_HOUSE, CentreKind.SAFE_HOUSE) if girl
                 else (CentreKind.SAFE_HOUSE, CentreKind.HEALTH_HOUSE))
        return next((kind for kind in order if self.houses(kind)), None)

    async def _hold_then_transfer(self, place: Place, client: str, details: dict[str, Any],
                                  rng: random.Random, decided_in_days: float | None = None,
                                  already_holding: bool = False) -> None:
        clock = self.p.clock
        destination = self._destination(details)
        if destination is None:
            return await self._short_stay(place, client, rng)
        days = rng.randint(15, 20)
        if not already_holding:
            await clock.sleep((decided_in_days if decided_in_days is not None else rng.uniform(0.3, 2)) * DAY)
            a = await self.p.client.send(
                "start_holding", f"/centres/{place.id}/holding",
                {"client_id": client, "days": days, "destination_kind": str(destination)}, self.who)
            if not a.ok:
                return await self._short_stay(place, client, rng)
        await clock.sleep((days if not already_holding else rng.uniform(1, 10)) * DAY)
        for _ in range(TRANSFER_ATTEMPTS):
            houses = self.houses(destination)
            house = max(houses, key=lambda h: h.free)
            a = await self.p.client.send("transfer_client", f"/centres/{place.id}/transfers",
                                         {"client_id": client, "to_centre_id": house.id}, self.who)
            if a.error == "holding_not_served" and clock.speed > 1:
                # The system counts real days; the simulated holding period was served in
                # simulated days. The supervisor records that as an override (seen by auditors).
                a = await self.p.client.send(
                    "transfer_client", f"/centres/{place.id}/transfers",
                    {"client_id": client, "to_centre_id": house.id,
                     "override_reason": f"simulation at {clock.speed:g}x: the holding period was served "
                                        "in simulated days"}, self.p.supervisor)
            if a.ok:
                place.clients.discard(client)
                house.clients.add(client)
                self.p.tasks.spawn(self._house_stay(house, client, rng), f"{self.p.code}:house:{client}")
                return
            if a.error != "over_capacity":
                break
            await clock.sleep(DAY)  # the house is full: wait a day and ask again
        await self.discharge(place, client, DischargeReason.REFERRED)

    async def discharge(self, place: Place, client: str, reason: DischargeReason) -> None:
        a = await self.p.client.send("discharge_client", f"/centres/{place.id}/discharges",
                                     {"client_id": client, "reason": str(reason)}, self.who)
        if a.ok or a.error == "not_resident":
            place.clients.discard(client)

    # ------------------------------------------------------------------ opening and taking over

    async def open_with_clients(self, place: Place) -> None:
        """A newly registered residential place starts partly full, as it would be in life."""
        if place.kind not in RESIDENTIAL_KINDS:
            return
        rng = self.p.rng(f"opening:{place.spec.name}")
        secret = place.kind in SECRET_KINDS
        for i in range(round(place.capacity * OPENING_SHARE)):
            route = ReferralRoute.OTHER_CENTRE if secret else casework.pick(rng, casework.DIRECT_ADMISSION_ROUTES)
            details = casework.client(rng)
            details["sex"] = "female"  # the houses and most long stays are for women and girls
            a = await self.p.client.send("admit_client", f"/centres/{place.id}/admissions",
                                         {"route": str(route), "client": details}, self.who)
            if not a.ok:
                continue
            client = a["client_id"]
            place.clients.add(client)
            self.p.stats.opening_clients[self.p.code] += 1
            stay_rng = random.Random(rng.getrandbits(64))
            if secret:
                job = self._house_stay(place, client, stay_rng, days=stay_rng.uniform(1, 40))
            elif i == 0:  # one client already waiting to go on to a house
                job = self._hold_then_transfer(place, client, details, stay_rng, decided_in_days=0.05)
            else:
                job = self._short_stay(place, client, stay_rng)
            self.p.tasks.spawn(job, f"{self.p.code}:stay:{client}")

    def adopt(self, place: Place, clients: dict[str, dict[str, Any]]) -> None:
        """Clients left by an earlier run: their stays go on from here."""
        rng = self.p.rng(f"adopt:{place.spec.name}")
        for client, stay in clients.items():
            place.clients.add(client)
            stay_rng = random.Random(rng.getrandbits(64))
            if place.kind in SECRET_KINDS:
                job = self._house_stay(place, client, stay_rng, days=stay_rng.uniform(1, 30))
            elif stay.get("holding_until"):
                girl = stay.get("destination_kind") == str(CentreKind.HEALTH_HOUSE)
                job = self._hold_then_transfer(place, client, {"sex": "female", "age": 15 if girl else 30},
                                               stay_rng, already_holding=True)
            else:
                job = self._short_stay(place, client, stay_rng, days=stay_rng.uniform(0.1, 2))
            self.p.tasks.spawn(job, f"{self.p.code}:stay:{client}")
