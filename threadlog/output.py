"""Where a command's data goes: a file whose extension names its format, or stdout.

One rule for every command that writes. ``--out FILE``: FILE's extension picks the format,
and one the command cannot write is refused with the list of those it can. ``--out -``
(or ``--to`` alone): stdout, in ``--to``'s format or the command's default. Binary formats
are never written to a terminal. A file is written to a temporary name beside it and
renamed into place, so a reader never sees half a file; an existing one is replaced only
with ``--force``.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rich.console import Console

from threadlog.errors import ThreadlogError

__all__ = [
    "REPORT_FORMATS",
    "TABLE_FORMATS",
    "TRACE_FORMATS",
    "Formats",
    "Target",
    "atomic_write",
    "stdout_is_terminal",
    "target",
]

STDOUT = "-"


@dataclass(frozen=True)
class Formats:
    """The formats one kind of output is written in, by extension (no dot); the first is the default."""

    what: str  # what is written, for messages: "a table", "the trace"
    names: tuple[str, ...]
    binary: frozenset[str] = frozenset()

    @property
    def default(self) -> str:
        return self.names[0]

    def listed(self) -> str:
        return ", ".join(f".{n}" for n in self.names)

    def of_path(self, path: str) -> str:
        """The format `path`'s extension names (the longest that matches: .json.gz before .gz)."""
        name = Path(path).name.lower()
        for fmt in sorted(self.names, key=len, reverse=True):
            if name.endswith("." + fmt):
                return fmt
        suffix = Path(name).suffix
        how = f"as {suffix}" if suffix else "without an extension"
        raise ThreadlogError(f"{path}: {self.what} cannot be written {how}; name the file {self.listed()}")

    def of_name(self, to: str) -> str:
        """The format `--to` names."""
        fmt = to.lower().lstrip(".")
        if fmt not in self.names:
            raise ThreadlogError(f"--to {to}: {self.what} is written as {', '.join(self.names)}")
        return fmt


TABLE_FORMATS = Formats("a table", ("csv", "parquet", "jsonl"), frozenset({"parquet"}))
TRACE_FORMATS = Formats("the trace", ("json", "json.gz"), frozenset({"json.gz"}))
REPORT_FORMATS = Formats("the report", ("html",))


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (as rich sees it, so TTY_COMPATIBLE=1 forces one)."""
    return Console().is_terminal


@dataclass(frozen=True)
class Target:
    """A resolved output: a file (or stdout when `path` is None) and the format to write."""

    path: Path | None
    fmt: str
    force: bool = False

    @property
    def name(self) -> str:
        return "stdout" if self.path is None else str(self.path)

    def write(self, write: Callable[[BinaryIO], None]) -> None:
        """Run `write` on the file (atomically) or on stdout's bytes."""
        if self.path is None:
            sink = sys.stdout.buffer
            try:
                write(sink)
                sink.flush()
            except OSError as exc:  # polars reports a closed pipe as a plain OSError
                if exc.errno != errno.EPIPE and "Broken pipe" not in str(exc):
                    raise
                raise BrokenPipeError(errno.EPIPE, "stdout closed") from None
            return
        atomic_write(self.path, write, self.force)


def target(out: str | None, to: str | None, formats: Formats, force: bool = False) -> Target:
    """Resolve ``--out``/``--to`` by the one rule (see the module docstring)."""
    if out is not None and out != STDOUT:
        fmt = formats.of_path(out)
        if to is not None and formats.of_name(to) != fmt:
            raise ThreadlogError(f"--to {to} disagrees with {out}: a file's extension picks its format")
        return Target(Path(out), fmt, force)
    fmt = formats.default if to is None else formats.of_name(to)
    if fmt in formats.binary and stdout_is_terminal():
        raise ThreadlogError(
            f"{fmt} is binary and stdout is a terminal; redirect it (> FILE), pipe it, or use --out FILE"
        )
    return Target(None, fmt)


def atomic_write(path: Path, write: Callable[[BinaryIO], None], force: bool) -> None:
    """Run `write` on a temporary file beside `path`, then rename it into place."""
    if path.is_dir():
        raise ThreadlogError(f"{path} is a directory; name a file")
    if path.exists() and not force:
        raise ThreadlogError(f"{path} exists; pass --force to replace it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ThreadlogError(f"{folder}: no such folder for the output file")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        # mkstemp makes the file 0600; a file the user exports gets the mode `cp` would give it
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        raise ThreadlogError(f"cannot write {path} ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
