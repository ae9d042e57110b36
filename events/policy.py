"""The one policy table (جدول دسترسی): who may give which command, and who sees what.

The API (``eoc.app.auth.authorize``), the bridge and the API's board reads
(``projections.visibility``), replay ``--as`` (``eoc.cli.audit``), the user directory (which
roles need a second factor, who manages whom) and the tests all read this table; the
README's roles table is generated from it and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.places import PROVINCES
from events.vocabulary import NATIONAL, Role

R = Role

# The commands, in the README's words (what the "may" column says of each).
COMMANDS: dict[str, str] = {
    "receive_call": "receive calls",
    "take_call": "take a call in one step (received, classified, then escalated, counselled or referred)",
    "classify_call": "classify calls",
    "counsel_call": "counsel calls",
    "refer_call": "refer calls",
    "escalate_call": "escalate calls",
    "open_incident": "open incidents",
    "close_incident": "close incidents",
    "register_team": "register teams",
    "start_shift": "start shifts",
    "end_shift": "end shifts",
    "dispatch_team": "dispatch teams",
    "change_team_status": "change team status",
    "report_position": "report a team's position",
    "report_positions": "report teams' positions in a batch",
    "check_in": "check in for a team",
    "record_missed_check_in": "record missed check-ins",
    "register_centre": "register places",
    "change_capacity": "change capacity",
    "close_centre": "close places",
    "admit_client": "admit clients",
    "start_holding": "start holding periods",
    "transfer_client": "transfer clients",
    "discharge_client": "discharge clients",
    # the workspaces (میز کار)
    "link_call": "link a call to an open incident",
    "record_team_conflict": "record a team's conflict with a family",
    "record_danger_flag": "record danger-to-staff flags",
    "review_danger_flag": "review danger-to-staff flags",
    "schedule_follow_up": "schedule call-backs",
    "complete_follow_up": "make call-backs",
    "raise_duress": "raise a duress alarm (SOS)",
    "clear_duress": "clear a duress alarm",
    "hold_place": "hold a place for an incoming client",
    "release_place_hold": "release a held place",
    "set_roster": "set the shift roster",
}

# What a command acts on: a team's commands are bound to the team of a team's account, a
# centre's to the centre of a centre account (binding checked in ``authorize``).
TEAM_COMMANDS = frozenset({"start_shift", "end_shift", "dispatch_team", "change_team_status",
                           "report_position", "report_positions", "check_in", "record_missed_check_in",
                           "raise_duress"})
CENTRE_COMMANDS = frozenset({"change_capacity", "close_centre", "admit_client", "start_holding",
                             "transfer_client", "discharge_client", "hold_place", "release_place_hold"})


@dataclass(frozen=True)
class RolePolicy:
    role: Role
    persian: str
    commands: frozenset[str]
    national: bool  # sees every province (and is issued for province IR only)
    secret_places: str  # "own province" | "counts" | "none": where safe/health houses are
    client_ids: bool  # clients' pseudonymous ids on the occupancy board (own province)
    personal_data: bool  # may open sealed caller/client details
    binding: str | None  # "team" | "centre": an account of this role may be bound to one
    manages: str | None  # "province" | "national": users this role administers
    may: str  # the README's "may" column
    sees: str  # the README's "sees" column
    service: bool = False  # a service account of the system itself: registered, never signs in

    @property
    def second_factor(self) -> bool:
        """A TOTP second factor is required for roles that see secrets, personal data or users."""
        if self.service:
            return False
        return self.secret_places == "own province" or self.personal_data or self.manages is not None


def _p(role: Role, persian: str, commands: set[str], *, may: str, sees: str, national: bool = False,
       secret_places: str = "none", client_ids: bool = False, personal_data: bool = False,
       binding: str | None = None, manages: str | None = None, service: bool = False) -> RolePolicy:
    unknown = commands - set(COMMANDS)
    assert not unknown, unknown
    return RolePolicy(role, persian, frozenset(commands), national, secret_places, client_ids,
                      personal_data, binding, manages, may, sees, service)


POLICY: dict[Role, RolePolicy] = {p.role: p for p in (
    _p(R.CALL_TAKER, "کارشناس خط ۱۲۳",
       {"receive_call", "take_call", "classify_call", "counsel_call", "refer_call", "escalate_call",
        "open_incident", "link_call", "schedule_follow_up", "complete_follow_up"},
       personal_data=True,
       may="receive, classify, counsel, refer, escalate calls; open incidents; link calls; call-backs",
       sees="own province, callers' details"),
    _p(R.DISPATCHER, "اعزام‌کننده",
       {"open_incident", "close_incident", "dispatch_team", "change_team_status", "start_shift",
        "end_shift", "record_missed_check_in", "link_call", "record_team_conflict", "clear_duress"},
       may="open/close incidents, dispatch, team status, shifts, missed check-ins; link calls, conflicts, clear duress",
       sees="own province"),
    _p(R.TEAM, "گروه سیار",
       {"change_team_status", "report_position", "report_positions", "check_in", "start_shift", "end_shift",
        "raise_duress", "record_danger_flag"},
       binding="team",
       may="its own status, position, check-ins, shift; duress (SOS); danger flags",
       sees="own province"),
    _p(R.CENTRE_STAFF, "کارکنان مرکز",
       {"admit_client", "start_holding", "transfer_client", "discharge_client", "change_capacity",
        "hold_place", "release_place_hold", "schedule_follow_up"},
       secret_places="own province", client_ids=True, personal_data=True, binding="centre",
       may="admissions, holding periods, transfers within the province, discharges, capacity, held places, call-backs (of its centre when bound to one)",
       sees="own province, secret places and client ids"),
    _p(R.PROVINCIAL_SUPERVISOR, "ناظر استانی", set(COMMANDS),
       secret_places="own province", client_ids=True, personal_data=True, manages="province",
       may="everything in the province, registering teams and places, its province's users",
       sees="own province, secret places and client ids"),
    _p(R.NATIONAL_EOC, "مرکز عملیات اضطراری کشور", set(), national=True, secret_places="counts",
       manages="national",
       may="watches; national users and provincial supervisors",
       sees="every province; secret places as per-province counts (fewer than 3 suppressed)"),
    _p(R.AUDITOR, "حسابرس", set(), national=True, secret_places="counts",
       may="reads, replays, the access log",
       sees="every province, pseudonymous ids only; secret places as per-province counts"),
    _p(R.PARTNER, "سازمان همکار (انتظامی، قضایی، ...)", {"open_incident"},
       may="refer people (an EIDO referral opens an incident); read the exchange feed (EIDO, EDXL-HAVE, CAP)",
       sees="own province's open incidents, centres' free places and alerts; never a secret place"),
    # The staff-safety watchdog (eoc/app/watchdog.py) is a registered service account of its own
    # (a pseudonymous id in the user directory, province IR): it records a missed check-in in
    # the province of the team concerned, and nothing else. It has no password and no token.
    _p(R.WATCHDOG, "نگهبان ایمنی (خودکار)", {"record_missed_check_in"}, national=True, service=True,
       may="records missed check-ins of teams on scene (the system's safety watchdog; never signs in)",
       sees="every province's teams (on the server, never on a screen)"),
)}

# Roles of people (who sign in) and of the system's own service accounts.
SERVICE_ROLES = frozenset(r for r, p in POLICY.items() if p.service)
PEOPLE_ROLES = tuple(r for r, p in POLICY.items() if not p.service)

# Who sees danger-to-staff flags (پرچم خطر): the people who go to the door or send someone
# there. The flags name addresses and people of a family, so the national EOC and the
# auditors (who see pseudonymous facts only) do not see them one by one.
SEES_DANGER_FLAGS = frozenset({R.CALL_TAKER, R.DISPATCHER, R.TEAM, R.PROVINCIAL_SUPERVISOR})


def may_see_danger_flags(role: Role | str) -> bool:
    return Role(role) in SEES_DANGER_FLAGS


# Who sees the line's open calls, callers' earlier calls and due call-backs (pseudonymous ids,
# categories): the line, its dispatchers, the supervisor and the centre staff who call back.
SEES_CALLS = frozenset({R.CALL_TAKER, R.DISPATCHER, R.PROVINCIAL_SUPERVISOR, R.CENTRE_STAFF})


def may_see_calls(role: Role | str) -> bool:
    return Role(role) in SEES_CALLS


# Small cells are suppressed in the national counts of secret places: fewer than this many
# places in a province shows no figure at all (a single house's occupancy is not published).
SMALL_CELL = 3


def policy(role: Role | str) -> RolePolicy:
    return POLICY[Role(role)]


def may_command(role: Role | str, command: str) -> bool:
    rule = POLICY.get(Role(role))  # "system" (old histories' shared identity) may nothing now
    return rule is not None and command in rule.commands


def roles_for(command: str) -> frozenset[Role]:
    return frozenset(r for r, p in POLICY.items() if command in p.commands)


def is_national(role: Role | str) -> bool:
    return Role(role) != R.SYSTEM and POLICY[Role(role)].national


def valid_scope(role: Role | str, province: str) -> bool:
    """National roles are issued for IR only; every other role for one real province."""

    if is_national(role):
        return province == NATIONAL
    return province in PROVINCES


def may_see_secret(role: str, viewer_province: str, place_province: str) -> bool:
    return (Role(role) != R.SYSTEM and POLICY[Role(role)].secret_places == "own province"
            and viewer_province == place_province)


def sees_secret_counts(role: str) -> bool:
    return Role(role) != R.SYSTEM and POLICY[Role(role)].secret_places == "counts"


def may_see_client_ids(role: str, viewer_province: str, province: str) -> bool:
    return Role(role) != R.SYSTEM and POLICY[Role(role)].client_ids and viewer_province == province


def may_manage(manager_role: Role | str, manager_province: str, role: Role | str, province: str) -> bool:
    """A provincial supervisor manages the provincial accounts of its province; the national
    EOC manages national accounts and the provincial supervisors of every province."""
    m = POLICY.get(Role(manager_role))
    if m is None or m.manages is None:
        return False
    if m.manages == "province":
        return not is_national(role) and province == manager_province
    return is_national(role) or Role(role) == R.PROVINCIAL_SUPERVISOR


def roles_table() -> str:
    """The README's roles table, generated from the policy."""
    lines = ["| role | may | sees | second factor |", "|---|---|---|---|"]
    for p in POLICY.values():
        factor = "no sign-in (service account)" if p.service else "yes" if p.second_factor else "no"
        lines.append(f"| `{p.role}` | {p.may} | {p.sees} | {factor} |")
    return "\n".join(lines)


def command_matrix() -> str:
    """Which role may give which command (in its own province; a team's and a bound centre
    account's commands only for its own team or centre)."""
    roles = [r for r in POLICY]
    lines = ["| command | " + " | ".join(f"`{r}`" for r in roles) + " |",
             "|---|" + "---|" * len(roles)]
    for name in COMMANDS:
        lines.append(f"| `{name}` | " + " | ".join("✓" if name in POLICY[r].commands else "" for r in roles) + " |")
    return "\n".join(lines)


def readme_section() -> str:
    """What the README holds between its roles markers (a test keeps the two equal)."""
    return roles_table() + "\n\n" + command_matrix()


BEGIN = "<!-- roles:begin (generated from events/policy.py) -->\n"
END = "\n<!-- roles:end -->"


def update_readme(path: str = "README.md") -> bool:
    """Rewrite the README's roles tables from the policy; True if they changed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    new = head + BEGIN + readme_section() + END + rest.split(END, 1)[1]
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != text


if __name__ == "__main__":  # python -m events.policy: regenerate the README's roles tables
    print("README.md updated" if update_readme() else "README.md already matches the policy")
