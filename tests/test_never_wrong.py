"""Never silently wrong: a wrong format, a pasted oslo format, rotated logs in glob order, oslo
context brackets, odd file names, export modes, a replaced store and a killed parse each end in
a right answer or one plain line, never in a wrong answer with exit status 0."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from tests.conftest import RALLY, assert_clean_error, assert_ok, rally_log
from threadlog.cli import app
from threadlog.formats import compile_format
from threadlog.ingest import IngestOptions, ingest
from threadlog.store import Store

C07 = rally_log("c07-multi-workload", "thread")
C07_PLAIN = RALLY / "c07-multi-workload" / "input-thread.log"
C07_LINES = 2660
C07_ITERATIONS = {"total": 821, "ok": 766, "error": 55, "unfinished": 0}
OSLO_FORMAT = "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s [-] %(instance)s%(message)s"
OSLO_PREFIX = "%(asctime)s.%(msecs)03d %(process)d ERROR %(name)s %(instance)s"
RUNNER = CliRunner(
    env={"THREADLOG_STORE": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None, "COLUMNS": None}
)


def run(*args: object) -> Result:
    """Invoke the CLI in-process with the given arguments."""
    return RUNNER.invoke(app, [str(a) for a in args])


def parse_json(*args: object) -> dict[str, Any]:
    """`threadlog parse --json ARGS`, which must succeed; its summary."""
    result = run("parse", "--json", *args)
    assert_ok(result)
    return json.loads(result.stdout)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def accounted(summary: dict[str, Any]) -> None:
    """Every line read is in a record or counted as unparsed."""
    assert summary["lines"] == summary["lines_in_records"] + summary["unparsed_lines"]


def pasted(message: str, option: str) -> list[str]:
    """The arguments an error message suggests for `option`, as a shell would split them
    (its value a quoted string or a word)."""
    if option == "--allow-unparsed":
        assert option in message
        return [option]
    m = re.search(re.escape(option) + r" ('[^']*'|[\w.-]+)", message)
    assert m is not None, message
    return [option, *shlex.split(m[1])]


@pytest.fixture
def c07_store(tmp_path: Path) -> Path:
    """A good store of the c07 log."""
    store = tmp_path / "store"
    summary = parse_json(C07, "--store", store)
    assert summary["iterations"] == C07_ITERATIONS
    return store


# -- 1. a format that fits most lines, or the parse is refused --------------------------------


C07_CONF = RALLY / "c07-multi-workload" / "rally.conf"  # its format has %(threadName)s, which the log lacks


@pytest.mark.parametrize("wrong", [["--preset", "common"], ["--rally-conf", C07_CONF]])
def test_wrong_format_is_refused_and_keeps_the_store(c07_store: Path, wrong: list[object]) -> None:
    """A format that leaves most lines unparsed fails: the old store stays, the message says how
    much fitted, shows the first line that did not, and names the preset that reads it."""
    before = snapshot(c07_store)
    result = run("parse", C07, "--store", c07_store, *wrong)
    line = assert_clean_error(result, f"only 0 of {C07_LINES:,} lines", "input-thread.log.gz:1", "--allow-unparsed")
    assert "2026-11-25 23:40:44.235 22767 139809068706688 RALLYDEBUG rally.api [-]" in line
    assert snapshot(c07_store) == before
    its = run("iterations", "--store", c07_store, "--limit", "1")
    assert_ok(its)
    assert "count 821" in its.stderr  # piped: the footer goes to stderr
    # the suggestion, pasted, works
    summary = parse_json(C07, "--store", c07_store, *pasted(line, "--preset"))
    assert summary["unparsed_lines"] == 0
    assert summary["iterations"] == C07_ITERATIONS


def test_allow_unparsed_stores_the_parse(tmp_path: Path) -> None:
    """--allow-unparsed, as the refusal suggests, stores a parse that fits nothing."""
    result = run("parse", C07, "--store", tmp_path / "s", "--preset", "common")
    line = assert_clean_error(result, "only 0 of")
    summary = parse_json(C07, "--store", tmp_path / "s", "--preset", "common", *pasted(line, "--allow-unparsed"))
    assert summary["unparsed_lines"] == summary["lines"] == C07_LINES


def test_a_few_foreign_lines_still_parse(tmp_path: Path) -> None:
    """A real log with some lines no format fits (a banner, a shell's noise) parses, those
    lines counted as unparsed."""
    foreign = [f"+ echo step {i} of the deployment script" for i in range(40)]
    log = tmp_path / "rally.log"
    log.write_text("\n".join(foreign) + "\n" + C07_PLAIN.read_text())
    summary = parse_json(log, "--store", tmp_path / "s")
    assert summary["unparsed_lines"] == 40
    assert summary["iterations"] == C07_ITERATIONS
    accounted(summary)


def test_more_than_half_unparsed_is_refused_at_the_boundary(tmp_path: Path) -> None:
    """Exactly half unparsed still parses; one line more is refused."""
    header = "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [-] hello {}\n"
    for headers, refused in ((5, False), (4, True)):
        log = tmp_path / f"half-{headers}.log"
        log.write_text("".join(f"noise {i}\n" for i in range(5)) + "".join(header.format(i) for i in range(headers)))
        result = run("parse", log, "--store", tmp_path / f"s{headers}")
        if refused:
            assert_clean_error(result, "only 4 of 9 lines", f"{log}:1", "'noise 0'")
        else:
            assert_ok(result)


def test_refusal_names_the_format_given(tmp_path: Path) -> None:
    """The refusal says which format did not fit: the --format given, a rally.conf's, a preset."""
    line = assert_clean_error(run("parse", C07, "--store", tmp_path / "s", "--format", "%(levelname)s: %(message)s"))
    assert "fit the --format given" in line


def test_format_without_message_parses(tmp_path: Path) -> None:
    """A format with no %(message)s (logging allows it) gives records with empty text, and
    continuation lines still join them."""
    log = tmp_path / "stamps.log"
    log.write_text("2026-11-25 23:40:44,235\n  more\n2026-11-25 23:40:45,235\n")
    summary = parse_json(log, "--store", tmp_path / "s", "--format", "%(asctime)s")
    assert (summary["records"], summary["unparsed_lines"], summary["multiline_records"]) == (2, 0, 1)
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["message"].to_list() == ["\n  more", ""]


# -- 2. oslo format strings pasted without --datefmt ------------------------------------------


def test_pasted_oslo_format_reads_an_oslo_log(tmp_path: Path) -> None:
    """oslo's format string and exception prefix, pasted as they are in its configuration, read
    the oslo log (asctime before .%(msecs)03d is logging's default without milliseconds)."""
    summary = parse_json(C07, "--store", tmp_path / "s", "--format", OSLO_FORMAT, "--exception-prefix", OSLO_PREFIX)
    assert summary["unparsed_lines"] == 0
    assert summary["iterations"] == C07_ITERATIONS
    assert summary["first_ts"].startswith("2026-11-25 23:40:44.235")
    detected = pl.read_parquet(parse_case_store(tmp_path / "d"), columns=["line", "line_end", "ts", "message"])
    given = pl.read_parquet(tmp_path / "s" / "records.parquet", columns=["line", "line_end", "ts", "message"])
    assert given.equals(detected)


def parse_case_store(store: Path) -> Path:
    """The records table of c07 parsed with its detected format."""
    ingest([str(C07)], IngestOptions(store=str(store)))
    return store / "records.parquet"


def test_exception_prefix_alone_reads_asctime_like_the_header(tmp_path: Path) -> None:
    """A pasted --exception-prefix with .%(msecs)03d joins oslo's traceback lines to their record."""
    pattern = compile_format(OSLO_PREFIX, exception_prefix=True)
    assert pattern.datefmt == "%Y-%m-%d %H:%M:%S"
    summary = parse_json(
        C07, "--store", tmp_path / "s", "--format", OSLO_FORMAT.replace(" [-]", ""), "--exception-prefix", OSLO_PREFIX
    )
    multi = pl.read_parquet(tmp_path / "s" / "records.parquet").filter(pl.col("line_end") > pl.col("line"))
    assert summary["multiline_records"] == multi.height > 0
    assert multi["message"].str.contains("Traceback").any()


def _logging_log(path: Path, fmt: str) -> list[logging.LogRecord]:
    """Write records with Python's own logging and `fmt` (default datefmt); return the records."""
    logger = logging.getLogger(f"threadlog-test-{path.name}")
    logger.propagate = False
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    try:
        for i in range(20):
            logger.info("message %d", i)
        logger.warning("last one")
    finally:
        logger.removeHandler(handler)
        handler.close()
    return kept


def test_no_known_format_suggestion_works_when_pasted(tmp_path: Path) -> None:
    """The --format that the 'no known format' error suggests reads a log Python's logging wrote
    with it, and an oslo log too."""
    log = tmp_path / "app.log"
    kept = _logging_log(log, "%(asctime)s %(process)d %(thread)d %(levelname)s %(name)s %(message)s")
    line = assert_clean_error(run("parse", log, "--store", tmp_path / "s"), "no known log format")
    option = pasted(line, "--format")
    summary = parse_json(log, "--store", tmp_path / "s", *option)
    assert summary["unparsed_lines"] == 0
    assert summary["records"] == len(kept)
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    # logging's ,mmm is its record's msecs, int((created - int(created)) * 1000): computed from
    # created*1000 instead, float rounding gives a millisecond more now and then
    expect = [int(r.msecs) for r in kept]
    assert [t.microsecond // 1000 for t in rec["ts"]] == expect
    assert rec["pid"].to_list() == [os.getpid()] * len(kept)
    oslo = parse_json(C07, "--store", tmp_path / "o", *option)
    assert oslo["unparsed_lines"] == 0
    assert oslo["first_ts"].startswith("2026-11-25 23:40:44.235")


def test_asctime_then_msecs_reads_what_logging_writes(tmp_path: Path) -> None:
    """Python's logging without a datefmt writes ",mmm" into asctime even before .%(msecs)03d:
    both that and oslo's form parse, with the time of each record."""
    log = tmp_path / "app.log"
    fmt = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s %(message)s"
    kept = _logging_log(log, fmt)
    summary = parse_json(log, "--store", tmp_path / "s", "--format", fmt)
    assert (summary["records"], summary["unparsed_lines"]) == (len(kept), 0)
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert [t.microsecond // 1000 for t in rec["ts"]] == [int(r.msecs) for r in kept]


def test_wrong_format_suggestion_paths_are_one_line(tmp_path: Path) -> None:
    """The refusal's hint without a fitting preset names --format and --rally-conf."""
    log = tmp_path / "noise.log"
    log.write_text("".join(f"<{i}> kernel: something\n" for i in range(10)))
    line = assert_clean_error(run("parse", log, "--store", tmp_path / "s", "--format", OSLO_FORMAT), "only 0 of 10")
    assert "--format" in line
    assert "--rally-conf" in line


# -- 3. rotated logs in shell-glob order ------------------------------------------------------


def _split_c07(folder: Path, names: list[str]) -> list[Path]:
    """c07's log cut at record starts into len(names) files, oldest (names[0]) first; .gz names compressed."""
    lines = C07_PLAIN.read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"\d{4}-", line)]
    cuts = [0] + [starts[len(starts) * k // len(names)] for k in range(1, len(names))] + [len(lines)]
    paths = []
    for name, lo, hi in zip(names, cuts, cuts[1:], strict=False):
        path = folder / name
        data = "".join(lines[lo:hi]).encode()
        if name.endswith(".gz"):
            import gzip  # noqa: PLC0415

            data = gzip.compress(data)
        path.write_bytes(data)
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    "names",
    [["rally.log.1", "rally.log"], ["rally.log.2.gz", "rally.log.1", "rally.log"]],
    ids=["two", "three-with-gz"],
)
def test_rotated_set_in_glob_order_is_read_oldest_first(tmp_path: Path, names: list[str]) -> None:
    """`threadlog parse rally.log*` (newest first) gives the same iterations as oldest first,
    and each file keeps its own source and line numbers."""
    oldest_first = _split_c07(tmp_path, names)
    glob_order = sorted(oldest_first, key=lambda p: p.name)  # what the shell expands rally.log* to
    assert glob_order != oldest_first
    summary = parse_json(*glob_order, "--store", tmp_path / "s")
    assert summary["iterations"] == C07_ITERATIONS
    assert summary["files"] == [str(p) for p in oldest_first]
    assert any("read oldest first" in note for note in summary["notes"])
    assert summary["warnings"] == []
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["source"].unique(maintain_order=True).to_list() == [str(p) for p in oldest_first]
    per_file = rec.group_by("source").agg(pl.col("line").min().alias("first"), pl.col("line_end").max().alias("last"))
    for path in oldest_first:
        row = per_file.filter(pl.col("source") == str(path)).row(0, named=True)
        text = path.read_bytes()
        if path.name.endswith(".gz"):
            import gzip  # noqa: PLC0415

            text = gzip.decompress(text)
        assert (row["first"], row["last"]) == (1, text.count(b"\n"))


def test_rotation_suffix_orders_files_with_equal_first_times(tmp_path: Path) -> None:
    """Files whose first records share a time are ordered by their rotation suffix."""
    line = "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [-] {}\n"
    for name in ("app.log", "app.log.1", "app.log.2.gz"):
        (tmp_path / name).write_text(line.format(name) * 3)
    logs = [tmp_path / name for name in ("app.log", "app.log.1", "app.log.2.gz")]
    summary = parse_json(*logs, "--store", tmp_path / "s")
    assert [Path(f).name for f in summary["files"]] == ["app.log.2.gz", "app.log.1", "app.log"]


def test_rotation_age_orders_numbered_and_dated_suffixes() -> None:
    """Older rotations sort first: dated by date, numbered from the highest, the live file last."""
    from threadlog.rotation import rotation_age  # noqa: PLC0415 (new here: the tests also run against older code)

    names = ["app.log", "app.log.1", "app.log.10.gz", "app.log.2.gz"]
    assert sorted(names, key=rotation_age) == ["app.log.10.gz", "app.log.2.gz", "app.log.1", "app.log"]
    dated = ["nova.log", "nova.log-20151125", "nova.log-20151124.gz"]
    assert sorted(dated, key=rotation_age) == ["nova.log-20151124.gz", "nova.log-20151125", "nova.log"]


def test_overlapping_files_warn(tmp_path: Path) -> None:
    """When one file's records run past the next file's first record, the parse warns."""
    line = "2026-11-25 23:40:{:02d}.000 22767 139809068706688 INFO rally.api [-] tick\n"
    (tmp_path / "a.log").write_text("".join(line.format(s) for s in (1, 5, 9)))
    (tmp_path / "b.log").write_text("".join(line.format(s) for s in (3, 7)))
    result = run("parse", tmp_path / "a.log", tmp_path / "b.log", "--store", tmp_path / "s")
    assert_ok(result)
    assert "warning: time runs backwards from" in result.stderr
    assert "a.log (last record 2026-11-25 23:40:09" in result.stderr


# -- 4. oslo context brackets, both ways ------------------------------------------------------

CONTEXT_LINES = [
    "2026-11-25 23:40:44.235 22767 INFO rally.api [admin demo - - -] with context",
    "2026-11-25 23:40:44.236 22767 INFO rally.api [-] without context",
]


def _conf(folder: Path, context_bracket: str) -> Path:
    conf = folder / "rally.conf"
    head = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s "
    conf.write_text(
        textwrap.dedent(f"""\
        [DEFAULT]
        logging_context_format_string = {head}{context_bracket} %(instance)s%(message)s
        logging_default_format_string = {head}[-] %(instance)s%(message)s
        """)
    )
    return conf


@pytest.mark.parametrize(
    ("bracket", "context_line", "fields", "no_context"),
    [
        ("[%(user_identity)s %(request_id)s]", "[admin demo - - - req-1]", {"request_id": "req-1"}, None),
        ("[%(request_id)s %(user_identity)s]", "[req-1 admin demo - - -]", {"request_id": "req-1"}, None),
        (
            "[%(global_request_id)s %(request_id)s %(user_identity)s]",
            "[req-g req-1 admin demo - - -]",
            {"request_id": "req-1", "global_request_id": "req-g"},
            None,
        ),
        # a lone field can hold "-" itself: it keeps the text
        ("[%(request_id)s]", "[req-1]", {"request_id": "req-1"}, "-"),
        ("[%(user_identity)s]", "[admin demo - - -]", {"user_identity": "admin demo - - -"}, "-"),
    ],
)
def test_rally_conf_context_brackets_read_both_forms(
    tmp_path: Path, bracket: str, context_line: str, fields: dict[str, str], no_context: str | None
) -> None:
    """Every context bracket a rally.conf can hold reads lines with a context and oslo's "[-]"."""
    log = tmp_path / "rally.log"
    text = "2026-11-25 23:40:44.23{} 22767 INFO rally.api {} line {}\n"
    log.write_text(text.format(5, context_line, 1) + text.format(6, "[-]", 2) + text.format(7, context_line, 3))
    summary = parse_json(log, "--store", tmp_path / "s", "--rally-conf", _conf(tmp_path, bracket))
    assert (summary["records"], summary["unparsed_lines"], summary["multiline_records"]) == (3, 0, 0)
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["message"].to_list() == ["line 1", "line 2", "line 3"]
    for column, value in fields.items():
        assert rec[column].to_list() == [value, no_context, value]


def test_default_format_reads_context_lines(tmp_path: Path) -> None:
    """oslo's default format (its "[-]"), given with --format, reads lines that have a context
    too, the bracket kept in `context`."""
    log = tmp_path / "rally.log"
    log.write_text("\n".join(CONTEXT_LINES) + "\n")
    fmt = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(instance)s%(message)s"
    summary = parse_json(log, "--store", tmp_path / "s", "--format", fmt)
    assert (summary["records"], summary["multiline_records"]) == (2, 0)
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["context"].to_list() == ["admin demo - - -", None]
    assert rec["message"].to_list() == ["with context", "without context"]


# -- 5. error text is not markup --------------------------------------------------------------


def test_error_text_is_not_read_as_markup(tmp_path: Path) -> None:
    """A file name with brackets is printed as it is."""
    line = assert_clean_error(run("parse", "logs/run[old].log", "--store", tmp_path / "s"), "no such file")
    assert "logs/run[old].log" in line


def test_summary_shows_bracketed_file_names(tmp_path: Path) -> None:
    """The summary table prints a bracketed file name whole."""
    log = tmp_path / "run[old].log"
    log.write_bytes(C07_PLAIN.read_bytes())
    result = run("parse", log, "--store", tmp_path / "s")
    assert_ok(result)
    assert "run[old].log" in result.stderr


# -- 6. exported files respect the umask ------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_export_respects_the_umask(c07_store: Path, tmp_path: Path, mask: int) -> None:
    """An exported file gets the mode `cp` would give a new file: 0666 less the umask."""
    old = os.umask(mask)
    try:
        for args in (["records", "--out", tmp_path / "r.csv"], ["trace", "--out", tmp_path / "t.json"]):
            assert_ok(run("export", *args, "--store", c07_store))
        timeline = tmp_path / "it.parquet"
        assert_ok(run("timeline", "--iteration", "1", "--workload", "2", "--out", timeline, "--store", c07_store))
    finally:
        os.umask(old)
    for name in ("r.csv", "t.json", "it.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name


# -- 7. a parse that replaces another log's store says so -------------------------------------


def test_replacing_another_logs_store_is_said(c07_store: Path) -> None:
    """Parsing a second log into a store says whose store it replaced and when that was parsed."""
    parsed_at = Store.open(c07_store).meta["parsed_at"]
    other = rally_log("c05-serial", "thread")
    result = run("parse", other, "--store", c07_store)
    assert_ok(result)
    assert f"note: replaced the store of {C07}, parsed {parsed_at}" in result.stderr
    summary = parse_json(other, "--store", c07_store)  # the same log again: nothing to say
    assert summary["notes"] == []


# -- 8. what a killed parse left is removed, what a running one writes is not ----------------

KILLED_PARSE = """
import os, signal, sys
from threadlog.ingest import IngestOptions, ingest

def die(done):
    print(done, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

ingest([sys.argv[1]], IngestOptions(store=sys.argv[2], chunk_bytes=64 << 10, progress=die))
"""

RUNNING_PARSE = """
import sys, time
from threadlog.ingest import IngestOptions, ingest

def wait(done):
    print("running", flush=True)
    time.sleep(600)

ingest([sys.argv[1]], IngestOptions(store=sys.argv[2], chunk_bytes=64 << 10, progress=wait))
"""


def _leftovers(store: Path) -> list[Path]:
    return sorted(store.parent.glob(f".{store.name}.new-*"))


def test_killed_parse_leftovers_are_removed_by_the_next(c07_store: Path) -> None:
    """kill -9 during a parse leaves its half-written store; the next parse removes it."""
    before = snapshot(c07_store)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PARSE, str(C07_PLAIN), str(c07_store)], capture_output=True, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert snapshot(c07_store) == before
    left = _leftovers(c07_store)
    assert len(left) == 1
    assert any(left[0].iterdir())  # the partial parts
    parse_json(C07, "--store", c07_store)
    assert _leftovers(c07_store) == []


def test_running_parse_is_left_alone(c07_store: Path) -> None:
    """A parse into the same store while another one runs leaves the running one's files be."""
    child = subprocess.Popen(
        [sys.executable, "-c", RUNNING_PARSE, str(C07_PLAIN), str(c07_store)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "running"
        running = _leftovers(c07_store)
        assert len(running) == 1
        parse_json(C07, "--store", c07_store)
        assert _leftovers(c07_store) == running
        assert any(running[0].iterdir())
    finally:
        child.kill()
        child.communicate()
    parse_json(C07, "--store", c07_store)
    assert _leftovers(c07_store) == []


def test_timeline_shows_bracketed_file_and_logger_names(tmp_path: Path) -> None:
    """A timeline's record lines print the file and logger names as text, not as markup."""
    log = tmp_path / "run[old].log"
    log.write_text(
        "2026-11-25 23:40:44.235 100 1 INFO app[red].x [-] start\n"
        "2026-11-25 23:40:44.236 100 1 WARNING app[red].x [-] careful [x]\n"
    )
    fmt = "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s [-] %(message)s"
    assert_ok(run("parse", log, "--format", fmt, "--store", tmp_path / "s"))
    thread = pl.read_parquet(tmp_path / "s" / "records.parquet")["thread_uid"][0]
    shown = run("timeline", "--thread", thread, "--store", tmp_path / "s")
    assert_ok(shown)
    assert "app[red].x" in shown.stdout
    assert "careful [x]" in shown.stdout
    assert "run[old].log:1" in shown.stdout
    assert "run[old].log:2" in shown.stdout
