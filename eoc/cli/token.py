"""``eoc token``: issue a signed token for a role and a province."""

from __future__ import annotations

import argparse

from events.places import PROVINCES
from events.vocabulary import NATIONAL, Role

from ..auth import TokenSigner
from ..config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="issue a signed token for a role and province")
    p.add_argument("--role", required=True, choices=[str(r) for r in Role if r != Role.SYSTEM])
    p.add_argument("--province", required=True, choices=sorted(PROVINCES) + [NATIONAL])
    p.add_argument("--user", default="operator", help="pseudonymous user id")
    p.add_argument("--team", help="team id, for a team's tablet")
    p.add_argument("--hours", type=float, default=12)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    print(TokenSigner(settings.token_secret).issue(
        args.role, args.province, sub=args.user, team=args.team, ttl_s=int(args.hours * 3600)))
    return 0
