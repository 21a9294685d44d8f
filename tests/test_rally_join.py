"""Rally's JSON report joined to the log: every report iteration, one-to-one, inside its
START..END with the same status, every atomic action inside its iteration; statistics as
Rally's own. The report is read here independently of threadlog's reader."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from threadlog.cli import app
from threadlog.errors import ThreadlogError
from threadlog.ingest import IngestOptions, ingest
from threadlog.rally_join import describe_join, parse_offset
from threadlog.summary import RallyJoin
from threadlog.workloads import statistics

from .conftest import RALLY

REPORT_CASES = [
    "c01-const-c50-p2",
    "c03-many-iters",
    "c04-failures",
    "c05-serial",
    "c07-multi-workload",
    "c14-http-atomic",
]
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)


def report_path(case: str, name: str = "rally-report.json.gz") -> Path:
    return RALLY / case / name


def read_report(case: str) -> list[dict]:
    """The report's workloads of its one task in (subtask, position) order, each with its data."""
    with gzip.open(report_path(case)) as handle:
        doc = json.load(handle)
    (task,) = doc["tasks"]
    workloads = []
    for subtask in task["subtasks"]:
        for workload in sorted(subtask["workloads"], key=lambda w: w["position"]):
            workloads.append({**workload, "task": task["uuid"], "subtask": subtask["title"]})
    return workloads


def flat_actions(actions: list[dict], depth: int = 0) -> list[tuple[str, int, float, float]]:
    out = []
    for action in actions:
        out.append((action["name"], depth, action["started_at"], action["finished_at"]))
        out.extend(flat_actions(action["children"], depth + 1))
    return out


def shifted_log(case: str, hours: int, minutes: int, out: Path) -> Path:
    """The default variant with every timestamp moved by the given offset (another time zone)."""
    stamp = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) ")
    shift = timedelta(hours=hours, minutes=minutes)

    def move(match: re.Match[bytes]) -> bytes:
        moved = datetime.strptime(match.group(1).decode(), "%Y-%m-%d %H:%M:%S") + shift
        return moved.strftime("%Y-%m-%d %H:%M:%S").encode() + b"." + match.group(2) + b" "

    with gzip.open(RALLY / case / "input-default.log.gz") as src:
        lines = [stamp.sub(move, line) for line in src.read().splitlines(keepends=True)]
    out.write_bytes(b"".join(lines))
    return out


def parse_with_report(log: Path, store: Path, reports: list[Path], utc_offset: int | None = None) -> dict:
    return ingest(
        [str(log)],
        IngestOptions(store=str(store), rally_reports=[str(r) for r in reports], utc_offset=utc_offset),
    )


def check_complete(case: str, store: Path, offset: timedelta = timedelta(0)) -> None:
    """Every report iteration joined once, contained in its START..END, status agreeing;
    every atomic action present and inside its iteration."""
    its = pl.read_parquet(store / "iterations.parquet")
    actions = pl.read_parquet(store / "atomic_actions.parquet")
    workloads = read_report(case)
    joined = its.filter(pl.col("rally_start").is_not_null())
    expected = []
    expected_actions = []
    epoch = datetime(1970, 1, 1)
    for number, workload in enumerate(workloads, start=1):
        for it in workload["data"]:
            start = epoch + timedelta(microseconds=round(it["timestamp"] * 1e6)) + offset
            expected.append((number, start, it["duration"], bool(it["error"])))
            for name, depth, started, finished in flat_actions(it["atomic_actions"]):
                expected_actions.append(
                    (
                        number,
                        name,
                        depth,
                        epoch + timedelta(microseconds=round(started * 1e6)) + offset,
                        epoch + timedelta(microseconds=round(finished * 1e6)) + offset,
                    )
                )
    got = sorted(
        joined.select("workload", "rally_start", "rally_duration_s", pl.col("rally_error").is_not_null()).rows()
    )
    # one-to-one and complete: the joined rows are the report's iterations, each once
    assert got == sorted(expected)
    assert joined.height == len(expected)
    assert joined.select("task", "workload", "iteration").n_unique() == joined.height
    # containment on the log's clock, allowing the log's millisecond truncation
    for row in joined.iter_rows(named=True):
        end = row["rally_start"] + timedelta(seconds=row["rally_duration_s"] + row["rally_idle_s"])
        assert row["start_ts"] <= row["rally_start"] + US, row
        assert end <= row["end_ts"] + MS + US, row
        assert (row["rally_error"] is not None) == (row["status"] == "error"), row
    # every atomic action, nested ones too, inside its iteration
    got_actions = sorted(actions.select("workload", "name", "depth", "started_at", "finished_at").rows())
    assert got_actions == sorted(expected_actions)
    placed = actions.join(its, on=["task", "workload", "iteration"], how="left")
    assert placed["start_ts"].null_count() == 0
    assert (placed["started_at"] + US >= placed["start_ts"]).all()
    assert (placed["finished_at"] <= placed["end_ts"] + MS + US).all()


@pytest.mark.parametrize("case", REPORT_CASES)
@pytest.mark.parametrize("variant", ["thread", "default"])
def test_report_joins_completely(case: str, variant: str, tmp_path: Path) -> None:
    summary = parse_with_report(RALLY / case / f"input-{variant}.log.gz", tmp_path / "s", [report_path(case)])
    (facts,) = summary["rally"]
    assert facts["unmatched"] == 0
    assert facts["utc_offset"] == "+00:00"
    assert facts["utc_offset_from"] == "inferred"
    check_complete(case, tmp_path / "s")


@pytest.mark.parametrize("case", ["c07-multi-workload", "c14-http-atomic"])
def test_report_joins_a_log_in_another_time_zone(case: str, tmp_path: Path) -> None:
    log = shifted_log(case, 5, 30, tmp_path / "india.log")
    summary = parse_with_report(log, tmp_path / "s", [report_path(case)])
    assert summary["rally"][0]["utc_offset"] == "+05:30"
    check_complete(case, tmp_path / "s", timedelta(hours=5, minutes=30))
    # the offset given by hand gives the same join; a wrong one fits nothing
    parse_with_report(log, tmp_path / "s2", [report_path(case)], utc_offset=parse_offset("+05:30"))
    check_complete(case, tmp_path / "s2", timedelta(hours=5, minutes=30))
    wrong = parse_with_report(log, tmp_path / "s3", [report_path(case)], utc_offset=parse_offset("-02:00"))
    facts = wrong["rally"][0]
    assert facts["joined"] == 0
    assert facts["unmatched"] == facts["report_iterations"]
    assert facts["unmatched_reasons"] == {"no log iteration of its workload spans its time": facts["unmatched"]}
    its = pl.read_parquet(tmp_path / "s3" / "iterations.parquet")
    assert its["rally_start"].null_count() == its.height


def test_older_results_shape_joins_by_time_with_durations_only(tmp_path: Path) -> None:
    case = "c14-http-atomic"
    summary = parse_with_report(
        RALLY / case / "input-default.log.gz", tmp_path / "s", [report_path(case, "rally-results-legacy.json.gz")]
    )
    assert summary["rally"][0]["shape"] == "results"
    assert summary["rally"][0]["unmatched"] == 0
    with gzip.open(report_path(case, "rally-results-legacy.json.gz")) as handle:
        legacy = json.load(handle)
    its = pl.read_parquet(tmp_path / "s" / "iterations.parquet")
    assert its["rally_start"].null_count() == 0
    assert its.height == sum(len(w["result"]) for w in legacy)
    actions = pl.read_parquet(tmp_path / "s" / "atomic_actions.parquet")
    # no start times in that shape: never invented
    assert (
        actions["started_at"].null_count()
        == actions.height
        == sum(len(it["atomic_actions"]) for w in legacy for it in w["result"])
    )
    assert sorted(actions["duration_s"].to_list()) == sorted(
        d for w in legacy for it in w["result"] for d in it["atomic_actions"].values()
    )


def rally_rows(items: list[dict], prefix: str) -> list[tuple[str, dict]]:
    """Rally's statistics rows, nested ones named ``parent > child``."""
    rows = []
    for item in items:
        name = prefix + item["display_name"]
        rows.append((name, item))
        rows.extend(rally_rows(item["children"], name + " > "))
    return rows


def test_statistics_equal_rallys_own(tmp_path: Path) -> None:
    for case in ("c04-failures", "c07-multi-workload", "c14-http-atomic", "c05-serial"):
        store = tmp_path / case
        parse_with_report(RALLY / case / "input-thread.log.gz", store, [report_path(case)])
        stats = statistics(
            pl.read_parquet(store / "iterations.parquet"), pl.read_parquet(store / "atomic_actions.parquet")
        )
        for number, workload in enumerate(read_report(case), start=1):
            ours = {row["action"]: row for row in stats.filter(pl.col("workload") == number).iter_rows(named=True)}
            rally = workload["statistics"]["durations"]
            rows = [("total", rally["total"]), *rally_rows(rally["atomics"], "")]
            assert set(ours) == {name for name, _ in rows}, (case, number)
            for name, item in rows:
                data, mine = item["data"], ours[name]
                assert mine["source"] == "rally"
                assert mine["count"] == data["iteration_count"], (case, name)
                assert f"{mine['success_pct']:.1f}%" == data["success"], (case, name)
                for key, theirs in (
                    ("min", "min"),
                    ("median", "median"),
                    ("p90", "90%ile"),
                    ("p95", "95%ile"),
                    ("max", "max"),
                    ("avg", "avg"),
                ):
                    assert round(mine[key], 3) == data[theirs], (case, name, key)


def test_without_report_statistics_come_from_the_log(tmp_path: Path) -> None:
    case = "c07-multi-workload"
    ingest([str(RALLY / case / "input-thread.log.gz")], IngestOptions(store=str(tmp_path / "s")))
    its = pl.read_parquet(tmp_path / "s" / "iterations.parquet")
    assert {"rally_start", "rally_duration_s", "rally_idle_s", "rally_error"} <= set(its.columns)
    assert its["rally_start"].null_count() == its.height
    actions = pl.read_parquet(tmp_path / "s" / "atomic_actions.parquet")
    assert actions.height == 0
    assert actions.columns[:10] == [
        "task", "workload", "iteration", "name", "parent", "depth", "started_at", "finished_at", "duration_s", "failed"
    ]  # fmt: skip
    stats = statistics(its, actions)
    assert set(stats["source"]) == {"log"}
    totals = stats.filter(pl.col("action") == "total").sort("workload")
    per = (
        its.filter(pl.col("status") != "unfinished")
        .group_by("workload")
        .agg(pl.col("duration_s").max())
        .sort("workload")
    )
    assert totals["max"].to_list() == per["duration_s"].to_list()
    workloads = pl.read_parquet(tmp_path / "s" / "workloads.parquet")
    report = read_report(case)
    assert workloads["scenario"].to_list() == [next(iter(w["scenario"])) for w in report]
    assert workloads["runner"].to_list() == [next(iter(w["runner"])) for w in report]
    assert workloads["iterations"].to_list() == [w["total_iteration_count"] for w in report]
    assert workloads["failures"].to_list() == [w["failed_iteration_count"] for w in report]
    # Rally's `Load duration is:` line, to the log's six digits
    assert workloads["load_duration_from"].to_list() == ["rally"] * len(report)
    assert [round(x, 4) for x in workloads["load_duration_s"]] == [round(w["load_duration"], 4) for w in report]
    assert workloads["subtask"].null_count() == len(report)


def test_with_report_workloads_carry_subtask_and_sla(tmp_path: Path) -> None:
    case = "c14-http-atomic"
    parse_with_report(RALLY / case / "input-thread.log.gz", tmp_path / "s", [report_path(case)])
    workloads = pl.read_parquet(tmp_path / "s" / "workloads.parquet")
    report = read_report(case)
    assert workloads["subtask"].to_list() == [w["subtask"] for w in report]
    assert workloads["pass_sla"].to_list() == [w["pass_sla"] for w in report]
    assert workloads["sla"].to_list() == [w["sla_results"]["sla"] for w in report]


def keep_store(tmp_path: Path) -> tuple[Path, str]:
    store = tmp_path / "s"
    ingest([str(RALLY / "c07-multi-workload" / "input-thread.log.gz")], IngestOptions(store=str(store)))
    return store, (store / "meta.json").read_text()


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(gzip.compress(gzip.decompress(report_path("c07-multi-workload").read_bytes())[:5000]))
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"tasks": [}')
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"name": "not rally", "items": [1, 2]}))
    return {
        "another run": (report_path("c14-http-atomic"), "report of another run"),
        "truncated": (truncated, "invalid or truncated JSON"),
        "invalid": (invalid, "invalid or truncated JSON"),
        "not a report": (other, "not a Rally report"),
        "missing": (tmp_path / "nope.json", "no such file"),
    }


def test_bad_reports_fail_in_one_line_and_leave_the_store(tmp_path: Path) -> None:
    store, meta = keep_store(tmp_path)
    runner = CliRunner()
    for label, (path, says) in bad_files(tmp_path).items():
        log = str(RALLY / "c07-multi-workload" / "input-thread.log.gz")
        result = runner.invoke(app, ["parse", "--store", str(store), log, "--rally-report", str(path)])
        assert result.exit_code == 1, label
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, (label, result.output)
        assert says in lines[0], (label, lines[0])
        assert "Traceback" not in result.output
        assert (store / "meta.json").read_text() == meta, label


def test_blog_variant_has_no_timestamps_to_join(tmp_path: Path) -> None:
    case = "c14-http-atomic"
    with pytest.raises(ThreadlogError, match="no timestamps"):
        ingest(
            [str(RALLY / case / "input-blog.log.gz")],
            IngestOptions(
                store=str(tmp_path / "s"),
                grammar=__import__("threadlog.grammars", fromlist=["x"]).grammar_from_format(
                    "%(process)d %(thread)d %(levelname)s: %(message)s", "%", None, "%(process)d ERROR: "
                ),
                rally_reports=[str(report_path(case))],
            ),
        )
    assert not (tmp_path / "s").exists()


def test_report_without_atomic_actions_writes_an_empty_table(tmp_path: Path) -> None:
    with gzip.open(report_path("c07-multi-workload")) as handle:
        doc = json.load(handle)
    for subtask in doc["tasks"][0]["subtasks"]:
        for workload in subtask["workloads"]:
            for it in workload["data"]:
                it["atomic_actions"] = []
    plain = tmp_path / "no-actions.json"
    plain.write_text(json.dumps(doc))
    summary = parse_with_report(RALLY / "c07-multi-workload" / "input-thread.log.gz", tmp_path / "s", [plain])
    assert summary["rally"][0]["unmatched"] == 0
    assert pl.read_parquet(tmp_path / "s" / "atomic_actions.parquet").height == 0


@pytest.mark.parametrize(("text", "minutes"), [("+02:00", 120), ("-05:30", -330), ("+0545", 345), ("Z", 0), ("0", 0)])
def test_utc_offset_parses(text: str, minutes: int) -> None:
    assert parse_offset(text) == minutes * 60 * 1_000_000


@pytest.mark.parametrize("text", ["2", "+25:00", "02:00", "UTC+2"])
def test_utc_offset_rejects(text: str) -> None:
    with pytest.raises(ThreadlogError, match="--utc-offset"):
        parse_offset(text)


@pytest.fixture(scope="module")
def joined_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("joined") / "s"
    case = "c14-http-atomic"
    result = CliRunner().invoke(
        app,
        ["parse", "--store", str(store), str(RALLY / case / "input-default.log.gz"),
         "--rally-report", str(report_path(case))],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "joined 900 of 900 iterations" in result.output
    assert "UTC offset +00:00 (inferred)" in result.output
    return store


def test_timeline_shows_atomic_actions_between_start_and_end(joined_store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["timeline", "--store", str(joined_store), "-i", "3", "--workload", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    actions = pl.read_parquet(joined_store / "atomic_actions.parquet").filter(
        (pl.col("workload") == 2) & (pl.col("iteration") == 3)
    )
    start = next(i for i, line in enumerate(lines) if "ITER: 3 START" in line)
    end = next(i for i, line in enumerate(lines) if "ITER: 3 END" in line)
    for row in actions.iter_rows(named=True):
        opened = next(i for i, line in enumerate(lines) if f"▶ {row['name']}" in line)
        closed = next(i for i, line in enumerate(lines) if f"◀ {row['name']} {row['duration_s']:.3f} s" in line)
        assert start < opened < closed < end
    out = tmp_path / "t.parquet"
    result = runner.invoke(
        app, ["timeline", "--store", str(joined_store), "-i", "3", "--workload", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = pl.read_parquet(out)
    assert written.filter(pl.col("kind") == "action_start").height == actions.height
    assert written.filter(pl.col("kind") == "action_end").height == actions.height
    assert written.filter(pl.col("kind") == "record")["message"].str.contains("ITER: 3").sum() == 2
    # the actions' starts and ends are listed in the order Rally timed them
    events = written.filter(pl.col("kind") != "record")["ts"]
    assert events.is_sorted()


def test_iterations_sorts_by_rally_duration_with_slowest_action(joined_store: Path) -> None:
    args = ["iterations", "--store", str(joined_store), "--sort", "rally_duration_s:desc", "--limit", "1"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    its = pl.read_parquet(joined_store / "iterations.parquet")
    slowest = its.sort("rally_duration_s", descending=True).row(0, named=True)
    (row,) = json.loads(result.stdout)
    assert row["rally_duration_s"] == slowest["rally_duration_s"]
    assert row["slowest_action"] == "requests.check_request"
    # in a 200-column terminal the table shows them
    wide = CliRunner(env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "200"}).invoke(app, args)
    assert f"{slowest['rally_duration_s']:.3f}" in wide.stdout
    assert "requests.check_request" in wide.stdout
    bad = CliRunner().invoke(app, ["iterations", "--store", str(joined_store), "--sort", "nope"])
    assert bad.exit_code == 1
    assert "cannot sort by" in bad.output


def test_workloads_command_prints_rallys_table(joined_store: Path) -> None:
    args = ["workloads", "--store", str(joined_store), "--workload", "1"]
    result = CliRunner(env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "100"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "random requests rps" in result.output
    assert "SLA FAILED" in result.output
    assert "from Rally's durations" in result.output
    lines = result.output.splitlines()
    header = next(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines if "action" in line)
    assert header.split() == ["action", "min", "median", "90%ile", "95%ile", "max", "avg", "success", "count"]
    total = next(line for line in lines if line.startswith("total "))
    # Rally's own row for it: 0.002 0.003 0.054 0.054 0.073 0.018 64.5% 400
    assert total.split()[1:] == ["0.002", "0.003", "0.054", "0.054", "0.073", "0.018", "64.5%", "400"]
    (workload,) = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert workload["subtask"] == "random requests rps"
    assert workload["pass_sla"] is False
    (stats,) = [s for s in workload["statistics"] if s["action"] == "total"]
    assert (round(stats["success_pct"], 1), stats["count"]) == (64.5, 400)


@pytest.mark.parametrize(("what", "table"), [("atomic-actions", "atomic_actions"), ("workloads", "workloads")])
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_export_rally_tables(joined_store: Path, tmp_path: Path, what: str, table: str, suffix: str) -> None:
    out = tmp_path / f"x.{suffix}"
    result = CliRunner().invoke(app, ["export", what, "--store", str(joined_store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pl.read_csv(out) if suffix == "csv" else pl.read_parquet(out)
    stored = pl.read_parquet(joined_store / f"{table}.parquet")
    assert written.height == stored.height
    assert written.columns == stored.columns


def test_contexts_setup_and_cleanup_come_from_the_report(tmp_path: Path) -> None:
    with gzip.open(report_path("c07-multi-workload")) as handle:
        doc = json.load(handle)
    first = doc["tasks"][0]["subtasks"][0]["workloads"][0]
    first["contexts_results"] = [
        {
            "plugin_name": "users@openstack",
            "plugin_cfg": {},
            "setup": {"started_at": 10.0, "finished_at": 12.5, "atomic_actions": [], "error": None},
            "cleanup": {
                "started_at": 20.0,
                "finished_at": 20.25,
                "atomic_actions": [],
                "error": ["NotFound", "no such user", "Traceback ..."],
            },
        }
    ]
    path = tmp_path / "with-contexts.json"
    path.write_text(json.dumps(doc))
    parse_with_report(RALLY / "c07-multi-workload" / "input-thread.log.gz", tmp_path / "s", [path])
    workloads = pl.read_parquet(tmp_path / "s" / "workloads.parquet").sort("workload")
    assert workloads["contexts"][0].to_list() == [
        {
            "name": "users@openstack",
            "setup_s": 2.5,
            "setup_error": None,
            "cleanup_s": 0.25,
            "cleanup_error": "NotFound: no such user",
        }
    ]
    assert workloads["contexts"][1].to_list() == []
    terminal = CliRunner(env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "100"})
    result = terminal.invoke(app, ["workloads", "--store", str(tmp_path / "s"), "--workload", "1"])
    assert "context users@openstack: setup 2.500 s" in result.output
    assert "NotFound: no such user" in result.output


def plain_read(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The report through the plain (json module) reader."""
    from threadlog import rally_report  # noqa: PLC0415

    with gzip.open(path) as handle:
        doc = json.load(handle)
    flat = rally_report._Flattener("report")
    for index, task in enumerate(doc["tasks"]):
        flat.task(index, task)
    return (
        pl.DataFrame(flat.workloads, schema=rally_report.WORKLOAD_SCHEMA),
        pl.DataFrame(flat.iterations, schema=rally_report.ITERATION_SCHEMA),
        pl.DataFrame(flat.actions, schema=rally_report.ACTION_SCHEMA),
    )


@pytest.mark.parametrize("case", REPORT_CASES)
def test_fast_reader_reads_what_the_plain_reader_reads(case: str) -> None:
    from threadlog.rally_report import load_report  # noqa: PLC0415

    fast = load_report(str(report_path(case)))
    workloads, iterations, actions = plain_read(report_path(case))
    assert fast.iterations.equals(iterations)
    # the same actions, in the same order; seq numbers differ (both order parents first)
    assert fast.actions.drop("seq", "parent_seq").equals(actions.drop("seq", "parent_seq"))
    assert fast.workloads.equals(workloads)


def test_actions_nested_deeper_than_the_fast_reader_are_all_kept(tmp_path: Path) -> None:
    from threadlog.rally_report import load_report  # noqa: PLC0415

    with gzip.open(report_path("c07-multi-workload")) as handle:
        doc = json.load(handle)
    it = doc["tasks"][0]["subtasks"][0]["workloads"][0]["data"][0]
    start, end = it["atomic_actions"][0]["started_at"], it["atomic_actions"][0]["finished_at"]
    chain = {"name": "level6", "children": [], "started_at": start, "finished_at": end}
    for depth in range(5, -1, -1):
        chain = {"name": f"level{depth}", "children": [chain], "started_at": start, "finished_at": end}
    it["atomic_actions"] = [chain]
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(doc))
    report = load_report(str(path))
    deep = report.actions.filter((pl.col("workload") == 1) & (pl.col("row") == 0))
    assert deep["name"].to_list() == [f"level{d}" for d in range(7)]
    assert deep["depth"].to_list() == list(range(7))
    assert deep["parent"].to_list() == [None, *[f"level{d}" for d in range(6)]]


def test_a_status_that_disagrees_leaves_the_iteration_unjoined_and_says_why(tmp_path: Path) -> None:
    with gzip.open(report_path("c07-multi-workload")) as handle:
        doc = json.load(handle)
    data = doc["tasks"][0]["subtasks"][0]["workloads"][0]["data"]
    ok = next(it for it in data if not it["error"])
    ok["error"] = ["Injected", "not what the log says", ""]
    path = tmp_path / "flipped.json"
    path.write_text(json.dumps(doc))
    log = str(RALLY / "c07-multi-workload" / "input-thread.log.gz")
    result = CliRunner().invoke(
        app,
        ["parse", "--json", "--store", str(tmp_path / "s"), log, "--rally-report", str(path), "--utc-offset", "+00:00"],
    )
    assert result.exit_code == 0, result.output
    (facts,) = json.loads(result.stdout)["rally"]
    line = describe_join(RallyJoin.from_json(facts))
    assert "UTC offset +00:00 (given)" in line
    assert line.endswith("; 1 found no partner: 1 only log iterations of another status span its time")
    its = pl.read_parquet(tmp_path / "s" / "iterations.parquet")
    assert its["rally_start"].is_not_null().sum() == its.height - 1
    assert its.filter(pl.col("rally_error") == "Injected: not what the log says").height == 0
