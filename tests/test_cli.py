"""The `threadlog` command: help, parse summaries, clean errors, and the commands that read a store.

Everything runs through `typer.testing.CliRunner`, whose result keeps stdout and stderr apart
(`result.stdout`, `result.stderr`), so the tests also check that data goes to stdout and
messages to stderr.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from tests.conftest import OPENSTACK, RALLY, assert_clean_error, assert_ok, rally_log, truth
from threadlog.cli import app

C07 = "c07-multi-workload"
C07_PLAIN = RALLY / C07 / "input-thread.log"
TASK07 = "af5e63fc-1e6f-473a-8c62-b48136499c1b"
NO_STORE_HINT = "run `threadlog parse LOG` first"
# Keep the caller's environment out: no default store, no forced terminal or colours.
RUNNER = CliRunner(
    env={"THREADLOG_STORE": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None, "COLUMNS": None}
)


def run(*args: object, stdin: str | bytes | None = None) -> Result:
    """Invoke the CLI in-process with the given arguments."""
    return RUNNER.invoke(app, [str(a) for a in args], input=stdin)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: its bytes and mtime (ns)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def parse_json(*args: object, stdin: str | None = None) -> dict:
    """Run `threadlog parse --json ARGS` and return the summary it printed on stdout."""
    result = run("parse", "--json", *args, stdin=stdin)
    assert_ok(result)
    return json.loads(result.stdout)


def table_rows(text: str) -> list[list[str]]:
    """The rows of a listing printed to a pipe: tab-separated cells under a header line."""
    return [line.split("\t") for line in text.splitlines()[1:]]


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "",
        "parse",
        "formats",
        "threads",
        "iterations",
        "timeline",
        "export",
    ],
)
def test_help_has_example(command: str) -> None:
    """`threadlog [COMMAND] --help` exits 0 and shows an Example."""
    result = run(*([command] if command else []), "--help")
    assert_ok(result)
    assert "Example" in result.stdout


def test_python_dash_m_help() -> None:
    """`python -m threadlog --help` runs the CLI and lists its commands."""
    proc = subprocess.run(
        [sys.executable, "-m", "threadlog", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("parse", "formats", "threads", "iterations", "timeline", "export"):
        assert command in proc.stdout


def test_python_dash_m_error_has_no_traceback(tmp_path: Path) -> None:
    """A user error in a real process prints one line on stderr, no traceback, exit 1."""
    proc = subprocess.run(
        [sys.executable, "-m", "threadlog", "parse", str(tmp_path / "missing.log"), "--store", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no such file" in proc.stderr


def test_formats_lists_presets() -> None:
    """`threadlog formats` prints the built-in presets on stdout."""
    result = run("formats")
    assert_ok(result)
    assert "oslo-thread" in result.stdout


# -- parse summary ----------------------------------------------------------------------------


def test_parse_json_summary_of_rally_log(tmp_path: Path) -> None:
    """`parse --json` prints the summary as JSON on stdout with the counts of the c07 log."""
    result = run("parse", "--json", rally_log(C07, "thread"), "--store", tmp_path / "store")
    assert_ok(result)
    assert result.stderr == ""
    summary = json.loads(result.stdout)
    assert summary["lines"] == summary["lines_in_records"] + summary["unparsed_lines"]
    assert summary["lines"] == 2660
    assert summary["records"] == 1880
    assert summary["unparsed_lines"] == 0
    assert summary["logical_threads"] == 761
    assert summary["iterations"]["total"] == 821
    assert summary["iterations"]["error"] == 55
    assert summary["format"]["detected"] is True
    assert (tmp_path / "store" / "records.parquet").is_file()


def test_parse_counts_lines_before_the_first_record_as_unparsed(tmp_path: Path) -> None:
    """Lines before the first record are unparsed, and lines = lines_in_records + unparsed."""
    log = tmp_path / "junk.log"
    head = C07_PLAIN.read_text().splitlines(keepends=True)[:50]
    log.write_text("junk one\njunk two\n" + "".join(head))
    summary = parse_json(log, "--store", tmp_path / "store")
    assert summary["lines"] == 52
    assert summary["unparsed_lines"] == 2
    assert summary["lines"] == summary["lines_in_records"] + summary["unparsed_lines"]


def test_parse_table_goes_to_stderr(tmp_path: Path) -> None:
    """Without --json the summary is a table for people on stderr and stdout stays empty."""
    result = run("parse", rally_log(C07, "thread"), "--store", tmp_path / "store")
    assert_ok(result)
    assert result.stdout == ""
    assert "1,880" in result.stderr
    assert "oslo-thread (detected)" in result.stderr


def test_parse_stdin(tmp_path: Path) -> None:
    """`threadlog parse -` reads the log from standard input."""
    text = "".join(C07_PLAIN.read_text().splitlines(keepends=True)[:50])
    store = tmp_path / "store"
    summary = parse_json("-", "--store", store, stdin=text)
    assert summary["files"] == ["-"]
    assert summary["lines"] == 50
    assert summary["records"] == 22
    # stdin has no file to go stale: reading the store warns about nothing
    result = run("threads", "--store", store)
    assert_ok(result)
    assert "warning" not in result.stderr


def test_parse_only_one_format_option(tmp_path: Path) -> None:
    """--format together with --preset is refused with one clear line."""
    result = run("parse", C07_PLAIN, "--format", "%(message)s", "--preset", "oslo", "--store", tmp_path / "store")
    assert_clean_error(result, "only one of")


# -- bad input --------------------------------------------------------------------------------


def _missing(tmp: Path) -> Path:
    return tmp / "missing.log"


def _directory(tmp: Path) -> Path:
    folder = tmp / "logs"
    folder.mkdir()
    (folder / "a.log").write_text("x\n")
    return folder


def _binary(tmp: Path) -> Path:
    path = tmp / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(1234).randbytes(4096))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.log"
    path.write_bytes(b"")
    return path


def _no_known_format(tmp: Path) -> Path:
    return OPENSTACK / "var_log_messages"


def _truncated_gz(tmp: Path) -> Path:
    data = rally_log(C07, "thread").read_bytes()
    path = tmp / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


BAD_INPUTS = {
    "missing": (_missing, "no such file"),
    "directory": (_directory, "is a directory"),
    "binary": (_binary, "binary"),
    "empty": (_empty, "empty"),
    "no-known-format": (_no_known_format, "--format"),
    "truncated-gz": (_truncated_gz, "truncated"),
}


@pytest.fixture
def good_store(tmp_path: Path) -> Path:
    """A store parsed from a real log, in a folder of its own."""
    store = tmp_path / "out" / "store"
    parse_json(C07_PLAIN, "--store", store)
    return store


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_fails_cleanly_and_keeps_store(kind: str, tmp_path: Path, good_store: Path) -> None:
    """A bad log fails with one line on stderr and leaves the previous store byte-identical."""
    make, words = BAD_INPUTS[kind]
    bad = make(tmp_path)
    before = snapshot(good_store)
    beside = sorted(os.listdir(good_store.parent))
    result = run("parse", bad, "--store", good_store)
    assert_clean_error(result, words)
    assert result.stdout == ""
    assert snapshot(good_store) == before
    assert sorted(os.listdir(good_store.parent)) == beside  # no half-written store left over


def test_explicit_format_keeps_unmatched_lines_as_unparsed(tmp_path: Path) -> None:
    """With an explicit --format and --allow-unparsed, syslog lines that do not match become unparsed records."""
    args = ["--store", tmp_path / "store", "--format", "%(asctime)s %(levelname)s %(message)s"]
    assert_clean_error(run("parse", OPENSTACK / "var_log_messages", *args), "only 0 of 9 lines", "--allow-unparsed")
    result = run("parse", "--json", OPENSTACK / "var_log_messages", *args, "--allow-unparsed")
    assert_ok(result)
    summary = json.loads(result.stdout)
    assert summary["lines"] == 9
    assert summary["unparsed_lines"] == 9


def test_plain_text_named_gz_parses(tmp_path: Path) -> None:
    """A plain-text log named .gz parses: gzip is detected by magic bytes, not by name."""
    fake = tmp_path / "plain.log.gz"
    shutil.copyfile(C07_PLAIN, fake)
    summary = parse_json(fake, "--store", tmp_path / "store")
    assert summary["lines"] == 2660
    assert summary["records"] == 1880


def test_invalid_utf8_is_replaced_and_counted(tmp_path: Path) -> None:
    """Invalid UTF-8 inside lines is replaced by U+FFFD and counted in replaced_lines."""
    lines = C07_PLAIN.read_bytes().split(b"\n")[:50]
    lines[3] += b" bad \xff\xfe bytes"
    lines[7] += b" \xc3("
    log = tmp_path / "bad-utf8.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    store = tmp_path / "store"
    summary = parse_json(log, "--store", store)
    assert summary["lines"] == 50
    assert summary["replaced_lines"] == 2
    messages = pl.read_parquet(store / "records.parquet")["message"]
    assert int(messages.str.contains("\ufffd", literal=True).sum()) == 2


def test_store_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    """A --store folder holding unrelated files is refused and left untouched."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own notes\n")
    before = snapshot(folder)
    beside = sorted(os.listdir(tmp_path))
    result = run("parse", C07_PLAIN, "--store", folder)
    assert_clean_error(result, "not a threadlog store")
    assert snapshot(folder) == before
    assert sorted(os.listdir(folder)) == ["notes.txt"]
    assert sorted(os.listdir(tmp_path)) == beside


def test_store_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """A --store naming an existing regular file is refused and the file left untouched."""
    path = tmp_path / "store"
    path.write_text("not a folder\n")
    result = run("parse", C07_PLAIN, "--store", path)
    assert_clean_error(result, "not a threadlog store")
    assert path.read_text() == "not a folder\n"


# -- reading the store ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["threads"],
        ["iterations"],
        ["timeline", "--iteration", "1"],
        ["export", "records", "--out", "x.csv"],
        ["export", "trace", "--out", "x.json"],
        ["report", "--out", "x.html"],
    ],
    ids=["threads", "iterations", "timeline", "export-records", "export-trace", "report"],
)
def test_reading_without_store(args: list[str], tmp_path: Path) -> None:
    """Commands that read the store say to run `threadlog parse LOG` first when there is none."""
    result = run(*args, "--store", tmp_path / "nothing-here")
    assert_clean_error(result, NO_STORE_HINT)
    assert not (tmp_path / "nothing-here").exists()


def test_changed_source_warns(tmp_path: Path) -> None:
    """`threadlog iterations` warns on stderr when a parsed log changed since."""
    log = tmp_path / "run.log"
    shutil.copyfile(C07_PLAIN, log)
    store = tmp_path / "store"
    parse_json(log, "--store", store)
    quiet = run("iterations", "--store", store)
    assert_ok(quiet)
    assert "changed" not in quiet.stderr
    with log.open("a") as fh:
        fh.write(C07_PLAIN.read_text().splitlines()[-1] + "\n")
    result = run("iterations", "--store", store)
    assert_ok(result)
    assert re.search(r"warning:.*changed since parsed: .*run\.log", result.stderr)


def test_threads_recycled(case_store) -> None:
    """`threads --recycled` lists exactly the (pid, ident) pairs that stood for several threads."""
    store, _ = case_store(C07, "thread")
    result = run("threads", "--recycled", "--limit", "0", "--store", store)
    assert_ok(result)
    shown = {(int(r[0]), int(r[1])): int(r[2]) for r in table_rows(result.stdout)}
    per_ident = (
        pl.read_parquet(store / "threads.parquet")
        .filter(pl.col("thread").is_not_null())
        .group_by("pid", "thread")
        .len()
    )
    expected = {(pid, thread): n for pid, thread, n in per_ident.filter(pl.col("len") > 1).iter_rows()}
    assert shown == expected
    assert all(n > 1 for n in shown.values())
    assert max(shown.values()) == per_ident["len"].max()
    assert result.stdout.splitlines()[0].split("\t")[:3] == ["pid", "thread", "threads"]


def test_iterations_status_error_footer(case_store) -> None:
    """`iterations --status error` lists only failed iterations and its footer counts 55 failed."""
    store, _ = case_store(C07, "thread")
    result = run("iterations", "--status", "error", "--limit", "0", "--store", store)
    assert_ok(result)
    assert "count 55" in result.stderr  # piped: the footer is for people, the rows for the pipe
    assert "failed 55" in result.stderr
    assert "ok 0" in result.stderr
    rows = table_rows(result.stdout)
    assert len(rows) == 55
    assert {r[3] for r in rows} == {"error"}


# -- timeline ---------------------------------------------------------------------------------


def test_timeline_ambiguous_iteration_lists_candidates(case_store) -> None:
    """An iteration number found in 5 workloads fails and lists how to pick each one."""
    store, _ = case_store(C07, "thread")
    result = run("timeline", "--iteration", "42", "--store", store)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "5 workloads" in result.stderr
    for workload in range(1, 6):
        assert f"--task {TASK07[:8]} --workload {workload}" in result.stderr


@pytest.mark.parametrize(("iteration", "workload"), [(42, 2), (57, 5)])
def test_timeline_records_match_truth(case_store, tmp_path: Path, iteration: int, workload: int) -> None:
    """The timeline of one iteration holds exactly the records the ground truth gives it."""
    store, _ = case_store(C07, "thread")
    t = truth(C07)
    want = sorted(
        t.filter((pl.col("kind") == "header") & (pl.col("iteration") == iteration) & (pl.col("workload") == workload))[
            "line"
        ].to_list()
    )
    assert want
    shown = run("timeline", "--iteration", iteration, "--workload", workload, "--store", store)
    assert_ok(shown)
    assert f"iteration {iteration}  task {TASK07}  workload {workload}" in shown.stdout
    assert sorted(int(n) for n in re.findall(r"input-thread\.log\.gz:(\d+)", shown.stdout)) == want
    out = tmp_path / "timeline.csv"
    result = run("timeline", "--iteration", iteration, "--workload", workload, "--out", out, "--store", store)
    assert_ok(result)
    assert result.stdout == ""
    assert sorted(pl.read_csv(out)["line"].to_list()) == want


def test_timeline_to_stdout_matches_out_file(case_store, tmp_path: Path) -> None:
    """`timeline --to csv` writes to stdout the same table that --out writes to a file."""
    store, _ = case_store(C07, "thread")
    args = ["timeline", "-i", "57", "--workload", "5", "--store", store]
    out = tmp_path / "t.csv"
    assert_ok(run(*args, "--out", out))
    piped = run(*args, "--to", "csv")
    assert_ok(piped)
    assert piped.stdout == out.read_text()


def test_timeline_out_needs_force(case_store, tmp_path: Path) -> None:
    """`timeline --out` refuses to replace an existing file without --force."""
    store, _ = case_store(C07, "thread")
    out = tmp_path / "t.csv"
    out.write_text("keep\n")
    args = ["timeline", "-i", "42", "--workload", "2", "--out", out, "--store", store]
    assert_clean_error(run(*args), "--force")
    assert out.read_text() == "keep\n"
    assert_ok(run(*args, "--force"))
    assert pl.read_csv(out).height == 2


def test_timeline_task_prefix(case_store) -> None:
    """--task takes a unique prefix of the task uuid; an unknown prefix is a clean error."""
    store, _ = case_store(C07, "thread")
    result = run("timeline", "-i", "42", "--task", TASK07[:4], "--workload", "2", "--store", store)
    assert_ok(result)
    assert f"task {TASK07}  workload 2" in result.stdout
    bad = run("timeline", "-i", "42", "--task", "ffff", "--workload", "2", "--store", store)
    assert_clean_error(bad, "no task starts with 'ffff'")


def test_timeline_level_filter(case_store, tmp_path: Path) -> None:
    """--level WARNING keeps only records at WARNING or above."""
    store, _ = case_store(C07, "thread")
    args = ["timeline", "-i", "57", "--workload", "5", "--store", store]
    everything = tmp_path / "all.csv"
    warnings = tmp_path / "warn.csv"
    assert_ok(run(*args, "--out", everything))
    assert_ok(run(*args, "--level", "WARNING", "--out", warnings))
    all_levels = pl.read_csv(everything)["level"]
    kept = pl.read_csv(warnings)["level"]
    assert set(all_levels) > set(kept)
    assert set(kept) <= {"WARNING", "WARN", "ERROR", "CRITICAL"}
    assert kept.len() == int(all_levels.is_in(["WARNING", "WARN", "ERROR", "CRITICAL"]).sum()) > 0
    shown = run(*args, "--level", "WARNING")
    assert_ok(shown)
    assert " ERROR " in shown.stdout
    assert " INFO " not in shown.stdout


def test_timeline_context_lists_overlapping_iterations(case_store) -> None:
    """--context lists the other iterations that ran in the same process during this one."""
    store, _ = case_store(C07, "thread")
    its = pl.read_parquet(store / "iterations.parquet")
    me = its.filter((pl.col("iteration") == 42) & (pl.col("workload") == 3)).row(0, named=True)
    overlapping = its.filter(
        (pl.col("pid") == me["pid"])
        & ~((pl.col("iteration") == 42) & (pl.col("workload") == 3))
        & (pl.col("start_ts") <= me["end_ts"])
        & (pl.col("end_ts") >= me["start_ts"])
    )
    assert overlapping.height > 0
    result = run("timeline", "-i", "42", "--workload", "3", "--context", "--store", store)
    assert_ok(result)
    assert f"{overlapping.height} iterations overlapped it in pid {me['pid']}" in result.stdout
    for uid in overlapping["thread_uid"]:
        assert uid in result.stdout
    plain = run("timeline", "-i", "42", "--workload", "3", "--store", store)
    assert "overlapped" not in plain.stdout


def test_timeline_context_without_timestamps_overlaps_by_lines(case_store) -> None:
    """In a log without timestamps --context finds the overlap by line span, offsets blank."""
    store, _ = case_store(C07, "blog")
    its = pl.read_parquet(store / "iterations.parquet")
    assert its["start_ts"].null_count() == its.height
    me = its.filter((pl.col("iteration") == 42) & (pl.col("workload") == 3)).row(0, named=True)
    overlapping = its.filter(
        (pl.col("pid") == me["pid"])
        & ~((pl.col("iteration") == 42) & (pl.col("workload") == 3))
        & (pl.col("first_line") <= me["last_line"])
        & (pl.col("last_line") >= me["first_line"])
    )
    assert overlapping.height > 0
    result = run("timeline", "-i", "42", "--workload", "3", "--context", "--store", store)
    assert_ok(result)
    assert f"{overlapping.height} iterations overlapped it in pid {me['pid']}" in result.stdout


def test_timeline_without_idents_shows_marker_attribution(case_store) -> None:
    """On a log without thread idents, records show how they were attributed: (marker)."""
    store, _ = case_store(C07, "default")
    result = run("timeline", "-i", "42", "--workload", "2", "--store", store)
    assert_ok(result)
    assert "ident -" in result.stdout
    record_lines = [ln for ln in result.stdout.splitlines() if "input-default.log.gz:" in ln]
    assert len(record_lines) == 2
    assert all(ln.endswith("(marker)") for ln in record_lines)


def test_timeline_without_idents_shows_window_and_ambiguous(tmp_path: Path) -> None:
    """Without idents, a record with one open iteration is (window); overlaps are counted ambiguous."""
    log = tmp_path / "win.log"
    prefix = "2026-11-25 23:40:52.{} 22906 INFO {} [-] "
    runner_, dummy = "rally.task.runner", "rally.plugins.dummy"
    log.write_text(
        "".join(
            prefix.format(ms, logger) + message + "\n"
            for ms, logger, message in [
                ("491", runner_, f"Task {TASK07} | ITER: 1 START"),
                ("492", runner_, f"Task {TASK07} | ITER: 2 START"),
                ("495", dummy, "doing the work"),
                ("499", runner_, f"Task {TASK07} | ITER: 1 END: OK"),
                ("500", dummy, "more work"),
                ("501", runner_, f"Task {TASK07} | ITER: 2 END: OK"),
            ]
        )
    )
    store = tmp_path / "store"
    parse_json(log, "--store", store)
    result = run("timeline", "-i", "2", "--store", store)
    assert_ok(result)
    assert "ident -" in result.stdout
    assert re.findall(r"win\.log:(\d) \((\w+)\)", result.stdout) == [
        ("2", "marker"),
        ("5", "window"),
        ("6", "marker"),
    ]
    assert "1 records in its span could not be attributed" in result.stdout
