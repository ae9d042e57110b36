"""HTTP for people: sign in and out, refresh, one-time links; users of a province; the access log.

Mounted by eoc/http/api.py beside the commands. A provincial supervisor manages the accounts of
its province, the national EOC the national accounts and provincial supervisors
(events/policy.py, ``may_manage``); every such action is written to the access log, which
auditors read here.
"""


from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from eoc.app.access_log import as_dict
from eoc.app.auth import Claims
from eoc.app.users import User
from eoc.domain.errors import Forbidden, InvalidCommand
from eoc.http.answers import ANSWER_AS_GIVEN, Answer
from events.policy import may_manage
from events.vocabulary import Role


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignInBody(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    code: str | None = Field(None, max_length=10, description="the 6-digit code of the authenticator app")
    device: bool = Field(False, description="a mobile team's tablet: a longer session, revocable on its own")
    label: str | None = Field(None, max_length=80)


class LinkBody(_Body):
    code: str = Field(min_length=8, max_length=100)


class RefreshBody(_Body):
    refresh_token: str = Field(min_length=8, max_length=200)


class NewUser(_Body):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=12, max_length=256)
    role: Role
    province: str = Field(min_length=2, max_length=3)
    team: str | None = Field(None, max_length=64)
    centre: str | None = Field(None, max_length=64)


class UserAnswer(Answer):
    """An account as its managers see it (never its password or second factor's secret)."""

    id: str
    username: str
    role: str
    province: str
    team: str | None
    centre: str | None
    disabled: bool
    locked: bool
    second_factor: bool


class Tokens(Answer):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: int
    session: str
    user: UserAnswer


class SignedOut(Answer):
    signed_out: bool
    session_ended: bool


class Me(Answer):
    user: str
    role: str
    province: str
    team: str | None
    centre: str | None
    session: str | None
    expires: int


class Users(Answer):
    users: list[UserAnswer]


class Enrolment(Answer):
    """The second factor's secret, shown once (absent for roles without one)."""

    totp_secret: str | None = None
    totp_uri: str | None = None


class UserAdded(Enrolment):
    user: UserAnswer


class UserChanged(Answer):
    user: UserAnswer


class SessionsEnded(Answer):
    ended: int = Field(description="how many sessions ended")


class SessionEnded(Answer):
    ended: bool = Field(description="whether the session was still open")


class SessionAnswer(Answer):
    id: str
    kind: str
    label: str | None
    created: float
    expires: float


class Sessions(Answer):
    sessions: list[SessionAnswer]


class AccessLogEntries(Answer):
    entries: list[dict[str, Any]]


class AccessLogVerified(Answer):
    ok: bool
    problems: list[str]


def address(request: Request) -> str:
    return request.client.host if request.client else "?"


def identity_router(system: Any, who: Callable[..., Awaitable[Claims]]) -> APIRouter:
    r = APIRouter(prefix="/api/v1")
    Who = Annotated[Claims, Depends(who)]
    signin, directory, log = system.signin, system.directory, system.access_log

    def managed(claims: Claims, user: User) -> User:
        if not may_manage(claims.role, claims.province, user.role, user.province):
            raise Forbidden("this account is not yours to manage")
        return user

    def admin(claims: Claims, action: str, user: User, **detail: Any) -> None:
        log.record(user=claims.sub, role=str(claims.role), province=claims.province, action="admin",
                   channel="api", subject=user.id, what=action, **detail)

    # ------------------------------------------------------------ signing in (ورود)

    @r.post("/auth/sign-in", tags=["sign-in"], response_model=Tokens)
    def sign_in(body: SignInBody, request: Request) -> dict[str, Any]:
        """Password and, for roles that see secrets or personal data, the TOTP code."""
        return signin.sign_in(body.username, body.password, body.code, address=address(request),
                              device=body.device, label=body.label)

    @r.post("/auth/link", tags=["sign-in"], response_model=Tokens)
    def redeem_link(body: LinkBody, request: Request) -> dict[str, Any]:
        """A one-time sign-in link's code: works once, within minutes."""
        return signin.redeem_link(body.code, address=address(request))

    @r.post("/auth/refresh", tags=["sign-in"], response_model=Tokens)
    def refresh(body: RefreshBody, request: Request) -> dict[str, Any]:
        """A new access token and a new refresh token (the old one is spent)."""
        return signin.refresh(body.refresh_token, address=address(request))

    @r.post("/auth/sign-out", tags=["sign-in"], response_model=SignedOut)
    def sign_out(claims: Who) -> dict[str, Any]:
        return signin.logout(claims)

    @r.get("/auth/me", tags=["sign-in"], response_model=Me)
    def me(claims: Who) -> dict[str, Any]:
        return {"user": claims.sub, "role": str(claims.role), "province": claims.province,
                "team": claims.team, "centre": claims.centre, "session": claims.sid, "expires": claims.exp}

    # ------------------------------------------------------------ users (کاربران)

    @r.get("/users", tags=["users"], response_model=Users)
    def users(claims: Who) -> dict[str, Any]:
        seen = [u.public() for u in directory.list()
                if may_manage(claims.role, claims.province, u.role, u.province)]
        if not seen and not may_manage(claims.role, claims.province, "dispatcher", claims.province) \
                and not may_manage(claims.role, claims.province, "auditor", "IR"):
            raise Forbidden(f"a {claims.role} manages no users")
        return {"users": seen}

    @r.post("/users", status_code=201, tags=["users"], response_model=UserAdded, **ANSWER_AS_GIVEN)
    def add_user(body: NewUser, claims: Who) -> dict[str, Any]:
        if not may_manage(claims.role, claims.province, body.role, body.province):
            raise Forbidden(f"a {claims.role} of {claims.province} may not create a {body.role} of {body.province}")
        user, totp = directory.add(body.username, body.password, body.role, body.province,
                                   team=body.team, centre=body.centre)
        admin(claims, "add", user, user_role=str(user.role), user_province=user.province)
        return {"user": user.public(), **_enrolment(user, totp)}

    def _action(path: str, name: str, answer: type[Answer], act: Callable[[User], dict[str, Any]]) -> None:
        def handler(user_id: str, claims: Who) -> dict[str, Any]:
            user = managed(claims, directory.find(user_id))
            out = act(user)
            admin(claims, name, user)
            return out

        r.add_api_route(f"/users/{{user_id}}/{path}", handler, methods=["POST"], tags=["users"], name=name,
                        response_model=answer, **ANSWER_AS_GIVEN)

    _action("disable", "disable", UserChanged, lambda u: {"user": directory.set_disabled(u.id, True).public()})
    _action("enable", "enable", UserChanged, lambda u: {"user": directory.set_disabled(u.id, False).public()})
    _action("unlock", "unlock", UserChanged, lambda u: {"user": directory.unlock(u.id).public()})
    _action("end-sessions", "end_sessions", SessionsEnded, lambda u: {"ended": directory.end_sessions(u.id)})
    _action("reset-totp", "reset_totp", Enrolment, lambda u: _enrolment(u, directory.reset_totp(u.id)))

    @r.get("/users/{user_id}/sessions", tags=["users"], response_model=Sessions)
    def sessions(user_id: str, claims: Who) -> dict[str, Any]:
        user = managed(claims, directory.find(user_id))
        return {"sessions": [{"id": s.id, "kind": s.kind, "label": s.label, "created": s.created,
                              "expires": s.expires} for s in directory.sessions(user.id)]}

    @r.delete("/sessions/{session_id}", tags=["users"], response_model=SessionEnded)
    def revoke(session_id: str, claims: Who) -> dict[str, Any]:
        """End one session (a lost team tablet) without touching the user's others."""
        session = directory.session(session_id)
        user = directory.get(session.user_id)
        if user.id != claims.sub:
            managed(claims, user)
        ended = directory.revoke_session(session_id)
        admin(claims, "revoke_session", user, session=session_id)
        return {"ended": ended}

    # ------------------------------------------------------------ the access log (auditors)

    @r.get("/access-log", tags=["audit"], response_model=AccessLogEntries)
    def access_log(claims: Who, since: int = 0, limit: int = 500, user: str | None = None,
                   action: str | None = None, subject: str | None = None) -> dict[str, Any]:
        """Who read which secret or personal data, sign-ins, refusals, admin actions (auditors)."""
        if claims.role != Role.AUDITOR:
            raise Forbidden("the access log is for auditors")
        if not 1 <= limit <= 5000:
            raise InvalidCommand("limit is 1 to 5000")
        entries = log.entries(since_seq=since, limit=limit, user=user, action=action, subject=subject)
        return {"entries": [as_dict(e) for e in entries]}

    @r.get("/access-log/verify", tags=["audit"], response_model=AccessLogVerified)
    def verify(claims: Who) -> dict[str, Any]:
        if claims.role != Role.AUDITOR:
            raise Forbidden("the access log is for auditors")
        problems = log.verify()
        return {"ok": not problems, "problems": problems}

    return r


def _enrolment(user: User, totp: str | None) -> dict[str, Any]:
    """The second factor's secret, shown once to be put in an authenticator app."""
    if not totp:
        return {}
    import pyotp

    return {"totp_secret": totp,
            "totp_uri": pyotp.TOTP(totp).provisioning_uri(name=user.username, issuer_name="EOC 123")}
