"""``eoc token``: a DANGEROUS developer's tool — a signed access token for a role and province.

People sign in (the sign-in page, /api/v1/auth/sign-in); programs in tests and benchmarks
call ``system.signer.issue``. This command remains for operators on the machine that holds
the signing key (scripts, the README's examples): the token names no session, lives at most
15 minutes like every access token, and anyone holding it is that role until it expires.
"""

from __future__ import annotations

import argparse
import sys

from eoc.app.auth import MAX_ACCESS_S, TokenSigner
from eoc.app.config import Settings
from events.places import PROVINCES
from events.policy import PEOPLE_ROLES
from events.vocabulary import NATIONAL


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="DANGEROUS dev tool: a short-lived access token (at most 15 minutes)")
    p.add_argument("--role", required=True, choices=[str(r) for r in PEOPLE_ROLES])
    p.add_argument("--province", required=True, choices=sorted(PROVINCES) + [NATIONAL])
    p.add_argument("--user", default="operator", help="pseudonymous user id")
    p.add_argument("--team", help="team id, for a team's tablet")
    p.add_argument("--centre", help="centre id, for a centre's account")
    p.add_argument("--minutes", type=float, default=MAX_ACCESS_S / 60,
                   help=f"lifetime in minutes (at most {MAX_ACCESS_S // 60})")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.minutes * 60 > MAX_ACCESS_S:
        print(f"eoc: an access token lives at most {MAX_ACCESS_S // 60} minutes", file=sys.stderr)
        return 2
    try:
        token = TokenSigner(settings.token_secret, settings.token_previous).issue(
            args.role, args.province, sub=args.user, team=args.team, centre=args.centre,
            ttl_s=int(args.minutes * 60))
    except ValueError as exc:
        print(f"eoc: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
