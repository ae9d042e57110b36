"""Access tokens signed by the system, and who may give which command where.

An access token is a compact JWS (HS256): ``header.claims.signature``, base64url. The
header names the signing key (``kid``) so that keys rotate without signing everyone out:
a new key signs, the previous ones still verify until their tokens have expired. Claims:
``iss``, ``aud``, ``iat``, ``exp`` (at most ``MAX_ACCESS_S`` after ``iat``), ``jti``, ``sub``
(the user's pseudonymous id), ``role``, ``province`` (``IR`` for national roles), ``sid``
(the sign-in session, which logout, disabling the user and "end all sessions" revoke) and,
for accounts bound to one, ``team`` or ``centre``.

``Authenticator.verify`` checks the signature and the times, then asks the user directory
whether the session and the user are still live, on every request: revocation is at once.
``issue`` is the programmatic way for tests, benchmarks and the simulator to get a token
(short-lived like every access token); people get theirs by signing in (eoc/app/signin.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eoc.domain import Actor
from eoc.domain.errors import Forbidden, Unauthorized, WrongProvince
from events.policy import POLICY, TEAM_COMMANDS, roles_for, valid_scope
from events.vocabulary import NATIONAL, Role

R = Role
ISSUER = "eoc-social-emergency"
AUDIENCE = "eoc"
MAX_ACCESS_S = 15 * 60  # an access token lives 15 minutes at most; the refresh token renews it
NATIONAL_ROLES = frozenset(r for r, p in POLICY.items() if p.national)


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    role: Role
    province: str
    exp: int
    team: str | None = None
    centre: str | None = None
    iat: int = 0
    jti: str = ""
    sid: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(role=self.role, user=self.sub, province=self.province)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(secret: bytes) -> str:
    """A key's public name: a digest of it (so that two processes with one secret agree)."""
    return hashlib.sha256(b"eoc-kid\n" + secret).hexdigest()[:12]


class TokenSigner:
    """Signs with the current key; verifies with the current and the previous keys."""

    def __init__(self, secret: bytes, previous: Sequence[bytes] = ()) -> None:
        for s in (secret, *previous):
            if len(s) < 16:
                raise ValueError("a token signing key must be at least 16 bytes")
        self._current = key_id(secret)
        self._keys = {key_id(s): s for s in (*previous, secret)}
        # Tokens whose signature was checked and claims read (a signer's keys never change; a
        # rotation makes a new signer): a token comes with every request of its holder, and the
        # key middleware and the endpoint each verify it. The checks that depend on the time
        # run on every call.
        self._verified: dict[str, Claims] = {}

    @property
    def kid(self) -> str:
        return self._current

    def _sign(self, kid: str, signing_input: str) -> str:
        return _b64(hmac.new(self._keys[kid], signing_input.encode(), hashlib.sha256).digest())

    def issue(
        self,
        role: Role | str,
        province: str,
        sub: str = "user",
        ttl_s: int = MAX_ACCESS_S,
        team: str | None = None,
        now: float | None = None,
        *,
        centre: str | None = None,
        sid: str | None = None,
    ) -> str:
        role = Role(role)
        if role not in POLICY or POLICY[role].service:
            raise ValueError(f"a {role} has no token: it is the system's own service account")
        if not valid_scope(role, province):
            if province != NATIONAL and role not in NATIONAL_ROLES:
                raise ValueError(f"unknown province {province!r}" if province != NATIONAL
                                 else f"a {role} works in one province, not {NATIONAL}")
            raise ValueError(f"a {role} token is national: use province {NATIONAL}")
        if ttl_s > MAX_ACCESS_S:
            raise ValueError(f"an access token lives at most {MAX_ACCESS_S} s; sign in again or refresh")
        iat = int(now if now is not None else time.time())
        claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "iat": iat, "exp": iat + int(ttl_s),
                                  "jti": uuid.uuid4().hex, "sub": sub, "role": str(role), "province": province}
        for name, value in (("team", team), ("centre", centre), ("sid", sid)):
            if value:
                claims[name] = value
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self._current},
                                 separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{body}.{self._sign(self._current, header + '.' + body)}"

    VERIFIED_LIMIT = 4_096  # tokens remembered at most (then forgotten all at once)

    def verify(self, token: str, now: float | None = None) -> Claims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._read(token)
            if len(self._verified) >= self.VERIFIED_LIMIT:
                self._verified = {}
            self._verified[token] = claims
        t = now if now is not None else time.time()
        if claims.exp < t:
            raise Unauthorized("token expired")
        if claims.exp - claims.iat > MAX_ACCESS_S or claims.iat > t + 60:
            raise Unauthorized("the token's lifetime is not allowed")
        if claims.role not in POLICY or POLICY[claims.role].service or not valid_scope(claims.role, claims.province):
            raise Unauthorized("the token's role and province do not go together")
        return claims

    def _read(self, token: str) -> Claims:
        """The claims of a token signed by one of our keys (its times not checked)."""
        if not token.isascii() or len(token) > 4096:  # compare_digest refuses non-ASCII text
            raise Unauthorized("malformed token")
        try:
            header_b64, body, sig = token.split(".")
            header = json.loads(_unb64(header_b64))
            kid = header["kid"]
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("malformed token") from None
        if header.get("alg") != "HS256" or kid not in self._keys:
            raise Unauthorized("bad token signature")
        if not hmac.compare_digest(sig, self._sign(kid, header_b64 + "." + body)):
            raise Unauthorized("bad token signature")
        try:
            c = json.loads(_unb64(body))
            if c["iss"] != ISSUER or c["aud"] != AUDIENCE:
                raise Unauthorized("the token was issued for another system")
            claims = Claims(sub=str(c["sub"]), role=Role(c["role"]), province=str(c["province"]),
                            exp=int(c["exp"]), team=c.get("team"), centre=c.get("centre"),
                            iat=int(c["iat"]), jti=str(c["jti"]), sid=c.get("sid"))
        except (ValueError, KeyError, TypeError):
            raise Unauthorized("malformed token claims") from None
        return claims


class SessionCheck(Protocol):
    """The user directory as the authenticator sees it (eoc/app/users.py)."""

    def token_live(self, claims: Claims) -> str | None: ...
    def live_known(self, claims: Claims) -> bool: ...
    def revoked_since(self, since: float) -> tuple[set[str], dict[str, float]]: ...


class TokenIssuer(Protocol):
    """What issues tokens for the simulator: a TokenSigner, or the Authenticator in front of one."""

    def issue(self, role: Role | str, province: str, sub: str = ..., ttl_s: int = ...,
              team: str | None = ...) -> str: ...


class Authenticator:
    """Signer plus directory: a token is good while its signature, times, session and user are."""

    def __init__(self, signer: TokenSigner, directory: SessionCheck | None = None, *,
                 sessionless: bool = True) -> None:
        self.signer = signer
        self.directory = directory
        self.sessionless = sessionless  # accept tokens that name no sign-in session (dev tools)

    def issue(self, *args: Any, **kw: Any) -> str:
        return self.signer.issue(*args, **kw)

    def signed(self, token: str, now: float | None = None) -> Claims:
        """The token's claims if its signature, times and kind are good (no I/O); whether its
        session still counts is ``live_known`` / ``check_live``."""
        claims = self.signer.verify(token, now)
        if claims.sid is None and not self.sessionless:
            raise Unauthorized("this deployment accepts only tokens of signed-in people: sign in")
        return claims

    def live_known(self, claims: Claims) -> bool:
        """Whether the directory already knows this token live (no I/O, for the event loop)."""
        return self.directory is None or self.directory.live_known(claims)

    def check_live(self, claims: Claims) -> None:
        """Raise unless the token's session, user, role and province still count (the directory's
        look-up: a round trip on PostgreSQL)."""
        if self.directory is not None:
            problem = self.directory.token_live(claims)
            if problem:
                raise Unauthorized(problem)

    def verify(self, token: str, now: float | None = None) -> Claims:
        claims = self.signed(token, now)
        self.check_live(claims)
        return claims

    async def verify_on_loop(self, token: str) -> Claims:
        """``verify`` for an event loop: nothing but the signature (remembered) and the times when
        the directory already knows the token live, else the directory's look-up — in a worker thread when it is a
        round trip to PostgreSQL (a local SQLite read stays on the loop)."""
        claims = self.signed(token)
        if not self.live_known(claims):
            if getattr(self.directory, "networked", False):
                await asyncio.to_thread(self.check_live, claims)
            else:
                self.check_live(claims)
        return claims

    def revoked_since(self, since: float) -> tuple[set[str], dict[str, float]]:
        """Sessions revoked and users whose sessions ended since ``since`` (for the bridge)."""
        if self.directory is None:
            return set(), {}
        return self.directory.revoked_since(since)


def authorize(claims: Claims, command: str, province: str, team_id: str | None = None,
              centre_id: str | None = None) -> None:
    """Raise unless this token may give this command on something in this province."""
    allowed = roles_for(command)
    if claims.role not in allowed:
        raise Forbidden(
            f"a {claims.role} may not {command.replace('_', ' ')}",
            role=str(claims.role),
            allowed=sorted(str(r) for r in allowed),
        )
    if claims.province != province:
        raise WrongProvince(
            f"this token is for province {claims.province}; the target is in {province}",
            token_province=claims.province,
            target_province=province,
        )
    rule = POLICY.get(claims.role)
    binding = rule.binding if rule is not None else None
    if binding == "team" and command in TEAM_COMMANDS and team_id is not None and claims.team != team_id:
        raise Forbidden("a team's account acts only for that team", team=claims.team)
    if binding == "centre" and claims.centre and centre_id is not None and claims.centre != centre_id:
        raise Forbidden("a centre's account acts only for that centre", centre=claims.centre)


def may_see_province(role: Role | str, token_province: str, province: str) -> bool:
    return token_province in (NATIONAL, province)
