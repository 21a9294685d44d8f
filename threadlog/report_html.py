"""The report as one self-contained HTML file: plotly.js embedded, nothing fetched, opens from file://.

Charts are plotly figures (WebGL for the iteration lanes, so that thousands of bars stay
responsive); tables and timelines are plain HTML. `report.build_report` decides what is shown.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl
from plotly.offline import get_plotlyjs  # the bundled plotly.js, embedded whole

from threadlog import __version__
from threadlog.output import Target
from threadlog.report import BARS_LIMIT, GL_ABOVE, MAX_SECTIONS, SLOWEST, Report, Section, Timeline, build_report
from threadlog.store import Store
from threadlog.summary import ParseSummary

__all__ = ["render_report", "write_report"]

STATS = ("min", "median", "p90", "p95", "max", "mean")
# Measured in headless Chromium (software GL) on a loaded 2-core machine: 2,000 bars draw in
# 0.8 s as SVG and 2.4 s as WebGL, 5,000 in 2.4 s either way, 20,000 in 13 s as SVG and 1 s as
# WebGL. Each bar costs some 150 bytes of page, so the page draws at most PAGE_BARS one by one
# (about 9 MB) and BARS_LIMIT in one workload; beyond, a heat map of HEAT_BINS time bins.
PAGE_BARS = 60_000
HEAT_BINS = 300
WORKLOAD_ROWS = 25  # rows of the workloads table shown open; the rest fold away
STATUS_COLOURS = {"ok": "#2e9e4f", "error": "#d6453d", "unfinished": "#9a9a9a"}
LEVEL_COLOURS = {
    "CRITICAL": "#7b1e7a",
    "ERROR": "#d6453d",
    "WARNING": "#e69b22",
    "WARN": "#e69b22",
    "INFO": "#3b78c2",
    "DEBUG": "#9fb7d4",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#1f2a37;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}
header .sub{color:#b9c4d0;font-size:13px}main{padding:8px 28px 40px;max-width:1500px}
section.card{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 18px;margin:16px 0}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:14px 0 6px;color:#3a4654}
table{border-collapse:collapse;font-size:13px;margin:4px 0}td,th{padding:3px 9px;border-bottom:1px solid #e7eaee;
text-align:left;vertical-align:top}th{background:#f0f2f5;font-weight:600}td.n{text-align:right;
font-variant-numeric:tabular-nums}.kv td:first-child{color:#5b6773}.pill{display:inline-block;border-radius:9px;
padding:0 8px;font-size:12px;color:#fff}.ok{background:#2e9e4f}.error{background:#d6453d}
.unfinished{background:#9a9a9a}pre{white-space:pre-wrap;word-break:break-word;margin:0;font:12px/1.35 ui-monospace,
Menlo,Consolas,monospace}details{margin:3px 0}summary{cursor:pointer}code{background:#eef1f4;padding:0 4px;
border-radius:3px;font-size:12px}.note{color:#5b6773;font-size:13px}.chart{width:100%}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}.tl{border-left:3px solid #c9d1da;padding-left:10px;
margin:8px 0}.lvl-ERROR,.lvl-CRITICAL{color:#c0392b;font-weight:600}.lvl-WARNING{color:#b9770e}
.row{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
#hint{position:fixed;bottom:12px;right:12px;background:#1f2a37;color:#fff;padding:8px 12px;border-radius:6px;
display:none;max-width:60%}nav a{margin-right:12px}
"""

# figures are drawn when they come near the viewport, and WebGL ones are released when they
# leave it: a browser keeps only some 16 WebGL contexts alive at once
DRAW_JS = """
const FIGS = JSON.parse(document.getElementById('figures').textContent);
const hint = document.getElementById('hint');
const byId = {};
function draw(f) {
  const el = document.getElementById(f.id);
  f.drawn = true;
  Plotly.newPlot(el, f.data, f.layout, {responsive: true, displaylogo: false});
  if (!f.section) return;
  el.on('plotly_click', ev => {
    const p = ev.points[0]; if (!p || p.customdata == null) return;
    const target = document.getElementById(f.section + '-it-' + p.customdata);
    if (target) { target.open = true; target.scrollIntoView({behavior: 'smooth', block: 'start'}); return; }
    hint.textContent = 'not embedded: ' + f.command + ' ' + p.customdata;
    hint.style.display = 'block'; setTimeout(() => { hint.style.display = 'none'; }, 8000);
  });
}
const seen = new IntersectionObserver(entries => {
  for (const e of entries) {
    const f = byId[e.target.id];
    if (e.isIntersecting && !f.drawn) draw(f);
    else if (!e.isIntersecting && f.drawn && f.gl) { Plotly.purge(e.target); f.drawn = false; }
  }
}, {rootMargin: '400px'});
for (const f of FIGS) { byId[f.id] = f; seen.observe(document.getElementById(f.id)); }
"""


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Rally's timers read in tenths of a millisecond for quick actions
        return f"{value:.{digits + 1 if abs(value) < 0.1 and digits == 3 else digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(sep=" ", timespec="milliseconds")


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _iso(series: pl.Series) -> list[str | None]:
    return series.dt.strftime("%Y-%m-%d %H:%M:%S%.3f").to_list()


class _Page:
    """Collects the page's figures and an id for each."""

    def __init__(self) -> None:
        self.figures: list[dict[str, Any]] = []
        self.bars_left = PAGE_BARS  # iterations the page still draws one by one

    def figure(self, data: list[dict[str, Any]], layout: dict[str, Any], **extra: Any) -> str:
        fid = f"fig{len(self.figures)}"
        base = {"margin": {"l": 60, "r": 20, "t": 30, "b": 40}, "hovermode": "closest", "font": {"size": 11}}
        gl = any(trace.get("type") == "scattergl" for trace in data)
        self.figures.append({"id": fid, "data": data, "layout": {**base, **layout}, "gl": gl, **extra})
        height = layout.get("height", 320)
        return f'<div class="chart" id="{fid}" style="height:{height}px"></div>'


def _anchor(task: str, workload: int) -> str:
    return f"w-{task}-{workload}"


def _section_id(section: Section) -> str:
    return _anchor(section.task, section.workload)


def _timeline_command(section: Section) -> str:
    return f"threadlog timeline --task {section.label} --workload {section.workload} --iteration"


def _xs(series: pl.Series) -> list[Any]:
    """Chart x values: times as text plotly reads as dates, line numbers as they are."""
    return _iso(series) if series.dtype == pl.Datetime("us") else series.to_list()


def _lanes_figure(page: _Page, section: Section) -> str:
    """The iterations on their thread lanes over time (over log lines when the log has no
    times), coloured by status: SVG, or WebGL past GL_ABOVE, or a lanes x time heat map past
    BARS_LIMIT or the page's PAGE_BARS."""
    its = section.iterations
    timed = its["start_ts"].is_not_null().any()
    if timed:
        its = its.filter(pl.col("start_ts").is_not_null()).with_columns(
            x0=pl.col("start_ts"), x1=pl.coalesce("end_ts", "start_ts")
        )
    else:
        its = its.filter(pl.col("first_line").is_not_null()).with_columns(x0="first_line", x1="last_line")
    lanes = its.group_by("lane").agg(pl.col("x0").min()).sort("x0")["lane"].to_list()
    height = min(120 + 16 * len(lanes), 900)
    layout = {
        "height": height,
        "title": {"text": "iterations on their threads (drag to zoom, click a bar for its timeline)", "x": 0},
        "xaxis": {"type": "date", "title": "log time"} if timed else {"title": "log line (the log has no times)"},
        "yaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": lanes[::-1],
            "title": "pid · ident",
            "automargin": True,
        },
        "showlegend": True,
        "legend": {"orientation": "h", "y": 1.08, "x": 1, "xanchor": "right"},
    }
    if its.height > min(BARS_LIMIT, page.bars_left):
        return page.figure(_heat_map(its), {**layout, "showlegend": False})
    page.bars_left -= its.height
    gl = its.height > GL_ABOVE
    data = []
    for status, colour in STATUS_COLOURS.items():
        part = its.filter(pl.col("status") == status)
        if part.height == 0:
            continue
        xs, ys, custom = [], [], []
        for s, e, y, k in zip(
            _xs(part["x0"]), _xs(part["x1"]), part["lane"].to_list(), part["iteration"].to_list(), strict=True
        ):
            xs += [s, e, None]
            ys += [y, y, None]
            custom += [k, k, None]
        data.append(
            {
                "type": "scattergl" if gl else "scatter",
                "mode": "lines+markers",
                "name": f"{status} ({part.height})",
                "x": xs,
                "y": ys,
                "customdata": custom,
                "hovertemplate": "iteration %{customdata}<br>%{x}<extra>" + status + "</extra>",
                "line": {"color": colour, "width": 7},
                "marker": {"color": colour, "size": 4},
                "connectgaps": False,
            }
        )
    return page.figure(data, layout, section=_section_id(section), command=_timeline_command(section))


def _heat_map(its: pl.DataFrame) -> list[dict[str, Any]]:
    """Iterations started per lane and bin of time (or of lines), and how many failed, for
    workloads too big to draw one bar each."""
    timed = its["x0"].dtype == pl.Datetime("us")
    at = pl.col("x0").dt.epoch("us") if timed else pl.col("x0")
    lo, hi = its.select(lo=at.min(), hi=at.max()).row(0)
    width = max((hi - lo) / HEAT_BINS, 1.0)
    start = (pl.lit(lo) + pl.col("bin") * width).cast(pl.Int64)
    grid = (
        its.group_by("lane", bin=((at - lo) / width).floor().cast(pl.Int64))
        .agg(n=pl.len(), failed=(pl.col("status") == "error").sum())
        .with_columns(at=pl.from_epoch(start, "us") if timed else start)
        .sort("bin")
    )
    return [
        {
            "type": "heatmap",
            "x": _xs(grid["at"]),
            "y": grid["lane"].to_list(),
            "z": grid["n"].to_list(),
            "customdata": grid["failed"].to_list(),
            "hovertemplate": "%{y}<br>%{x}<br>%{z} iterations started, %{customdata} failed<extra></extra>",
            "colorscale": "Blues",
            "reversescale": True,  # plotly's Blues runs dark to light: more iterations, darker
            "zmin": 0,
            "colorbar": {"title": "iterations"},
        }
    ]


def _durations_figure(page: _Page, section: Section) -> str:
    """Duration against iteration number: a point each, or past BARS_LIMIT the median, 90th
    percentile and maximum of HEAT_BINS runs of consecutive iterations."""
    its = section.iterations.filter(pl.col("duration_s").is_not_null())
    if its.height == 0:
        return "<p class='note'>No durations: the log has no times.</p>"
    layout = {
        "height": 300,
        "title": {"text": "duration by iteration number", "x": 0},
        "xaxis": {"title": "iteration"},
        "yaxis": {"title": "seconds", "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    }
    if its.height > BARS_LIMIT:
        step = max(its.height // HEAT_BINS, 1)
        runs = (
            its.group_by(first=(pl.col("iteration") // step) * step)
            .agg(
                median=pl.col("duration_s").median(),
                p90=pl.col("duration_s").quantile(0.9, "linear"),
                max=pl.col("duration_s").max(),
            )
            .sort("first")
        )
        data = [
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{name} of {step} iterations",
                "x": runs["first"].to_list(),
                "y": runs[name].to_list(),
            }
            for name in ("median", "p90", "max")
        ]
        return page.figure(data, layout)
    kind = "scattergl" if its.height > GL_ABOVE else "scatter"
    data = []
    for status, colour in STATUS_COLOURS.items():
        part = its.filter(pl.col("status") == status)
        if part.height:
            data.append(
                {
                    "type": kind,
                    "mode": "markers",
                    "name": status,
                    "x": part["iteration"].to_list(),
                    "y": part["duration_s"].to_list(),
                    "customdata": part["iteration"].to_list(),
                    "marker": {"color": colour, "size": 5},
                }
            )
    if "rally_duration_s" in its.columns and its["rally_duration_s"].is_not_null().any():
        data.append(
            {
                "type": kind,
                "mode": "lines",
                "name": "Rally's duration",
                "x": its["iteration"].to_list(),
                "y": its["rally_duration_s"].to_list(),
                "line": {"color": "#555", "width": 1},
            }
        )
    return page.figure(data, layout, section=_section_id(section), command=_timeline_command(section))


def _actions_figure(page: _Page, section: Section) -> str:
    """Each atomic action's duration by iteration number, as Rally's report draws them."""
    durations = section.action_durations
    if durations is None or durations.height == 0 or section.iterations.height > BARS_LIMIT:
        return ""
    kind = "scattergl" if section.iterations.height > GL_ABOVE else "scatter"
    data = [
        {
            "type": kind,
            "mode": "lines+markers",
            "name": name,
            "x": part["iteration"].to_list(),
            "y": part["duration_s"].to_list(),
            "marker": {"size": 3},
            "line": {"width": 1},
        }
        for (name,), part in durations.sort("iteration").partition_by("name", as_dict=True, maintain_order=True).items()
    ]
    layout = {
        "height": 300,
        "title": {"text": "atomic action durations by iteration (Rally's timers)", "x": 0},
        "xaxis": {"title": "iteration"},
        "yaxis": {"title": "seconds", "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    }
    return page.figure(data, layout)


def _summary(section: Section) -> str:
    info = section.info
    rows = []
    skip = {"task", "workload", "order", "started", "ended"}
    for key, value in info.items():
        if key in skip or value is None or (key.endswith("_s") and key.split("_")[-2] in STATS):
            continue
        rows.append([escape(key.replace("_", " ")), _num(value), isinstance(value, int | float)])
    wall = None
    if info.get("started") and info.get("ended"):
        wall = (info["ended"] - info["started"]).total_seconds()
    rows += [["started", _time(info.get("started")), False], ["wall time s", _num(wall), True]]
    kv = "".join(f"<tr><td>{k}</td><td{' class=n' if n else ''}>{v}</td></tr>" for k, v, n in rows)
    durations = [["log START to END"] + [_num(info[f"{k}_s"]) for k in STATS]]
    if info.get("rally_median_s") is not None:
        durations.append(["Rally's timer"] + [_num(info[f"rally_{k}_s"]) for k in STATS])
    pct = _table(
        ["iteration duration s", "min", "median", "90%ile", "95%ile", "max", "mean"],
        durations,
        numeric={1, 2, 3, 4, 5, 6},
    )
    return f'<table class="kv">{kv}</table><div>{pct}</div>'


def _actions_table(actions: pl.DataFrame | None, joined: bool) -> str:
    if actions is None:
        if joined:
            return "<p class='note'>Rally's report has no atomic actions for this workload.</p>"
        return "<p class='note'>No Rally report joined (parse --rally-report), so no atomic actions.</p>"
    rows = [
        [
            # a nested action under its parent, by its own name (``parent > child``)
            "&nbsp;" * 4 * (r["depth"] or 0) + escape(r["action"].split(" > ")[-1]),
            *(_num(r[c]) for c in ("min", "median", "p90", "p95", "max", "avg")),
            _num(r["success_pct"], 1) + "%",
            _num(r["count"]),
        ]
        for r in actions.iter_rows(named=True)
    ]
    return "<h3>Atomic actions (Rally's timers)</h3>" + _table(
        ["action", "min s", "median s", "90%ile s", "95%ile s", "max s", "avg s", "success", "count"],
        rows,
        numeric=set(range(1, 9)),
    )


def _traceback_of(section: Section, iteration: int) -> str | None:
    for tl in section.timelines:
        if tl.iteration["iteration"] == iteration:
            found = tl.records.filter(pl.col("message").str.contains("Traceback"))
            if found.height:
                return found["message"][0]
    return None


def _failures(section: Section) -> str:
    if section.failures.height == 0:
        return "<h3>Failures</h3><p class='note'>No iteration failed.</p>"
    embedded = {tl.iteration["iteration"] for tl in section.timelines}
    sid = _section_id(section)
    rows = []
    for r in section.failures.iter_rows(named=True):
        links = " ".join(
            f'<a href="#{sid}-it-{n}">{n}</a>' if n in embedded else f"<code>{n}</code>" for n in r["examples"]
        )
        example = _traceback_of(section, r["examples"][0]) or r.get("rally_error") or r["error"] or ""
        detail = f"<details><summary>{escape((r['error'] or '').splitlines()[0][:200] if r['error'] else '')}</summary>"
        detail += f"<pre>{escape(example)}</pre></details>"
        rows.append([escape(r["error_type"]), _num(r["count"]), detail, links])
    return "<h3>Failures by error type</h3>" + _table(["error type", "count", "example", "iterations"], rows, {1})


def _timeline(section: Section, tl: Timeline) -> str:
    it = tl.iteration
    sid = _section_id(section)
    status = it["status"]
    head = (
        f"iteration {it['iteration']} <span class='pill {escape(status)}'>{escape(status)}</span> "
        f"{_num(it['duration_s'])} s · {escape(tl.why)}"
    )
    meta = (
        f"<p class='note'>pid {it['pid']} · thread {escape(str(it['thread_uid']))} · start {_time(it['start_ts'])} · "
        f"<code>{escape(_timeline_command(section))} {it['iteration']}</code></p>"
    )
    actions = ""
    if tl.actions is not None and tl.actions.height:
        rows = [
            [
                _num(a.get("offset_s")),
                "&nbsp;" * 4 * (a.get("depth") or 0) + escape(a["name"]),
                _num(a["duration_s"]),
                "failed" if a.get("failed") else "",
            ]
            for a in tl.actions.iter_rows(named=True)
        ]
        actions = _table(["+s", "atomic action", "seconds", ""], rows, {0, 2})
    rows = [
        [
            _num(r["offset_s"]) if r.get("offset_s") is not None else "-",
            f"<span class='lvl-{escape(str(r['level']))}'>{escape(str(r['level']))}</span>",
            escape(str(r["logger"])),
            f"<pre>{escape(r['message'] or '')}</pre>",
            f"{escape(Path(str(r['source'])).name)}:{r['line']}",
        ]
        for r in tl.records.iter_rows(named=True)
    ]
    records = _table(["+s", "level", "logger", "message", "line"], rows, {0})
    return (
        f"<details class='tl' id='{sid}-it-{it['iteration']}'><summary>{head}</summary>{meta}{actions}"
        f"{records}</details>"
    )


def _section(page: _Page, section: Section) -> str:
    title = f"Task {escape(section.task)} · workload {section.workload}"
    scenario = section.info.get("scenario") or section.info.get("title")
    if scenario:
        title += f" · {escape(str(scenario))}"
    left = ""
    if section.timelines_left_out:
        left = (
            f"<p class='note'>{section.timelines_left_out} more chosen timelines did not fit "
            "the page's size budget.</p>"
        )
    timelines = "".join(_timeline(section, tl) for tl in section.timelines)
    joined = section.info.get("rally_median_s") is not None  # Rally's timer: a report was joined
    return (
        f"<section class='card' id='{_section_id(section)}'><h2>{title}</h2><div class='row'>{_summary(section)}"
        f"<div>{_actions_table(section.actions, joined)}</div></div>{_lanes_figure(page, section)}"
        f"{_durations_figure(page, section)}{_actions_figure(page, section)}"
        f"{_failures(section)}<h3>Timelines</h3><p class='note'>Embedded: a few failed iterations of each error "
        f"type and the {min(SLOWEST, section.iterations.height)} slowest. Any other: "
        f"<code>{escape(_timeline_command(section))} N</code>.</p>{left}{timelines}</section>"
    )


def _workloads_table(report: Report, drawn: set[tuple[str, int]]) -> str:
    frame = report.workloads
    if frame.height == 0:
        return ""
    scenarios = any(r.get("scenario") or r.get("title") for r in frame.head(1000).iter_rows(named=True))
    rows = []
    for r in frame.iter_rows(named=True):
        key = (r["task"], r["workload"])
        name = f"{escape(report.labels[r['task']])} / {r['workload']}"
        if key in drawn:
            name = f"<a href='#{escape(_anchor(*key))}'>{name}</a>"
        scenario = r.get("scenario") or r.get("title") or ""
        rows.append(
            [
                name,
                escape(str(scenario)),
                _num(r["iterations"]),
                _num(r["failures"]),
                _num(r["median_s"]),
                _num(r["p90_s"]),
                _num(r["max_s"]),
                _time(r["started"]),
            ]
        )
    note = ""
    if report.sections_left_out:
        note = (
            f"<p class='note'>{report.sections_left_out} workloads are rows here only (the page draws at most "
            f"{MAX_SECTIONS}, those with most failures first): <code>threadlog report --task T --workload K "
            f"--out w.html</code> draws any of them.</p>"
        )
    headers = ["task / workload", "scenario", "iterations", "failures", "median s", "90%ile s", "max s", "started"]
    numeric = {2, 3, 4, 5, 6}
    if not scenarios:  # no joined report: no scenario names to show
        headers.pop(1)
        rows = [r[:1] + r[2:] for r in rows]
        numeric = {n - 1 for n in numeric}
    shown = _table(headers, rows[:WORKLOAD_ROWS], numeric)
    if len(rows) > WORKLOAD_ROWS:
        rest = _table(headers, rows[WORKLOAD_ROWS:], numeric)
        shown += f"<details><summary>{len(rows) - WORKLOAD_ROWS:,} more workloads</summary>{rest}</details>"
    return "<section class='card'><h2>Workloads</h2>" + note + shown + "</section>"


def _run_section(page: _Page, report: Report) -> str:
    parts = ["<section class='card' id='run'><h2>The run</h2><div class='grid'>"]
    tot = report.threads_over_time
    if tot.height:
        data = [
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": _iso(g["bin_ts"]),
                "y": g["threads"].to_list(),
                "line": {"shape": "hv", "width": 1.5},
            }
            for (name,), g in tot.partition_by("process", as_dict=True, maintain_order=True).items()
        ]
        layout = {
            "height": 320,
            "title": {"text": "live logical threads per process", "x": 0},
            "xaxis": {"type": "date"},
            "yaxis": {"title": "threads", "rangemode": "tozero"},
        }
        parts.append(f"<div>{page.figure(data, layout)}</div>")
    lot = report.levels_over_time
    if lot.height:
        data = [
            {
                "type": "bar",
                "name": name,
                "x": _iso(g["bin_ts"]),
                "y": g["records"].to_list(),
                "marker": {"color": LEVEL_COLOURS.get(name, "#8a8f96")},
            }
            for (name,), g in lot.partition_by("level", as_dict=True, maintain_order=True).items()
        ]
        layout = {
            "height": 320,
            "barmode": "stack",
            "bargap": 0,
            "title": {"text": "records by level", "x": 0},
            "xaxis": {"type": "date"},
            "yaxis": {"title": "records"},
        }
        parts.append(f"<div>{page.figure(data, layout)}</div>")
    parts.append("</div>")
    if tot.height == 0 and lot.height == 0:
        parts.append("<p class='note'>The log has no times: nothing to draw over time.</p>")
    if report.requests is not None:
        rows = [
            [
                str(r["pid"]),
                _num(r["requests"]),
                _num(r["records"]),
                _num(r["median_s"]),
                _num(r["max_s"]),
                escape(r["slowest"]),
            ]
            for r in report.requests.head(30).iter_rows(named=True)
        ]
        parts.append("<h3>Requests (first to last record of each req- id)</h3>")
        parts.append(_table(["pid", "requests", "records", "median s", "max s", "slowest"], rows, {0, 1, 2, 3, 4}))
    groups = report.error_groups
    parts.append("<h3>Errors, grouped by logger and message shape</h3>")
    if groups.height == 0:
        parts.append("<p class='note'>No ERROR or CRITICAL record.</p>")
    else:
        rows = [
            [
                _num(r["records"]),
                f"<details><summary>{escape(r['signature'])}</summary><pre>{escape(r['example'])}</pre></details>",
                _time(r["first_ts"]),
                escape(str(r["where"])),
            ]
            for r in groups.iter_rows(named=True)
        ]
        parts.append(_table(["records", "error (example inside)", "first", "first at"], rows, {0}))
        if report.error_groups_left_out:
            parts.append(f"<p class='note'>{report.error_groups_left_out} smaller groups left out.</p>")
    parts.append("</section>")
    return "".join(parts)


def _header(report: Report, masked: bool) -> str:
    summary = ParseSummary.from_json(report.meta.get("summary") or {})
    sources = ", ".join(escape(s.get("name", "?")) for s in report.meta.get("sources", []))
    facts: list[tuple[str, int | None]] = [
        ("records", summary.records),
        ("processes", summary.processes),
        ("logical threads", summary.logical_threads),
    ]
    its = summary.iterations
    if its is not None and its.total:
        facts += [("iterations total", its.total), ("iterations ok", its.ok)]
        facts += [("iterations error", its.error), ("iterations unfinished", its.unfinished)]
    fact = " · ".join(f"{escape(k)} {_num(v)}" for k, v in facts if v is not None)
    span = f"{escape(str(summary.first_ts))} .. {escape(str(summary.last_ts))}"
    mask = "secrets masked" if masked else "secrets NOT masked"
    return (
        f"<header><h1>threadlog report</h1><div class='sub'>{sources}</div>"
        f"<div class='sub'>{span} · {fact} · {mask} · threadlog {__version__}</div></header>"
    )


def render_report(report: Report, masked: bool = True) -> str:
    """The page's HTML text."""
    page = _Page()
    drawn = {(s.task, s.workload) for s in report.sections}
    nav = ["<a href='#run'>the run</a>"] + [
        f"<a href='#{_section_id(s)}'>{escape(s.label)}/{s.workload}</a>" for s in report.sections
    ]
    body = [_header(report, masked), "<main>", "<nav>" + "".join(nav) + "</nav>"]
    if report.workloads.height == 0:
        body.append(
            "<p class='note'>This log has no Rally iterations (or --iteration-start units): the page shows its "
            "threads, levels and errors.</p>"
        )
    body.append(_workloads_table(report, drawn))
    body.extend(_section(page, s) for s in report.sections)
    body.append(_run_section(page, report))
    body.append("</main><div id='hint'></div>")
    figures = json.dumps(page.figures, default=str, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>threadlog report</title><style>{CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}"
        f"<script type='application/json' id='figures'>{figures}</script><script>{DRAW_JS}</script></body></html>"
    )


def write_report(
    store: Store,
    to: Target,
    task: str | None = None,
    workload: int | None = None,
    mask: bool = True,
) -> int:
    """Build the report from the store and write it to `to` (a file or stdout); return its size in bytes."""
    text = render_report(build_report(store, task, workload, mask), mask).encode()
    to.write(lambda fh: fh.write(text))
    return len(text)
