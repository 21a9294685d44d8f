"""Reconstruction runs chunk by chunk: however a log is cut, the store is the same."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import BLOG_FORMAT, BLOG_PREFIX, CASES, assert_ok, rally_log
from threadlog import pipeline
from threadlog import store as store_module
from threadlog.cli import app
from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest
from threadlog.markers import Markers
from threadlog.reader import contains, open_source
from threadlog.reconstruct import Reconstructor

RECONSTRUCTED = ["line", "thread_uid", "task", "workload", "iteration", "attribution"]


def tables(store: Path) -> dict[str, pl.DataFrame]:
    out = {t: pl.read_parquet(store / f"{t}.parquet") for t in ("records", "threads", "iterations")}
    out["records"] = out["records"].select(RECONSTRUCTED)
    return out


def parse(case: str, variant: str, store: Path, chunk_bytes: int | None = None) -> dict:
    options = IngestOptions(store=str(store))
    if chunk_bytes is not None:
        options.chunk_bytes = chunk_bytes
    if variant == "blog":
        options.grammar = grammar_from_format(BLOG_FORMAT, exception_prefix=BLOG_PREFIX)
    return ingest([str(rally_log(case, variant))], options)


@pytest.mark.parametrize("feed_chunks", [1, 3])
@pytest.mark.parametrize("variant", ["thread", "blog", "default"])
@pytest.mark.parametrize("case", CASES)
def test_small_chunks_give_the_same_store(tmp_path, monkeypatch, case, variant, feed_chunks):
    """Threads, iterations and every record's attribution come out the same whether the log
    is one chunk or dozens, reconstructed a chunk at a time or a few together: the state a
    feed carries into the next is complete, and a batch's columns go back to its chunks.

    (The first chunk must hold a marker, or the automatic time-gap rule would be on: 24 KiB
    holds one in every case.)
    """
    whole = parse(case, variant, tmp_path / "whole")
    monkeypatch.setattr(pipeline, "FEED_CHUNKS", feed_chunks)
    cut = parse(case, variant, tmp_path / "cut", chunk_bytes=24 << 10)
    assert whole["bytes"] > 4 * (24 << 10)  # really several chunks
    expected, got = tables(tmp_path / "whole"), tables(tmp_path / "cut")
    for name in expected:
        assert got[name].equals(expected[name]), name
    for figure in ("logical_threads", "recycled_idents", "tasks", "workloads", "iterations"):
        assert cut[figure] == whole[figure], figure


def test_tables_bigger_than_a_sort_batch_come_out_whole_and_sorted(tmp_path, monkeypatch):
    """The threads and iterations tables, sorted a batch at a time into one file, are the
    tables sorted at once, and the commands read them the same."""
    parse("c07-multi-workload", "thread", tmp_path / "one")
    monkeypatch.setattr(store_module, "SORT_BATCH_ROWS", 100)
    parse("c07-multi-workload", "thread", tmp_path / "batched", chunk_bytes=24 << 10)
    one, batched = tables(tmp_path / "one"), tables(tmp_path / "batched")
    assert batched["threads"].height > 5 * 100
    for name in ("threads", "iterations"):
        assert (tmp_path / "batched" / f"{name}.parquet").is_file()
        assert batched[name].equals(one[name]), name
    runner = CliRunner()
    for args in (["threads", "--recycled"], ["iterations"], ["timeline", "--iteration", "3", "--workload", "2"]):
        result = runner.invoke(app, [*args, "--store", str(tmp_path / "batched")])
        assert_ok(result)
        expected = runner.invoke(app, [*args, "--store", str(tmp_path / "one")])
        assert result.stdout == expected.stdout


def _retiring_log(path: Path) -> None:
    """Process 4001 runs an iteration that never ends and a helper thread, falls silent
    while 40 other processes log for two hours, then logs again on the same idents."""
    task = "af5e63fc-1e6f-473a-8c62-b48136499c1b"
    head = "2026-11-25 {h:02d}:{m:02d}:{s:02d}.000 {pid} {ident} INFO rally.task.runner [-] {msg}"
    lines = [
        head.format(h=1, m=0, s=0, pid=4001, ident=11, msg=f"Task {task} | ITER: 1 START"),
        head.format(h=1, m=0, s=1, pid=4001, ident=22, msg="helper at work"),
    ]
    for n in range(2400):  # a line every 3 s from other processes: two hours
        minutes, seconds = divmod(3 * n + 10, 60)
        hours, minutes = divmod(minutes, 60)
        lines.append(head.format(h=1 + hours, m=minutes, s=seconds, pid=5000 + n % 40, ident=33, msg="busy"))
    lines += [
        head.format(h=3, m=30, s=0, pid=4001, ident=11, msg="back, as another process"),
        head.format(h=3, m=30, s=1, pid=4001, ident=22, msg="helper again"),
    ]
    path.write_text("\n".join(lines) + "\n")


def test_silent_processes_are_retired_without_changing_the_result(tmp_path, monkeypatch):
    """A process silent for longer than --pid-gap has its threads closed and its keys shrunk
    to their generation while the log goes on; the store is what one pass would give, and the
    reconstructor's open threads stop growing with every process the log has seen."""
    log = tmp_path / "retiring.log"
    _retiring_log(log)
    ingest([str(log)], IngestOptions(store=str(tmp_path / "whole")))
    open_threads: list[int] = []
    original = Reconstructor.feed

    def feed(self, ev):
        out = original(self, ev)
        open_threads.append(len(self._threads))
        return out

    monkeypatch.setattr(Reconstructor, "feed", feed)
    monkeypatch.setattr(pipeline, "FEED_CHUNKS", 1)  # a feed per chunk, to watch the state chunk by chunk
    ingest([str(log)], IngestOptions(store=str(tmp_path / "cut"), chunk_bytes=8 << 10))
    assert len(open_threads) > 10
    # 40 busy processes and 4001's two threads; after an hour 4001's are closed; then it is back
    assert open_threads[0] == 42
    assert 40 in open_threads
    assert open_threads[open_threads.index(40) :][:-1] == [40] * (len(open_threads) - open_threads.index(40) - 1)
    expected, got = tables(tmp_path / "whole"), tables(tmp_path / "cut")
    for name in expected:
        assert got[name].equals(expected[name]), name
    back = got["threads"].filter(pl.col("pid") == 4001)
    assert back["thread_uid"].to_list() == ["4001/11#1", "4001/22#1", "4001/11#2", "4001/22#2"]
    assert back["reason"].to_list() == ["iteration_start", "first", "pid_reuse", "pid_reuse"]
    assert got["iterations"]["status"].to_list() == ["unfinished"]


def test_markers_after_a_long_preamble_still_turn_the_time_gap_rule_off(tmp_path, monkeypatch):
    """The automatic --gap is off in a log with markers even when the first chunk has none:
    the raw bytes are scanned for a marker before parsing (it stops at the first)."""
    preamble = [
        f"2026-11-25 23:40:{i // 1000:02d}.{i % 1000:03d} 9999 139756234729152 DEBUG rally.deployment [-] "
        f"checking service {i} before the task starts"
        for i in range(0, 40000, 100)
    ]
    log = tmp_path / "late-markers.log"
    log.write_text(
        "\n".join(preamble) + "\n" + gzip.decompress(rally_log("c07-multi-workload", "thread").read_bytes()).decode()
    )
    assert len("\n".join(preamble)) > 32 << 10  # the first 24 KiB chunk holds no marker

    def run(store: str) -> dict[str, pl.DataFrame]:
        ingest([str(log)], IngestOptions(store=str(tmp_path / store), chunk_bytes=24 << 10))
        return tables(tmp_path / store)

    ingest([str(log)], IngestOptions(store=str(tmp_path / "whole")))
    expected, got = tables(tmp_path / "whole"), run("cut")
    assert "time_gap" not in expected["threads"]["reason"].to_list()
    for name in expected:
        assert got[name].equals(expected[name]), name
    # without the scan, the first chunk alone (fed alone) would have turned the rule on
    monkeypatch.setattr("threadlog.pipeline._has_markers", lambda sources, markers: None)
    monkeypatch.setattr(pipeline, "FEED_CHUNKS", 1)
    assert "time_gap" in run("first-chunk-only")["threads"]["reason"].to_list()


def test_the_marker_scan_reads_across_blocks_and_compressed_logs(tmp_path):
    """The scan finds a marker split by a block boundary, reads gzip, and takes a truncated
    file as no marker rather than failing (parsing reports the damage)."""
    marker = b"2026-11-25 23:40:51.001 1 2 INFO rally [-] Task af5e63fc-1e6f-473a-8c62-b48136499c1b | ITER: 7 START\n"
    text = b"x" * 1000 + b"\n" + marker + b"y\n" * 10
    plain, packed = tmp_path / "a.log", tmp_path / "a.log.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    probe = Markers().probe()
    assert probe is not None
    for path in (plain, packed):
        assert contains(open_source(str(path)), probe, block=1030)  # the marker straddles two blocks
    packed.write_bytes(gzip.compress(text)[:40])
    assert not contains(open_source(str(packed)), probe)
    declared = Markers.custom(r"^job (?P<iteration>\d+) begins$", r"^job (?P<iteration>\d+) done").probe()
    assert declared is not None
    plain.write_bytes(b"2026-01-01 12:00:00 INFO app: job 3 begins\n")
    assert contains(open_source(str(plain)), declared)
    plain.write_bytes(b"2026-01-01 12:00:00 INFO app: no jobs today\n")
    assert not contains(open_source(str(plain)), declared)


def test_an_empty_file_between_others_is_counted_however_the_chunks_fall(tmp_path):
    """Each file of a set shows in lines_per_file, an empty one too, also when the file
    before it is still being matched as the empty one goes by."""
    head = "2026-11-25 23:40:51.{ms:03d} 4001 11 INFO rally.task.runner [-] line {n}"
    first, empty, last = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "c.log"
    first.write_text("".join(head.format(ms=n % 1000, n=n) + "\n" for n in range(3000)))
    empty.write_text("")
    last.write_text(head.format(ms=1, n=1) + "\n")
    summary = ingest(
        [str(first), str(empty), str(last)], IngestOptions(store=str(tmp_path / "store"), chunk_bytes=8 << 10)
    )
    assert summary["lines_per_file"] == {str(first): 3000, str(empty): 0, str(last): 1}


def test_a_workload_message_cut_by_a_chunk_boundary_is_read_whole(tmp_path):
    """The records that describe workloads are picked out as each chunk is parsed; a
    ``Running workload`` whose config continues into the next chunk still gives its scenario
    and runner, as when the log is one chunk."""
    text = gzip.decompress(rally_log("c07-multi-workload", "thread").read_bytes())
    log = tmp_path / "rally.log"
    log.write_bytes(text)
    head = text.index(b"Running workload:")
    cut = text.index(b"config = {", head) + 3  # the first chunk ends inside the config
    ingest([str(log)], IngestOptions(store=str(tmp_path / "whole")))
    ingest([str(log)], IngestOptions(store=str(tmp_path / "cut"), chunk_bytes=cut))
    expected, got = (pl.read_parquet(tmp_path / s / "workloads.parquet") for s in ("whole", "cut"))
    assert expected["scenario"].null_count() == 0
    assert expected["scenario_args"].null_count() == 0
    assert got.equals(expected)
