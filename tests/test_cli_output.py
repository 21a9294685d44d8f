"""The CLI in a terminal and in a pipe, at 80 and 200 columns: tables, --json, output files, help.

A terminal is rich forced to one (``TTY_COMPATIBLE=1``) of ``COLUMNS`` width; piped is the
CliRunner's plain capture. Listings are checked against their own ``--json`` rows, so the
tests hold for whatever the store contains.
"""

from __future__ import annotations

import gzip
import inspect
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner, Result

from tests.conftest import assert_clean_error, assert_ok
from threadlog.cli import PRESET_NAMES, app
from threadlog.listing import cell
from threadlog.render import plural

C07 = "c07-multi-workload"
WIDTHS = [80, 200]
BOX = set("│┃┆┊║─━┄┈═┌┏┐┓└┗┘┛├┣┤┫┬┳┴┻┼╋╭╮╯╰…")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
THREAD_UID = re.compile(r"^[\d-]+/[\d-]+#\d+$")
BASE_ENV = {"THREADLOG_STORE": None, "FORCE_COLOR": None, "TTY_INTERACTIVE": None, "NO_COLOR": "1"}


def run(mode: str, width: int, *args: object) -> Result:
    """The CLI at `width` columns, in a terminal (``mode == 'tty'``) or piped."""
    env = {**BASE_ENV, "COLUMNS": str(width), "TTY_COMPATIBLE": "1" if mode == "tty" else None}
    return CliRunner(env=env).invoke(app, [str(a) for a in args])


def plain(text: str) -> str:
    return ANSI.sub("", text)


def tsv(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


@pytest.fixture
def c07(case_store) -> Path:
    return case_store(C07, "thread")[0]


LISTINGS = {
    "iterations": ["iterations", "--limit", "0"],
    "iterations-error": ["iterations", "--status", "error", "--limit", "0"],
    "threads": ["threads", "--limit", "60"],
    "recycled": ["threads", "--recycled", "--limit", "0"],
    "formats": ["formats"],
}
KEEP = {"iterations": "thread_uid", "iterations-error": "thread_uid", "threads": "thread_uid", "recycled": "thread"}


def _args(name: str, store: Path) -> list[object]:
    args: list[object] = list(LISTINGS[name])
    return args if name == "formats" else [*args, "--store", store]


# -- piped and --json ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LISTINGS))
def test_piped_listing_is_plain_and_ignores_width(c07: Path, name: str) -> None:
    """Piped, a listing is a header and one tab-separated row per line, the same at 80 and 200 columns."""
    narrow, wide = (run("pipe", w, *_args(name, c07)) for w in WIDTHS)
    assert_ok(narrow)
    assert narrow.stdout == wide.stdout
    assert not BOX & set(narrow.stdout)
    header, rows = tsv(narrow.stdout)
    assert rows
    assert all(len(r) == len(header) for r in rows)
    assert "\x1b" not in narrow.stdout


@pytest.mark.parametrize("name", list(LISTINGS))
def test_json_holds_the_rows_of_the_table(c07: Path, name: str) -> None:
    """`--json` parses and holds the same rows, in the same order, as the piped table."""
    header, rows = tsv(run("pipe", 80, *_args(name, c07)).stdout)
    result = run("pipe", 80, *_args(name, c07), "--json")
    assert_ok(result)
    objects = json.loads(result.stdout)
    assert len(objects) == len(rows) > 0
    for obj, row in zip(objects, rows, strict=True):
        assert list(obj) == header
        for value, text in zip(obj.values(), row, strict=True):
            if value is None:
                assert text == ""
            elif isinstance(value, float):
                assert float(text) == pytest.approx(value)
            else:
                assert text.replace("\\n", "\n") == str(value)


@pytest.mark.parametrize("width", WIDTHS)
def test_workloads_piped_json_and_terminal(c07: Path, width: int) -> None:
    """`workloads`: piped, one statistics row per line; --json, each workload with the same rows; a
    terminal shows each workload's block with numbers whole."""
    piped = run("pipe", width, "workloads", "--store", c07)
    assert_ok(piped)
    assert not BOX & set(piped.stdout)
    header, rows = tsv(piped.stdout)
    assert header[:3] == ["task", "workload", "action"]
    workloads = json.loads(run("pipe", width, "workloads", "--json", "--store", c07).stdout)
    assert len(workloads) == 5
    stats = [(w["task"], w["workload"], s) for w in workloads for s in w["statistics"]]
    assert len(stats) == len(rows)
    for (task, workload, s), row in zip(stats, rows, strict=True):
        assert row[:3] == [task, str(workload), s["action"]]
        assert int(row[header.index("count")]) == s["count"]
    terminal = run("tty", width, "workloads", "--store", c07)
    assert_ok(terminal)
    text = plain(terminal.stdout)
    assert "…" not in text
    totals = [line.split() for line in text.splitlines() if line.startswith("total ")]
    assert [int(t[-1]) for t in totals] == [s["count"] for _, _, s in stats if s["action"] == "total"]


# -- terminal -----------------------------------------------------------------------------


def _terminal_rows(text: str, header: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The columns a terminal table shows and its rows, cut at the header's column starts."""
    lines = plain(text).splitlines()
    at = next(i for i, line in enumerate(lines) if set(line.split()) <= set(header) and line.split())
    shown = lines[at].split()
    starts = [lines[at].index(name) for name in shown]
    rows = []
    for line in lines[at + 2 :]:
        if not line.strip() or line.startswith(("count ", "not shown")):
            break
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        if cells[0]:  # a line that only continues a wrapped text cell starts blank
            rows.append(dict(zip(shown, cells, strict=True)))
    return shown, rows


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [n for n in LISTINGS if n != "formats"])
def test_terminal_table_fits_and_cuts_no_id_or_number(c07: Path, name: str, width: int) -> None:
    """In a terminal the table fits its width, keeps its id column, and shows ids and numbers whole."""
    objects = json.loads(run("pipe", width, *_args(name, c07), "--json").stdout)
    header = list(objects[0])
    result = run("tty", width, *_args(name, c07))
    assert_ok(result)
    text = plain(result.stdout)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    shown, rows = _terminal_rows(text, header)
    assert KEEP[name] in shown
    assert len(rows) == len(objects)
    for obj, row in zip(objects, rows, strict=True):
        for column in shown:
            if column != "error_type":  # free text, may wrap
                assert row[column] == cell(obj[column]), (column, row)
    left_out = [c for c in header if c not in shown]
    if left_out:
        assert f"not shown at this width: {', '.join(left_out)}" in result.stderr
    if width == 200:
        assert shown == header


def test_terminal_thread_uid_can_be_pasted_into_timeline(c07: Path) -> None:
    """A thread_uid read off the 80-column table names its thread in `timeline --thread`."""
    header = tsv(run("pipe", 80, "threads", "--store", c07).stdout)[0]
    _, rows = _terminal_rows(run("tty", 80, "threads", "--store", c07).stdout, header)
    uid = rows[-1]["thread_uid"]
    assert THREAD_UID.match(uid)
    result = run("pipe", 80, "timeline", "--thread", uid, "--store", c07)
    assert_ok(result)
    assert f"thread {uid}" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_columns_chooses_what_is_shown(c07: Path, width: int) -> None:
    """`--columns` picks and orders the columns in a terminal, piped and in JSON; a bad name lists the good ones."""
    args = ["iterations", "--columns", "last_line,thread_uid,task", "--limit", "5", "--store", c07]
    header, rows = tsv(run("pipe", width, *args).stdout)
    assert header == ["last_line", "thread_uid", "task"]
    assert len(rows) == 5
    assert list(json.loads(run("pipe", width, *args, "--json").stdout)[0]) == header
    shown, table = _terminal_rows(run("tty", width, *args).stdout, header)
    assert shown == header
    assert [list(r.values()) for r in table] == rows  # the 36-character task uuid whole even at 80
    twice = run("pipe", width, "iterations", "--columns", "thread_uid,pid,thread_uid", "--limit", "1", "--store", c07)
    assert tsv(twice.stdout)[0] == ["thread_uid", "pid"]
    bad = run("pipe", width, "iterations", "--columns", "thread_uid,nope", "--store", c07)
    assert_clean_error(bad, "'nope'", "error_type", "thread_uid")


def test_formats_shows_every_format_whole_at_80_columns() -> None:
    """`formats` in an 80-column terminal shows each format string whole, on one line."""
    from threadlog.grammars import PRESETS  # noqa: PLC0415

    result = run("tty", 80, "formats")
    assert_ok(result)
    lines = plain(result.stdout).splitlines()
    for grammar in PRESETS.values():
        for fmt in grammar.formats:
            assert any(line.endswith(fmt) for line in lines), fmt
    assert any(line.endswith("%(levelname)s:%(name)s:%(message)s") for line in lines)


def test_preset_names_are_the_presets() -> None:
    """The preset names --preset accepts (listed without loading the parser) are the built-in presets."""
    from threadlog.grammars import PRESETS  # noqa: PLC0415

    assert tuple(PRESETS) == PRESET_NAMES


def test_pid_gap_default_is_the_reconstructors() -> None:
    """--pid-gap's default (declared without loading the reconstructor) is the reconstructor's own."""
    from threadlog.cli import DEFAULT_PID_GAP  # noqa: PLC0415
    from threadlog.reconstruct import DEFAULT_PID_GAP as RECONSTRUCTOR_DEFAULT  # noqa: PLC0415

    assert DEFAULT_PID_GAP == RECONSTRUCTOR_DEFAULT


def test_help_loads_no_polars_rich_or_parser() -> None:
    """The CLI module and --help load none of polars, rich, numpy or pyparsing: they start at once."""
    probe = (
        "import sys\n"
        "from threadlog.cli import main\n"
        "sys.argv = ['threadlog', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'polars', 'rich', 'numpy', 'pyparsing'})\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Commands" in done.stdout
    assert done.stdout.splitlines()[-1] == ""


@pytest.mark.parametrize("mode", ["tty", "pipe"])
def test_info_and_timeline_json_and_plain(c07: Path, mode: str) -> None:
    """`info` piped is key/value lines; `timeline --json` holds the view, its records those of --out."""
    info = run(mode, 80, "info", "--store", c07)
    assert_ok(info)
    if mode == "pipe":
        assert "records\t1,880" in info.stdout.splitlines()
        assert not BOX & set(info.stdout)
    assert json.loads(run(mode, 80, "info", "--json", "--store", c07).stdout)["records"] == 1880
    view = json.loads(
        run(mode, 80, "timeline", "-i", "42", "--workload", "3", "--context", "--json", "--store", c07).stdout
    )
    assert (view["head"]["iteration"], view["head"]["workload"]) == (42, 3)
    lines = run("pipe", 80, "timeline", "-i", "42", "--workload", "3", "--to", "csv", "--store", c07).stdout
    assert [r["line"] for r in view["records"]] == pl.read_csv(io.StringIO(lines))["line"].to_list()
    assert view["overlapping"]
    assert all(THREAD_UID.match(r["thread_uid"]) for r in view["overlapping"])


# -- a log without Rally iterations ---------------------------------------------------------


@pytest.fixture
def plain_store(tmp_path: Path) -> Path:
    log = tmp_path / "app.log"
    log.write_text("2026-01-01 10:00:00,000 INFO hello\n2026-01-01 10:00:01,500 WARNING there\n")
    store = tmp_path / "store"
    assert_ok(run("pipe", 80, "parse", log, "--format", "%(asctime)s %(levelname)s %(message)s", "--store", store))
    return store


@pytest.mark.parametrize("mode", ["tty", "pipe"])
def test_no_iterations_says_so(plain_store: Path, mode: str) -> None:
    """A log without Rally iterations: `iterations` says so on stderr (exit 0), `--json` prints []."""
    result = run(mode, 80, "iterations", "--store", plain_store)
    assert_ok(result)
    assert result.stdout == ""
    assert "holds no Rally iterations" in result.stderr
    assert "threadlog threads" in result.stderr
    assert "timeline --thread" in result.stderr
    as_json = run(mode, 80, "iterations", "--json", "--store", plain_store)
    assert_ok(as_json)
    assert json.loads(as_json.stdout) == []
    timeline = run(mode, 80, "timeline", "-i", "1", "--store", plain_store)
    assert_clean_error(timeline, "holds no Rally iterations", "timeline --thread")


def test_thread_timeline_without_pid_says_dash(plain_store: Path) -> None:
    """A thread of a log without pids reads `pid -`, not `pid None`."""
    uid = tsv(run("pipe", 80, "threads", "--store", plain_store).stdout)[1][0][0]
    result = run("pipe", 80, "timeline", "--thread", uid, "--store", plain_store)
    assert_ok(result)
    assert "pid -" in result.stdout
    assert "None" not in result.stdout


def test_plural() -> None:
    assert [plural(n, "iteration") for n in (0, 1, 2, 1000)] == [
        "0 iterations",
        "1 iteration",
        "2 iterations",
        "1,000 iterations",
    ]


# -- output files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["export", "trace", "--out", "t.csv"], ".json, .json.gz"),
        (["export", "records", "--out", "r.json"], ".csv, .parquet, .jsonl"),
        (["export", "iterations", "--out", "r"], ".csv, .parquet, .jsonl"),
        (["timeline", "-i", "42", "--workload", "2", "--out", "t.json"], ".csv, .parquet, .jsonl"),
    ],
)
def test_extension_the_command_cannot_write_is_refused_with_the_list(
    c07: Path, tmp_path: Path, monkeypatch, args: list[str], listed: str
) -> None:
    """One rule: an extension the command cannot write is refused, naming those it can; nothing is written."""
    monkeypatch.chdir(tmp_path)
    line = assert_clean_error(run("pipe", 80, *args, "--store", c07), "cannot be written", listed)
    assert line.startswith(f"error: {args[args.index('--out') + 1]}:")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [["export", "iterations"], ["export", "records", "--status", "error"], ["timeline", "-i", "57", "--workload", "5"]],
)
def test_out_dash_writes_the_file_to_stdout(c07: Path, tmp_path: Path, args: list[str]) -> None:
    """`-o -` writes to stdout (csv by default, --to jsonl/parquet) the same rows `-o FILE` writes."""
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"x.{fmt}"
        assert_ok(run("pipe", 80, *args, "-o", out, "--store", c07))
        piped = run("pipe", 80, *args, "-o", "-", *(["--to", fmt] if fmt != "csv" else []), "--store", c07)
        assert_ok(piped)
        assert piped.stdout_bytes == out.read_bytes() if fmt != "parquet" else piped.stdout_bytes[:4] == b"PAR1"
        if fmt == "parquet":
            assert pl.read_parquet(io.BytesIO(piped.stdout_bytes)).equals(pl.read_parquet(out))


@pytest.mark.parametrize(
    "args",
    [
        ["timeline", "-i", "42", "--workload", "2", "--to", "parquet"],
        ["export", "records", "-o", "-", "--to", "parquet"],
        ["export", "trace", "-o", "-", "--to", "json.gz"],
    ],
)
def test_binary_is_never_written_to_a_terminal(c07: Path, args: list[str]) -> None:
    """A binary format to stdout is refused when stdout is a terminal, written when piped."""
    refused = run("tty", 80, *args, "--store", c07)
    assert_clean_error(refused, "binary", "terminal", "--out FILE")
    assert refused.stdout == ""
    piped = run("pipe", 80, *args, "--store", c07)
    assert_ok(piped)
    assert piped.stdout_bytes[:4] == b"PAR1" or piped.stdout_bytes[:2] == b"\x1f\x8b"


def test_trace_json_gz(c07: Path, tmp_path: Path) -> None:
    """`export trace -o run.json.gz` writes the same trace as run.json, gzipped."""
    assert_ok(run("pipe", 80, "export", "trace", "-o", tmp_path / "run.json", "--store", c07))
    assert_ok(run("pipe", 80, "export", "trace", "-o", tmp_path / "run.json.gz", "--store", c07))
    assert gzip.decompress((tmp_path / "run.json.gz").read_bytes()) == (tmp_path / "run.json").read_bytes()


def test_to_that_disagrees_with_the_extension_is_refused(c07: Path, tmp_path: Path) -> None:
    result = run("pipe", 80, "export", "records", "-o", tmp_path / "r.csv", "--to", "parquet", "--store", c07)
    assert_clean_error(result, "--to parquet", "extension")
    assert not (tmp_path / "r.csv").exists()


# -- every command's options and help ------------------------------------------------------


def _commands() -> dict[str, typer.core.TyperCommand]:
    """Every registered command, as click sees it (so a command added later is walked too)."""
    group = typer.main.get_command(app)
    return {name: group.commands[name] for name in group.list_commands(None)}  # type: ignore[attr-defined]


def _options(command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def test_every_command_has_the_shared_options() -> None:
    """A command that writes takes -o for --out; every other one lists or shows, with --json (-h: the help test)."""
    commands = _commands()
    assert {"parse", "formats", "info", "threads", "iterations", "timeline", "export"} <= set(commands)
    for name, command in commands.items():
        opts = _options(command)
        if "--out" in opts:
            assert "-o" in opts, name
        else:
            assert "--json" in opts, name


PYTHON_TYPES = re.compile(
    r"<(str|int|float|bool|path|text|integer)\b|list\[|dict\[|float range|int range|\{\w+\}|NoneType|Optional"
)


@pytest.mark.parametrize("width", WIDTHS)
def test_help_of_every_command_has_words_not_types(width: int) -> None:
    """Every command's -h at 80 and 200 columns: exit 0, no Python type names, lines fit except examples."""
    for name, command in [("", None), *_commands().items()]:
        result = run("pipe", width, *([name] if name else []), "-h")
        assert_ok(result)
        text = result.stdout
        assert not PYTHON_TYPES.search(text), (name, PYTHON_TYPES.search(text))
        examples = _examples(command.help if command else app.info.help)
        assert examples, name
        for example in examples:
            assert any(line.strip() == example for line in text.splitlines()), (name, width, example)
        too_long = [ln for ln in text.splitlines() if len(ln) > width and ln.strip() not in examples]
        assert not too_long, (name, too_long)
        if not name:  # each command's first line is listed whole, not cut short with "..."
            listed = text.split("Commands:")[1].splitlines()
            assert not [ln for ln in listed if ln.endswith("...")], listed


def _examples(doc: str | None) -> list[str]:
    """The example lines of a docstring: its indented paragraphs."""
    lines = inspect.cleandoc(doc or "").splitlines()
    return [line.strip() for line in lines if line.startswith("    ")]


def test_help_follows_the_terminal_width() -> None:
    """Help text fills 200 columns when it has them, instead of stopping at 80."""
    narrow = run("pipe", 80, "export", "-h").stdout
    wide = run("pipe", 200, "export", "-h").stdout
    assert max(map(len, narrow.splitlines())) <= 80 < max(map(len, wide.splitlines()))


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["timeline", "-i", "1", "--level", "LOUD"], "'warning'"),
        (["iterations", "--status", "broken"], "'unfinished'"),
        (["parse", "x.log", "--preset", "nope"], "'oslo-thread'"),
    ],
)
def test_bad_choice_is_refused_with_the_list(tmp_path: Path, args: list[str], listed: str) -> None:
    """--level, --status and --preset list their values in help, and refuse another with the list."""
    result = run("pipe", 80, *args, "--store", tmp_path / "none")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "is not one of" in result.stderr
    assert listed in result.stderr
    option = next(a for a in args if a.startswith("--"))
    help_text = " ".join(run("pipe", 200, args[0], "-h").stdout.split())
    value = listed.strip("'")
    assert re.search(rf"{option} \w+ .*{value}", help_text, re.IGNORECASE)


@pytest.mark.parametrize("option", ["--gap", "--pid-gap"])
def test_negative_seconds_are_refused(tmp_path: Path, option: str) -> None:
    result = run("pipe", 80, "parse", tmp_path / "x.log", option, "-1", "--store", tmp_path / "s")
    assert result.exit_code == 2
    assert "must be 0 or more seconds" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "content",
    [b"hello\nworld = 1\n", b"[DEFAULT]\nkey = 1\n[broken\n", b"\x1f\x8b\x08\x00binary"],
    ids=["no-section", "bad-line", "binary"],
)
def test_rally_conf_that_is_not_one_is_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    conf = tmp_path / "rally.conf"
    conf.write_bytes(content)
    result = run("pipe", 80, "parse", "--rally-conf", conf, tmp_path / "x.log", "--store", tmp_path / "s")
    assert_clean_error(result, "rally.conf", "line")


@pytest.mark.parametrize("args", [["export", "records", "-o", "-"], ["threads", "--limit", "0"]])
def test_a_reader_that_goes_away_ends_it_quietly(c07: Path, args: list[str]) -> None:
    """`... | head -1`: the pipe closes early; no error about the store, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "threadlog", *args, "--store", str(c07)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(timeout=120)
    assert err == ""
