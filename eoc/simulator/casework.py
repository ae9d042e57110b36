"""The case mix: what people call about, how urgent it is, and what becomes of it.

Every choice takes the random generator of the case it belongs to, so that the same seed
gives the same cases whatever the order the simulator's tasks run in.
Most Qazvin calls are family disputes and spouse addiction (DOMAIN.md); cases that reach the
service from the police, the judiciary or other centres are more often runaway girls, street
children and abuse.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from events.vocabulary import CallCategory as Cat
from events.vocabulary import (
    DischargeReason,
    IncidentOutcome,
    Priority,
    ReferralRoute,
    ReferralTarget,
    RiskFlag,
    Role,
)

T = TypeVar("T")


def pick(rng: random.Random, weights: Mapping[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


# ------------------------------------------------------------------ what a case is about

CALL_CATEGORIES: dict[Cat, float] = {
    Cat.FAMILY_DISPUTE: 28, Cat.SPOUSE_ADDICTION: 17, Cat.SPOUSE_ABUSE: 12, Cat.DIVORCE: 8,
    Cat.CHILD_ABUSE: 6, Cat.CHILD_MALTREATMENT: 4, Cat.SUICIDE: 6, Cat.RUNAWAY: 5, Cat.ELDER_ABUSE: 3,
    Cat.DISABLED_ABUSE: 2, Cat.STREET_CHILDREN: 3, Cat.OTHER: 6,
}
REFERRAL_CATEGORIES: dict[Cat, float] = {
    Cat.RUNAWAY: 18, Cat.STREET_CHILDREN: 14, Cat.SPOUSE_ABUSE: 16, Cat.CHILD_ABUSE: 14,
    Cat.FAMILY_DISPUTE: 12, Cat.CHILD_MALTREATMENT: 6, Cat.ELDER_ABUSE: 5, Cat.DISABLED_ABUSE: 4,
    Cat.SUICIDE: 5, Cat.SPOUSE_ADDICTION: 4, Cat.OTHER: 2,
}

P = Priority
# (urgent, high, normal, low) by category.
PRIORITY_BY_CATEGORY: dict[Cat, tuple[float, float, float, float]] = {
    Cat.SUICIDE: (55, 35, 10, 0),
    Cat.CHILD_ABUSE: (25, 45, 25, 5),
    Cat.SPOUSE_ABUSE: (20, 40, 35, 5),
    Cat.RUNAWAY: (15, 45, 35, 5),
    Cat.CHILD_MALTREATMENT: (10, 40, 40, 10),
    Cat.ELDER_ABUSE: (10, 35, 45, 10),
    Cat.DISABLED_ABUSE: (10, 35, 45, 10),
    Cat.STREET_CHILDREN: (5, 30, 50, 15),
    Cat.FAMILY_DISPUTE: (5, 20, 55, 20),
    Cat.SPOUSE_ADDICTION: (3, 17, 55, 25),
    Cat.DIVORCE: (0, 10, 50, 40),
    Cat.OTHER: (2, 10, 48, 40),
}
PRIORITIES = (P.URGENT, P.HIGH, P.NORMAL, P.LOW)

F = RiskFlag
# Chance of each risk flag by category (flags not listed: never).
RISK_FLAGS: dict[Cat, dict[RiskFlag, float]] = {
    Cat.SUICIDE: {F.SUICIDE_RISK: 0.85},
    Cat.CHILD_ABUSE: {F.CHILD_IN_DANGER: 0.6, F.VIOLENCE_ONGOING: 0.15},
    Cat.CHILD_MALTREATMENT: {F.CHILD_IN_DANGER: 0.4},
    Cat.SPOUSE_ABUSE: {F.VIOLENCE_ONGOING: 0.3, F.WEAPON: 0.04, F.STAFF_SAFETY: 0.06},
    Cat.FAMILY_DISPUTE: {F.VIOLENCE_ONGOING: 0.08, F.STAFF_SAFETY: 0.03},
    Cat.SPOUSE_ADDICTION: {F.VIOLENCE_ONGOING: 0.06, F.STAFF_SAFETY: 0.05, F.CHILD_IN_DANGER: 0.05},
    Cat.RUNAWAY: {F.CHILD_IN_DANGER: 0.3},
    Cat.STREET_CHILDREN: {F.CHILD_IN_DANGER: 0.35},
    Cat.ELDER_ABUSE: {F.VIOLENCE_ONGOING: 0.1},
    Cat.DISABLED_ABUSE: {F.VIOLENCE_ONGOING: 0.1},
}
DANGER_FLAGS = frozenset({F.VIOLENCE_ONGOING, F.WEAPON, F.STAFF_SAFETY})


@dataclass(frozen=True)
class Classification:
    category: Cat
    priority: Priority
    risk_flags: tuple[RiskFlag, ...]

    def to_json(self) -> dict[str, object]:
        return {"category": str(self.category), "priority": str(self.priority),
                "risk_flags": [str(f) for f in self.risk_flags]}


def classify(rng: random.Random, mix: Mapping[Cat, float] = CALL_CATEGORIES) -> Classification:
    category = pick(rng, mix)
    priority = rng.choices(PRIORITIES, weights=PRIORITY_BY_CATEGORY[category])[0]
    flags = tuple(f for f, p in RISK_FLAGS.get(category, {}).items() if rng.random() < p)
    if flags and priority == P.LOW:
        priority = P.NORMAL
    return Classification(category, priority, flags)


# ------------------------------------------------------------------ what becomes of a call

# How much more often a call of this priority becomes an intervention than the average one.
_ESCALATION_WEIGHT = {P.URGENT: 6.0, P.HIGH: 2.0, P.NORMAL: 0.6, P.LOW: 0.15}
_FLAG_FACTOR = 1.6  # a call with a risk flag is more often escalated


def _weight(c: Classification) -> float:
    return _ESCALATION_WEIGHT[c.priority] * (_FLAG_FACTOR if c.risk_flags else 1.0)


def _mean_weight() -> float:
    """The expected weight over the call mix, so that the mean probability is the target share."""
    total = sum(CALL_CATEGORIES.values())
    mean = 0.0
    for cat, w in CALL_CATEGORIES.items():
        flags = RISK_FLAGS.get(cat, {})
        p_none = math.prod(1 - p for p in flags.values())
        for prio, pw in zip(PRIORITIES, PRIORITY_BY_CATEGORY[cat], strict=True):
            share = w / total * pw / sum(PRIORITY_BY_CATEGORY[cat])
            base = _ESCALATION_WEIGHT[prio]
            if prio == P.LOW and flags:  # flagged low calls are raised to normal
                mean += share * ((1 - p_none) * _ESCALATION_WEIGHT[P.NORMAL] * _FLAG_FACTOR + p_none * base)
            else:
                mean += share * base * ((1 - p_none) * _FLAG_FACTOR + p_none)
    return mean


_MEAN_WEIGHT = _mean_weight()


def escalation_probability(c: Classification, share: float) -> float:
    """The chance that this call becomes an incident, averaging ``share`` over the mix."""
    return min(0.95, share * _weight(c) / _MEAN_WEIGHT)


CALL_OUTCOMES = {"counsel": 68, "line_1480": 12, "centre": 12, "outside_agency": 8}
OUTSIDE_AGENCIES = ("police (پلیس)", "judiciary (دادگستری)", "health network (شبکه بهداشت)",
                    "municipality social services", "Imam Khomeini Relief Foundation (کمیته امداد)")
REFERRAL_TARGETS = {"line_1480": ReferralTarget.LINE_1480, "centre": ReferralTarget.CENTRE,
                    "outside_agency": ReferralTarget.OUTSIDE_AGENCY}
SERVICES_BY_CATEGORY: dict[Cat, Sequence[str]] = {
    Cat.DIVORCE: ("counselling", "legal"),
    Cat.FAMILY_DISPUTE: ("counselling", "social_work"),
    Cat.SPOUSE_ADDICTION: ("counselling", "medical", "social_work"),
    Cat.SUICIDE: ("counselling", "psychological"),
    Cat.STREET_CHILDREN: ("social_work", "financial", "educational"),
}


def counselling(rng: random.Random, c: Classification) -> tuple[list[str], int]:
    """The services given on the phone, and how long the call lasted (simulated seconds)."""
    offered = SERVICES_BY_CATEGORY.get(c.category, ("counselling", "social_work", "psychological"))
    services = [offered[0]] + [s for s in offered[1:] if rng.random() < 0.4]
    minutes = min(90.0, rng.lognormvariate(math.log(9), 0.5))
    return services, int(minutes * 60)


def caller(rng: random.Random) -> dict[str, object] | None:
    """Sealed details of about half the callers (the others stay anonymous)."""
    if rng.random() < 0.5:
        return None
    return {"sex": "female" if rng.random() < 0.7 else "male", "age": rng.randint(16, 70)}


# ------------------------------------------------------------------ cases from other routes

R = ReferralRoute
INCIDENT_ROUTES: dict[ReferralRoute, float] = {
    R.POLICE: 35, R.JUDICIARY: 15, R.OTHER_ORGANIZATION: 12, R.OTHER_CENTRE: 15, R.SELF: 15, R.MOBILE_TEAM: 8,
}
# Who opens an incident that came by each route: the dispatcher takes the phone from the police,
# the courts, other organizations and centres (a centre's staff may not open incidents: they
# call the dispatcher, events/policy.py); the call-taker records who walks in or calls themselves.
OPENED_BY: dict[ReferralRoute, Role] = {
    R.POLICE: Role.DISPATCHER, R.JUDICIARY: Role.DISPATCHER, R.OTHER_ORGANIZATION: Role.DISPATCHER,
    R.MOBILE_TEAM: Role.DISPATCHER, R.OTHER_CENTRE: Role.DISPATCHER, R.SELF: Role.CALL_TAKER,
}
DIRECT_ADMISSION_ROUTES: dict[ReferralRoute, float] = {
    R.SELF: 40, R.POLICE: 25, R.JUDICIARY: 15, R.OTHER_CENTRE: 10, R.OTHER_ORGANIZATION: 10,
}


# ------------------------------------------------------------------ on the scene

# Relative chance that a call-out ends with the client admitted to a centre.
_ADMIT_FACTOR = {Cat.RUNAWAY: 2.2, Cat.SPOUSE_ABUSE: 1.6, Cat.CHILD_ABUSE: 1.6, Cat.STREET_CHILDREN: 1.4,
                 Cat.CHILD_MALTREATMENT: 1.2, Cat.ELDER_ABUSE: 1.0, Cat.DISABLED_ABUSE: 1.0, Cat.SUICIDE: 0.8,
                 Cat.FAMILY_DISPUTE: 0.5, Cat.SPOUSE_ADDICTION: 0.4, Cat.DIVORCE: 0.3, Cat.OTHER: 0.5}
_OTHER_OUTCOMES = {IncidentOutcome.RESOLVED_ON_SCENE: 55, IncidentOutcome.REFERRED: 28,
                   IncidentOutcome.NO_CONTACT: 12, IncidentOutcome.FALSE_REPORT: 5}


def scene_outcome(rng: random.Random, category: Cat, admit_share: float) -> IncidentOutcome:
    if rng.random() < min(0.9, admit_share * _ADMIT_FACTOR.get(category, 1.0)):
        return IncidentOutcome.ADMITTED
    return pick(rng, _OTHER_OUTCOMES)


def on_scene_minutes(rng: random.Random, outcome: IncidentOutcome) -> float:
    if outcome in (IncidentOutcome.NO_CONTACT, IncidentOutcome.FALSE_REPORT):
        return rng.uniform(8, 20)
    return min(180.0, rng.lognormvariate(math.log(40), 0.4))


def misses_check_in(rng: random.Random, flags: Sequence[RiskFlag]) -> bool:
    """Teams in dangerous homes miss a safety check-in more often (staff safety, DOMAIN.md)."""
    return rng.random() < (0.15 if DANGER_FLAGS.intersection(flags) else 0.05)


# ------------------------------------------------------------------ stays

HOLDING_SHARE = 0.04  # admitted clients the experts send on to a safe or health house
CENTRE_DISCHARGES = {DischargeReason.RETURNED_HOME: 55, DischargeReason.REFERRED: 20,
                     DischargeReason.INDEPENDENT: 10, DischargeReason.LEFT: 8, DischargeReason.OTHER: 7}
HOUSE_DISCHARGES = {DischargeReason.INDEPENDENT: 40, DischargeReason.RETURNED_HOME: 40,
                    DischargeReason.REFERRED: 15, DischargeReason.OTHER: 5}


def client(rng: random.Random) -> dict[str, object]:
    """A client's sealed details: mostly girls and women (the centres' main target group)."""
    sex = "female" if rng.random() < 0.8 else "male"
    age = rng.randint(12, 17) if rng.random() < 0.35 else rng.randint(18, 75)
    return {"sex": sex, "age": age}


def short_stay_days(rng: random.Random) -> float:
    """A crisis stay: a night or two for most, a week for a few (median 0.8 day, mean 1.1).

    With Qazvin's 4.5 admissions a day this keeps its 10 beds about 80% full on average, so
    that busy days end in declined admissions, as the reports' shortage of places suggests."""
    return min(10.0, rng.lognormvariate(math.log(0.8), 0.8))


def house_stay_days(rng: random.Random) -> float:
    return rng.uniform(15, 45)
