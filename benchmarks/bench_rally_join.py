#!/usr/bin/env python3
"""Benchmark what joining a Rally report adds to `threadlog parse`.

Usage (with the project's virtualenv)::

    python benchmarks/bench_rally_join.py [--iterations N] [--runs K]

1. Builds a log the way bench_parse.py does (the c07 sample repeated, each repetition k
   with its timestamps shifted by k * (span + 1 s), its pids moved and the last 12 hex
   digits of every UUID replaced by k), with enough repetitions for N report iterations.
2. Builds the report of that log from the sample's own Rally report
   (sample_logs/rally/c07-multi-workload/rally-report.json.gz) with the same changes:
   repetition k is a task whose uuid tail is k and whose timestamps (iterations and atomic
   actions) are shifted by the same k * (span + 1 s). It is written as Rally writes it
   (indented JSON), into benchmarks/data/.
3. Times, alternately and --runs times each, child processes running
   ``threadlog parse LOG --json`` with and without ``--rally-report REPORT``, and prints the
   medians, their difference, and the join's own phase from the summary's timings.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parse import (
    DATA,
    MIB,
    REPO,
    SAMPLE,
    Tool,
    build_log,
    load_sample,
    measure,
    remove_store,
    threadlog_script,
)

REPORT_SAMPLE = REPO / "sample_logs" / "rally" / "c07-multi-workload" / "rally-report.json.gz"
STORE = DATA / "bench-join-store"
# the join alone, on the iterations table of the plain parse: wall and CPU seconds of each step
JOIN_CODE = """import json, sys, time
import polars as pl
from threadlog.rally_join import join_reports
from threadlog.rally_report import load_report
out = {}
def step(name, work):
    wall, cpu = time.perf_counter(), time.process_time()
    value = work()
    out[name] = [time.perf_counter() - wall, time.process_time() - cpu]
    return value
iterations = pl.read_parquet(sys.argv[1] + "/iterations.parquet")
report = step("read", lambda: load_report(sys.argv[2]))
result = step("join", lambda: join_reports(iterations, [report], None))
out["joined"] = result.summary[0]["joined"]
print(json.dumps(out))
"""
PLAIN_STORE = DATA / "bench-join-plain-store"


def build_report(repetitions: int, shift_s: float) -> Path:
    """The sample report repeated as `repetitions` tasks, consistent with the benchmark log."""
    path = DATA / f"rally-report-x{repetitions}.json"
    if path.exists():
        return path
    with gzip.open(REPORT_SAMPLE) as handle:
        doc = json.load(handle)
    (task,) = doc["tasks"]
    tasks = []
    for k in range(repetitions):
        copied = copy.deepcopy(task)
        copied["uuid"] = task["uuid"][:-12] + f"{k:012x}"
        moved = shift_s * k
        for subtask in copied["subtasks"]:
            for workload in subtask["workloads"]:
                workload["start_time"] = (workload.get("start_time") or 0) + moved
                for it in workload["data"]:
                    it["timestamp"] += moved
                    _shift_actions(it["atomic_actions"], moved)
        tasks.append(copied)
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"info": doc["info"], "tasks": tasks}, indent=4))
    tmp.replace(path)
    return path


def _shift_actions(actions: list[dict], moved: float) -> None:
    for action in actions:
        for key in ("started_at", "finished_at"):
            if action.get(key) is not None:
                action[key] += moved
        _shift_actions(action.get("children") or [], moved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=100_000, help="report iterations [default: 100,000]")
    parser.add_argument("--runs", type=int, default=3, help="runs per command [default: 3]")
    args = parser.parse_args()

    sample = load_sample(SAMPLE)
    with gzip.open(REPORT_SAMPLE) as handle:
        per_rep = sum(len(w["data"]) for s in json.load(handle)["tasks"][0]["subtasks"] for w in s["workloads"])
    reps = math.ceil(args.iterations / per_rep)
    log = build_log(reps * len(sample.lines))
    report = build_report(log.repetitions, (sample.span.total_seconds() + 1.0))
    print(f"log: {log.path.relative_to(REPO)}: {log.lines:,} lines, {log.size / MIB:.1f} MiB, {log.repetitions} tasks")
    print(
        f"report: {report.relative_to(REPO)}: {per_rep * log.repetitions:,} iterations, "
        f"{report.stat().st_size / MIB:.1f} MiB"
    )
    script = str(threadlog_script())
    plain = Tool(
        "parse", [script, "parse", str(log.path), "--store", str(PLAIN_STORE), "--json"], remove_store(PLAIN_STORE)
    )
    joined = Tool(
        "parse + report",
        [script, "parse", str(log.path), "--store", str(STORE), "--json", "--rally-report", str(report)],
        remove_store(STORE),
    )
    measure([plain, joined], args.runs)
    join_only = Tool("join only", [sys.executable, "-c", JOIN_CODE, str(PLAIN_STORE), str(report)])
    measure([join_only], args.runs)  # on the store of the last plain parse
    phases = [json.loads(run.stdout)["timings"] for run in joined.runs]
    facts = json.loads(joined.runs[-1].stdout)["rally"][0]
    plain_s = statistics.median(r.seconds for r in plain.runs)
    joined_s = statistics.median(r.seconds for r in joined.runs)
    print(f"\nparse alone:          median {plain_s:.2f} s")
    print(f"parse with report:    median {joined_s:.2f} s")
    print(f"added by the report:  {joined_s - plain_s:.2f} s")
    read_s = statistics.median(p["rally_report_read"] for p in phases)
    print(f"reading the report (timings.rally_report_read): median {read_s:.2f} s")
    print(
        "joining it and writing the Rally tables (timings.rally): "
        f"median {statistics.median(p['rally'] for p in phases):.2f} s"
    )
    print(f"joined {facts['joined']:,} of {facts['report_iterations']:,}; unmatched {facts['unmatched']:,}")
    steps = [json.loads(run.stdout) for run in join_only.runs]
    for name, what in (("read", "reading the report"), ("join", "joining it (no table writing)")):
        wall = statistics.median(s[name][0] for s in steps)
        cpu = statistics.median(s[name][1] for s in steps)
        print(f"in-process, {what}: median {wall:.2f} s wall, {cpu:.2f} s CPU")
    remove_store(STORE)()
    remove_store(PLAIN_STORE)()


if __name__ == "__main__":
    main()
