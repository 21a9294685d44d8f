"""Each split and attribution rule of the reconstructor, on lines taken from real Rally logs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import rally_log
from threadlog.cli import app
from threadlog.errors import ThreadlogError
from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest
from threadlog.markers import Markers
from threadlog.reconstruct import ReconstructOptions

TASK = "af5e63fc-1e6f-473a-8c62-b48136499c1b"
PID, IDENT = 22903, 139756234729152
HEAD = "2026-11-25 23:40:51.{ms:03d} {pid} {ident} {level} rally.task.runner [-] {msg}"


def line(ms: int, msg: str, pid: int = PID, ident: int = IDENT, level: str = "INFO") -> str:
    """A header line in c07's format (real Rally message texts are passed in)."""
    return HEAD.format(ms=ms, pid=pid, ident=ident, level=level, msg=msg)


def start(n: int) -> str:
    return f"Task {TASK} | ITER: {n} START"


def end(n: int, ok: bool = True) -> str:
    return f"Task {TASK} | ITER: {n} END: " + ("OK" if ok else "Error KeyError: 'Dummy test exception'")


def run(tmp_path: Path, lines: list[str] | tuple[str, ...], **options) -> dict[str, pl.DataFrame]:
    """Parse `lines` as a log; return the store's three tables."""
    log = tmp_path / "rally.log"
    log.write_text("\n".join(lines) + "\n")
    store = tmp_path / "store"
    ingest([str(log)], IngestOptions(store=str(store), **options))
    return {t: pl.read_parquet(store / f"{t}.parquet") for t in ("records", "threads", "iterations")}


class TestIterationMarkers:
    def test_start_after_end_on_a_key_is_a_new_thread(self, tmp_path):
        """A recycled ident running the next iteration is a second thread (iteration_start)."""
        out = run(tmp_path, [line(1, start(1)), line(4, end(1)), line(7, start(21)), line(9, end(21))])
        assert out["records"]["thread_uid"].to_list() == [f"{PID}/{IDENT}#1"] * 2 + [f"{PID}/{IDENT}#2"] * 2
        assert out["threads"]["reason"].to_list() == ["iteration_start", "iteration_start"]
        assert out["iterations"]["iteration"].to_list() == [1, 21]

    def test_a_clock_stepping_back_keeps_the_threads_time_range(self, tmp_path):
        """A thread's first_ts/last_ts are its earliest and latest times, not its first and
        last records' (the system clock was set back by 300 ms inside the iteration)."""
        hook = "sys_call hook: Running command /bin/true"
        out = run(tmp_path, [line(500, start(1)), line(200, hook), line(400, end(1))])
        thread = out["threads"].row(0, named=True)
        assert (thread["first_ts"].microsecond, thread["last_ts"].microsecond) == (200_000, 500_000)
        assert thread["records"] == 3

    def test_record_after_end_is_a_new_thread(self, tmp_path):
        """A non-marker record after an END belongs to the next thread on that ident."""
        out = run(tmp_path, [line(1, start(1)), line(4, end(1)), line(8, "sys_call hook: Running command /bin/true")])
        assert out["threads"]["reason"].to_list() == ["iteration_start", "previous_ended"]
        assert out["records"]["iteration"].to_list() == [1, 1, None]
        assert out["records"]["attribution"].to_list() == ["thread", "thread", None]

    def test_start_without_end_marks_the_iteration_unfinished(self, tmp_path):
        """A START while the key's iteration never ended: that thread died; split, unfinished."""
        out = run(tmp_path, [line(1, start(1)), line(7, start(2)), line(9, end(2))])
        it = out["iterations"].sort("iteration")
        assert it["status"].to_list() == ["unfinished", "ok"]
        assert it["end_ts"][0] is None
        assert out["threads"].height == 2

    def test_end_without_start_attributes_nothing(self, tmp_path):
        """An END with no START before it makes no iteration and claims no record."""
        out = run(
            tmp_path, [line(1, "Starting a worker.", ident=1), line(4, end(1)), line(6, start(2)), line(9, end(2))]
        )
        assert out["iterations"]["iteration"].to_list() == [2]
        assert out["records"]["iteration"].to_list() == [None, None, 2, 2]

    def test_failed_iteration_keeps_type_and_message(self, tmp_path):
        """END: Error <Type>: <msg> gives status error, the type and the message."""
        out = run(tmp_path, [line(1, start(3)), line(5, end(3, ok=False))])
        row = out["iterations"].row(0, named=True)
        assert (row["status"], row["error_type"], row["error"]) == ("error", "KeyError", "'Dummy test exception'")

    def test_marker_with_a_number_that_is_not_a_number_is_ignored(self, tmp_path):
        """ITER: x START is no marker: no iteration, no split."""
        out = run(tmp_path, [line(1, f"Task {TASK} | ITER: x START"), line(3, "hello")])
        assert out["iterations"].height == 0
        assert out["threads"].height == 1


class TestSerialRunner:
    def test_main_thread_runs_iterations_one_after_another(self, case_store):
        """c05: the task process's main thread carries all 600 serial iterations as one thread."""
        store, summary = case_store("c05-serial", "thread")
        threads = pl.read_parquet(store / "threads.parquet")
        it = pl.read_parquet(store / "iterations.parquet")
        assert summary["logical_threads"] == 3
        assert it.height == 600
        assert it["thread_uid"].n_unique() == 1
        main = threads.filter(pl.col("thread_uid") == it["thread_uid"][0]).row(0, named=True)
        assert main["iteration"] is None  # it ran many, so no single iteration is named

    def test_main_thread_is_told_by_process_start(self, tmp_path):
        """START/END on the thread that wrote 'Starting a worker.' never split it."""
        lines = [line(0, "Starting a worker.")]
        for n in range(1, 4):
            lines += [line(n * 10, start(n)), line(n * 10 + 5, end(n))]
        out = run(tmp_path, lines)
        assert out["threads"].height == 1
        assert out["iterations"]["iteration"].to_list() == [1, 2, 3]


class TestThreadName:
    def test_name_change_on_a_key_splits(self, tmp_path):
        """With %(threadName)s, a new name on the same ident is a new thread."""
        fmt = (
            "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(threadName)s %(levelname)s %(name)s "
            "[-] %(instance)s%(message)s"
        )
        text = [
            f"2026-11-25 23:40:51.00{i} 22778 139756234729152 {name} INFO rally.task.hook [-] {msg}"
            for i, (name, msg) in enumerate(
                [
                    ("Thread-3 (_thread_method)", "sys_call hook: Running command /bin/true"),
                    ("Thread-3 (_thread_method)", "sys_call hook: Command /bin/true returned 0"),
                    ("Thread-8 (_thread_method)", "sys_call hook: Running command /bin/true"),
                ]
            )
        ]
        out = run(tmp_path, text, grammar=grammar_from_format(fmt, datefmt="%Y-%m-%d %H:%M:%S"))
        assert out["threads"]["reason"].to_list() == ["first", "name_change"]
        assert out["threads"]["thread_name"].to_list() == ["Thread-3 (_thread_method)", "Thread-8 (_thread_method)"]


class TestTimeGap:
    LINES = (
        "2026-11-25 23:40:51.000 4242 140001 INFO app [-] first thread",
        "2026-11-25 23:40:51.050 4242 140001 INFO app [-] first thread again",
        "2026-11-25 23:40:51.900 4242 140001 INFO app [-] a recycled ident, much later",
    )

    def test_silence_on_a_key_without_markers_splits(self, tmp_path):
        """In a log without markers, 0.85 s of silence on an ident starts a new thread."""
        out = run(tmp_path, self.LINES)
        assert out["threads"]["reason"].to_list() == ["first", "time_gap"]

    def test_gap_threshold_is_the_users(self, tmp_path):
        """--gap 1.0 keeps the same three records in one thread."""
        out = run(tmp_path, self.LINES, reconstruct=ReconstructOptions(gap=1.0))
        assert out["threads"].height == 1


class TestPidReuse:
    def test_composed_runs_split_where_the_second_process_starts(self, case_store):
        """c09: every reused pid restarts at its process-start record, and no uid is shared."""
        store, _ = case_store("c09-pid-reuse", "thread")
        threads = pl.read_parquet(store / "threads.parquet")
        reused = threads.filter(pl.col("reason") == "pid_reuse")
        assert reused["pid"].n_unique() == 7
        assert threads["thread_uid"].n_unique() == threads.height

    def test_second_main_thread_ident_means_a_new_process(self, tmp_path):
        """A MainThread with a new ident under a known pid is a new process."""
        fmt = "%(asctime)s %(process)d %(thread)d %(threadName)s %(levelname)s %(message)s"
        text = [
            "2026-01-01 10:00:00,000 77 1001 MainThread INFO service up",
            "2026-01-01 10:00:01,000 77 1001 MainThread INFO working",
            "2026-01-01 10:00:02,000 77 2002 MainThread INFO service up again",
        ]
        out = run(tmp_path, text, grammar=grammar_from_format(fmt))
        assert out["threads"]["reason"].to_list() == ["first", "pid_reuse"]

    def test_long_silence_of_a_pid_means_a_new_process(self, tmp_path):
        """--pid-gap: a pid silent for longer names another process afterwards."""
        text = [
            "2015-10-29 10:51:23.829 3667 INFO neutron.agent [-] before",
            "2015-10-29 12:51:23.829 3667 INFO neutron.agent [-] two hours later",
        ]
        out = run(tmp_path, text, reconstruct=ReconstructOptions(pid_gap=600))
        assert out["threads"]["reason"].to_list() == ["first", "pid_reuse"]
        out = run(tmp_path, text, reconstruct=ReconstructOptions(pid_gap=None))
        assert out["threads"].height == 1

    def test_oslo_restart_message_starts_a_process(self, tmp_path):
        """oslo's 'Logging enabled!' begins a new process even without a gap."""
        text = [
            "2015-10-29 10:51:23.829 3667 INFO neutron.agent [-] Caught SIGTERM, exiting",
            "2015-10-29 10:51:28.862 3667 INFO neutron.common.config [-] Logging enabled!",
        ]
        out = run(tmp_path, text)
        assert out["threads"]["reason"].to_list() == ["first", "pid_reuse"]


class TestWorkloads:
    def test_iteration_numbers_restart_per_workload(self, case_store):
        """c07: ITER 42 ran in all five workloads and each got its own ordinal."""
        store, summary = case_store("c07-multi-workload", "thread")
        it = pl.read_parquet(store / "iterations.parquet")
        assert it.filter(pl.col("iteration") == 42)["workload"].sort().to_list() == [1, 2, 3, 4, 5]
        assert summary["workloads"] == 5

    def test_without_workload_messages_repeats_number_the_workloads(self, tmp_path):
        """With no 'Running workload' lines, the k-th START of a number is workload k."""
        raw = gzip.decompress(rally_log("c07-multi-workload", "thread").read_bytes()).decode()
        kept = [ln for ln in raw.splitlines() if "Running workload" not in ln]
        log = tmp_path / "c07-no-workload-lines.log"
        log.write_text("\n".join(kept) + "\n")
        ingest([str(log)], IngestOptions(store=str(tmp_path / "s")))
        it = pl.read_parquet(tmp_path / "s" / "iterations.parquet")
        assert it.filter(pl.col("iteration") == 42)["workload"].sort().to_list() == [1, 2, 3, 4, 5]


class TestWindow:
    def test_only_open_iteration_claims_a_record(self, tmp_path):
        """No ident: a record while exactly one iteration is open in its pid is 'window'."""
        text = [
            f"2026-11-25 23:40:51.001 22903 INFO rally.task.runner [-] {start(1)}",
            "2026-11-25 23:40:51.002 22903 DEBUG rally.common.utils [-] doing things",
            f"2026-11-25 23:40:51.003 22903 INFO rally.task.runner [-] {start(2)}",
            "2026-11-25 23:40:51.004 22903 DEBUG rally.common.utils [-] whose is this?",
            f"2026-11-25 23:40:51.005 22903 INFO rally.task.runner [-] {end(1)}",
            "2026-11-25 23:40:51.006 22903 DEBUG rally.common.utils [-] only 2 is open",
            f"2026-11-25 23:40:51.007 22903 INFO rally.task.runner [-] {end(2)}",
            "2026-11-25 23:40:51.008 22903 DEBUG rally.common.utils [-] nothing open",
        ]
        rec = run(tmp_path, text)["records"]
        assert rec["attribution"].to_list() == [
            "marker",
            "window",
            "marker",
            "ambiguous",
            "marker",
            "window",
            "marker",
            None,
        ]
        assert rec["iteration"].to_list() == [1, 1, 2, None, 1, 2, 2, None]

    def test_window_never_claims_main_thread_messages(self, tmp_path):
        """Rally's rps worker log lines are never inside an iteration, even in its window."""
        text = [
            f"2026-11-25 23:40:51.001 22903 INFO rally.task.runner [-] {start(1)}",
            "2026-11-25 23:40:51.002 22903 RALLYDEBUG rally.plugins.task.runners.rps [-] "
            "Worker: 1 rps: 309.36 (requested rps: 25.0)",
            f"2026-11-25 23:40:51.003 22903 INFO rally.task.runner [-] {end(1)}",
        ]
        rec = run(tmp_path, text)["records"]
        assert rec["attribution"].to_list() == ["marker", None, "marker"]


@pytest.mark.parametrize("ident_column", ["thread"])
def test_thread_uids_are_unique_and_readable(case_store, ident_column):
    """thread_uid reads pid/ident#generation and names one thread across the store."""
    store, _ = case_store("c04-failures", "thread")
    threads = pl.read_parquet(store / "threads.parquet")
    expected = pl.format("{}/{}#{}", "pid", ident_column, "generation")
    assert (threads["thread_uid"] == threads.select(expected).to_series()).all()
    assert threads["thread_uid"].is_unique().all()


class TestUserMarkers:
    LINES = (
        "2026-01-01 10:00:00,000 77 1001 INFO job 7 begins",
        "2026-01-01 10:00:00,010 77 1001 INFO working on 7",
        "2026-01-01 10:00:00,020 77 1001 INFO job 7 done: failed",
        "2026-01-01 10:00:00,030 77 1001 INFO job 8 begins",
        "2026-01-01 10:00:00,040 77 1001 INFO job 8 done: ok",
        "2026-01-01 10:00:00,050 77 1001 INFO job 9 begins",
    )

    def test_declared_markers_make_iterations(self, tmp_path):
        """--iteration-start/--iteration-end declare another program's unit of work."""
        fmt = "%(asctime)s %(process)d %(thread)d %(levelname)s %(message)s"
        out = run(
            tmp_path,
            self.LINES,
            grammar=grammar_from_format(fmt),
            markers=Markers.custom(
                r"^job (?P<iteration>\d+) begins$", r"^job (?P<iteration>\d+) done: (?P<status>\w+)"
            ),
        )
        it = out["iterations"]
        assert it["iteration"].to_list() == [7, 8, 9]
        assert it["status"].to_list() == ["error", "ok", "unfinished"]
        assert out["records"]["iteration"].to_list() == [7, 7, 7, 8, 8, 9]
        assert out["threads"].height == 3

    def test_a_marker_regex_must_name_the_iteration(self):
        """A marker regex without (?P<iteration>...) is a user error."""
        with pytest.raises(ThreadlogError, match="iteration"):
            Markers.custom(r"^job \d+ begins$", None)


class TestCommandLineOptions:
    def test_gap_and_pid_gap_reach_the_reconstructor(self, tmp_path):
        """parse --gap/--pid-gap change the split exactly as the library options do."""
        log = tmp_path / "gaps.log"
        log.write_text("\n".join(TestTimeGap.LINES) + "\n")
        runner = CliRunner()
        args = ["parse", str(log), "--json", "--store", str(tmp_path / "s")]
        assert json.loads(runner.invoke(app, args).stdout)["logical_threads"] == 2
        assert json.loads(runner.invoke(app, [*args, "--gap", "1.0"]).stdout)["logical_threads"] == 1

    def test_records_only_skips_threads_and_iterations(self, tmp_path):
        """--records-only stores the records alone; the thread views then say what is missing."""
        store = tmp_path / "s"
        runner = CliRunner()
        result = runner.invoke(
            app, ["parse", str(rally_log("c05-serial", "thread")), "--records-only", "--store", str(store)]
        )
        assert result.exit_code == 0, result.stderr
        assert "thread_uid" not in pl.read_parquet(store / "records.parquet").columns
        threads = runner.invoke(app, ["threads", "--store", str(store)])
        assert threads.exit_code == 1
        assert "no threads table" in threads.stderr


@pytest.mark.parametrize("case", ["c04-failures", "c05-serial", "c07-multi-workload"])
def test_iterations_never_overlap_within_a_thread(case_store, case):
    """On one logical thread an iteration ends before the next one starts (by line)."""
    store, _ = case_store(case, "thread")
    it = pl.read_parquet(store / "iterations.parquet").sort("thread_uid", "first_line")
    following = it.with_columns(next_first=pl.col("first_line").shift(-1).over("thread_uid"))
    assert (following["next_first"].is_null() | (following["last_line"] < following["next_first"])).all()
