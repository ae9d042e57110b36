"""``eoc users …`` (accounts), ``eoc keys rotate`` (token signing keys), ``eoc access-log``.

Run on the machine that holds the data directory (or with the cluster's EOC_PG_DSN): these
are the operator's tools. In the browser, a provincial supervisor manages the accounts of
its province through /api/v1/users. Every change made here is written to the access log
with the operating-system user as its author.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from eoc.app.config import Settings
from events.places import PROVINCES
from events.policy import PEOPLE_ROLES
from events.vocabulary import NATIONAL, Role

ROLES = [str(r) for r in PEOPLE_ROLES]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="people who sign in: add, disable, enable, reset-totp, unlock, list")
    users = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    a = users.add_parser("first-admin", help="create the first administrator (national EOC); once only")
    a.add_argument("username")
    a.set_defaults(run=run_first_admin)
    a = users.add_parser("add", help="add a user; prints the first password and the TOTP secret once")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--province", required=True, choices=sorted(PROVINCES) + [NATIONAL])
    a.add_argument("--team", help="a team's account: the team it acts for")
    a.add_argument("--centre", help="a centre account: the centre it acts for")
    a.set_defaults(run=run_add)
    for name, helptext in (("disable", "disable a user and end every session at once"),
                           ("enable", "enable a disabled user"),
                           ("reset-totp", "a new second-factor secret (ends every session)"),
                           ("unlock", "unlock after repeated failed sign-ins"),
                           ("end-sessions", "end every session of the user (all devices)")):
        a = users.add_parser(name, help=helptext)
        a.add_argument("user", help="username or user id")
        a.set_defaults(run=run_action, action=name)
    a = users.add_parser("list", help="list users")
    a.add_argument("--province")
    a.add_argument("--json", action="store_true")
    a.set_defaults(run=run_list)
    a = users.add_parser("link", help="a one-time sign-in link for a user (expires within minutes)")
    a.add_argument("user")
    a.add_argument("--base", default=None, help="the dashboard's address (default http://EOC_HOST:EOC_PORT)")
    a.set_defaults(run=run_link)

    p = sub.add_parser("keys", help="token signing keys")
    keys = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    a = keys.add_parser("rotate", help="sign with a new key; the previous one still verifies (nobody is signed out)")
    a.set_defaults(run=run_rotate)

    p = sub.add_parser("access-log", help="the access log: who read which secret, sign-ins, refusals, admin actions")
    p.add_argument("--since", type=int, default=0, help="entries after this sequence number")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--user")
    p.add_argument("--action")
    p.add_argument("--subject")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", action="store_true", help="check the hash chain; exit 1 naming a tampered entry")
    p.set_defaults(run=run_access_log)


def _open() -> tuple[object, object]:
    from eoc.main.bootstrap import open_identity  # lazy: the CLI starts fast

    return open_identity(Settings.from_env())


def _admin(log: object, action: str, subject: str, **detail: object) -> None:
    log.record(user=f"os:{getpass.getuser()}", role="operator", province="", action="admin",  # type: ignore[attr-defined]
               channel="cli", subject=subject, what=action, **detail)


def _print_new(user: object, password: str, totp: str | None) -> None:
    print(f"user      {user.username} ({user.id}) — {user.role} of {user.province}")  # type: ignore[attr-defined]
    print(f"password  {password}   (shown once: give it in person; change at first use)")
    if totp:
        import pyotp  # lazy: the CLI starts fast

        print(f"TOTP      {totp}")
        print(f"          {pyotp.TOTP(totp).provisioning_uri(name=user.username, issuer_name='EOC 123')}")  # type: ignore[attr-defined]


def run_first_admin(args: argparse.Namespace) -> int:
    from eoc.app.users import new_password  # lazy: the CLI starts fast
    from eoc.domain.errors import Refused  # lazy: the CLI starts fast

    directory, log = _open()
    password = new_password()
    try:
        user, totp = directory.add(args.username, password, Role.NATIONAL_EOC, NATIONAL, first=True)  # type: ignore[attr-defined]
    except Refused as exc:
        print(f"eoc: {exc.reason}", file=sys.stderr)
        return 2
    _admin(log, "first_admin", user.id)
    _print_new(user, password, totp)
    return 0


def run_add(args: argparse.Namespace) -> int:
    from eoc.app.users import new_password  # lazy: the CLI starts fast
    from eoc.domain.errors import Refused  # lazy: the CLI starts fast

    directory, log = _open()
    password = new_password()
    try:
        user, totp = directory.add(args.username, password, args.role, args.province,  # type: ignore[attr-defined]
                                   team=args.team, centre=args.centre)
    except Refused as exc:
        print(f"eoc: {exc.reason}", file=sys.stderr)
        return 2
    _admin(log, "add", user.id, user_role=args.role, user_province=args.province)
    _print_new(user, password, totp)
    return 0


def run_action(args: argparse.Namespace) -> int:
    from eoc.domain.errors import Refused  # lazy: the CLI starts fast

    directory, log = _open()
    try:
        user = directory.find(args.user)  # type: ignore[attr-defined]
        if args.action == "disable":
            directory.set_disabled(user.id, True)  # type: ignore[attr-defined]
        elif args.action == "enable":
            directory.set_disabled(user.id, False)  # type: ignore[attr-defined]
        elif args.action == "unlock":
            directory.unlock(user.id)  # type: ignore[attr-defined]
        elif args.action == "end-sessions":
            print(f"{directory.end_sessions(user.id)} sessions ended")  # type: ignore[attr-defined]
        else:
            secret = directory.reset_totp(user.id)  # type: ignore[attr-defined]
            _print_new(user, "(unchanged)", secret)
    except Refused as exc:
        print(f"eoc: {exc.reason}", file=sys.stderr)
        return 2
    _admin(log, args.action.replace("-", "_"), user.id)
    print(f"{args.action}: {user.username} ({user.id})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    directory, _ = _open()
    users = directory.list(args.province)  # type: ignore[attr-defined]
    if args.json:
        print(json.dumps([u.public() for u in users], ensure_ascii=False, indent=1))
        return 0
    for u in users:
        flags = ",".join(f for f, on in (("disabled", u.disabled), ("locked", u.locked), ("totp", u.has_totp)) if on)
        bound = u.team or u.centre or ""
        print(f"{u.username:24} {u.id:20} {str(u.role):22} {u.province:3} {bound:38} {flags}")
    return 0


def run_link(args: argparse.Namespace) -> int:
    from eoc.app.users import LINK_S  # lazy: the CLI starts fast
    from eoc.domain.errors import Refused  # lazy: the CLI starts fast

    directory, log = _open()
    s = Settings.from_env()
    try:
        user = directory.find(args.user)  # type: ignore[attr-defined]
    except Refused as exc:
        print(f"eoc: {exc.reason}", file=sys.stderr)
        return 2
    code = directory.make_link(user.id)  # type: ignore[attr-defined]
    _admin(log, "link", user.id)
    base = (args.base or f"http://{s.host}:{s.port}").rstrip("/")
    print(f"{base}/signin.html#link={code}   (once, within {LINK_S // 60} minutes)")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    from eoc.app.auth import key_id  # lazy: the CLI starts fast
    from eoc.app.config import rotate_local_secret  # lazy: the CLI starts fast

    s = Settings.from_env()
    new = rotate_local_secret(s.data_dir)
    print(f"signing with key {key_id(new)}; the previous key still verifies. Restart the API and bridge to use it.")
    return 0


def run_access_log(args: argparse.Namespace) -> int:
    from eoc.app.access_log import as_dict  # lazy: the CLI starts fast

    _, log = _open()
    if args.verify:
        problems = log.verify()  # type: ignore[attr-defined]
        for problem in problems:
            print(problem)
        print("the access log is whole" if not problems else f"{len(problems)} problems")
        return 1 if problems else 0
    entries = log.entries(since_seq=args.since, limit=args.limit, user=args.user, action=args.action,  # type: ignore[attr-defined]
                          subject=args.subject)
    if args.json:
        print(json.dumps([as_dict(e) for e in entries], ensure_ascii=False, indent=1))
        return 0
    from datetime import UTC, datetime  # lazy: the CLI starts fast

    for e in entries:
        at = datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds")
        print(f"{e.seq:>7} {at} {e.user:20} {e.role:22} {e.action:18} {e.channel:9} {e.subject} {e.detail}")
    return 0
