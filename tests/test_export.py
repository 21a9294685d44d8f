"""`threadlog export`: tables as Parquet and CSV that read back unchanged, filters, and the Chrome trace."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner, Result

from tests.conftest import BLOG_FORMAT, BLOG_PREFIX, assert_clean_error, rally_log
from threadlog.cli import app

C07 = "c07-multi-workload"
C09 = "c09-pid-reuse"
TABLES = ["records", "threads", "iterations"]
RUNNER = CliRunner(env={"THREADLOG_STORE": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None})


def run(*args: object) -> Result:
    """Invoke the CLI in-process with the given arguments."""
    return RUNNER.invoke(app, [str(a) for a in args])


def export(store: Path, *args: object) -> Result:
    """Run `threadlog export ARGS --store STORE` and insist that it succeeded."""
    result = run("export", *args, "--store", store)
    assert result.exit_code == 0, (result.exception, result.stdout, result.stderr)
    return result


def table(store: Path, name: str) -> pl.DataFrame:
    """One of the store's own tables, read directly."""
    return pl.read_parquet(store / f"{name}.parquet")


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Categoricals as plain strings, so exports compare with the store's String columns."""
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def read_csv_as(path: Path, schema: pl.Schema) -> pl.DataFrame:
    """Read an exported CSV as text, then parse each column to the store's dtype."""
    raw = pl.read_csv(path, infer_schema=False)
    assert raw.columns == list(schema.names())
    return raw.select(
        pl.col(name).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit=dtype.time_unit)
        if isinstance(dtype, pl.Datetime)
        else pl.col(name).replace_strict({"true": True, "false": False}, return_dtype=pl.Boolean)
        if dtype == pl.Boolean
        else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


@pytest.fixture
def c07(case_store) -> Path:
    """The c07 store parsed from the log with thread idents."""
    return case_store(C07, "thread")[0]


# -- tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLES)
def test_parquet_export_reads_back_as_store_table(c07: Path, tmp_path: Path, name: str) -> None:
    """`export TABLE --out X.parquet` holds the same rows as the store's own table."""
    out = tmp_path / f"{name}.parquet"
    result = export(c07, name, "--out", out)
    assert result.stdout == ""
    expected = table(c07, name)
    assert f"wrote {expected.height:,} {name} rows" in result.stderr
    assert_frame_equal(as_text(pl.read_parquet(out)), expected)


@pytest.mark.parametrize("name", TABLES)
def test_csv_export_reads_back_as_store_table(c07: Path, tmp_path: Path, name: str) -> None:
    """`export TABLE --out X.csv` reads back, datetimes parsed, to the store's own table."""
    out = tmp_path / f"{name}.csv"
    export(c07, name, "--out", out)
    expected = table(c07, name)
    assert_frame_equal(read_csv_as(out, expected.schema), expected)


def test_csv_keeps_multiline_messages_exactly(c07: Path, tmp_path: Path) -> None:
    """Multi-line messages (tracebacks, trailing newlines) survive the CSV round trip byte for byte."""
    out = tmp_path / "records.csv"
    export(c07, "records", "--out", out)
    store = table(c07, "records")
    multi = store.filter(pl.col("message").str.contains("\n", literal=True))
    assert multi.height == 76
    back = pl.read_csv(out, infer_schema=False)
    back_multi = back.filter(pl.col("message").str.contains("\n", literal=True))
    assert back_multi["message"].to_list() == multi["message"].to_list()
    assert back_multi["line"].cast(pl.Int64).to_list() == multi["line"].to_list()


def test_csv_keeps_tricky_messages_exactly(tmp_path: Path) -> None:
    """Quotes, commas, padding, tabs, a CR, empty and null-looking messages survive the CSV round trip."""
    messages = [
        '"quoted, with comma"',
        "  padded  ",
        "tab\there \u00e9",
        "cr\rmid",
        "",
        "NA",
        "null",
        'head\n\tcontinued "q"\n',
    ]
    log = tmp_path / "tricky.log"
    log.write_bytes(
        "".join(f"2026-11-25 23:40:52.{100 + i} 22906 INFO app [-] {m}\n" for i, m in enumerate(messages)).encode()
    )
    store = tmp_path / "store"
    parsed = run("parse", log, "--store", store)
    assert parsed.exit_code == 0, parsed.stderr
    expected = table(store, "records")
    assert expected["message"].to_list() == messages
    out = tmp_path / "records.csv"
    export(store, "records", "--out", out)
    assert_frame_equal(read_csv_as(out, expected.schema), expected)


def test_parquet_export_keeps_types(c07: Path, tmp_path: Path) -> None:
    """Parquet exports keep ts as a Datetime and level (and status, reason) as Categorical."""
    for name in TABLES:
        export(c07, name, "--out", tmp_path / f"{name}.parquet")
    records = pl.read_parquet(tmp_path / "records.parquet")
    assert records.schema["ts"] == pl.Datetime("us")
    assert records.schema["level"] == pl.Categorical
    assert records.schema["line"] == pl.Int64
    iterations = pl.read_parquet(tmp_path / "iterations.parquet")
    assert iterations.schema["status"] == pl.Categorical
    assert iterations.schema["start_ts"] == pl.Datetime("us")
    assert pl.read_parquet(tmp_path / "threads.parquet").schema["reason"] == pl.Categorical


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_existing_file_needs_force(c07: Path, tmp_path: Path, suffix: str) -> None:
    """An existing output file is refused without --force (left untouched) and replaced with it."""
    out = tmp_path / f"iterations.{suffix}"
    out.write_bytes(b"keep me\n")
    mtime = out.stat().st_mtime_ns
    assert_clean_error(run("export", "iterations", "--out", out, "--store", c07), "exists", "--force")
    assert out.read_bytes() == b"keep me\n"
    assert out.stat().st_mtime_ns == mtime
    export(c07, "iterations", "--out", out, "--force")
    back = pl.read_parquet(out) if suffix == "parquet" else pl.read_csv(out)
    assert back.height == 821
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary file left


def test_trace_existing_file_needs_force(c07: Path, tmp_path: Path) -> None:
    """`export trace` also refuses to replace an existing file without --force."""
    out = tmp_path / "run.json"
    out.write_text("{}")
    assert_clean_error(run("export", "trace", "--out", out, "--store", c07), "--force")
    assert out.read_text() == "{}"
    export(c07, "trace", "--out", out, "--force")
    assert "traceEvents" in json.loads(out.read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus", "--out", "x.csv"], "cannot export 'bogus'"),
        (["records", "--out", "x.txt"], "name the file .csv, .parquet, .jsonl"),
        (["records", "--out", "x.json"], "name the file .csv, .parquet, .jsonl"),
        (["records", "--out", "no/such/folder/x.csv"], "no such folder"),
        (["records"], "--out FILE, or --out - for stdout"),
    ],
    ids=["what", "extension", "json-table", "folder", "nowhere"],
)
def test_export_usage_errors(c07: Path, tmp_path: Path, monkeypatch, args: list[str], message: str) -> None:
    """Export mistakes fail with one line saying what is wrong, and write nothing."""
    monkeypatch.chdir(tmp_path)
    assert_clean_error(run("export", *args, "--store", c07), message)
    assert list(tmp_path.iterdir()) == []


# -- filters ----------------------------------------------------------------------------------


def error_keys(store: Path, workload: int | None = None) -> pl.DataFrame:
    """(task, workload, iteration) of the failed iterations, optionally of one workload."""
    its = table(store, "iterations").filter(pl.col("status") == "error")
    if workload is not None:
        its = its.filter(pl.col("workload") == workload)
    return its.select("task", "workload", "iteration")


def expected_rows(store: Path, name: str, flags: dict[str, object]) -> pl.DataFrame:
    """The store table filtered by hand the way the export flags describe."""
    frame = table(store, name)
    if "task" in flags:
        tasks = table(store, "iterations")["task"].unique().drop_nulls()
        (full,) = [t for t in tasks if t.startswith(str(flags["task"]))]
        frame = frame.filter(pl.col("task") == full)
    for column in ("workload", "iteration"):
        if column in flags:
            frame = frame.filter(pl.col(column) == flags[column])
    if "status" in flags:
        if name == "iterations":
            frame = frame.filter(pl.col("status") == flags["status"])
        else:
            keys = error_keys(store, flags.get("workload"))  # type: ignore[arg-type]
            frame = frame.join(keys, on=["task", "workload", "iteration"], how="semi")
    return frame


FILTERS = [
    (C09, {"task": "24"}),
    (C09, {"task": "27c6", "workload": 1}),
    (C07, {"workload": 2}),
    (C07, {"iteration": 42}),
    (C07, {"status": "error"}),
    (C07, {"workload": 2, "status": "error"}),
    (C07, {"task": "af5e", "workload": 5, "iteration": 57}),
]


@pytest.mark.parametrize("name", TABLES)
@pytest.mark.parametrize(("case", "flags"), FILTERS, ids=lambda v: str(v) if isinstance(v, dict) else v)
def test_export_filters(case_store, tmp_path: Path, name: str, case: str, flags: dict[str, object]) -> None:
    """--task (prefix), --workload, --iteration and --status keep exactly the matching rows."""
    store, _ = case_store(case, "thread")
    out = tmp_path / "out.parquet"
    args: list[object] = []
    for flag, value in flags.items():
        args += [f"--{flag}", value]
    export(store, name, "--out", out, *args)
    expected = expected_rows(store, name, flags)
    assert expected.height > 0
    assert expected.height < table(store, name).height
    assert_frame_equal(as_text(pl.read_parquet(out)), expected)


def test_ambiguous_task_prefix_is_refused(case_store, tmp_path: Path) -> None:
    """A --task prefix that fits two tasks is refused, naming how many it fits."""
    store, _ = case_store(C09, "thread")
    out = tmp_path / "x.csv"
    assert_clean_error(run("export", "records", "--out", out, "--task", "2", "--store", store), "names 2 tasks")
    assert not out.exists()


# -- Chrome trace -----------------------------------------------------------------------------


def load_trace(store: Path, out: Path) -> list[dict]:
    """Export the trace and return its events, after checking the file is a trace object."""
    result = export(store, "trace", "--out", out)
    assert "trace events" in result.stderr
    data = json.loads(out.read_text())
    assert isinstance(data, dict)
    assert isinstance(data["traceEvents"], list)
    return data["traceEvents"]


def check_required_fields(events: list[dict]) -> None:
    """Every event carries the fields the Trace Event Format requires for its phase."""
    for ev in events:
        assert isinstance(ev["name"], str), ev
        assert ev["ph"] in {"X", "i", "M"}, ev
        assert isinstance(ev["pid"], int), ev
        assert isinstance(ev["tid"], int), ev
        if ev["ph"] == "X":
            assert isinstance(ev["ts"], int | float), ev
            assert isinstance(ev["dur"], int | float), ev
            assert ev["ts"] >= 0
            assert ev["dur"] >= 0
        elif ev["ph"] == "i":
            assert isinstance(ev["ts"], int | float), ev
            assert ev["s"] in {"g", "p", "t"}, ev
        else:
            assert ev["name"] in {"process_name", "thread_name"}, ev
            assert isinstance(ev["args"]["name"], str), ev


def check_nesting(events: list[dict]) -> None:
    """X events on one (pid, tid) are disjoint or nested, never partially overlapping."""
    lanes: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for ev in events:
        if ev["ph"] == "X":
            lanes[(ev["pid"], ev["tid"])].append((ev["ts"], ev["ts"] + ev["dur"]))
    for key, spans in lanes.items():
        stack: list[int] = []  # ends of the enclosing open spans
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1] <= start:
                stack.pop()
            assert not stack or end <= stack[-1], f"partial overlap on {key} at {start}"
            stack.append(end)


def check_iterations_match(events: list[dict], store: Path) -> None:
    """The iteration slices are the iterations table, one to one, with its names and durations."""
    xs = [ev for ev in events if ev["ph"] == "X" and ev["cat"] == "iteration"]
    its = table(store, "iterations").filter(pl.col("start_ts").is_not_null())
    assert len(xs) == its.height
    by_key = {(ev["args"]["task"], ev["args"]["workload"], ev["name"]): ev for ev in xs}
    assert len(by_key) == len(xs)
    for row in its.iter_rows(named=True):
        ev = by_key[(row["task"], row["workload"], f"iteration {row['iteration']}")]
        assert abs(ev["dur"] - row["duration_s"] * 1e6) <= 1
        assert ev["pid"] == row["pid"]
        assert ev["args"]["status"] == row["status"]
    # every track that holds an iteration is named
    named = {(ev["pid"], ev["tid"]) for ev in events if ev["ph"] == "M" and ev["name"] == "thread_name"}
    assert {(ev["pid"], ev["tid"]) for ev in xs} <= named


def test_trace_of_thread_store(c07: Path, tmp_path: Path) -> None:
    """The trace of a store with idents is valid, matches the iterations and nests properly."""
    events = load_trace(c07, tmp_path / "run.json")
    check_required_fields(events)
    check_iterations_match(events, c07)
    check_nesting(events)
    errors = table(c07, "records").filter(pl.col("level").is_in(["ERROR", "CRITICAL", "WARNING", "WARN"]))
    assert sum(ev["ph"] == "i" for ev in events) == errors.height


def test_trace_without_idents_nests_overlapping_iterations(case_store, tmp_path: Path) -> None:
    """Without idents, iterations overlapping in one process still give properly nested X events."""
    store, _ = case_store(C07, "default")
    its = table(store, "iterations").sort("thread_uid", "start_ts")
    overlaps = its.filter(pl.col("start_ts") < pl.col("end_ts").shift(1).cum_max().over("thread_uid"))
    assert overlaps.height > 0  # the case this test is about: one track, concurrent iterations
    events = load_trace(store, tmp_path / "run.json")
    check_required_fields(events)
    check_iterations_match(events, store)
    check_nesting(events)


def test_trace_without_timestamps_is_refused(tmp_path: Path) -> None:
    """A log without timestamps cannot become a trace: one clear error line, no file."""
    store = tmp_path / "store"
    parsed = run(
        "parse", rally_log(C07, "blog"), "--format", BLOG_FORMAT, "--exception-prefix", BLOG_PREFIX, "--store", store
    )
    assert parsed.exit_code == 0, parsed.stderr
    out = tmp_path / "run.json"
    assert_clean_error(run("export", "trace", "--out", out, "--store", store), "no timestamps")
    assert not out.exists()
    # the tables still export
    export(store, "iterations", "--out", tmp_path / "it.csv")
    assert pl.read_csv(tmp_path / "it.csv").height == 821
