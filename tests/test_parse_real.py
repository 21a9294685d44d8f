"""Parsing real logs: every line lands in exactly one record, as the ground truth says."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import CASES, OPENSTACK, RALLY, VARIANTS, rally_log, truth
from threadlog.errors import ThreadlogError
from threadlog.grammars import grammar_from_format, grammar_from_rally_conf
from threadlog.ingest import IngestOptions, ingest


def lines_per_record(store: Path) -> pl.DataFrame:
    """(line, n): each record's first line and how many physical lines it holds."""
    rec = pl.read_parquet(store / "records.parquet")
    return rec.select("line", n=pl.col("message").str.count_matches("\n") + 1).sort("line")


def accounted(summary: dict) -> None:
    assert summary["lines"] == summary["lines_in_records"] + summary["unparsed_lines"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_records_are_the_truths_records(case_store, case, variant):
    """Each record starts on a truth header line and holds exactly that record's lines."""
    store, summary = case_store(case, variant)
    expected = (
        truth(case)
        .group_by("record_line")
        .agg(pl.len().alias("n").cast(pl.UInt32))
        .rename({"record_line": "line"})
        .sort("line")
    )
    got = lines_per_record(store).with_columns(pl.col("n").cast(pl.UInt32))
    assert_frame_equal(got, expected)
    assert summary["unparsed_lines"] == 0
    accounted(summary)


@pytest.mark.parametrize("case", CASES)
def test_format_is_detected(case_store, case):
    """Without --format the oslo presets are recognised, with and without the thread ident."""
    assert case_store(case, "thread")[1]["format"]["name"] == "oslo-thread"
    assert case_store(case, "default")[1]["format"]["name"] == "oslo"
    assert case_store(case, "thread")[1]["format"]["detected"] is True


def test_exception_lines_join_their_pid_not_the_previous_line(tmp_path):
    """Interleaved tracebacks of two processes each go to their own ERROR record."""
    text = (
        "\n".join(
            [
                "2026-11-25 23:39:51.397 18841 ERROR rally.task.runner [-] Iteration 3 raised Exception: KeyError",
                "2026-11-25 23:39:51.398 18840 ERROR rally.task.runner [-] Iteration 5 raised Exception: KeyError",
                "2026-11-25 23:39:51.397 18841 ERROR rally.task.runner Traceback (most recent call last):",
                "2026-11-25 23:39:51.398 18840 ERROR rally.task.runner Traceback (most recent call last):",
                "2026-11-25 23:39:51.397 18841 ERROR rally.task.runner KeyError: 'a'",
                "2026-11-25 23:39:51.398 18840 ERROR rally.task.runner KeyError: 'b'",
            ]
        )
        + "\n"
    )
    log = tmp_path / "x.log"
    log.write_text(text)
    ingest([str(log)], IngestOptions(store=str(tmp_path / "s")))
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["message"].to_list() == [
        "Iteration 3 raised Exception: KeyError\nTraceback (most recent call last):\nKeyError: 'a'",
        "Iteration 5 raised Exception: KeyError\nTraceback (most recent call last):\nKeyError: 'b'",
    ]
    assert rec["line_end"].to_list() == [5, 6]


def test_small_chunks_give_the_same_table(tmp_path, case_store):
    """Records that span chunk boundaries (continuations, late tracebacks) come out whole."""
    store, _ = case_store("c04-failures", "thread")
    whole = pl.read_parquet(store / "records.parquet")
    ingest([str(rally_log("c04-failures", "thread"))], IngestOptions(store=str(tmp_path / "s"), chunk_bytes=4096))
    chunked = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert_frame_equal(chunked.drop("source"), whole.drop("source"))


def test_rally_conf_gives_the_format(tmp_path):
    """--rally-conf reads logging_*_format_string and parses the log it configured."""
    conf = tmp_path / "rally.conf"
    conf.write_text(
        "[DEFAULT]\n"
        "logging_default_format_string = %(asctime)s.%(msecs)03d %(process)d %(thread)d "
        "%(levelname)s %(name)s [-] %(instance)s%(message)s\n"
        "logging_context_format_string = %(asctime)s.%(msecs)03d %(process)d %(thread)d "
        "%(levelname)s %(name)s [%(request_id)s %(user_identity)s] %(instance)s%(message)s\n"
        "logging_debug_format_suffix =\n"
    )
    grammar = grammar_from_rally_conf(str(conf))
    # the default format is the context one's "[-]" form: one pattern reads both
    assert len(grammar.headers) == 1
    summary = ingest(
        [str(rally_log("c07-multi-workload", "thread"))], IngestOptions(grammar=grammar, store=str(tmp_path / "s"))
    )
    assert summary["records"] == 1880
    assert summary["unparsed_lines"] == 0
    assert summary["format"]["name"] == "rally.conf"


def test_case_rally_conf_reads_the_truth_format(tmp_path):
    """The rally.conf a case ran with describes its truth format (with threadName)."""
    grammar = grammar_from_rally_conf(str(RALLY / "c05-serial" / "rally.conf"))
    assert {"thread", "threadName", "process"} <= grammar.attributes


class TestOpenStackLogs:
    def parse(self, tmp_path: Path, *names: str, **kw) -> tuple[dict, pl.DataFrame]:
        summary = ingest([str(OPENSTACK / n) for n in names], IngestOptions(store=str(tmp_path / "s"), **kw))
        accounted(summary)
        return summary, pl.read_parquet(tmp_path / "s" / "records.parquet")

    def test_trace_tracebacks_join_their_records(self, tmp_path):
        """neutron server.log: all 328 TRACE lines join records, none starts one."""
        summary, rec = self.parse(tmp_path, "neutron-server.log")
        raw = (OPENSTACK / "neutron-server.log").read_text().splitlines()
        assert summary["lines"] == len(raw) == 2981
        assert summary["unparsed_lines"] == 0
        assert not rec["level"].is_in(["TRACE"]).any()
        with_trace = rec.filter(pl.col("message").str.contains("Traceback"))
        assert with_trace.height > 0
        assert summary["processes"] == 18

    def test_debug_suffix_is_split_off_debug_records(self, tmp_path):
        """nova-compute.log: DEBUG records carry funcName/pathname/lineno, others do not."""
        _, rec = self.parse(tmp_path, "nova-compute.log")
        debug = rec.filter(pl.col("level") == "DEBUG")
        assert debug["lineno"].null_count() < debug.height
        assert (
            rec.filter(pl.col("level") != "DEBUG")["func_name"].null_count()
            == rec.filter(pl.col("level") != "DEBUG").height
        )
        assert set(rec["level"].unique()) >= {"DEBUG", "INFO", "AUDIT"}

    def test_rotated_gzip_with_instance_tracebacks(self, tmp_path):
        """The rotated .gz: 61,582 lines, TRACE lines with [instance: ...] join their records."""
        summary, rec = self.parse(tmp_path, "nova-compute.log-20151124.gz")
        assert summary["lines"] == 61582
        assert summary["records"] < 12000
        assert rec["pid"].unique().sort().to_list() == [5511, 8512]

    def test_request_context_and_restart(self, tmp_path):
        """l3-agent.log: [req-ID None] contexts and a pid restart logged as 'Logging enabled!'."""
        summary, rec = self.parse(tmp_path, "l3-agent.log")
        assert rec["request_id"].drop_nulls().str.starts_with("req-").all()
        assert rec["request_id"].null_count() > 0  # the [-] records
        assert summary["processes"] == 2

    def test_missing_final_newline_and_added_continuations(self, tmp_path):
        """nova-api-2018.log has no final newline; its continuation lines join records."""
        summary, _ = self.parse(tmp_path, "nova-api-2018.log")
        assert summary["lines"] == 9
        assert summary["multiline_records"] == 2

    def test_rotated_set_in_order(self, tmp_path):
        """Several files parse oldest first, each with its own line numbers."""
        summary, rec = self.parse(tmp_path, "l3-agent.log", "metadata-agent.log")
        assert summary["lines"] == 15
        # metadata-agent.log begins 2015-10-20 09:23:45, l3-agent.log 2015-10-29 10:51:23
        assert rec["source"].unique(maintain_order=True).to_list() == [
            str(OPENSTACK / "metadata-agent.log"),
            str(OPENSTACK / "l3-agent.log"),
        ]
        assert rec.filter(pl.col("source").str.ends_with("metadata-agent.log"))["line"].min() == 1

    def test_syslog_fits_no_format(self, tmp_path):
        """A syslog file alone gets the clear 'no format fits' error."""
        with pytest.raises(ThreadlogError, match="--format"):
            self.parse(tmp_path, "var_log_messages")

    def test_syslog_with_a_format_is_all_unparsed(self, tmp_path):
        """With an explicit --format that fits nothing, every line is an unparsed record."""
        grammar = grammar_from_format("%(asctime)s %(levelname)s %(name)s %(message)s")
        summary = ingest(
            [str(OPENSTACK / "var_log_messages")],
            IngestOptions(grammar=grammar, store=str(tmp_path / "s"), allow_unparsed=True),
        )
        accounted(summary)
        assert summary["unparsed_lines"] == summary["lines"] == summary["records"] == 9


def test_crlf_and_mixed_line_endings(tmp_path):
    """CRLF endings lose their CR; a file mixing both parses the same."""
    lines = [
        "2015-10-29 10:51:23.829 3667 INFO neutron.agent [-] one",
        "2015-10-29 10:51:23.830 3667 INFO neutron.agent [-] two",
        "  continued",
    ]
    log = tmp_path / "crlf.log"
    log.write_bytes(("\r\n".join(lines[:2]) + "\n" + lines[2] + "\r\n").encode())
    summary = ingest([str(log)], IngestOptions(store=str(tmp_path / "s")))
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["message"].to_list() == ["one", "two\n  continued"]
    accounted(summary)


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    """Bytes that are not UTF-8 are replaced, counted, and never fatal."""
    good = b"2015-10-29 10:51:23.829 3667 INFO neutron.agent [-] caf\xc3\xa9\n"
    bad = b"2015-10-29 10:51:23.830 3667 INFO neutron.agent [-] caf\xe9 \xff\n"
    log = tmp_path / "latin1.log"
    log.write_bytes(good + bad)
    summary = ingest([str(log)], IngestOptions(store=str(tmp_path / "s")))
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert summary["replaced_lines"] == 1
    assert rec["message"].to_list() == ["café", "caf\ufffd \ufffd"]


def test_gzip_and_plain_give_the_same_records(tmp_path):
    """A .gz log parses to the same records as its plain text."""
    plain = tmp_path / "plain.log"
    plain.write_bytes(gzip.decompress(rally_log("c05-serial", "thread").read_bytes()))
    ingest([str(plain)], IngestOptions(store=str(tmp_path / "a")))
    ingest([str(rally_log("c05-serial", "thread"))], IngestOptions(store=str(tmp_path / "b")))
    a = pl.read_parquet(tmp_path / "a" / "records.parquet").drop("source")
    b = pl.read_parquet(tmp_path / "b" / "records.parquet").drop("source")
    assert_frame_equal(a, b)


def test_lines_before_the_first_record_are_unparsed(tmp_path):
    """Continuation-looking lines at the top have no record to join: each is unparsed."""
    log = tmp_path / "x.log"
    log.write_text("  orphan one\n  orphan two\n2015-10-29 10:51:23.829 3667 INFO a.b [-] first\n")
    summary = ingest([str(log)], IngestOptions(store=str(tmp_path / "s"), allow_unparsed=True))
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    assert rec["parsed"].to_list() == [False, False, True]
    assert summary["unparsed_lines"] == 2
    accounted(summary)


def test_rotated_set_that_changed_format(tmp_path):
    """Each file of a rotated set is read with its own detected format, into one table."""
    older = tmp_path / "rally.log.1"
    newer = tmp_path / "rally.log"
    older.write_bytes(gzip.decompress(rally_log("c05-serial", "thread").read_bytes()))
    newer.write_bytes(gzip.decompress(rally_log("c07-multi-workload", "default").read_bytes()))
    summary = ingest([str(older), str(newer)], IngestOptions(store=str(tmp_path / "s")))
    accounted(summary)
    assert summary["format_per_file"] == {str(older): "oslo-thread", str(newer): "oslo"}
    assert summary["unparsed_lines"] == 0
    assert summary["records"] == 1315 + 1880
    rec = pl.read_parquet(tmp_path / "s" / "records.parquet")
    by_file = rec.group_by("source").agg(pl.col("thread").null_count().alias("no_ident"), pl.len())
    assert dict(by_file.select("source", "no_ident").iter_rows()) == {str(older): 0, str(newer): 1880}


@pytest.mark.parametrize(("suffix", "compress"), [(".bz2", bz2.compress), (".xz", lzma.compress)])
def test_bz2_and_xz_logs(tmp_path, suffix, compress):
    """Rotated logs compressed with bzip2 or xz read like their plain text."""
    plain = gzip.decompress(rally_log("c05-serial", "thread").read_bytes())
    packed = tmp_path / f"rally.log.1{suffix}"
    packed.write_bytes(compress(plain))
    summary = ingest([str(packed)], IngestOptions(store=str(tmp_path / "s")))
    assert (summary["lines"], summary["records"], summary["iterations"]["total"]) == (2122, 1315, 600)


@pytest.mark.parametrize(("suffix", "compress"), [(".bz2", bz2.compress), (".xz", lzma.compress)])
def test_truncated_bz2_and_xz_are_user_errors(tmp_path, suffix, compress):
    """A bzip2 or xz log cut short says so in one ThreadlogError."""
    data = compress(gzip.decompress(rally_log("c05-serial", "thread").read_bytes()))
    cut = tmp_path / f"cut.log{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ThreadlogError, match="truncated or corrupt"):
        ingest([str(cut)], IngestOptions(store=str(tmp_path / "s")))
