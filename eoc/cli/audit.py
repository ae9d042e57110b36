"""The auditors' commands: ``eoc replay``, ``eoc diff``, ``eoc verify``, ``eoc checkpoint``,
``eoc report``, ``eoc erase``.

They read the history — the event store of ``EOC_STORE``/``EOC_DATA_DIR``/``EOC_PG_DSN``, or
the ``eoc.events`` topic (``--from kafka``; ``EOC_KAFKA_BOOTSTRAP``, ``EOC_TOPIC_PREFIX``) —
and never write to it. Moments are taken and shown in Jalali and ISO form; rows are shown as
the ``--as`` role may see them (auditor by default: pseudonymous ids, no secret places).
Exit codes: 0 fine, 1 a difference or tampering found, 2 a usage or access problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eoc.app.config import Settings
from eoc.app.settings import EnvSettings
from events.jalali import BadMoment, describe, parse_moment
from events.policy import PEOPLE_ROLES
from events.vocabulary import NATIONAL

ROLES = [str(r) for r in PEOPLE_ROLES]


# ---------------------------------------------------------------------- shared plumbing


def _source_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where the history is read from")
    g.add_argument("--from", dest="source", choices=("store", "kafka"), default="store",
                   help="the event store (default) or the eoc.events topic")
    g.add_argument("--topic", help="topic to read (default: EOC_TOPIC_PREFIX + eoc.events)")
    g.add_argument("--bootstrap", help="Kafka bootstrap servers (default: EOC_KAFKA_BOOTSTRAP)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def _view_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="role", choices=ROLES, default="auditor",
                   help="show rows as this role may see them (default: auditor)")
    p.add_argument("--province", default=NATIONAL, help="the viewer's province (default IR: national)")


class _Opened:
    """The source of a command, and what must be closed after it."""

    def __init__(self, args: argparse.Namespace) -> None:
        from eoc.audit.sources import (  # lazy: the CLI starts fast
            KafkaSource,
            StoreSource,
        )  # lazy: the CLI starts fast

        self.system: Any = None
        self.keyring: Any = None
        self.track: Any = None
        self.settings = Settings.from_env()
        if args.source == "kafka":
            from eoc.main.cluster import ClusterSettings  # lazy: the CLI starts fast

            cluster = ClusterSettings.from_env()
            self.source: Any = KafkaSource(args.bootstrap or cluster.kafka_bootstrap,
                                           args.topic or cluster.layout.events)
            if self.settings.store == "postgres" and self.settings.pg_dsn:  # the cluster's position track
                from eoc.app.track import PositionTrack  # lazy: the CLI starts fast

                self.source.track = self.track = PositionTrack(dsn=self.settings.pg_dsn)
        else:
            self.system = _open_store(self.settings)
            self.source = StoreSource(self.system.app, track=getattr(self.system.follower, "track", None))

    def close(self) -> None:
        if self.system is not None:
            self.system.close()
        if self.keyring is not None:
            self.keyring.close()
        if self.track is not None:
            self.track.close()


def _open_store(settings: Settings) -> Any:
    from eoc.main.bootstrap import build  # lazy: the CLI starts fast

    if settings.store == "sqlite" and not settings.sqlite_path.exists():
        raise SystemExit(_fail(f"no event store at {settings.sqlite_path} (set EOC_DATA_DIR, or EOC_STORE=postgres)"))
    return build(settings, checkpoint=False, start_follower=False)


def _fail(message: str) -> int:
    print(f"eoc: {message}", file=sys.stderr)
    return 2


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_moment(text)
    except BadMoment as exc:
        raise SystemExit(_fail(str(exc))) from None


def _total(opened: _Opened, args: argparse.Namespace, until: datetime | None = None) -> int | None:
    try:
        if args.source == "kafka":
            return opened.source.count(until if getattr(args, "by", "recorded") == "recorded" else None)
        return opened.source.head()
    except Exception:
        return None


def _replay(opened: _Opened, args: argparse.Namespace, *, until: datetime | None, until_position: int | None,
            by: str = "recorded", positions: dict[str, int] | None = None,
            telemetry: dict[str, int] | None = None) -> Any:
    from consumers.replay import progress_bar, replay  # lazy: the CLI starts fast

    total = _total(opened, args, until)
    with progress_bar(total, f"replay from {opened.source.name}", enabled=not args.quiet) as advance:
        return replay(opened.source, until=until, by=by, until_position=until_position, progress=advance,
                      positions=positions, telemetry=telemetry)


def _access_log(settings: Settings, action: str, channel: str, subject: str = "", **detail: Any) -> None:
    """Write what an auditor's command read or did to the access log (author: the OS user)."""
    import getpass  # lazy: the CLI starts fast

    from eoc.app.access_log import AccessLog  # lazy: the CLI starts fast

    dsn = settings.users_dsn or (settings.pg_dsn if settings.store == "postgres" else None)
    log = AccessLog(dsn=dsn) if dsn else AccessLog(path=settings.data_dir / "access.sqlite")
    try:
        log.record(user=f"os:{getpass.getuser()}", role="auditor", province=NATIONAL, action=action,
                   channel=channel, subject=subject, **detail)
    finally:
        log.close()


def _visible(rows: dict[str, Any], role: str, province: str, unseal: Any = None) -> dict[str, Any]:
    """The rows exactly as ``role`` of ``province`` sees them on its live board: the same
    policy table (events/policy.py) and, for a role allowed secret places (a provincial
    supervisor or centre staff of their province), the places' locations unsealed with the
    keyring as the live board does. Never more than that role's board: no sealed blobs, no
    other province's rows. As ``auditor`` (the default): pseudonymous ids, secret places as
    counts, nothing unsealed."""
    from projections.visibility import visible_rows  # lazy: the CLI starts fast

    return visible_rows(rows, role, province, unseal)


def _runner(settings: Settings) -> tuple[str, str]:
    """Who runs the replay: an auditor (pseudonymous ids, secret places as counts), unless the
    access token of the CLI's settings (EOC_TOKEN, verified with this deployment's keys) names
    the person and their role."""
    from eoc.app.auth import TokenSigner  # lazy: the CLI starts fast

    token = EnvSettings.read().token
    if not token:
        return "auditor", NATIONAL
    claims = TokenSigner(settings.token_secret, settings.token_previous).verify(token)
    return str(claims.role), claims.province


def _replayed_as(opened: _Opened, rows: dict[str, Any], role: str, province: str) -> dict[str, Any]:
    """``--as ROLE``: the rows as that role of that province sees them on its live board, but
    never more than the one who runs the replay may see (an auditor's --as can never exceed the
    auditor's own rights). A runner entitled to that role's board (EOC_TOKEN of a supervisor or
    centre staff) sees it exactly, secret places unsealed as the live board does."""
    runner_role, runner_province = _runner(opened.settings)
    mine = _visible(rows, runner_role, runner_province, _unsealer(opened))
    return _visible(mine, role, province, _keep_unsealed)


def _unsealer(opened: _Opened) -> Any:
    """Opens a secret place's sealed location with the deployment's keyring."""
    if opened.system is not None:
        return opened.system.unseal_place
    from eoc.main.bootstrap import make_keyring  # lazy: the CLI starts fast
    from events.sealing import Unreadable, unseal  # lazy: the CLI starts fast

    keyring = make_keyring(opened.settings)
    opened.keyring = keyring

    def open_place(centre_id: str, token: str) -> Any:
        try:
            return unseal(keyring.get(f"place:{centre_id}"), token)
        except Unreadable:
            return None

    return open_place


def _log_replay_reads(settings: Settings, rows: dict[str, Any], role: str, province: str, channel: str,
                      **detail: Any) -> int:
    """Every secret place and client list a replay ``--as`` showed is a read, in the access log
    (eoc/app/access_log.py), by the OS user who ran it, as the role it replayed as."""
    import getpass  # lazy: the CLI starts fast

    from eoc.app.access_log import (  # lazy: the CLI starts fast
        AccessLog,
        record_secret_reads,
    )  # lazy: the CLI starts fast

    dsn = settings.users_dsn or (settings.pg_dsn if settings.store == "postgres" else None)
    log = AccessLog(dsn=dsn) if dsn else AccessLog(path=settings.data_dir / "access.sqlite")
    try:
        return record_secret_reads(log, f"os:{getpass.getuser()}", role, province, channel, rows,
                                   **detail)
    finally:
        log.close()


def _keep_unsealed(_centre_id: str, _sealed: str) -> None:
    """Live rows were unsealed by the server (or not): nothing to open again."""
    return None


# ---------------------------------------------------------------------- eoc replay


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="rebuild every board from the stream, up to a moment",
                       description="Rebuild the boards from the event store or the eoc.events topic and show "
                                   "or export them as they stood at a moment.")
    _source_options(p)
    _view_options(p)
    p.add_argument("--at", help="the moment: 1403-06-07 02:13, '7 Shahrivar 1403 02:13' or ISO (Iran time "
                                "unless a zone is given), or a board snapshot's as_of.at "
                                "(2024-08-28T02:13:00.120Z@QZV=120,ALB=97~QZV=15: that exact snapshot, "
                                "to its log and track positions); default: the end of the stream")
    p.add_argument("--position", type=int, help="stop at this log position instead (or as well)")
    p.add_argument("--positions", help="stop each province at its own position: QZV=120,ALB=97, or a boards "
                                       "JSON file (GET /api/v1/boards) whose as_of names them")
    p.add_argument("--by", choices=("recorded", "occurred"), default="recorded",
                   help="cut by when the EOC recorded events (what it knew; default) or when they happened")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--out", type=Path, help="file (json) or directory (csv); default: stdout / ./replay-csv")
    p.set_defaults(run=run_replay)

    p = sub.add_parser("diff", help="compare a replay with the live boards at the same position",
                       description="Replay to the live boards' log position and compare row by row; exit 1 "
                                   "and print the differences when they disagree.")
    _source_options(p)
    _view_options(p)
    live = p.add_mutually_exclusive_group(required=True)
    live.add_argument("--live", metavar="URL", help="a running system: GET URL/api/v1/boards")
    live.add_argument("--live-file", type=Path, help="a boards JSON ({position, rows}: the API's answer, "
                                                     "`eoc replay --format json`, or the follower's boards.json)")
    p.add_argument("--token", help="bearer token for --live (default: an auditor token signed with the local secret)")
    p.add_argument("--with-telemetry", action="store_true",
                   help="compare team positions too: each team's last point kept in the position track")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--limit", type=int, default=50, help="rows of differences to print")
    p.set_defaults(run=run_diff)

    p = sub.add_parser("verify", help="check every chain link and signed checkpoint; name what was tampered with")
    _source_options(p)
    p.add_argument("--checkpoints", choices=("auto", "table", "kafka", "none"), default="auto",
                   help="signed checkpoints to check against (auto: the table if there is one)")
    p.add_argument("--checkpoint-topic", help="checkpoints topic (default: EOC_TOPIC_PREFIX + eoc.audit.checkpoints)")
    p.add_argument("--public-key", type=Path, help="the EOC's public key (PEM); default: from the key file")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=run_verify)

    p = sub.add_parser("checkpoint", help="sign and publish checkpoints of the log (once, or every N events / T s)")
    p.add_argument("--publish", default="table", help="where: table, kafka, or table,kafka (default table)")
    p.add_argument("--follow", action="store_true", help="keep running: a checkpoint every N events or T seconds")
    p.add_argument("--every-events", type=int, default=10_000)
    p.add_argument("--every-seconds", type=float, default=300.0)
    p.add_argument("--checkpoint-topic", help="checkpoints topic (default: EOC_TOPIC_PREFIX + eoc.audit.checkpoints)")
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: EOC_KAFKA_BOOTSTRAP)")
    p.add_argument("--public-key", action="store_true", help="print the public key (PEM) for auditors and stop")
    p.set_defaults(run=run_checkpoint)

    p = sub.add_parser("report", help="calls, interventions, dispatches, admissions for a Jalali period or any days",
                       description="The provincial directors' figures for a Jalali period, from a replay, "
                                   "drills excluded; checked against the key-figures board.")
    _source_options(p)
    p.add_argument("--period", help="1403-06 | 'Shahrivar 1403' | 'summer 1403' | 1403-S2 | 1403 | "
                                    "'1 Mehr 1403 to 10 Azar 1403' | 2024-09-22..2024-11-30")
    p.add_argument("--start", help="first day of a range (Jalali or ISO), with --end")
    p.add_argument("--end", help="last day of a range (Jalali or ISO), with --start")
    p.add_argument("--province", help="only this province (default: the nation)")
    p.add_argument("--by", dest="grouping", default="province",
                   choices=("province", "county", "category", "province-category", "all"))
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--out", type=Path)
    p.set_defaults(run=run_report)

    p = sub.add_parser("late-entries", help="list facts recorded late (and overrides of rules), for auditors",
                       description="Every fact recorded more than 10 minutes after it happened (ثبت با تأخیر), "
                                   "and every supervisor's override of the holding rule, in log order.")
    _source_options(p)
    p.add_argument("--province", help="only this province")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=run_late_entries)

    p = sub.add_parser("erase", help="erase a person's personal data (delete their key); history stays verifiable")
    p.add_argument("subject", help="the pseudonymous subject id (e.g. S-1d0bc120fa2b4adfb577)")
    p.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    p.set_defaults(run=run_erase)


def _at(text: str | None) -> tuple[datetime | None, dict[str, int] | None, dict[str, int] | None]:
    """``--at``: a moment, or a snapshot's ``as_of.at`` (a moment that names its positions)."""
    from projections.fold import parse_as_of_text  # lazy: the CLI starts fast

    if text is None:
        return None, None, None
    try:
        exact = parse_as_of_text(text)
    except ValueError as exc:
        raise SystemExit(_fail(f"--at {text!r}: {exc}")) from None
    if exact is None:
        return _moment(text), None, None
    moment, positions, telemetry = exact
    return (_moment(moment) if moment else None), positions, telemetry


def run_replay(args: argparse.Namespace) -> int:
    from projections.views import summary  # lazy: the CLI starts fast

    until, positions, telemetry = _at(args.at)
    if positions is not None:
        until = None  # the positions say exactly where the snapshot stood; the moment is its label
        shown = _moment(parse_label(args.at))
    else:
        positions, telemetry = _positions(args.positions)
        shown = until
    opened = _Opened(args)
    try:
        t0 = time.perf_counter()
        result = _replay(opened, args, until=until, until_position=args.position, by=args.by,
                         positions=positions, telemetry=telemetry)
        seconds = time.perf_counter() - t0
        rows = _replayed_as(opened, result.rows, args.role, args.province)
    except (LookupError, TimeoutError) as exc:
        return _fail(str(exc))
    finally:
        opened.close()
    channel = "export" if args.out else "replay"
    _access_log(opened.settings, "replay", channel, as_role=args.role,
                as_province=args.province, at=args.at or "", format=args.format, rows=len(rows))
    _log_replay_reads(opened.settings, rows, args.role, args.province, channel, what="replay", at=args.at or "")
    until = shown
    now = until or (datetime.fromisoformat(result.last_recorded_at) if result.last_recorded_at else datetime.now(UTC))
    header = (f"Replay of {result.source}: {result.events:,} events to position {result.position}"
              f" in {seconds:.1f} s — as of {describe(now)}, seen as {args.role}")
    if result.rejected:
        header += f"; {len(result.rejected)} records could not be read (first: {result.rejected[0]})"
    if args.format == "json":
        data = result.to_dict()
        data["rows"] = rows
        data["viewer"] = {"role": args.role, "province": args.province}
        data["summary"] = summary(rows, now.isoformat())
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
        if args.out:
            args.out.write_text(text + "\n", encoding="utf-8")
            print(header, file=sys.stderr)
        else:
            print(text)
    elif args.format == "csv":
        from eoc.audit.export import write_csv  # lazy: the CLI starts fast

        files = write_csv(rows, args.out or Path("replay-csv"))
        print(header)
        for f in files:
            print(f"  {f}")
    else:
        from rich.console import Console  # lazy: the CLI starts fast

        from eoc.audit.export import print_summary  # lazy: the CLI starts fast

        print_summary(Console(), summary(rows, now.isoformat()), header)
    return 0


# ---------------------------------------------------------------------- eoc diff


def _claims_of(token: str) -> tuple[str, str]:
    """Role and province of a token, read without checking it (the server checks it)."""
    import base64  # lazy: the CLI starts fast

    body = token.split(".")[1]  # header.claims.signature
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims["role"], claims["province"]


def parse_label(text: str) -> str | None:
    """The moment part of an ``as_of.at`` text."""
    return text.partition("@")[0] or None


def _positions(text: str | None) -> tuple[dict[str, int] | None, dict[str, int] | None]:
    """``QZV=120,ALB=97`` (log positions; no track points), a snapshot's ``as_of.at``, or a
    boards JSON file with ``as_of`` (or the rows' ``as-of/`` marks): (log, track) positions."""
    from projections import as_of  # lazy: the CLI starts fast
    from projections.fold import parse_as_of_text  # lazy: the CLI starts fast

    if not text:
        return None, None
    path = Path(text)
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        mark = data.get("as_of") or as_of(data["rows"])
        return dict(mark["positions"]), dict(mark.get("telemetry") or {})
    try:
        exact = parse_as_of_text(text if "@" in text else "@" + text)
    except ValueError:
        exact = None
    if exact is None:
        raise SystemExit(_fail(f"--positions {text!r}: give PROVINCE=POSITION,... or a boards JSON file"))
    return exact[1], exact[2]


def _live_positions(data: dict[str, Any]) -> tuple[dict[str, int] | int, dict[str, int] | None]:
    """Per-province log and track positions of a boards answer; its one ``position`` if it
    names none (older)."""
    from projections import as_of  # lazy: the CLI starts fast

    mark = data.get("as_of") or as_of(data["rows"])
    positions = dict(mark["positions"])
    return (positions or int(data["position"])), dict(mark.get("telemetry") or {})


def _live_boards(args: argparse.Namespace, settings: Settings) -> tuple[dict[str, Any], Any, str, str]:
    if args.live_file:  # seen by the viewer it names (`eoc replay --format json`), else an auditor
        data = json.loads(args.live_file.read_text(encoding="utf-8"))
        viewer = data.get("viewer") or {}
        return (data["rows"], _live_positions(data), viewer.get("role", "auditor"),
                viewer.get("province", NATIONAL))
    import httpx  # lazy: the CLI starts fast

    from eoc.app.auth import TokenSigner  # lazy: the CLI starts fast

    token = args.token or EnvSettings.read().token or TokenSigner(settings.token_secret).issue(
        "auditor", NATIONAL, sub="eoc-diff", ttl_s=600)
    answer = httpx.get(args.live.rstrip("/") + "/api/v1/boards", headers={"Authorization": f"Bearer {token}"},
                       timeout=60)
    if answer.status_code != 200:
        raise SystemExit(_fail(f"{args.live} answered {answer.status_code}: {answer.text[:300]}"))
    data = answer.json()
    role, province = _claims_of(token)
    return data["rows"], _live_positions(data), role, province


def run_diff(args: argparse.Namespace) -> int:
    from eoc.audit.diff import describe as describe_diff  # lazy: the CLI starts fast
    from eoc.audit.diff import diff_rows, kept_positions, without_telemetry  # lazy: the CLI starts fast

    opened = _Opened(args)
    try:
        live, (positions, telemetry), live_role, live_province = _live_boards(args, opened.settings)
        role, province = live_role, live_province
        if args.role != "auditor" or args.province != NATIONAL:  # --as / --province narrow both sides
            role, province = args.role, args.province
        # Each province to its own position: a runner folds provinces apart (one partition each).
        if isinstance(positions, int):
            position, positions, telemetry = positions, None, None
        else:
            position = max(positions.values(), default=0)
        result = _replay(opened, args, until=None, until_position=position, positions=positions,
                         telemetry=telemetry)
        # The replay as the live side's viewer saw it (unsealed for a supervisor's token, as the
        # live board was), then both narrowed to --as / --province.
        replayed = _visible(_visible(result.rows, live_role, live_province, _unsealer(opened)),
                            role, province, _keep_unsealed)
    except (LookupError, TimeoutError) as exc:
        return _fail(str(exc))
    finally:
        opened.close()
    live = _visible(live, role, province, _keep_unsealed)  # a file may hold rows this role may not see
    _log_replay_reads(opened.settings, replayed, role, province, "replay", what="diff")
    if not args.with_telemetry:
        live, replayed = without_telemetry(live), without_telemetry(replayed)
    else:  # positions as history holds them (the live map's newest may be a report only shown)
        live, replayed = kept_positions(live), kept_positions(replayed)
    differences = diff_rows(live, replayed)
    if args.format == "json":
        print(json.dumps({"position": position, "events": result.events, "equal": not differences,
                          "differences": [d.to_dict() for d in differences]}, ensure_ascii=False, indent=1))
    elif differences:
        print(f"The replay of {result.source} to position {position} ({result.events:,} events) differs from the "
              f"live boards in {len(differences)} rows (live → replay):")
        for line in describe_diff(differences, limit=args.limit):
            print(line)
    else:
        print(f"The replay of {result.source} to position {position} ({result.events:,} events) equals the live "
              f"boards: {len(live)} rows, seen as {role}.")
    return 1 if differences else 0


# ---------------------------------------------------------------------- eoc verify / checkpoint


def _key_path(settings: Settings) -> Path:
    return settings.audit_key_path


def _checkpoint_topic(args: argparse.Namespace) -> str:
    from eoc.audit.checkpoints import TOPIC  # lazy: the CLI starts fast

    return args.checkpoint_topic or Settings.from_env().topic_prefix + TOPIC


def _bootstrap(args: argparse.Namespace, settings: Settings) -> str:
    return args.bootstrap or settings.kafka_bootstrap


def _checkpoint_table(settings: Settings) -> Any:
    from eoc.app.system import checkpoint_table  # lazy: the CLI starts fast

    return checkpoint_table(settings)


def run_verify(args: argparse.Namespace) -> int:
    from consumers.replay import progress_bar  # lazy: the CLI starts fast
    from eoc.audit.checkpoints import (  # lazy: the CLI starts fast
        KafkaCheckpointLog,
        load_public_key,
    )  # lazy: the CLI starts fast
    from eoc.audit.verify import verify  # lazy: the CLI starts fast

    opened = _Opened(args)
    try:
        checkpoints: list[dict[str, Any]] = []
        if args.checkpoints in ("auto", "table"):
            table_exists = opened.settings.store == "postgres" or (opened.settings.data_dir / "audit.sqlite").exists()
            if table_exists or args.checkpoints == "table":
                log = _checkpoint_table(opened.settings)
                checkpoints = log.load()
                log.close()
        elif args.checkpoints == "kafka":
            checkpoints = KafkaCheckpointLog(_bootstrap(args, opened.settings), _checkpoint_topic(args)).load()
        keys = []
        key_file = args.public_key or _key_path(opened.settings)
        if checkpoints:
            if not Path(key_file).exists():
                return _fail(f"checkpoints need the EOC's public key to be checked: {key_file} is missing "
                             "(give --public-key)")
            keys = [load_public_key(Path(key_file))]
        total = _total(opened, args)
        with progress_bar(total, f"verify {opened.source.name}", enabled=not args.quiet) as advance:
            verdict = verify(opened.source, checkpoints=checkpoints, public_keys=keys, progress=advance)
    except (LookupError, TimeoutError) as exc:
        return _fail(str(exc))
    finally:
        opened.close()
    if args.format == "json":
        print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(f"Verified {verdict.source}: {verdict.events:,} events in {verdict.aggregates:,} streams, "
              f"{verdict.checkpoints} signed checkpoints"
              + (f", {verdict.duplicates} redelivered records ignored" if verdict.duplicates else ""))
        for f in verdict.findings:
            print("  " + f.line())
        print("OK: every link and checkpoint holds." if verdict.ok
              else f"TAMPERED: {len(verdict.tampered)} findings.")
    if verdict.ok and verdict.events and not verdict.checkpoints and args.checkpoints != "none":
        # Links alone do not catch a history rewritten with recomputed links: say so, loudly.
        print("eoc: NO SIGNED CHECKPOINT covers this history: a rewrite with recomputed links would pass. "
              "Sign checkpoints (`eoc checkpoint --follow` beside the relay in cluster mode), or give "
              "--checkpoints none to check the links only.", file=sys.stderr)
        return 1
    return 0 if verdict.ok else 1


def run_checkpoint(args: argparse.Namespace) -> int:
    from eoc.audit.checkpoints import (
        CheckpointPublisher,
        KafkaCheckpointLog,
        load_or_create_key,
        public_pem,
    )  # lazy: the CLI starts fast
    from eoc.audit.sources import StoreSource  # lazy: the CLI starts fast

    settings = Settings.from_env()
    key = load_or_create_key(_key_path(settings))
    if args.public_key:
        print(public_pem(key), end="")
        return 0
    targets = {t.strip() for t in args.publish.split(",") if t.strip()}
    if not targets or targets - {"table", "kafka"}:
        return _fail("--publish takes table, kafka or table,kafka")
    system = _open_store(settings)
    logs: list[Any] = []
    try:
        if "table" in targets:
            logs.append(_checkpoint_table(settings))
        if "kafka" in targets:
            logs.append(KafkaCheckpointLog(_bootstrap(args, settings), _checkpoint_topic(args)))
        publisher = CheckpointPublisher(StoreSource(system.app), key, logs, every_events=args.every_events,
                                        every_s=args.every_seconds)
        _print_checkpoint(publisher.publish())
        last = time.monotonic()
        while args.follow:  # the writers are other processes: look at the log's head every second
            time.sleep(min(args.every_seconds, 1.0))
            pending = publisher.pending()
            if pending and (pending >= args.every_events or time.monotonic() - last >= args.every_seconds):
                _print_checkpoint(publisher.publish())
                last = time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        for log in logs:
            log.close()
        system.close()
    return 0


def _print_checkpoint(record: dict[str, Any] | None) -> None:
    if record is None:
        print("nothing new since the last checkpoint")
        return
    print(f"checkpoint #{record['sequence']}: position {record['position']}, {record['events']:,} events, "
          f"{len(record['provinces'])} provinces, signed {describe(datetime.fromisoformat(record['time']))} "
          f"with key {record['key']}")


# ---------------------------------------------------------------------- eoc report


def run_report(args: argparse.Namespace) -> int:
    from consumers.replay import progress_bar  # lazy: the CLI starts fast
    from eoc.audit.reports import (  # lazy: the CLI starts fast
        report_document,
        report_period,
        report_with_check,
    )  # lazy: the CLI starts fast

    try:
        period = report_period(args.period, args.start, args.end)
    except BadMoment as exc:
        return _fail(str(exc))
    opened = _Opened(args)
    try:
        with progress_bar(_total(opened, args), f"report from {opened.source.name}",
                          enabled=not args.quiet) as advance:
            report, check = report_with_check(opened.source.envelopes(progress=advance), period,
                                              opened.source.describe(), province=args.province)
    except (LookupError, TimeoutError) as exc:
        return _fail(str(exc))
    finally:
        opened.close()
    if args.format == "json":
        text = json.dumps(report_document(report, check), ensure_ascii=False, indent=1)
        if args.out:
            args.out.write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
    elif args.format == "csv":
        from eoc.audit.export import write_report_csv  # lazy: the CLI starts fast

        path = write_report_csv(report, args.out or Path(f"report-{period.code}-{args.grouping}.csv"), args.grouping)
        print(path)
    else:
        from rich.console import Console  # lazy: the CLI starts fast

        from eoc.audit.export import print_report  # lazy: the CLI starts fast

        title = (f"{period.label} · {period.label_fa} ({period.first_day} … {period.last_day}), "
                 f"by {args.grouping}; drills excluded ({report.drill_events:,} drill events)")
        print_report(Console(), report, args.grouping, title)
    verdict = ("equal" if check["equal"] else f"DIFFERENT for {', '.join(check['mismatches'])}")
    print(f"key-figures board check: {verdict} on {check['days_checked']} of {check['days_in_period']} days "
          "with figures on the board (live days and period-figures rows)", file=sys.stderr)
    return 0 if check["equal"] else 1


# ---------------------------------------------------------------------- eoc late-entries


def run_late_entries(args: argparse.Namespace) -> int:
    from eoc.audit.late import list_late_entries  # lazy: the CLI starts fast

    opened = _Opened(args)
    try:
        envelopes = (e for e in opened.source.envelopes() if args.province in (None, e.province))
        rows = list_late_entries(envelopes)
    except (LookupError, TimeoutError) as exc:
        return _fail(str(exc))
    finally:
        opened.close()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        late = f"{r['late_by_s'] / 3600:.1f} h late" if r["kind"] == "late_entry" else f"override: {r['reason']}"
        print(f"{r['position']:>8}  {r['type']:<22} {r['province']}/{r['county']:<14} "
              f"occurred {r['occurred_at']}  recorded {r['recorded_at']}  {late}  by {r['actor_role']}")
    print(f"{len(rows)} late entries and overrides", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- eoc erase


def run_erase(args: argparse.Namespace) -> int:
    from eoc.audit.erasure import (  # lazy: the CLI starts fast
        erase,
        readable,
        sealed_values,
    )  # lazy: the CLI starts fast
    from eoc.audit.sources import StoreSource  # lazy: the CLI starts fast

    if ":" in args.subject:  # "place:…" is a secret place's key, never a person's id
        return _fail(f"{args.subject} is not a person's id: erasure is for people (S-… or a client id)")
    settings = Settings.from_env()
    system = _open_store(settings)
    try:
        values = sealed_values(StoreSource(system.app).records(), args.subject)
        print(f"{args.subject}: {len(values)} sealed values in the history "
              f"({', '.join(sorted({v.type for v in values})) or 'none'})")
        if not args.yes:
            print("nothing erased: add --yes to delete the key (it cannot be undone)")
            return 2
        had_key = erase(system.keyring, args.subject)
        if system.service.callers is not None:  # the caller's numbers lead nowhere any more
            system.service.callers.forget(args.subject)
        _access_log(settings, "admin", "cli", args.subject, what="erase", had_key=had_key)
        still = readable(system.keyring, args.subject, values)
        print(("the key was deleted" if had_key else "there was no key (already erased?)")
              + f"; {len(still)} values can still be opened")
        return 0 if not still else 1
    finally:
        system.close()
