"""The parse summary's dataclass: its JSON form round-trips, and older stores' meta.json still read."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from threadlog.cli import app
from threadlog.ingest import IngestOptions, ingest_summary
from threadlog.reconstruct import ReconstructOptions
from threadlog.store import Store
from threadlog.summary import FormatSummary, IterationCounts, ParseSummary, RallyJoin, RecycledIdents, Timings

from .conftest import RALLY, rally_log

# meta.json as the threadlog before ParseSummary wrote it (a parse of c04-failures with its
# Rally report); the sources' paths and times blanked, as they name the machine it ran on
BEFORE = Path(__file__).parent / "meta_before_parse_summary.json"

counts = st.integers(min_value=0, max_value=10**9)
seconds = st.floats(min_value=0, max_value=1e5, allow_nan=False)
texts = st.text(max_size=20)
times = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.none() | st.just(UTC))
optional_seconds = st.none() | seconds

summaries = st.builds(
    ParseSummary,
    files=st.lists(texts, max_size=3),
    format=st.builds(
        FormatSummary, name=texts, formats=st.lists(texts, max_size=2), exception_prefixes=st.lists(texts, max_size=2)
    ),
    format_per_file=st.none() | st.dictionaries(texts, texts, max_size=3),
    lines=counts,
    lines_per_file=st.dictionaries(texts, counts, max_size=3),
    lines_in_records=counts,
    bytes=counts,
    records=counts,
    multiline_records=counts,
    unparsed_lines=counts,
    replaced_lines=counts,
    first_ts=st.none() | times,
    last_ts=st.none() | times,
    processes=counts,
    pid_thread_pairs=st.none() | counts,
    warnings=st.lists(texts, max_size=2),
    timings=st.builds(
        Timings,
        parse=seconds,
        tables=seconds,
        write=seconds,
        reconstruct_in_parse=optional_seconds,
        rally=optional_seconds,
        rally_report_read=optional_seconds,
        rally_report_wait=optional_seconds,
    ),
    rally=st.none()
    | st.lists(
        st.builds(
            RallyJoin,
            report=texts,
            shape=st.sampled_from(["report", "results"]),
            tasks=st.lists(texts, max_size=2),
            report_iterations=counts,
            of_the_log_tasks=counts,
            joined=counts,
            undecided=counts,
            unmatched=counts,
            unmatched_reasons=st.dictionaries(texts, counts, max_size=3),
            atomic_actions=counts,
            utc_offset=texts,
            utc_offset_from=st.sampled_from(["given", "inferred"]),
        ),
        max_size=2,
    ),
    notes=st.lists(texts, max_size=2),
    seconds=seconds,
    store=st.none() | texts,
)


# the figures from threads and iterations come all together (a reconstructing parse) or not at all
figures = st.fixed_dictionaries(
    {
        "logical_threads": counts,
        "recycled_idents": st.builds(RecycledIdents, count=counts, most_generations=counts),
        "tasks": counts,
        "workloads": counts,
        "iterations": st.builds(IterationCounts, total=counts, ok=counts, error=counts, unfinished=counts),
    }
)
with_or_without_figures = st.tuples(summaries, st.none() | figures).map(
    lambda pair: pair[0] if pair[1] is None else replace(pair[0], **pair[1])
)


@given(with_or_without_figures)
def test_json_form_round_trips(summary: ParseSummary) -> None:
    text = json.dumps(summary.to_json(), default=str)  # as meta.json and --json write it
    assert ParseSummary.from_json(json.loads(text)) == summary


def test_real_parse_round_trips_through_meta_json(tmp_path: Path) -> None:
    store = tmp_path / "store"
    report = RALLY / "c04-failures" / "rally-report.json.gz"
    options = IngestOptions(store=str(store), rally_reports=[str(report)])
    summary = ingest_summary([str(rally_log("c04-failures", "thread"))], options)
    assert summary.iterations is not None
    assert summary.iterations.total > 0
    assert summary.rally
    assert summary.timings.rally is not None
    assert isinstance(summary.first_ts, datetime)
    stored = Store.open(store).summary
    assert stored == summary
    assert json.loads((store / "meta.json").read_text())["summary"] == {
        k: v for k, v in summary.to_json().items() if k != "store"
    }


def test_records_only_parse_has_no_figures(tmp_path: Path) -> None:
    store = tmp_path / "store"
    options = IngestOptions(store=str(store), reconstruct=None)
    summary = ingest_summary([str(rally_log("c05-serial", "thread"))], options)
    assert summary.logical_threads is None
    assert summary.iterations is None
    assert summary.rally is None
    assert summary.timings.reconstruct_in_parse is None
    shown = summary.to_json()
    assert "logical_threads" not in shown
    assert "rally" not in shown
    assert "reconstruct_in_parse" not in shown["timings"]
    assert Store.open(store).summary == summary


def test_meta_json_from_before_the_dataclass_reads() -> None:
    old = json.loads(BEFORE.read_text())["summary"]
    summary = ParseSummary.from_json(old)
    assert summary.to_json() == old  # nothing lost, nothing added, same key order
    assert list(summary.to_json()) == list(old)
    assert summary.first_ts == datetime(2026, 11, 25, 23, 39, 46, 226000)
    assert summary.last_ts is not None
    assert summary.last_ts - summary.first_ts == timedelta(seconds=13.601)
    assert summary.iterations == IterationCounts(total=1170, ok=756, error=414, unfinished=0)
    assert summary.rally is not None
    assert summary.rally[0].joined == 1170


def test_info_reads_a_store_written_before_the_dataclass(tmp_path: Path) -> None:
    """`info --json` of an older store prints its summary as it was, and the store."""
    store = tmp_path / "store"
    ingest_summary(
        [str(rally_log("c05-serial", "thread"))],
        IngestOptions(store=str(store), reconstruct=ReconstructOptions()),
    )
    shutil.copy(BEFORE, store / "meta.json")
    result = CliRunner().invoke(app, ["info", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    old = json.loads(BEFORE.read_text())["summary"]
    assert json.loads(result.stdout) == {**old, "store": str(store.resolve())}
    assert result.stdout == json.dumps({**old, "store": str(store.resolve())}, indent=2) + "\n"


def test_keys_an_older_threadlog_left_out_take_defaults() -> None:
    old = json.loads(BEFORE.read_text())["summary"]
    for key in ("warnings", "notes", "rally", "lines_per_file", "replaced_lines"):
        del old[key]
    old["timings"] = {"parse": 1.5}
    summary = ParseSummary.from_json(old)
    assert summary.warnings == []
    assert summary.notes == []
    assert summary.rally is None
    assert summary.lines_per_file == {}
    assert summary.replaced_lines == 0
    assert summary.timings == Timings(parse=1.5)
    assert summary.records == old["records"]
