"""Reconstruction runs chunk by chunk: however a log is cut, the store is the same."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import BLOG_FORMAT, BLOG_PREFIX, CASES, assert_ok, rally_log
from threadlog import store as store_module
from threadlog.cli import app
from threadlog.grammars import grammar_from_format
from threadlog.ingest import IngestOptions, ingest
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


@pytest.mark.parametrize("variant", ["thread", "blog", "default"])
@pytest.mark.parametrize("case", CASES)
def test_small_chunks_give_the_same_store(tmp_path, case, variant):
    """Threads, iterations and every record's attribution come out the same whether the log
    is one chunk or dozens: the state a chunk carries into the next is complete.

    (The first chunk must hold a marker, or the automatic time-gap rule would be on: 24 KiB
    holds one in every case.)
    """
    whole = parse(case, variant, tmp_path / "whole")
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
        open_threads.append(self._threads.height)
        return out

    monkeypatch.setattr(Reconstructor, "feed", feed)
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
