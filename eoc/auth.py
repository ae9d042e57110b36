"""Tokens signed by the system, and who may give which command where.

A token is ``base64url(json claims) . base64url(HMAC-SHA256)``: small, dependency-free, and
checked in constant time. Claims: ``sub`` (pseudonymous user id), ``role``, ``province``
(a province code, or ``IR`` for national roles), ``exp`` (Unix seconds) and, for a team's
tablet, ``team``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from events.places import PROVINCES
from events.vocabulary import NATIONAL, Role

from .domain import Actor
from .errors import Forbidden, Unauthorized, WrongProvince

R = Role
# Which roles may give each command. A provincial supervisor may do everything in the
# province; the national EOC and auditors watch and never write.
COMMAND_ROLES: dict[str, frozenset[Role]] = {
    name: frozenset(roles) | {R.PROVINCIAL_SUPERVISOR}
    for name, roles in {
        "receive_call": {R.CALL_TAKER},
        "classify_call": {R.CALL_TAKER},
        "counsel_call": {R.CALL_TAKER},
        "refer_call": {R.CALL_TAKER},
        "escalate_call": {R.CALL_TAKER},
        "open_incident": {R.CALL_TAKER, R.DISPATCHER, R.CENTRE_STAFF, R.PARTNER},  # a partner refers (EIDO)
        "close_incident": {R.DISPATCHER},
        "register_team": set(),
        "start_shift": {R.DISPATCHER, R.TEAM},
        "end_shift": {R.DISPATCHER, R.TEAM},
        "dispatch_team": {R.DISPATCHER},
        "change_team_status": {R.DISPATCHER, R.TEAM},
        "report_position": {R.TEAM, R.DISPATCHER},
        "check_in": {R.TEAM, R.DISPATCHER},
        "record_missed_check_in": {R.DISPATCHER, R.SYSTEM},
        "register_centre": set(),
        "change_capacity": {R.CENTRE_STAFF},
        "close_centre": set(),
        "admit_client": {R.CENTRE_STAFF},
        "start_holding": {R.CENTRE_STAFF},
        "transfer_client": {R.CENTRE_STAFF},
        "discharge_client": {R.CENTRE_STAFF},
    }.items()
}

# Who may see where the secret places (safe houses, health houses) are and who is in them:
# only the people of that province who run or oversee them.
SECRET_READERS = frozenset({R.CENTRE_STAFF, R.PROVINCIAL_SUPERVISOR})
# Who may open personal details (the sealed caller and client data).
PERSONAL_DATA_READERS = frozenset({R.CALL_TAKER, R.CENTRE_STAFF, R.PROVINCIAL_SUPERVISOR})
NATIONAL_ROLES = frozenset({R.NATIONAL_EOC, R.AUDITOR})


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    role: Role
    province: str
    exp: int
    team: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(role=self.role, user=self.sub, province=self.province)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 bytes")
        self._secret = secret

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def issue(
        self,
        role: Role | str,
        province: str,
        sub: str = "user",
        ttl_s: int = 12 * 3600,
        team: str | None = None,
        now: float | None = None,
    ) -> str:
        role = Role(role)
        if province != NATIONAL and province not in PROVINCES:
            raise ValueError(f"unknown province {province!r}")
        if role in NATIONAL_ROLES and province != NATIONAL:
            raise ValueError(f"a {role} token is national: use province {NATIONAL}")
        claims = {"sub": sub, "role": str(role), "province": province,
                  "exp": int((now or time.time()) + ttl_s)}
        if team:
            claims["team"] = team
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, now: float | None = None) -> Claims:
        try:
            body, sig = token.split(".")
        except ValueError:
            raise Unauthorized("malformed token") from None
        if not hmac.compare_digest(sig, self._sign(body)):
            raise Unauthorized("bad token signature")
        try:
            c = json.loads(_unb64(body))
            claims = Claims(sub=c["sub"], role=Role(c["role"]), province=c["province"],
                            exp=int(c["exp"]), team=c.get("team"))
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("malformed token claims") from None
        if claims.exp < (now or time.time()):
            raise Unauthorized("token expired")
        return claims


def authorize(claims: Claims, command: str, province: str, team_id: str | None = None) -> None:
    """Raise unless this token may give this command on something in this province."""
    if claims.role not in COMMAND_ROLES[command]:
        raise Forbidden(
            f"a {claims.role} may not {command.replace('_', ' ')}",
            role=str(claims.role),
            allowed=sorted(str(r) for r in COMMAND_ROLES[command]),
        )
    if claims.province != province:
        raise WrongProvince(
            f"this token is for province {claims.province}; the target is in {province}",
            token_province=claims.province,
            target_province=province,
        )
    if claims.role == Role.TEAM and team_id is not None and claims.team != team_id:
        raise Forbidden("a team's token acts only for that team", team=claims.team)


def may_see_secret(role: Role | str, token_province: str, place_province: str) -> bool:
    return Role(role) in SECRET_READERS and token_province == place_province


def may_see_province(role: Role | str, token_province: str, province: str) -> bool:
    return token_province in (NATIONAL, province)
