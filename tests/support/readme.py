"""The README's fenced shell examples, read from the file so that the tests cannot drift from it.

A fenced block's info string says how it is tested: ```sh — run against a live embedded
system; ```sh cluster — run against the real PostgreSQL and Kafka; ```sh run — the two
commands (scripts/demo by the run-command test; scripts/test is what CI itself runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
KINDS = ("sh", "sh run", "sh cluster")
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)
_SHELL = re.compile(r"^(sh|bash|shell|console)\b")


@dataclass(frozen=True)
class Example:
    kind: str  # the fence's info string: "sh", "sh run" or "sh cluster"
    section: str  # the heading above it
    text: str
    line: int  # where it starts in README.md

    @property
    def name(self) -> str:
        return f"{self.section} (README.md:{self.line})"


def shell_examples(text: str | None = None) -> list[Example]:
    """Every fenced block whose language is a shell, in the README's order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for m in _FENCE.finditer(text):
        info = " ".join(m.group(1).split())
        if not _SHELL.match(info):
            continue
        before = text[: m.start()]
        headings = re.findall(r"^#+\s+(.*)$", before, re.M)
        found.append(Example(kind=info, section=headings[-1] if headings else "",
                             text=m.group(2), line=before.count("\n") + 1))
    return found


_COMMAND = re.compile(r"^\s*(\$ )?(eoc|scripts/\S+|curl|python3?|pip|export|eval|docker(-compose)?|git|bash|"
                      r"cd|sudo|apt(-get)?|jq|[A-Z_]+=)(\s|$)")


def untagged_commands(text: str | None = None) -> list[int]:
    """Lines where a fenced block without a language starts with a shell command: a shell
    example the tests would not see (fence it as sh, sh cluster or sh run)."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for m in _FENCE.finditer(text):
        if m.group(1).strip():
            continue
        first = next((line for line in m.group(2).splitlines() if line.strip()), "")
        if _COMMAND.match(first):
            found.append(text[: m.start()].count("\n") + 1)
    return found


def run_command(text: str | None = None) -> str:
    """The README's command that runs the system, exactly as written (without its comment)."""
    for example in shell_examples(text):
        if example.kind in ("sh run", "sh"):
            for line in example.text.splitlines():
                command, _, comment = line.partition("#")
                if "run the system" in comment:
                    return command.strip()
    raise LookupError("README.md names no run command (a ```sh run block, '# run the system ...')")
