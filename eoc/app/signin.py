"""Signing in and out (ورود و خروج): password and second factor, refresh, links, logout.

A sign-in opens a session in the user directory and answers a short-lived access token
(``MAX_ACCESS_S``) and a refresh token; the refresh token is exchanged for a new pair
(the old one is spent) until the session ends: at logout, when the user is disabled, at
"end all sessions", or when its refresh lifetime is over (a desk's working day; longer for
a team's tablet, which is revoked on its own). A one-time link (``eoc demo`` prints one per
role) signs its holder in once within minutes and is dead after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eoc.app.access_log import AccessLog
from eoc.app.auth import MAX_ACCESS_S, Authenticator, Claims
from eoc.app.limits import Limits
from eoc.app.users import Session, User, UserDirectory
from eoc.domain.errors import Forbidden, TooManyRequests, Unauthorized
from events.policy import POLICY


@dataclass
class SignIn:
    directory: UserDirectory
    auth: Authenticator
    log: AccessLog
    limits: Limits

    def _tokens(self, user: User, session: Session, refresh: str) -> dict[str, Any]:
        access = self.auth.issue(user.role, user.province, sub=user.id, team=user.team, centre=user.centre,
                                 sid=session.id, ttl_s=MAX_ACCESS_S)
        return {"access_token": access, "token_type": "Bearer", "expires_in": MAX_ACCESS_S,
                "refresh_token": refresh, "refresh_expires_at": int(session.expires),
                "session": session.id, "user": user.public()}

    def sign_in(self, username: str, password: str, code: str | None, *, address: str,
                device: bool = False, label: str | None = None) -> dict[str, Any]:
        try:
            self.limits.sign_in_address.take(address, "sign-in attempts from this address")
            self.limits.sign_in_user.take(username.lower(), "sign-in attempts for this user")
        except TooManyRequests:
            self.log.record(user=username[:64], role="", province="", action="sign_in_limited",
                            channel="signin", address=address)
            raise
        user, why = self.directory.check_credentials(username, password, code)
        refusal = "wrong username, password or code"
        if user is not None and not why:
            if user.disabled:
                why = "disabled"
            elif user.locked:
                why, refusal = "locked", "the account is locked after failed sign-ins; a supervisor unlocks it"
        if why:
            locked = False
            if user is not None and why in ("wrong password", "wrong or missing second-factor code"):
                locked = self.directory.record_failure(user.id)
            self.log.record(user=user.id if user else username[:64], role=str(user.role) if user else "",
                            province=user.province if user else "", action="sign_in_failed", channel="signin",
                            subject=user.id if user else "", why=why, address=address, locked=locked)
            raise Unauthorized(refusal)
        assert user is not None
        if device and user.role != "team":
            raise Forbidden("only a mobile team's tablet signs in as a device")
        self.directory.record_success(user.id)
        session, refresh = self.directory.open_session(user.id, "device" if device else "browser", label)
        self.log.record(user=user.id, role=str(user.role), province=user.province, action="sign_in",
                        channel="signin", subject=user.id, session=session.id, kind=session.kind, address=address)
        return self._tokens(user, session, refresh)

    def redeem_link(self, code: str, *, address: str) -> dict[str, Any]:
        self.limits.sign_in_address.take(address, "sign-in attempts from this address")
        user = self.directory.redeem_link(code)
        if user is None:
            self.log.record(user="", role="", province="", action="sign_in_failed", channel="signin",
                            why="dead link", address=address)
            raise Unauthorized("this sign-in link is used, expired or unknown; ask for a new one")
        session, refresh = self.directory.open_session(user.id, "browser", "one-time link")
        self.log.record(user=user.id, role=str(user.role), province=user.province, action="sign_in",
                        channel="signin", subject=user.id, session=session.id, kind="link", address=address)
        return self._tokens(user, session, refresh)

    def refresh(self, refresh: str, *, address: str) -> dict[str, Any]:
        self.limits.sign_in_address.take(address, "refreshes from this address")
        turned = self.directory.rotate_refresh(refresh)
        if turned is None:
            raise Unauthorized("the session has ended; sign in again")
        session, new = turned
        return self._tokens(self.directory.get(session.user_id), session, new)

    def open_for(self, user: User, *, label: str) -> dict[str, Any]:
        """A session the system itself opens for an account it runs (a demo's simulated desks,
        which have no password): real tokens of a real session, logged like any sign-in."""
        if user.disabled or user.locked:
            raise Unauthorized("the account is disabled or locked")

        if POLICY[user.role].service:
            raise Forbidden("a service account never signs in")
        session, refresh = self.directory.open_session(user.id, "browser", label)
        self.log.record(user=user.id, role=str(user.role), province=user.province, action="sign_in",
                        channel="service", subject=user.id, session=session.id, kind="service", label=label)
        return self._tokens(user, session, refresh)

    def renew(self, refresh: str) -> dict[str, Any]:
        """``refresh`` for the system's own accounts, which all work from one address."""
        turned = self.directory.rotate_refresh(refresh)
        if turned is None:
            raise Unauthorized("the session has ended; sign in again")
        session, new = turned
        return self._tokens(self.directory.get(session.user_id), session, new)

    def logout(self, claims: Claims) -> dict[str, Any]:
        ended = self.directory.revoke_session(claims.sid) if claims.sid else False
        self.log.record(user=claims.sub, role=str(claims.role), province=claims.province, action="sign_out",
                        channel="signin", subject=claims.sub, session=claims.sid or "")
        return {"signed_out": True, "session_ended": ended}
