#!/usr/bin/env python3
"""Benchmark `threadlog parse` on a >= 1M-line Rally log against a plain `re` loop.

Usage (from anywhere, with the project's virtualenv)::

    python benchmarks/bench_parse.py [--lines N] [--runs K] [--keep] [--lnav] [--scale LINES]

1. Builds a big log from the real sample shipped in the repo
   (sample_logs/rally/c07-multi-workload/input-thread.log) by repeating it. Each
   repetition k shifts the timestamps by k * (span + 1 s), the pids by k * (pid range)
   (header and exception-prefix lines), and replaces the last 12 hex digits of every UUID
   by k, so that it is a distinct Rally task run by distinct processes. Continuation
   lines are copied verbatim otherwise. The log goes to benchmarks/data/ and is reused
   when one with the same parameters is already there.
2. Times, alternately and --runs times each, child processes running
   (a) the installed CLI: ``threadlog parse LOG --store DIR --json``, and
   (b) a baseline: a stdlib `re` loop that only matches each line against the header
   regex and keeps ``m.groupdict()`` (or None) in a list;
   plus a child that only imports threadlog and polars (its RSS is the fixed cost).
   Wall time is measured around each child; its peak RSS is its own ``ru_maxrss``, read
   with ``os.wait4`` on its pid.
3. Times ``threadlog parse --records-only`` the same way: the difference is what
   reconstructing threads and iterations adds; the --json summary's ``timings`` give the
   phases. A third variant runs ``threadlog parse`` with the reconstructor stubbed out
   (evidence is still found, null columns and empty tables still written): it splits that
   difference into reconstruction proper and everything around it. Then times
   ``threadlog timeline`` on the store of the last full parse, as a command and as a
   library call, then ``threadlog export trace --out run.json.gz`` and ``threadlog report``
   (time, peak RSS and file size against their bounds: 40 MB; 25 MB and 20 s).
4. With --lnav, and lnav on PATH, also times ``lnav -n -c ';SELECT count(*) FROM all_logs'``.
5. With --scale LINES, builds a second, LINES-line log the same way and parses it once
   with and once without reconstruction: its peak RSS beside the first log's shows
   whether memory grows with the input.

Unix only (it needs `resource` and `os.wait4`).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_logs" / "rally" / "c07-multi-workload" / "input-thread.log"
DATA = REPO / "benchmarks" / "data"
STORE = DATA / "bench-store"
STUBBED_STORE = DATA / "bench-store-stubbed"
OUTPUTS = DATA / "outputs"

GENERATOR_VERSION = 1  # bump when the generated log would change for the same parameters
DEFAULT_LINES = 1_100_000
DEFAULT_RUNS = 3
SPEED_TARGET = 4.0
MIB = 1 << 20
RSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux

# A line that starts with a timestamp, then the pid (3rd space-separated field).
HEAD_RE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\d+)(?= |$)")
UUID_TAIL_RE = re.compile(r"(?<=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}\b")
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

BASELINE_CODE = r"""import re
import sys

HEADER = re.compile(
    r"^(?P<asctime>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(?P<msecs>\d{3}) (?P<process>\d+) "
    r"(?P<thread>\d+) (?P<levelname>[A-Z]+) (?P<name>\S+) \[-\] (?P<message>.*)$"
)
rows = []
with open(sys.argv[1], encoding="utf-8", errors="replace") as fh:
    for line in fh:
        m = HEADER.match(line)
        rows.append(m.groupdict() if m else None)
print(len(rows), len(rows) - rows.count(None))
"""
IMPORT_CODE = "import polars, threadlog, threadlog.cli"
# `threadlog parse` with a reconstructor that does no work: evidence is still found, the
# records still get (null) thread and iteration columns, empty tables are still written.
# The difference to the full parse is reconstruction proper; to --records-only, the rest.
STUBBED_CODE = r"""import sys

import polars as pl

from threadlog import reconstruct
from threadlog.cli import app


def feed(self, ev):
    return pl.select(pl.repeat(None, ev.height, dtype=t).alias(c) for c, t in reconstruct.RECORD_SCHEMA.items()).lazy()


def typed(columns):
    # the records' dtype where a column has one (task, thread_uid: text), else Int64
    return {c: reconstruct.RECORD_SCHEMA.get(c, pl.String if c in TEXT else pl.Int64) for c in columns}


TEXT = {"status", "error_type", "error", "reason", "source", "thread_name"}
TIMES = {"start_ts", "end_ts", "first_ts", "last_ts"}


def finish(self):
    schema = lambda cols: {c: pl.Datetime("us") if c in TIMES else t for c, t in typed(cols).items()}
    self.emit("threads", pl.DataFrame(schema=schema(reconstruct.THREAD_COLUMNS)))
    self.emit("iterations", pl.DataFrame(schema=schema(reconstruct.ITERATION_COLUMNS)))
    return self._tally.summary()


reconstruct.Reconstructor.feed = feed
reconstruct.Reconstructor.finish = finish
sys.argv = ["threadlog", *sys.argv[1:]]
app()
"""
LNAV_QUERY = ";SELECT count(*) FROM all_logs"


# -- the log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateLine:
    """One sample line, ready to be rendered for any repetition."""

    at: datetime | None  # the line's timestamp; None for a continuation line
    pid: int
    pieces: tuple[str, ...]  # the text after the pid (or the whole line), cut at UUID tails


@dataclass(frozen=True)
class Sample:
    """The sample log, parsed once."""

    lines: tuple[TemplateLine, ...]
    span: timedelta  # last timestamp minus first
    pid_stride: int  # max pid - min pid + 1: pid offset between repetitions


@dataclass(frozen=True)
class LogFile:
    """The generated log and how it was obtained."""

    path: Path
    lines: int
    size: int
    repetitions: int
    reused: bool
    seconds: float


def load_sample(path: Path) -> Sample:
    """Read the sample and split each line into its shiftable parts."""
    text = path.read_text(encoding="utf-8")
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    lines = [_template_line(line) for line in raw]
    stamps = [t.at for t in lines if t.at is not None]
    pids = [t.pid for t in lines if t.at is not None]
    if not stamps:
        raise SystemExit(f"{path}: no line starts with a timestamp and a pid")
    return Sample(tuple(lines), max(stamps) - min(stamps), max(pids) - min(pids) + 1)


def _template_line(line: str) -> TemplateLine:
    m = HEAD_RE.match(line)
    if m is None:
        return TemplateLine(None, 0, tuple(UUID_TAIL_RE.split(line)))
    at = datetime.strptime(m[1], TS_FORMAT)
    return TemplateLine(at, int(m[2]), tuple(UUID_TAIL_RE.split(line[m.end() :])))


def render_repetition(sample: Sample, k: int) -> str:
    """The sample's text for repetition `k` (0-based), newline-terminated."""
    shift = (sample.span + timedelta(seconds=1)) * k
    pid_shift = sample.pid_stride * k
    tail = f"{k:012x}"
    out = []
    for line in sample.lines:
        text = tail.join(line.pieces)
        if line.at is None:
            out.append(text)
        else:
            ts = (line.at + shift).isoformat(" ", "milliseconds")
            out.append(f"{ts} {line.pid + pid_shift}{text}")
    out.append("")
    return "\n".join(out)


def build_log(lines_wanted: int) -> LogFile:
    """Generate (or reuse) a log of whole repetitions with at least `lines_wanted` lines."""
    started = time.perf_counter()
    sample = load_sample(SAMPLE)
    reps = max(1, math.ceil(lines_wanted / len(sample.lines)))
    path = DATA / f"{SAMPLE.parent.name}-x{reps}.log"
    meta_path = path.with_suffix(".json")
    params = {
        "generator": GENERATOR_VERSION,
        "sample": SAMPLE.relative_to(REPO).as_posix(),
        "sample_sha256": hashlib.sha256(SAMPLE.read_bytes()).hexdigest(),
        "repetitions": reps,
    }
    lines = reps * len(sample.lines)
    meta = _read_json(meta_path)
    if meta.get("params") == params and path.exists() and path.stat().st_size == meta["bytes"]:
        return LogFile(path, lines, meta["bytes"], reps, True, time.perf_counter() - started)
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".log.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        for k in range(reps):
            out.write(render_repetition(sample, k))
    tmp.replace(path)
    size = path.stat().st_size
    meta_path.write_text(json.dumps({"params": params, "lines": lines, "bytes": size}, indent=2))
    return LogFile(path, lines, size, reps, False, time.perf_counter() - started)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# -- measuring child processes -----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds, its own peak RSS in bytes, and its stdout."""

    seconds: float
    peak_rss: int
    stdout: str


@dataclass
class Tool:
    """A command to time, with an untimed step before each run, and its runs."""

    name: str
    command: list[str]
    prepare: Callable[[], None] = lambda: None
    runs: list[Run] = field(default_factory=list)

    def median_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def median_rss(self) -> float:
        return statistics.median(r.peak_rss for r in self.runs)


def run_child(command: list[str]) -> Run:
    """Run `command` to completion; time it and read its peak RSS (its alone) via wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        if proc.returncode != 0:
            stderr = err.read().decode("utf-8", "replace")
            raise ChildFailed(f"exit {proc.returncode}: {shlex.join(command)}\n{stderr.strip()}")
    return Run(seconds, usage.ru_maxrss * RSS_UNIT, stdout)


class ChildFailed(RuntimeError):
    """A measured command exited non-zero."""


def measure(tools: list[Tool], runs: int) -> None:
    """Run every tool `runs` times, alternating between them; print each run as it ends."""
    for i in range(1, runs + 1):
        for tool in tools:
            tool.prepare()
            run = run_child(tool.command)
            tool.runs.append(run)
            print(
                f"  run {i}/{runs}  {tool.name:<12} {run.seconds:8.2f} s  {run.peak_rss / MIB:8.1f} MiB peak RSS",
                flush=True,
            )


def remove_store(path: Path) -> Callable[[], None]:
    """A prepare step: delete the store (and any backup or half-written one) before a run."""

    def prepare() -> None:
        leftovers = [path.parent / f".{path.name}.old", *path.parent.glob(f".{path.name}.new-*")]
        for p in (path, *leftovers):
            shutil.rmtree(p, ignore_errors=True)

    return prepare


def threadlog_script() -> Path:
    """The `threadlog` console script installed next to this interpreter."""
    script = Path(sys.executable).parent / ("threadlog.exe" if os.name == "nt" else "threadlog")
    if not script.exists():
        raise SystemExit(f"{script} not found; use the virtualenv where threadlog is installed")
    return script


# -- timeline from the store ----------------------------------------------------------------

TIMELINE_CODE = """import sys, time
started = time.perf_counter()
from threadlog import views
from threadlog.store import Store
store = Store.open(sys.argv[1])
found = views.select_iteration(store, int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
view = views.timeline(store, found.row(0, named=True))
print(time.perf_counter() - started, view.records.height)
"""


def timeline_target(log: LogFile) -> tuple[str, str, str]:
    """An iteration of the middle repetition: (iteration, task uuid, workload).

    Each repetition k rewrites the sample task's uuid tail to k (see `render_repetition`).
    """
    text = SAMPLE.read_text(encoding="utf-8")
    m = re.search(r"Task ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12} \| ITER: ", text)
    if m is None:
        raise SystemExit(f"{SAMPLE}: no Rally iteration marker to show a timeline of")
    return "42", f"{m[1]}{log.repetitions // 2:012x}", "3"


# -- report ------------------------------------------------------------------------------


def machine_info() -> list[str]:
    """Lines describing the machine and the software versions."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return [
        f"cpu: {_cpu_model()}; {cpus} logical cores ({usable} usable by this process)",
        f"memory: {memory:.1f} GiB; platform: {platform.platform()}",
        f"python {platform.python_version()}; polars {_version('polars')}; "
        f"threadlog {_version('threadlog')}; POLARS_MAX_THREADS="
        f"{os.environ.get('POLARS_MAX_THREADS', '(unset)')}",
        f"load average at start: {load_average()} (other work on the machine skews times)",
    ]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or "n/a"."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def rel(path: Path) -> str:
    """`path` relative to the repo root when it is inside it."""
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def print_results(tools: list[Tool], imports: Tool, log: LogFile) -> None:
    """The per-tool table: medians over the runs."""
    print(f"\n== results (median of {len(tools[0].runs)} runs per tool)")
    print(f"  {'':<14}{'seconds':>9}{'lines/s':>13}{'MiB/s':>9}{'peak RSS MiB':>14}{'(max)':>9}")
    for tool in [*tools, imports]:
        secs = tool.median_seconds()
        rss = tool.median_rss() / MIB
        top = max(r.peak_rss for r in tool.runs) / MIB
        if tool is imports:
            print(f"  {tool.name:<14}{secs:9.3f}{'-':>13}{'-':>9}{rss:14.1f}{top:9.1f}")
        else:
            print(
                f"  {tool.name:<14}{secs:9.3f}{log.lines / secs:13,.0f}"
                f"{log.size / MIB / secs:9.1f}{rss:14.1f}{top:9.1f}"
            )


def print_ratios(tools: dict[str, Tool], imports: Tool, log: LogFile) -> None:
    """Speed and memory ratios, and what threadlog's own summary says."""
    tl, base = tools["threadlog"], tools["re baseline"]
    speed = base.median_seconds() / tl.median_seconds()
    verdict = "met" if speed >= SPEED_TARGET else "NOT met"
    log_mib = log.size / MIB
    tl_rss = tl.median_rss() / MIB
    extra = tl_rss - imports.median_rss() / MIB
    internal = statistics.median(json.loads(r.stdout)["seconds"] for r in tl.runs)
    print("\n== ratios")
    print(f"  speed: baseline / threadlog = {speed:.2f}x  (target >= {SPEED_TARGET:g}x: {verdict})")
    print(f"  threadlog peak RSS / log size = {tl_rss:.1f} / {log_mib:.1f} MiB = {tl_rss / log_mib:.2f}x")
    print(f"  threadlog peak RSS - import baseline RSS = {extra:.1f} MiB = {extra / log_mib:.2f}x log size")
    print(f"  baseline peak RSS / log size = {base.median_rss() / MIB / log_mib:.2f}x")
    print(
        f"  threadlog 'seconds' in --json (ingest only, median) = {internal:.2f} s; "
        f"process start + imports + output = {tl.median_seconds() - internal:.2f} s"
    )
    if "lnav" in tools:
        lnav = tools["lnav"]
        print(
            f"  threadlog / lnav: time {tl.median_seconds() / lnav.median_seconds():.2f}x, "
            f"peak RSS {tl.median_rss() / lnav.median_rss():.2f}x"
        )


def print_checks(tools: dict[str, Tool], log: LogFile) -> None:
    """What the children reported, to show they read the whole log."""
    s = json.loads(tools["threadlog"].runs[-1].stdout)
    print("\n== checks")
    print(
        f"  threadlog: lines {s['lines']:,} (log has {log.lines:,}), records {s['records']:,}, "
        f"unparsed {s['unparsed_lines']:,}, processes {s['processes']:,}, "
        f"tasks {s.get('tasks')}, iterations {s.get('iterations')}"
    )
    if s["lines"] != log.lines:
        print("  WARNING: threadlog read a different number of lines than the log has")
    total, matched = tools["re baseline"].runs[-1].stdout.split()
    print(f"  re baseline: {int(total):,} lines, {int(matched):,} header matches")
    if "lnav" in tools:
        print(f"  lnav: {' '.join(tools['lnav'].runs[-1].stdout.split())}")


def print_phases(tools: dict[str, Tool]) -> None:
    """threadlog's own phase timings (median per phase) and what reconstruction adds."""
    full, records_only = tools["threadlog"], tools["threadlog records"]
    timings = [json.loads(r.stdout)["timings"] for r in full.runs]
    phases = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
    print("\n== threadlog phases (from --json 'timings', median of the runs)")
    notes = {
        "parse": "read, match, reconstruct and write chunks (a pipeline)",
        "tables": "sort and write the threads and iterations tables",
        "write": "write the records table",
        "reconstruct_in_parse": "of 'parse': the reconstructor's own time, alongside matching",
    }
    for name, secs in phases.items():
        print(f"  {name:<22}{secs:7.2f} s   {notes.get(name, '')}")
    base = records_only.median_seconds()
    added = full.median_seconds() - base
    print(
        f"  parse with reconstruction - parse --records-only (process wall, medians) = "
        f"{full.median_seconds():.2f} - {base:.2f} = {added:.2f} s "
        f"= {added / base:.2f} of the records-only parse (target <= 0.33)"
    )
    stubbed = tools["threadlog stubbed"].median_seconds()
    print(
        f"    of which all but reconstruction proper (evidence, marker scan, the columns' writing; "
        f"reconstructor stubbed): {stubbed:.2f} - {base:.2f} = {stubbed - base:.2f} s "
        f"= {(stubbed - base) / base:.2f}\n"
        f"    and reconstruction proper (feed, its tables): {full.median_seconds() - stubbed:.2f} s "
        f"= {(full.median_seconds() - stubbed) / base:.2f}"
    )


def measure_scale(lines: int, small: LogFile, tools: dict[str, Tool]) -> None:
    """Parse a log `lines` long once (with and without reconstruction) and set its peak RSS
    beside the benchmark log's: memory must not grow with the log."""
    big = build_log(lines)
    print(f"\n== memory at scale: {rel(big.path)}: {big.lines:,} lines, {big.size / MIB:.1f} MiB")
    variants = {
        "threadlog records": ["--records-only"],
        "threadlog": [],
    }
    for name, extra in variants.items():
        command = [str(threadlog_script()), "parse", str(big.path), "--store", str(STORE), "--json", *extra]
        remove_store(STORE)()
        try:
            run = run_child(command)
        except ChildFailed as exc:
            raise SystemExit(f"a measured command failed: {exc}") from None
        base = tools[name]
        print(
            f"  {name:<18} {big.lines:>12,} lines: {run.seconds:7.2f} s {big.lines / run.seconds:11,.0f} lines/s "
            f"{run.peak_rss / MIB:8.1f} MiB peak RSS"
        )
        print(
            f"  {'':<18} {small.lines:>12,} lines: {base.median_seconds():7.2f} s "
            f"{small.lines / base.median_seconds():11,.0f} lines/s {base.median_rss() / MIB:8.1f} MiB peak RSS"
        )
        print(
            f"  {'':<18} {big.lines / small.lines:.1f}x the lines: peak RSS x{run.peak_rss / base.median_rss():.2f} "
            f"(target: under 1 GiB, not growing with the log)"
        )
    remove_store(STORE)()


def print_timeline(timeline: Tool, in_process: Tool, target: tuple[str, str, str]) -> None:
    """How fast one iteration's timeline comes out of the big store."""
    answers = [float(r.stdout.split()[0]) for r in in_process.runs]
    records = in_process.runs[-1].stdout.split()[1]
    print(f"\n== timeline --iteration {target[0]} --task {target[1]} --workload {target[2]}")
    print(
        f"  in-process (open store, select, read the records lazily): median "
        f"{statistics.median(answers):.3f} s, {records} records (target < 0.5 s)"
    )
    print(
        f"  the whole command (process start, imports, output): median {timeline.median_seconds():.3f} s, "
        f"peak RSS {timeline.median_rss() / MIB:.1f} MiB"
    )


def output_tools(threadlog: str) -> list[Tool]:
    """`export trace` to .json.gz and `report` to .html from the store of the last full parse."""
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    store = ["--store", str(STORE), "--force"]
    return [
        Tool("trace .json.gz", [threadlog, "export", "trace", "--out", str(OUTPUTS / "run.json.gz"), *store]),
        Tool("report .html", [threadlog, "report", "--out", str(OUTPUTS / "run.html"), *store]),
    ]


def print_outputs(outputs: list[Tool]) -> None:
    """Time, memory and size of the trace and the report of the big store, against their bounds."""
    print("\n== outputs from the store")
    bounds = {"trace .json.gz": (None, 40.0), "report .html": (20.0, 25.0)}
    for tool, name in zip(outputs, ("run.json.gz", "run.html"), strict=True):
        size = (OUTPUTS / name).stat().st_size / 1e6
        seconds, megabytes = bounds[tool.name]
        target = f"size < {megabytes:.0f} MB" + (f", time <= {seconds:.0f} s" if seconds else "")
        print(
            f"  {tool.name:<15} median {tool.median_seconds():6.2f} s  peak RSS {tool.median_rss() / MIB:7.1f} MiB  "
            f"{size:6.1f} MB  (target: {target})"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lines",
        type=int,
        default=DEFAULT_LINES,
        help=f"minimum lines in the generated log [default: {DEFAULT_LINES:,}]",
    )
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"runs per measured command [default: {DEFAULT_RUNS}]"
    )
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the last threadlog store ({rel(STORE)}) instead of deleting it"
    )
    parser.add_argument(
        "--scale",
        type=int,
        metavar="LINES",
        help="also parse a LINES-line log once and compare its peak RSS (e.g. 10000000; about 1.2 GB)",
    )
    parser.add_argument(
        "--lnav", action="store_true", help="also time `lnav -n -c ';SELECT count(*) FROM all_logs'` if on PATH"
    )
    args = parser.parse_args(argv)
    if args.lines < 1 or args.runs < 1:
        parser.error("--lines and --runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print("== machine")
    for line in machine_info():
        print(f"  {line}")

    log = build_log(args.lines)
    how = "reused" if log.reused else f"generated in {log.seconds:.1f} s"
    print("\n== input")
    print(f"  sample: {rel(SAMPLE)} ({SAMPLE.stat().st_size:,} bytes)")
    print(
        f"  log: {rel(log.path)}: {log.lines:,} lines, {log.size / MIB:.1f} MiB, {log.repetitions} repetitions ({how})"
    )

    python = sys.executable
    parse = [str(threadlog_script()), "parse", str(log.path), "--store", str(STORE), "--json"]
    stubbed_parse = ["parse", str(log.path), "--store", str(STUBBED_STORE), "--json"]
    tools = [
        Tool("threadlog records", [*parse, "--records-only"], remove_store(STORE)),
        Tool("threadlog", parse, remove_store(STORE)),
        Tool("threadlog stubbed", [python, "-c", STUBBED_CODE, *stubbed_parse], remove_store(STUBBED_STORE)),
        Tool("re baseline", [python, "-c", BASELINE_CODE, str(log.path)]),
    ]
    lnav = shutil.which("lnav")
    if args.lnav and lnav:
        tools.append(Tool("lnav", [lnav, "-n", "-c", LNAV_QUERY, str(log.path)]))
    imports = Tool("import only", [python, "-c", IMPORT_CODE])
    target = timeline_target(log)
    timeline = Tool(
        "timeline",
        [
            str(threadlog_script()),
            "timeline",
            "--iteration",
            target[0],
            "--task",
            target[1],
            "--workload",
            target[2],
            "--store",
            str(STORE),
        ],
    )
    timeline_lib = Tool("timeline lib", [python, "-c", TIMELINE_CODE, str(STORE), *target])
    outputs = output_tools(str(threadlog_script()))

    print("\n== commands (cwd: repo root)")
    for tool in [*tools, imports, timeline, timeline_lib, *outputs]:
        print(f"  {tool.name}: {shlex.join(tool.command)}")
    if args.lnav and not lnav:
        print("  lnav: not found on PATH; skipped")

    print(f"\n== runs (alternating; import-only child run {args.runs} times first)")
    try:
        measure([imports], args.runs)
        measure(tools, args.runs)
        measure([timeline, timeline_lib], args.runs)  # on the store of the last full parse
        measure(outputs, args.runs)
    except ChildFailed as exc:
        raise SystemExit(f"a measured command failed: {exc}") from None
    by_name = {t.name: t for t in tools}
    print_results(tools, imports, log)
    print_ratios(by_name, imports, log)
    print_checks(by_name, log)
    print_phases(by_name)
    print_timeline(timeline, timeline_lib, target)
    print_outputs(outputs)
    if args.scale:
        measure_scale(args.scale, log, by_name)

    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT / MIB
    print(
        f"\n  note: peak RSS is each child's ru_maxrss (os.wait4); on Linux a spawned child's "
        f"reading is never below its parent's peak at spawn time, here {floor:.1f} MiB"
    )
    print(f"  load average at end: {load_average()}")
    remove_store(STUBBED_STORE)()
    if not args.keep:
        remove_store(STORE)()
    else:
        print(f"  kept: {rel(STORE)}")


if __name__ == "__main__":
    main()
