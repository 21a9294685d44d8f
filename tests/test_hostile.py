"""Hostile input and hostile surroundings: every case ends in a correct result or one clean line.

The rule checked throughout: a command either succeeds with a complete store (all tables and
meta.json readable, ``lines == lines_in_records + unparsed_lines``) or exits non-zero with one
line on stderr and no traceback, and a failed parse leaves the previous store byte-identical
with nothing half-written beside it. Cases that break the rule today are strict xfails whose
reason names the bug.
"""

from __future__ import annotations

import atexit
import builtins
import errno
import functools
import gzip
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from tests.conftest import BLOG_FORMAT, BLOG_PREFIX, RALLY, assert_clean_error, assert_ok, rally_log
from threadlog.cli import app
from threadlog.errors import ThreadlogError
from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest
from threadlog.reader import CHUNK_BYTES, split_lines
from threadlog.store import Store

C05 = rally_log("c05-serial", "thread")
C05_BLOG = rally_log("c05-serial", "blog")
C04 = rally_log("c04-failures", "thread")
C07_PLAIN = RALLY / "c07-multi-workload" / "input-thread.log"
C05_LINES = 2122
C05_RECORDS = 1315
C05_ITERATIONS = 600
FULL_FORMAT = "%(asctime)s %(process)d %(thread)d %(levelname)s %(name)s %(message)s"
TASK = "af5e63fc-1e6f-473a-8c62-b48136499c1b"
START_MARKER = re.compile(rb"\| ITER: \d+ START$", re.MULTILINE)
IS_ROOT = os.geteuid() == 0
TABLES = ("records.parquet", "threads.parquet", "iterations.parquet", "meta.json")
# Keep the caller's environment out: no default store, no forced terminal or colours.
RUNNER = CliRunner(
    env={"THREADLOG_STORE": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None, "COLUMNS": None}
)


# -- helpers ----------------------------------------------------------------------------------


def run(*args: object, stdin: str | bytes | None = None) -> Result:
    """Invoke the CLI in-process with the given arguments."""
    return RUNNER.invoke(app, [str(a) for a in args], input=stdin)


def parse_json(*args: object) -> dict[str, Any]:
    """Run `threadlog parse --json ARGS` and return the summary it printed on stdout."""
    result = run("parse", "--json", *args)
    assert_ok(result)
    return json.loads(result.stdout)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: its bytes and mtime (ns)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_counts(summary: dict[str, Any]) -> None:
    """Every line read is in a record or counted as unparsed."""
    assert summary["lines"] == summary["lines_in_records"] + summary["unparsed_lines"], summary


def assert_complete_store(store: Path, summary: dict[str, Any]) -> pl.DataFrame:
    """All tables and meta.json are there and readable, and agree with the summary; returns records."""
    for name in TABLES:
        assert (store / name).is_file(), name
    records = pl.read_parquet(store / "records.parquet")
    threads = pl.read_parquet(store / "threads.parquet")
    pl.read_parquet(store / "iterations.parquet")
    meta = json.loads((store / "meta.json").read_text())
    assert_counts(summary)
    assert records.height == summary["records"]
    assert int((~records["parsed"]).sum()) == summary["unparsed_lines"]
    assert meta["summary"]["lines"] == summary["lines"]
    if "logical_threads" in summary:
        assert threads.height == summary["logical_threads"]
        assert records["thread_uid"].n_unique() == threads.height
    return records


@functools.cache
def lines_of(path: Path) -> tuple[bytes, ...]:
    """The lines of a (gzipped) sample log, without their newlines."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return tuple(data.split(b"\n")[:-1])


def true_line_count(data: bytes) -> int:
    """Lines as a reader counts them: each LF ends one (CRLF once), plus an unterminated last line.

    A file with no LF in its first block but several CRs has classic-Mac line ends: CRs count.
    """
    first = data[:CHUNK_BYTES]
    if b"\n" not in first and first.count(b"\r") > 1:
        data = data.replace(b"\r", b"\n")
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class Guarded:
    """A parsed store in a folder of its own, and what it and the folder held before a hostile run."""

    def __init__(self, store: Path):
        self.store = store
        self.before = snapshot(store)
        self.beside = sorted(os.listdir(store.parent))

    def assert_untouched(self) -> None:
        """The store is byte-identical and nothing (no temporary folder) was left beside it."""
        assert sorted(os.listdir(self.store.parent)) == self.beside
        assert snapshot(self.store) == self.before


@pytest.fixture
def guarded(tmp_path: Path) -> Guarded:
    """A store parsed from the c05 Rally log, snapshotted."""
    store = tmp_path / "out" / "store"
    summary = parse_json(C05, "--store", store)
    assert summary["records"] == C05_RECORDS
    return Guarded(store)


# -- 1. unreadable log ------------------------------------------------------------------------


@contextmanager
def unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make `path` fail to open with EACCES: chmod 000, or (as root, who ignores modes) a patched open."""
    if not IS_ROOT:
        path.chmod(0)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    denied = str(path)

    def check(file: Any) -> None:
        if isinstance(file, str | os.PathLike) and os.fspath(file) == denied:
            raise PermissionError(errno.EACCES, "Permission denied", denied)

    real_path_open, real_open = pathlib.Path.open, builtins.open

    def path_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        check(self)
        return real_path_open(self, *args, **kwargs)

    def any_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        check(file)
        return real_open(file, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(pathlib.Path, "open", path_open)
        m.setattr(builtins, "open", any_open)
        yield


def test_unreadable_log_is_a_clean_error(tmp_path: Path, guarded: Guarded, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log without read permission fails with one line about permission and leaves the store alone."""
    log = write(tmp_path / "secret.log", gzip.decompress(C05.read_bytes()))
    with unreadable(log, monkeypatch):
        result = run("parse", log, "--store", guarded.store)
    assert_clean_error(result, "permission", "secret.log")
    assert result.stdout == ""
    guarded.assert_untouched()


class _FailingFile:
    """A file that reads `limit` bytes and then fails like a dying disk (EIO)."""

    def __init__(self, fh: Any, limit: int):
        self._fh = fh
        self._left = limit

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError(errno.EIO, "Input/output error")
        data = self._fh.read(self._left if n < 0 else min(n, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_read_error_mid_file_is_a_clean_error(
    tmp_path: Path, guarded: Guarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log that opens but fails to read after 64 KB (EIO) fails with one line and leaves the store alone."""
    log = write(tmp_path / "dying.log", gzip.decompress(C05.read_bytes()))
    real_open = pathlib.Path.open

    def flaky_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        fh = real_open(self, *args, **kwargs)
        return _FailingFile(fh, 64 << 10) if self == log else fh

    monkeypatch.setattr(pathlib.Path, "open", flaky_open)
    result = run("parse", log, "--store", guarded.store)
    monkeypatch.undo()
    assert_clean_error(result, "dying.log")
    guarded.assert_untouched()


# -- 2. very long lines -----------------------------------------------------------------------

HEADER = b"2026-11-25 23:39:46.226 18827 140315149818752 INFO rally.api [-] "
LONG = 50 << 20


@pytest.mark.parametrize("tail", ["none", "normal-lines"])
def test_50mb_line_is_one_record(tmp_path: Path, tail: str) -> None:
    """A 50 MB line (alone without a newline, or before normal lines) is one record and the counts add up."""
    log = tmp_path / "long.log"
    with log.open("wb") as fh:
        fh.write(HEADER)
        fh.write(b"x" * LONG)
        if tail == "normal-lines":
            fh.write(b"\n")
            fh.write(gzip.decompress(C05.read_bytes()))
    store = tmp_path / "store"
    summary = parse_json(log, "--store", store)
    records = assert_complete_store(store, summary)
    extra_lines, extra_records = (C05_LINES, C05_RECORDS) if tail == "normal-lines" else (0, 0)
    assert summary["lines"] == 1 + extra_lines
    assert summary["records"] == 1 + extra_records
    assert summary["unparsed_lines"] == 0
    first = records.row(0, named=True)
    assert (first["line"], first["line_end"], first["parsed"]) == (1, 1, True)
    assert len(first["message"]) == LONG
    if tail == "normal-lines":
        assert summary["iterations"]["total"] == C05_ITERATIONS


def test_50mb_line_without_header_is_one_unparsed_record(tmp_path: Path) -> None:
    """A 50 MB line that matches no format (explicit --format, --allow-unparsed) is one unparsed record."""
    log = tmp_path / "blob.log"
    with log.open("wb") as fh:
        fh.write(b"y" * LONG)
        fh.write(b"\n")
    store = tmp_path / "store"
    assert_clean_error(run("parse", log, "--store", store, "--format", FULL_FORMAT), "only 0 of 1 lines")
    summary = parse_json(log, "--store", store, "--format", FULL_FORMAT, "--allow-unparsed")
    records = assert_complete_store(store, summary)
    assert (summary["lines"], summary["records"], summary["unparsed_lines"]) == (1, 1, 1)
    assert len(records["message"][0]) == LONG


# -- 3. NUL bytes -----------------------------------------------------------------------------


def test_nul_bytes_inside_lines_are_kept(tmp_path: Path) -> None:
    """NULs inside messages, at a line's start and in a 64 KB block mid-file are kept and the counts add up."""
    lines = list(lines_of(C05))
    lines[3] += b" a\x00b\x00"  # inside a message
    lines[5] = b"\x00" + lines[5]  # a line that no longer starts with a header: continues the record above
    half = len(lines) // 2
    lines[half] += b"\x00" * 65536  # a block of NULs, as a crashed writer leaves
    data = b"\n".join(lines) + b"\n"
    store = tmp_path / "store"
    summary = parse_json(write(tmp_path / "nul.log", data), "--store", store)
    records = assert_complete_store(store, summary)
    assert summary["lines"] == C05_LINES
    assert summary["records"] == C05_RECORDS - 1  # line 6 joined line 5's record
    assert summary["unparsed_lines"] == 0
    assert int(records["message"].str.count_matches("\x00", literal=True).sum()) == data.count(b"\x00")
    joined = records.filter(pl.col("line") == 5).row(0, named=True)
    assert joined["line_end"] == 6
    assert "\n\x00" in joined["message"]


def test_log_starting_with_nul_hole_parses(tmp_path: Path) -> None:
    """A log that starts with 8 KB of NULs (a copytruncate hole) is no binary: only its first line is lost."""
    data = b"\x00" * 8192 + gzip.decompress(C05.read_bytes())
    summary, _ = _records_of(tmp_path, "holed", data)
    assert summary["lines"] == C05_LINES
    assert summary["unparsed_lines"] == 1  # the hole and the first record's line, glued together
    assert summary["iterations"]["total"] == C05_ITERATIONS


# -- 4. CR and CRLF ---------------------------------------------------------------------------


def _records_of(tmp_path: Path, name: str, data: bytes) -> tuple[dict[str, Any], pl.DataFrame]:
    store = tmp_path / f"store-{name}"
    summary = parse_json(write(tmp_path / f"{name}.log", data), "--store", store)
    return summary, assert_complete_store(store, summary)


@pytest.mark.parametrize("ending", ["crlf", "mixed"])
def test_crlf_and_mixed_endings_parse_like_lf(tmp_path: Path, ending: str) -> None:
    """CRLF and mixed CRLF/LF endings give the same records as LF: the CR of a CRLF is dropped."""
    lines = lines_of(C05)[:200]
    _, want = _records_of(tmp_path, "lf", b"\n".join(lines) + b"\n")
    if ending == "crlf":
        data = b"\r\n".join(lines) + b"\r\n"
    else:
        data = b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lines))
    summary, got = _records_of(tmp_path, ending, data)
    assert summary["lines"] == 200
    cols = ["line", "line_end", "ts", "pid", "thread", "level", "message", "parsed"]
    assert got.select(cols).equals(want.select(cols))
    assert not got["message"].str.contains("\r", literal=True).any()


def test_lone_cr_stays_inside_its_line(tmp_path: Path) -> None:
    """A lone CR inside a message is kept and ends no line; one in a header makes the line a continuation."""
    lines = list(lines_of(C05)[:40])
    lines[3] += b" before\rafter"  # in the message of line 4
    lines[4] = lines[4][:60] + b"\r" + lines[4][60:]  # inside line 5's logger name
    summary, records = _records_of(tmp_path, "lonecr", b"\n".join(lines) + b"\n")
    assert summary["lines"] == 40
    assert summary["unparsed_lines"] == 0
    row4 = records.filter(pl.col("line") == 4).row(0, named=True)
    assert (row4["line_end"], row4["message"].split("\n")[0].endswith(" before\rafter")) == (5, True)
    assert "ral\rly.api" in row4["message"]  # line 5 joined line 4's record, CR intact
    assert 5 not in records["line"].to_list()


def test_cr_only_endings_are_line_ends(tmp_path: Path) -> None:
    """A log with classic-Mac CR endings (no LF at all) reads like the same log with LFs."""
    data = gzip.decompress(C05.read_bytes()).replace(b"\n", b"\r")
    summary, _ = _records_of(tmp_path, "cr", data)
    assert (summary["lines"], summary["records"], summary["unparsed_lines"]) == (C05_LINES, C05_RECORDS, 0)
    assert summary["iterations"]["total"] == C05_ITERATIONS


# -- 5. format change -------------------------------------------------------------------------


def test_format_change_after_a_whole_log_reads_both(tmp_path: Path) -> None:
    """A whole oslo log followed by a whole blog-format log (cat of a rotated set): both are read."""
    thread, blog = lines_of(C05), lines_of(C05_BLOG)
    summary, records = _records_of(tmp_path, "switch", b"\n".join(thread + blog) + b"\n")
    assert summary["format"]["name"] == "oslo-thread+pid-thread"
    assert summary["lines"] == len(thread) + len(blog)
    assert summary["unparsed_lines"] == 0
    assert summary["records"] == 2 * C05_RECORDS
    # the blog half has no timestamps: its records are the ones without ts
    assert records.filter(pl.col("ts").is_null())["line"].min() == len(thread) + 1
    assert summary["iterations"]["total"] == 2 * C05_ITERATIONS


def test_format_change_halfway_keeps_every_line(tmp_path: Path) -> None:
    """First half oslo, second half blog format: both formats are detected and every record is read."""
    thread, blog = lines_of(C05), lines_of(C05_BLOG)
    half = len(thread) // 2
    summary, _ = _records_of(tmp_path, "halfway", b"\n".join(thread[:half] + blog[half:]) + b"\n")
    assert summary["lines"] == len(thread)
    assert set(summary["format"]["name"].split("+")) == {"oslo-thread", "pid-thread"}
    assert summary["unparsed_lines"] == 0
    assert summary["records"] == C05_RECORDS
    assert summary["iterations"]["total"] == C05_ITERATIONS


# -- 6. clocks going backwards ----------------------------------------------------------------

_TS = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\d+) ")


def _shift(line: bytes, seconds: float, pid_add: int = 0) -> bytes:
    """A header line with its timestamp moved by `seconds` and its pid raised by `pid_add`."""
    m = _TS.match(line)
    if m is None:
        return line
    stamp = datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S.%f") + timedelta(seconds=seconds)
    return f"{stamp:%Y-%m-%d %H:%M:%S.%f}"[:-3].encode() + b" %d " % (int(m.group(2)) + pid_add) + line[m.end() :]


@pytest.mark.parametrize("minutes", [30, 120])
def test_clock_stepping_back_keeps_every_iteration(tmp_path: Path, minutes: int) -> None:
    """The middle third of a log stepped back in time: every START marker is still one iteration."""
    lines = lines_of(C04)
    n = len(lines)
    shifted = [_shift(line, -60 * minutes) if n // 3 <= i < 2 * n // 3 else line for i, line in enumerate(lines)]
    data = b"\n".join(shifted) + b"\n"
    summary, _ = _records_of(tmp_path, "back", data)
    original = parse_json(C04, "--store", tmp_path / "original")
    its = pl.read_parquet(tmp_path / "store-back" / "iterations.parquet")
    assert summary["lines"] == original["lines"]
    assert summary["iterations"]["total"] == len(START_MARKER.findall(data)) == original["iterations"]["total"]
    assert (its["duration_s"] < 0).any()  # iterations that straddle the step
    if minutes == 30:  # shorter than --pid-gap: nothing else changes
        assert summary["iterations"] == original["iterations"]
        assert summary["logical_threads"] == original["logical_threads"]


def _records_in(lines: tuple[bytes, ...]) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    for line in lines:
        if _TS.match(line) or not out:
            out.append([line])
        else:
            out[-1].append(line)
    return out


def test_interleaved_processes_with_clock_steps(tmp_path: Path) -> None:
    """Two runs interleaved record by record, one an hour behind: iterations equal the START markers."""
    lines = lines_of(C05)
    task = re.search(rb"Task ([0-9a-f-]{36})", b"\n".join(lines)).group(1)  # type: ignore[union-attr]
    other = b"f" + task[1:]
    out: list[bytes] = []
    for rec in _records_in(lines):
        out += rec
        out += [_shift(line, -3600, pid_add=50000).replace(task, other) for line in rec]
    data = b"\n".join(out) + b"\n"
    summary, _ = _records_of(tmp_path, "inter", data)
    assert summary["lines"] == 2 * C05_LINES
    assert summary["unparsed_lines"] == 0
    assert summary["tasks"] == 2
    assert summary["iterations"]["total"] == len(START_MARKER.findall(data)) == 2 * C05_ITERATIONS


# -- 7. only continuation lines ---------------------------------------------------------------


def test_only_continuation_lines_are_all_unparsed(tmp_path: Path) -> None:
    """With an explicit --format and --allow-unparsed, a log of indented lines only is all unparsed records."""
    data = b"".join(b"   continuation %d\n\tmore %d\n" % (i, i) for i in range(100))
    store = tmp_path / "store"
    log = write(tmp_path / "cont.log", data)
    assert_clean_error(run("parse", log, "--store", store, "--format", FULL_FORMAT), "only 0 of 200 lines")
    summary = parse_json(log, "--store", store, "--format", FULL_FORMAT, "--allow-unparsed")
    assert_complete_store(store, summary)
    assert (summary["lines"], summary["unparsed_lines"], summary["lines_in_records"]) == (200, 200, 0)
    assert summary["iterations"]["total"] == 0
    assert_ok(run("iterations", "--store", store))
    assert_ok(run("threads", "--store", store))
    assert_clean_error(run("timeline", "--iteration", "1", "--store", store), "holds no Rally iterations")


# -- 8. odd markers ---------------------------------------------------------------------------


def test_odd_markers(tmp_path: Path) -> None:
    """Non-numeric and huge iteration numbers are no markers, a lone END is ignored, a last START is unfinished."""
    prefix = "2026-11-25 23:40:52.{} 22906 1403151498{} INFO rally.task.runner [-] "
    rows = [
        ("100", "11", f"Task {TASK} | ITER: abc START"),
        ("101", "11", f"Task {TASK} | ITER: abc END: OK"),
        ("102", "12", f"Task {TASK} | ITER: 7 END: OK"),  # END without START
        ("103", "13", f"Task {TASK} | ITER: 1 START"),
        ("104", "13", f"Task {TASK} | ITER: 1 END: OK"),
        ("105", "14", f"Task {TASK} | ITER: 99999999999999999999999 START"),
        ("106", "15", f"Task {TASK} | ITER: -3 START"),
        ("107", "16", f"Task {TASK} | ITER: 2 START"),  # START without END at end of file
        ("108", "16", "work in 2"),
    ]
    log = write(tmp_path / "marks.log", "".join(prefix.format(ms, t) + m + "\n" for ms, t, m in rows).encode())
    store = tmp_path / "store"
    summary = parse_json(log, "--store", store)
    assert_complete_store(store, summary)
    assert summary["iterations"] == {"total": 2, "ok": 1, "error": 0, "unfinished": 1}
    its = pl.read_parquet(store / "iterations.parquet").sort("iteration")
    assert its.select("iteration", "status").rows() == [(1, "ok"), (2, "unfinished")]
    shown = run("timeline", "--iteration", "2", "--store", store)
    assert_ok(shown)
    assert "status unfinished" in shown.stdout
    assert "work in 2" in shown.stdout
    assert_clean_error(run("timeline", "--iteration", "7", "--store", store), "no iteration 7")


# -- 9. a million processes -------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_distinct_pids(tmp_path: Path) -> None:
    """1,000,000 lines from 1,000,000 pids parse into 1,000,000 processes, every line accounted for.

    Its time is printed, not asserted: speed is the benchmark's to measure, and a loaded
    machine would make a time limit fail at random."""
    n = 1_000_000
    log = tmp_path / "million.log"
    with log.open("w") as fh:
        fh.writelines(
            f"2026-11-25 23:39:46.226 {pid} 140315149818752 INFO rally.api [-] hello\n" for pid in range(1, n + 1)
        )
    store = tmp_path / "store"
    started = time.perf_counter()
    summary = parse_json(log, "--store", store)
    took = time.perf_counter() - started
    print(f"\na million pids: parse took {took:.1f} s, timings {summary.get('timings')}")
    assert (summary["lines"], summary["records"], summary["processes"]) == (n, n, n)
    assert summary["logical_threads"] == n
    assert_complete_store(store, summary)


# -- 10. a store that cannot be written -------------------------------------------------------


def _immutable(path: Path, on: bool) -> bool:
    """chattr +i / -i (root only); False if the file system or the container does not allow it."""
    if shutil.which("chattr") is None:
        return False
    proc = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True, check=False, timeout=30)
    return proc.returncode == 0


@contextmanager
def read_only_folder(path: Path) -> Iterator[None]:
    """Make `path` a folder nobody can add to: chmod 555, or for root (who ignores modes) chattr +i."""
    if not IS_ROOT:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    if not _immutable(path, True):
        pytest.skip("running as root without chattr +i: see the simulated variant")
    try:
        yield
    finally:
        _immutable(path, False)


@pytest.mark.parametrize("target", ["existing", "new"])
def test_read_only_store_parent_is_a_clean_error(guarded: Guarded, target: str) -> None:
    """A store (existing or new) in a read-only folder fails with one line and the old store stays whole."""
    store = guarded.store if target == "existing" else guarded.store.parent / "fresh"
    with read_only_folder(guarded.store.parent):
        result = run("parse", C05, "--store", store)
    assert_clean_error(result, "choose a writable --store")
    guarded.assert_untouched()


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC, errno.EROFS])
def test_new_store_folder_cannot_be_made(guarded: Guarded, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """If the new store's folder cannot be created (EACCES, ENOSPC, EROFS) the parse fails in one line."""
    real = tempfile.mkdtemp
    parent = str(guarded.store.parent)

    def mkdtemp(suffix: Any = None, prefix: Any = None, dir: Any = None) -> str:
        if dir is not None and os.fspath(dir) == parent:
            raise OSError(code, os.strerror(code))
        return real(suffix, prefix, dir)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    result = run("parse", C05, "--store", guarded.store)
    monkeypatch.undo()
    assert_clean_error(result, os.strerror(code))
    guarded.assert_untouched()


def _fail_rename(monkeypatch: pytest.MonkeyPatch, which: str, code: int = errno.EACCES) -> None:
    """Make os.rename fail for the store's swap: `which` is "old" (store -> backup) or "new" (temp -> store)."""
    real = os.rename

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        name = Path(os.fspath(src)).name
        is_new = name.startswith(".") and ".new" in name
        if (which == "new") == is_new and Path(os.fspath(dst)).parent == Path(os.fspath(src)).parent:
            raise OSError(code, os.strerror(code), os.fspath(src))
        real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EBUSY])
def test_swap_rename_of_old_store_fails(guarded: Guarded, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """If the old store cannot be moved aside (EACCES; EBUSY for a mount point) the parse fails in one line."""
    _fail_rename(monkeypatch, "old", code)
    result = run("parse", C05, "--store", guarded.store)
    monkeypatch.undo()
    guarded.assert_untouched()
    assert_clean_error(result, os.strerror(code))


def test_swap_rename_of_new_store_fails(guarded: Guarded, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the new store cannot be moved in, the parse fails in one line and the old store comes back whole."""
    _fail_rename(monkeypatch, "new")
    result = run("parse", C05, "--store", guarded.store)
    monkeypatch.undo()
    Store.open(guarded.store)  # opening undoes a half-done swap
    guarded.assert_untouched()
    assert_clean_error(result)


def test_immutable_store_folder_is_a_clean_error(guarded: Guarded) -> None:
    """A store folder that cannot be renamed (chattr +i, as a mount point) fails in one line, store kept."""
    if not IS_ROOT or not _immutable(guarded.store, True):
        pytest.skip("needs root and chattr +i")
    try:
        result = run("parse", C05, "--store", guarded.store)
    finally:
        _immutable(guarded.store, False)
    guarded.assert_untouched()
    assert_clean_error(result)


# -- 11. the store deleted or damaged while reading -------------------------------------------

READERS = {
    "timeline": ["timeline", "--iteration", "1", "--workload", "1"],
    "iterations": ["iterations"],
    "threads": ["threads"],
    "export": ["export", "records", "--out", "{out}/x.csv"],
}


def _reader(name: str, tmp_path: Path) -> list[str]:
    return [a.format(out=tmp_path) for a in READERS[name]]


@pytest.mark.parametrize(
    ("victim", "command", "words"),
    [
        ("records.parquet", "timeline", "no records table"),
        ("records.parquet", "export", "no records table"),
        ("iterations.parquet", "iterations", "no iterations table"),
        ("iterations.parquet", "timeline", "no iterations table"),
        ("threads.parquet", "threads", "no threads table"),
        ("meta.json", "iterations", "no threadlog store"),
        ("*", "iterations", "no threadlog store"),
        ("*", "timeline", "no threadlog store"),
    ],
)
def test_deleted_store_parts_are_a_clean_error(
    tmp_path: Path, guarded: Guarded, victim: str, command: str, words: str
) -> None:
    """A store missing a table, meta.json or the whole folder gives one line and a non-zero exit."""
    if victim == "*":
        shutil.rmtree(guarded.store)
    else:
        (guarded.store / victim).unlink()
    assert_clean_error(run(*_reader(command, tmp_path), "--store", guarded.store), words)


@pytest.mark.parametrize("command", list(READERS))
def test_store_deleted_while_reading(
    tmp_path: Path, guarded: Guarded, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """The store folder removed between opening a table and reading it gives one line and a non-zero exit."""
    real_scan = Store.scan

    def scan_then_delete(self: Store, table: str) -> pl.LazyFrame:
        frame = real_scan(self, table)
        shutil.rmtree(self.root, ignore_errors=True)
        return frame

    monkeypatch.setattr(Store, "scan", scan_then_delete)
    assert_clean_error(run(*_reader(command, tmp_path), "--store", guarded.store), "store")


@pytest.mark.parametrize(
    ("victim", "command"),
    [
        ("records.parquet", "timeline"),
        ("records.parquet", "export"),
        ("iterations.parquet", "iterations"),
        ("threads.parquet", "threads"),
    ],
)
def test_truncated_store_table_is_a_clean_error(tmp_path: Path, guarded: Guarded, victim: str, command: str) -> None:
    """A store table cut in half (a damaged store) gives one line that says to parse again."""
    path = guarded.store / victim
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_clean_error(run(*_reader(command, tmp_path), "--store", guarded.store), "parse")


# -- 12. Ctrl-C -------------------------------------------------------------------------------


def _big_log(tmp_path: Path, copies: int) -> Path:
    log = tmp_path / "big.log"
    data = C07_PLAIN.read_bytes()
    with log.open("wb") as fh:
        for _ in range(copies):
            fh.write(data)
    return log


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("THREADLOG_STORE", "FORCE_COLOR", "COLUMNS")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_new_entry(folder: Path, before: list[str], timeout: float) -> bool:
    """Wait until something (the new store's temporary folder) appears in `folder`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sorted(os.listdir(folder)) != before:
            return True
        time.sleep(0.01)
    return False


def _assert_interrupted(proc: subprocess.Popen[str], out: str, err: str, guarded: Guarded) -> None:
    assert proc.returncode != 0, (out, err)
    assert out == ""
    guarded.assert_untouched()
    assert len(err.strip().splitlines()) <= 1, err


def test_ctrl_c_during_parse(tmp_path: Path, guarded: Guarded) -> None:
    """SIGINT while parsing ~100 MB exits non-zero, keeps the old store and leaves no temporary folder."""
    log = _big_log(tmp_path, 300)
    proc = subprocess.Popen(
        [sys.executable, "-m", "threadlog", "parse", str(log), "--store", str(guarded.store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_clean_env(),
    )
    try:
        started = _wait_for_new_entry(guarded.store.parent, guarded.beside, timeout=60)
        time.sleep(0.5)
        assert proc.poll() is None, "the parse ended before it could be interrupted; make the log bigger"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert started, "the parse never started writing its new store"
    _assert_interrupted(proc, out, err, guarded)
    assert "Traceback" not in err + out


# A SIGINT that lands while polars runs a query raises KeyboardInterrupt twice: polars raises
# its own at once and Python's pending handler raises another at the next bytecode. This
# driver makes that happen deterministically: on the second chunk a polars join runs while
# the signal arrives (as a real parse is mostly polars queries).
_DOUBLE_INTERRUPT = textwrap.dedent(
    """
    import os, signal, sys, threading
    import polars as pl
    from threadlog import parse
    from threadlog.cli import main

    if not hasattr(parse.RecordBuilder, "take"):
        sys.exit(99)
    take = parse.RecordBuilder.take
    calls = []

    def take_during_query(self, chunk, matched):
        calls.append(chunk)
        if len(calls) == 2:
            big = pl.DataFrame({"a": pl.int_range(0, 20_000_000, eager=True).shuffle(seed=1)})
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            for _ in range(10):
                big.join(big, on="a", how="left")
        return take(self, chunk, matched)

    parse.RecordBuilder.take = take_during_query
    sys.argv = ["threadlog", *sys.argv[1:]]
    main()
    """
)


def test_ctrl_c_in_a_polars_query_prints_no_traceback(tmp_path: Path, guarded: Guarded) -> None:
    """SIGINT during a polars query in the parse exits non-zero with no traceback and keeps the old store."""
    log = _big_log(tmp_path, 300)  # ~100 MB: the reader is still open when the second chunk is joined
    proc = subprocess.Popen(
        [sys.executable, "-c", _DOUBLE_INTERRUPT, "parse", str(log), "--store", str(guarded.store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_clean_env(),
    )
    out, err = proc.communicate(timeout=300)
    if proc.returncode == 99:
        pytest.skip("RecordBuilder.take is gone: update the driver")
    _assert_interrupted(proc, out, err, guarded)
    assert "Traceback" not in err + out
    assert "Exception ignored" not in err


# -- 13. disk full ----------------------------------------------------------------------------


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _on_write_parquet(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(pl.DataFrame, "write_parquet", _enospc)


def _on_sink(mp: pytest.MonkeyPatch, table: str) -> None:
    real = pl.LazyFrame.sink_parquet

    def sink(self: pl.LazyFrame, path: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, str | os.PathLike) and Path(path).name == table:
            _enospc()
        return real(self, path, *args, **kwargs)

    mp.setattr(pl.LazyFrame, "sink_parquet", sink)


def _on_meta(mp: pytest.MonkeyPatch) -> None:
    real = pathlib.Path.write_text

    def write_text(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "meta.json":
            _enospc()
        return real(self, *args, **kwargs)

    mp.setattr(pathlib.Path, "write_text", write_text)


def _on_spool(mp: pytest.MonkeyPatch) -> None:
    real = tempfile.mkdtemp

    def mkdtemp(suffix: Any = None, prefix: Any = None, dir: Any = None) -> str:
        if prefix is not None and "stdin" in prefix:
            _enospc()
        return real(suffix, prefix, dir)

    mp.setattr(tempfile, "mkdtemp", mkdtemp)


DISK_FULL = {
    "records-table": lambda mp: _on_sink(mp, "records.parquet"),
    "threads-table": lambda mp: _on_sink(mp, "threads.parquet"),
    "iterations-table": lambda mp: _on_sink(mp, "iterations.parquet"),
    "meta-json": _on_meta,
    "every-parquet-write": _on_write_parquet,
    "tmp-spool": _on_spool,
}


@pytest.mark.parametrize(
    "where",
    [
        "records-table",
        "threads-table",
        "iterations-table",
        "meta-json",
        "every-parquet-write",
        "tmp-spool",
    ],
)
def test_disk_full_is_a_clean_error(guarded: Guarded, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """ENOSPC anywhere in a parse gives one line about space, the old store intact and no temporary folder."""
    with monkeypatch.context() as mp:
        DISK_FULL[where](mp)
        if where == "tmp-spool":  # the spool is made only for standard input
            result = run("parse", "-", "--store", guarded.store, stdin=gzip.decompress(C05.read_bytes()))
        else:
            result = run("parse", C05, "--store", guarded.store)
    guarded.assert_untouched()
    assert_clean_error(result, "space")


def test_no_spool_without_standard_input(guarded: Guarded, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parse of files never needs the temporary folder that standard input is kept in."""
    with monkeypatch.context() as mp:
        _on_spool(mp)
        result = run("parse", C05, "--store", guarded.store)
    assert result.exit_code == 0, result.stderr


# -- 14. fake gzip ----------------------------------------------------------------------------


def _gz_variants() -> dict[str, bytes]:
    rnd = random.Random(14)
    real = gzip.compress(b"\n".join(lines_of(C05)) + b"\n")
    bad_crc = real[:-8] + bytes([real[-8] ^ 1]) + real[-7:]
    return {
        "magic+garbage": b"\x1f\x8b" + rnd.randbytes(4096),
        "magic-only": b"\x1f\x8b",
        "magic+text": b"\x1f\x8b" + HEADER + b"hello\n",
        "deflate-header+garbage": b"\x1f\x8b\x08\x00" + rnd.randbytes(4096),
        "valid-header+garbage": real[:10] + rnd.randbytes(4096),
        "bad-crc": bad_crc,
        "trailing-garbage": real + b"garbage!",
    }


@pytest.mark.parametrize("kind", list(_gz_variants()))
def test_fake_gzip_is_a_clean_error(tmp_path: Path, guarded: Guarded, kind: str) -> None:
    """A file with the gzip magic bytes but no valid gzip stream fails in one line; the store is kept."""
    log = write(tmp_path / "fake.log.gz", _gz_variants()[kind])
    result = run("parse", log, "--store", guarded.store)
    assert_clean_error(result, "gzip")
    guarded.assert_untouched()


# -- 15. fuzz ---------------------------------------------------------------------------------

SPECIALS = [b"\x00", b"\r", b"\n", b"\r\n", b"\xff", b"\xc3", b"\xe2\x82", b"\t", b" ", b"\x1f\x8b"]
SPECIALS += [bytes([c]) for c in (0x1F, 0x1E, 0x1D, 0x1C, 0x01, 0x02, 0x03, 0x04)]  # the reader's CSV separators
SPECIALS += [b"| ITER: ", b" START", b" END: OK", "\u2028".encode(), b"\xef\xbb\xbf", b'"']


@functools.cache
def _fuzz_lines() -> tuple[bytes, ...]:
    return lines_of(C04)[:50]


@st.composite
def hostile_logs(draw: st.DrawFn) -> bytes:
    """Random bytes, or real lines mutated by deletes, inserts, replacements, splits and joins."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=3000))
    lines = draw(st.lists(st.sampled_from(_fuzz_lines()), min_size=1, max_size=50))
    data = bytearray(b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"])))
    ops = st.tuples(
        st.sampled_from(["delete", "insert", "replace", "split", "join"]),
        st.floats(0, 1),
        st.sampled_from(SPECIALS) | st.binary(min_size=1, max_size=8),
    )
    for op, where, payload in draw(st.lists(ops, max_size=20)):
        pos = min(int(where * len(data)), len(data))
        if op == "delete":
            del data[pos : pos + len(payload) * 4]
        elif op == "insert":
            data[pos:pos] = payload
        elif op == "replace":
            data[pos : pos + len(payload)] = payload
        elif op == "split":
            data[pos:pos] = b"\n"
        else:
            nl = data.find(b"\n", pos)
            if nl >= 0:
                del data[nl]
    return bytes(data)


FUZZ_FORMATS = [
    FULL_FORMAT,
    "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s [%(request_id)s] %(message)s",
]
OSLO_PASTED = "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s [-] %(instance)s%(message)s"
OSLO_CONF = """\
[DEFAULT]
logging_context_format_string = %(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s \
[%(user_identity)s %(request_id)s] %(instance)s%(message)s
logging_default_format_string = %(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s \
[-] %(instance)s%(message)s
logging_exception_prefix = %(asctime)s.%(msecs)03d %(process)d ERROR %(name)s %(instance)s
"""


@functools.cache
def _fuzz_home() -> Path:
    """A folder for the whole run: a good store that each example starts from, and a rally.conf."""
    home = Path(tempfile.mkdtemp(prefix="threadlog-fuzz-home-"))
    atexit.register(shutil.rmtree, home, True)
    (home / "rally.conf").write_text(OSLO_CONF)
    log = write(home / "good.log", b"\n".join(lines_of(C05)[:60]) + b"\n")
    ingest([str(log)], IngestOptions(store=str(home / "good")))
    return home


def fuzz_option_sets() -> list[list[str]]:
    """Detection, each explicit format (with and without an exception prefix), and rally.confs."""
    return [
        [],
        *(["--format", fmt] for fmt in FUZZ_FORMATS),
        ["--format", OSLO_PASTED, "--exception-prefix", "%(asctime)s.%(msecs)03d %(process)d ERROR %(name)s "],
        ["--format", BLOG_FORMAT, "--exception-prefix", BLOG_PREFIX],
        ["--rally-conf", str(_fuzz_home() / "rally.conf")],
        ["--rally-conf", str(RALLY / "c04-failures" / "rally.conf")],
    ]


def check_parse(data: bytes, options: list[str]) -> None:
    """Parse `data` over a good store: a clean refusal (one line, non-zero exit, the store
    untouched, nothing left beside it) or a complete store with every line accounted for."""
    with tempfile.TemporaryDirectory(prefix="threadlog-fuzz-") as tmp:
        log = write(Path(tmp) / "fuzz.log", data)
        store = Path(tmp) / "s"
        shutil.copytree(_fuzz_home() / "good", store)
        before = snapshot(store)
        result = run("parse", "--json", log, "--store", store, *options)
        if result.exit_code != 0:
            assert_clean_error(result)
            assert snapshot(store) == before
        else:
            assert "Traceback" not in result.stderr
            summary = json.loads(result.stdout)
            assert_counts(summary)
            assert summary["lines"] == true_line_count(data)
            assert_complete_store(store, summary)
        assert sorted(os.listdir(tmp)) == ["fuzz.log", "s"]  # nothing half-written beside it


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_logs(), fmt=st.sampled_from(FUZZ_FORMATS))
def test_fuzz_ingest(data: bytes, fmt: str) -> None:
    """Any bytes, with a detected or an explicit format, parse with every line counted once or raise ThreadlogError."""
    check_ingest(data, None)
    check_ingest(data, fmt)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_logs(), which=st.integers(0, 6))
def test_fuzz_parse_over_a_store(data: bytes, which: int) -> None:
    """Any bytes, with every kind of format option, over a good store: refused cleanly with the
    store untouched, or parsed with every line accounted for."""
    check_parse(data, fuzz_option_sets()[which])


def check_ingest(data: bytes, fmt: str | None) -> None:
    """Parse `data` into a fresh store: counts add up, or a one-line ThreadlogError and nothing written."""
    with tempfile.TemporaryDirectory(prefix="threadlog-fuzz-") as tmp:
        log = write(Path(tmp) / "fuzz.log", data)
        options = IngestOptions(grammar=None if fmt is None else grammar_from_format(fmt), store=str(Path(tmp) / "s"))
        summary, message = None, ""
        try:
            summary = ingest([str(log)], options)
        except ThreadlogError as exc:
            message = str(exc)
        if summary is None:
            assert "\n" not in message
            assert sorted(os.listdir(tmp)) == ["fuzz.log"]  # nothing half-written
            return
        assert_counts(summary)
        assert summary["lines"] == true_line_count(data)
        records = pl.read_parquet(Path(tmp) / "s" / "records.parquet")
        assert records.height == summary["records"]
        assert sorted(os.listdir(tmp)) == ["fuzz.log", "s"]


@pytest.mark.parametrize("tail", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\n", b"\xef\xbb\xbf\r\n\n"])
def test_last_line_a_lone_byte_order_mark(tail: bytes) -> None:
    """A chunk that is only a byte-order mark (the CSV reader drops it and sees no data) is still a line."""
    data = lines_of(C05)[0] + b"\n" + tail
    check_ingest(data, None)
    check_ingest(data, FULL_FORMAT)
    check_ingest(tail, FULL_FORMAT)


def test_stdin_and_file_agree_on_hostile_bytes(tmp_path: Path) -> None:
    """The same bytes with CRLF, NUL, a lone CR and invalid UTF-8 count alike from stdin and from a file."""
    lines = list(lines_of(C05)[:100])
    lines[10] += b"\x00\r\xff"
    data = b"\r\n".join(lines)
    from_file = parse_json(write(tmp_path / "f.log", data), "--store", tmp_path / "a")
    result = run("parse", "--json", "-", "--store", tmp_path / "b", stdin=data)
    assert_ok(result)
    from_stdin = json.loads(result.stdout)
    assert from_file["lines"] == 100
    for key in ("lines", "records", "unparsed_lines", "replaced_lines", "lines_in_records"):
        assert from_file[key] == from_stdin[key], key


@pytest.mark.parametrize("start", [b"\x1f\x8b", b"x\x01", b"x^", b"x\x9c", b"x\xda", b"(\xb5/\xfd"])
def test_a_line_that_begins_like_compressed_data(start: bytes) -> None:
    """A chunk whose first line begins with gzip, zlib or zstd magic is text, not data for the
    CSV reader to decompress (a fuzzed second line began with gzip's magic and crashed the parse)."""
    line = lines_of(C05)[0]
    data = line + b"\n" + start + b"y.api [-] hello\n" + line + b"\n"
    check_ingest(data, None)
    check_ingest(data, FULL_FORMAT)
    text, _ = split_lines(start + b"abc\nnext\n")
    assert text.len() == 2
    assert text[1] == "next"
