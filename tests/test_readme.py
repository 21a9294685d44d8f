"""The README's examples are the real output of its commands.

Every ``    $ threadlog ...`` line in README.md is run, in README order, as a user would in a
100-column terminal (piped when it ends in ``| cat``), from a folder holding ``sample_logs``;
what follows it in the README must be what the command prints (times of the run aside).
To regenerate them after a change: ``python -m tests.test_readme``.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from threadlog.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMMAND = re.compile(r"^    \$ (threadlog .*)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TOOK = re.compile(r"took(\s*[│\t]?\s*)[\d.]+ s")
WIDTH = 100
TERMINAL = {
    "COLUMNS": str(WIDTH),
    "TTY_COMPATIBLE": "1",
    "TTY_INTERACTIVE": "0",  # no live progress bar in the example
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "THREADLOG_STORE": None,
}


def _output(command: str) -> list[str]:
    """What `command` shows in the terminal (stdout and stderr as they interleave), indented as in the README.

    A command ending in ``| cat`` runs with stdout piped (stderr stays in the output, as it
    stays on the terminal).
    """
    piped = command.endswith(" | cat")
    env = {**TERMINAL, "TTY_COMPATIBLE": None} if piped else TERMINAL
    result = CliRunner(env=env).invoke(app, shlex.split(command.removesuffix(" | cat"))[1:])
    assert result.exit_code == 0, (command, result.output)
    lines = [("    " + ANSI.sub("", line)).rstrip() for line in result.output.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)  # where the progress bar was
    return lines


def regenerate(text: str) -> str:
    """The README with each example's output replaced by the real one (run in the current folder)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = COMMAND.match(lines[i])
        out.append(lines[i])
        i += 1
        if not match:
            continue
        command = match.group(1)
        while command.endswith("\\") and i < len(lines):  # continued on the next line
            command = command[:-1] + lines[i].strip()
            out.append(lines[i])
            i += 1
        # the old output: indented or blank lines up to the next command or unindented text,
        # less the blank lines that close it
        end = i
        while end < len(lines) and not COMMAND.match(lines[end]) and (lines[end].startswith("    ") or not lines[end]):
            end += 1
        while end > i and not lines[end - 1]:
            end -= 1
        i = end
        out.extend(_output(command))
    return "\n".join(out)


PARSED_AT = re.compile(r"parsed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def normalise(text: str) -> str:
    """The README less what differs from run to run: how long a parse took, when it was made."""
    return PARSED_AT.sub("parsed -", TOOK.sub(r"took\1- s", text))


def _in_sample_folder(folder: Path) -> None:
    (folder / "sample_logs").symlink_to(ROOT / "sample_logs")
    os.chdir(folder)


def test_readme_examples_are_the_real_output(tmp_path: Path, monkeypatch) -> None:
    text = README.read_text()
    assert len([ln for ln in text.splitlines() if COMMAND.match(ln)]) >= 4
    monkeypatch.chdir(tmp_path)
    _in_sample_folder(tmp_path)
    assert normalise(regenerate(text)) == normalise(text)


if __name__ == "__main__":
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        _in_sample_folder(Path(tmp))
        new = regenerate(README.read_text())
        os.chdir(here)
    README.write_text(new)
    sys.exit(0)
