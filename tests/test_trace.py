"""`threadlog export trace`: tracks per OS thread, slices that nest, filters, gzip, atomic actions, requests."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CASES, OPENSTACK, RALLY, assert_clean_error
from tests.test_export import check_nesting, check_required_fields, export, run, table

C07 = "c07-multi-workload"


@pytest.fixture
def c07(case_store) -> Path:
    """The c07 store parsed from the log with thread idents."""
    return case_store(C07, "thread")[0]


def trace_of(store: Path, out: Path, *args: object) -> list[dict]:
    """Export the trace with `args` and return its events (gzip read back when the name says so)."""
    result = export(store, "trace", "--out", out, *args)
    assert "trace events" in result.stderr
    raw = gzip.decompress(out.read_bytes()) if out.name.endswith(".gz") else out.read_bytes()
    return json.loads(raw)["traceEvents"]


def tracks(events: list[dict]) -> set[tuple[int, int]]:
    """The (pid, tid) tracks that hold an event or are named."""
    return {(ev["pid"], ev["tid"]) for ev in events if ev["tid"] != 0}


def max_overlap(spans: list[tuple[int, int]]) -> int:
    """How many of `spans` (half-open, µs) run at once at most: the lanes they need."""
    points = sorted([(s, 1) for s, e in spans] + [(e, -1) for s, e in spans], key=lambda p: (p[0], p[1]))
    most = now = 0
    for _, step in points:
        now += step
        most = max(most, now)
    return most


@pytest.mark.parametrize("case", CASES)
def test_tracks_are_os_threads(case_store, case: str, tmp_path: Path) -> None:
    """With idents, no more tracks than (pid, ident) pairs plus processes, and slices nest on each."""
    store, _ = case_store(case, "thread")
    events = trace_of(store, tmp_path / "run.json")
    check_required_fields(events)
    check_nesting(events)
    threads = table(store, "threads")
    pairs = threads.select("pid", "thread").unique().height
    processes = threads["pid"].n_unique()
    assert len(tracks(events)) <= pairs + processes
    assert sum(ev.get("cat") == "thread" for ev in events) == threads.height
    # each logical thread's slice lies on the track named after its own ident
    names = {(ev["pid"], ev["tid"]): ev["args"]["name"] for ev in events if ev["name"] == "thread_name"}
    for ev in events:
        if ev.get("cat") == "thread":
            ident = ev["args"]["thread_uid"].split("/")[1].split("#")[0]
            assert names[(ev["pid"], ev["tid"])].startswith(f"ident {ident}")


@pytest.mark.parametrize("case", CASES)
def test_lanes_without_idents_are_what_overlaps_need(case_store, case: str, tmp_path: Path) -> None:
    """Without idents, a process gets only as many lanes as its overlapping iterations need."""
    store, _ = case_store(case, "default")
    events = trace_of(store, tmp_path / "run.json")
    check_required_fields(events)
    check_nesting(events)
    its = table(store, "iterations").filter(pl.col("start_ts").is_not_null())
    needed = 0
    for (_pid,), rows in its.group_by("pid"):
        spans = list(zip(rows["start_ts"].dt.epoch("us"), rows["end_ts"].dt.epoch("us"), strict=True))
        needed += max_overlap([(s, max(e, s + 1)) for s, e in spans])
    processes = table(store, "threads")["pid"].n_unique()
    assert len(tracks(events)) <= needed + processes


def test_workload_filter_keeps_exactly_its_iterations(c07: Path, tmp_path: Path) -> None:
    """--workload K keeps the iterations of workload K, all of them and no other."""
    its = table(c07, "iterations")
    for k in (2, 4):
        events = trace_of(c07, tmp_path / f"w{k}.json", "--workload", k)
        got = sorted(int(ev["name"].split()[1]) for ev in events if ev.get("cat") == "iteration")
        assert {ev["args"]["workload"] for ev in events if ev.get("cat") == "iteration"} == {k}
        assert got == sorted(its.filter(pl.col("workload") == k)["iteration"].to_list())
        check_nesting(events)
        # the threads shown are those that ran these iterations
        uids = {ev["args"]["thread_uid"] for ev in events if ev.get("cat") == "thread"}
        assert uids == set(its.filter(pl.col("workload") == k)["thread_uid"])


def test_status_and_iteration_filters(c07: Path, tmp_path: Path) -> None:
    """--status and --iteration cut iterations, and the error markers follow them."""
    events = trace_of(c07, tmp_path / "err.json", "--status", "error")
    statuses = {ev["args"]["status"] for ev in events if ev.get("cat") == "iteration"}
    assert statuses == {"error"}
    assert sum(ev.get("cat") == "iteration" for ev in events) == 55
    errors = table(c07, "records").filter(pl.col("level") == "ERROR")
    failed = table(c07, "iterations").filter(pl.col("status") == "error").select("task", "workload", "iteration")
    assert sum(ev["ph"] == "i" for ev in events) == errors.join(failed, on=["task", "workload", "iteration"]).height
    one = trace_of(c07, tmp_path / "one.json", "--iteration", 3, "--workload", 1)
    assert [ev["name"] for ev in one if ev.get("cat") == "iteration"] == ["iteration 3"]


def test_unknown_task_and_bad_times_are_clean_errors(c07: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    assert_clean_error(run("export", "trace", "--out", out, "--task", "ffff", "--store", c07), "no task")
    assert_clean_error(run("export", "trace", "--out", out, "--since", "yesterday", "--store", c07), "--since")
    bad_status = run("export", "trace", "--out", out, "--status", "fine", "--store", c07)
    assert bad_status.exit_code == 2  # a usage error, refused with the values it takes
    assert "'ok', 'error', 'unfinished'" in bad_status.stderr
    table_out = tmp_path / "x.csv"
    assert_clean_error(run("export", "records", "--out", table_out, "--since", "2026", "--store", c07), "trace only")
    assert not table_out.exists()
    assert not out.exists()


def test_time_window(c07: Path, tmp_path: Path) -> None:
    """--since/--until keep the slices and markers that overlap the window, and only those."""
    its = table(c07, "iterations").sort("start_ts")
    since, until = its["start_ts"][100], its["start_ts"][300]
    events = trace_of(c07, tmp_path / "win.json", "--since", since.isoformat(), "--until", until.isoformat())
    lo, hi = since.timestamp() * 1e6, until.timestamp() * 1e6
    xs = [ev for ev in events if ev["ph"] == "X"]
    assert xs
    for ev in xs:
        assert ev["ts"] <= hi
        assert ev["ts"] + ev["dur"] >= lo
    for ev in events:
        if ev["ph"] == "i":
            assert lo <= ev["ts"] <= hi
    kept = its.filter((pl.col("end_ts") >= since) & (pl.col("start_ts") <= until))
    assert sum(ev.get("cat") == "iteration" for ev in events) == kept.height


def test_gzip_output(c07: Path, tmp_path: Path) -> None:
    """A name ending in .gz gives a gzip file holding the same events as the plain one."""
    plain = trace_of(c07, tmp_path / "run.json")
    packed = trace_of(c07, tmp_path / "run.json.gz")
    assert (tmp_path / "run.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert packed == plain


def with_atomic_actions(store: Path, into: Path) -> pl.DataFrame:
    """A copy of `store` with a joined-report's tables: two nested atomic actions per iteration
    (numbered within it as the store numbers them), the outer one outlasting the log's END by
    3 ms as Rally's timer does."""
    shutil.copytree(store, into)
    its = table(store, "iterations").filter(pl.col("start_ts").is_not_null())
    key = its.select("task", "workload", "iteration")
    outer = key.with_columns(
        name=pl.lit("nova.boot_server"),
        parent=pl.lit(None, pl.String),
        depth=pl.lit(0, pl.Int64),
        started_at=its["start_ts"],
        finished_at=its["end_ts"] + timedelta(milliseconds=3),
        failed=its["status"] == "error",
        seq=pl.lit(0, pl.Int64),
        parent_seq=pl.lit(None, pl.Int64),
    )
    inner = key.with_columns(
        name=pl.lit("nova.wait_for_server"),
        parent=pl.lit("nova.boot_server"),
        depth=pl.lit(1, pl.Int64),
        started_at=its["start_ts"] + timedelta(microseconds=100),
        finished_at=its["end_ts"] + timedelta(milliseconds=2),
        failed=pl.lit(False),
        seq=pl.lit(1, pl.Int64),
        parent_seq=pl.lit(0, pl.Int64),
    )
    actions = pl.concat([outer, inner]).with_columns(
        duration_s=(pl.col("finished_at") - pl.col("started_at")).dt.total_microseconds() / 1e6
    )
    actions.write_parquet(into / "atomic_actions.parquet")
    return actions


@pytest.mark.parametrize("variant", ["thread", "default"])
def test_atomic_actions_nest_in_their_iteration(case_store, variant: str, tmp_path: Path) -> None:
    """Joined atomic actions are slices inside their iteration, which widens to cover them."""
    store, _ = case_store(C07, variant)
    joined = tmp_path / "joined"
    actions = with_atomic_actions(store, joined)
    events = trace_of(joined, tmp_path / "run.json")
    check_nesting(events)
    xs = [ev for ev in events if ev["ph"] == "X"]
    acts = [ev for ev in xs if ev["cat"] == "atomic_action"]
    assert len(acts) == actions.height
    its = {(ev["args"]["task"], ev["args"]["workload"], ev["name"]): ev for ev in xs if ev["cat"] == "iteration"}
    for act in acts:
        it = its[(act["args"]["task"], act["args"]["workload"], f"iteration {act['args']['iteration']}")]
        assert (act["pid"], act["tid"]) == (it["pid"], it["tid"])
        assert it["ts"] <= act["ts"]
        assert act["ts"] + act["dur"] <= it["ts"] + it["dur"]
    # the widened iteration ends with its outer action, 3 ms after the log's END
    ends = table(store, "iterations").filter(pl.col("start_ts").is_not_null())
    for row in ends.head(20).iter_rows(named=True):
        ev = its[(row["task"], row["workload"], f"iteration {row['iteration']}")]
        assert ev["ts"] + ev["dur"] == row["end_ts"].timestamp() * 1e6 + 3000


def test_request_ids_of_service_logs(tmp_path: Path) -> None:
    """An oslo service log without Rally shows each request id as one slice, first to last record."""
    store = tmp_path / "store"
    assert run("parse", OPENSTACK / "neutron-server.log", "--store", store).exit_code == 0
    events = trace_of(store, tmp_path / "run.json")
    check_required_fields(events)
    check_nesting(events)
    records = table(store, "records").filter(pl.col("request_id").str.starts_with("req-"))
    spans = records.group_by("pid", "request_id").agg(
        lo=pl.col("ts").min().dt.epoch("us"), hi=pl.col("ts").max().dt.epoch("us")
    )
    assert spans.height > 10
    got = {(ev["pid"], ev["name"]): (ev["ts"], ev["ts"] + ev["dur"]) for ev in events if ev.get("cat") == "request"}
    want = {(r["pid"], r["request_id"]): (r["lo"], r["hi"]) for r in spans.iter_rows(named=True)}
    assert got == want
    # requests sit on lanes of their own, as many per process as overlap needs
    lanes: dict[int, set[int]] = defaultdict(set)
    for ev in events:
        if ev.get("cat") == "request":
            lanes[ev["pid"]].add(ev["tid"])
    for (pid,), rows in spans.group_by("pid"):
        need = max_overlap([(lo, max(hi, lo + 1)) for lo, hi in zip(rows["lo"], rows["hi"], strict=True)])
        assert len(lanes[pid]) <= need
    assert sum(ev.get("cat") == "thread" for ev in events) == table(store, "threads").height


def test_mask_secrets_in_trace_and_tables(tmp_path: Path) -> None:
    """--mask-secrets hides tokens and passwords in the trace's markers and the tables' messages."""
    log = tmp_path / "app.log"
    log.write_text(
        "2026-11-25 23:40:44.235 100 ERROR rally.osclients [-] curl -g -i -X GET http://k/v3 "
        '-H "X-Auth-Token: gAAAAsecrettoken" -d \'{"auth": {"password": "hunter2"}}\'\n'
        "2026-11-25 23:40:44.300 100 WARNING rally.db [-] connect mysql://rally:hunter2@db/rally\n"
    )
    store = tmp_path / "store"
    assert run("parse", log, "--store", store).exit_code == 0
    plain = json.dumps(trace_of(store, tmp_path / "plain.json"))
    assert "hunter2" in plain
    masked = json.dumps(trace_of(store, tmp_path / "masked.json", "--mask-secrets"))
    assert "hunter2" not in masked
    assert "gAAAAsecrettoken" not in masked
    assert "X-Auth-Token: ***" in masked
    export(store, "records", "--out", tmp_path / "r.csv", "--mask-secrets")
    text = (tmp_path / "r.csv").read_text()
    assert "hunter2" not in text
    assert "secrettoken" not in text
    assert "mysql://rally:***@db" in text


def test_mask_secrets_in_a_joined_workloads_export(tmp_path: Path) -> None:
    """A Rally workload's arguments may carry credentials: the workloads export masks them."""
    store = tmp_path / "store"
    case = RALLY / C07
    assert run("parse", case / "input-thread.log.gz", "--store", store).exit_code == 0
    workloads = table(store, "workloads")
    assert "scenario_args" in workloads.columns
    workloads.with_columns(scenario_args=pl.lit('{"admin_password": "hunter2"}')).write_parquet(
        store / "workloads.parquet"
    )
    export(store, "workloads", "--out", tmp_path / "w.csv", "--mask-secrets")
    text = (tmp_path / "w.csv").read_text()
    assert "hunter2" not in text
    assert "admin_password" in text
