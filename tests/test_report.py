"""`threadlog report`: the HTML page's content, built from the store, and the page in a real browser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import OPENSTACK, RALLY, assert_clean_error
from tests.test_export import check_nesting, run, table
from tests.test_trace import max_overlap, trace_of, with_atomic_actions
from threadlog.report import build_report
from threadlog.store import Store

C07 = "c07-multi-workload"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECRET_LOG = (
    "2026-11-25 23:40:44.235 100 INFO rally.task [-] Task 0f0e5c2a-1e6f-473a-8c62-b48136499c1b | ITER: 1 START\n"
    "2026-11-25 23:40:44.240 100 ERROR rally.osclients [-] curl -g -i -X GET http://k/v3 "
    '-H "X-Auth-Token: gAAAAsecrettoken" -d \'{"auth": {"password": "hunter2"}}\'\n'
    "2026-11-25 23:40:44.300 100 INFO rally.task [-] Task 0f0e5c2a-1e6f-473a-8c62-b48136499c1b | ITER: 1 END: "
    "Error KeyError: 'mysql://rally:hunter2@db'\n"
)


def report_of(store: Path, out: Path, *args: object) -> str:
    """Run `threadlog report` and return the page's text."""
    result = run("report", "--out", out, "--store", store, *args)
    assert result.exit_code == 0, (result.exception, result.stderr)
    assert "wrote" in result.stderr
    return out.read_text()


@pytest.fixture(scope="module")
def joined(case_store, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """The c07 store with what joining a Rally report adds (built here): two atomic actions per
    iteration, Rally's timer and error on each iteration, and a workloads table."""
    store, _ = case_store(C07, "thread")
    into = tmp_path_factory.mktemp("joined") / "store"
    actions = with_atomic_actions(store, into)
    its = table(into, "iterations")
    its.with_columns(
        rally_start=pl.col("start_ts"),
        rally_duration_s=pl.col("duration_s") + 0.0042,
        rally_idle_s=pl.lit(0.0),
        rally_error=pl.when(pl.col("status") == "error").then(pl.format("RallyTraceback for {}", "error_type")),
    ).write_parquet(into / "iterations.parquet")
    workloads = its.select("task", "workload").unique().sort("workload")
    workloads.with_columns(
        title=pl.format("Dummy.scenario_{}", "workload"),
        scenario=pl.format("Dummy.scenario_{}", "workload"),
        runner=pl.lit("constant"),
        load_duration_s=pl.lit(1.5),
        args=pl.lit('{"image": "cirros", "admin_password": "hunter2"}'),
    ).write_parquet(into / "workloads.parquet")
    return into, actions


def test_joined_report_numbers_are_on_the_page(joined, tmp_path: Path) -> None:
    """Rally's timer, scenario and runner show beside the log's own figures; the trace still nests."""
    store, _ = joined
    page = report_of(store, tmp_path / "run.html")
    assert "Rally's timer" in page
    for k in range(1, 6):
        assert f"Dummy.scenario_{k}" in page
    assert "constant" in page
    assert "load duration s" in page
    assert page.count("atomic action durations by iteration") == 5
    assert "admin_password" in page  # the workload's args are shown, their credentials masked
    assert "hunter2" not in page
    # each embedded timeline lists its iteration's atomic actions, with offsets from its start
    for section in build_report(Store.open(store)).sections:
        for tl in section.timelines:
            assert tl.actions is not None
            assert sorted(tl.actions["name"]) == ["nova.boot_server", "nova.wait_for_server"]
            assert tl.actions["offset_s"].min() >= 0
    events = trace_of(store, tmp_path / "run.json")
    check_nesting(events)
    its = table(store, "iterations")
    ends = {
        (ev["args"]["task"], ev["args"]["workload"], ev["name"]): ev["ts"] + ev["dur"]
        for ev in events
        if ev.get("cat") == "iteration"
    }
    for row in its.head(30).iter_rows(named=True):
        rally_end = row["rally_start"].timestamp() * 1e6 + round(row["rally_duration_s"] * 1e6)
        key = (row["task"], row["workload"], f"iteration {row['iteration']}")
        assert ends[key] >= rally_end - 1


def test_page_is_self_contained(joined, tmp_path: Path) -> None:
    """One file, plotly.js inside, and around it no src/href to another place."""
    store, _ = joined
    page = report_of(store, tmp_path / "run.html")
    assert "Plotly.newPlot" in page
    library = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert library is not None
    assert len(library.group(1)) > 3_000_000  # plotly.js itself is embedded
    page = page.replace(library.group(1), "")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "<link" not in page
    assert "@import" not in page


def test_page_names_every_failure_type_and_atomic_action(joined, tmp_path: Path) -> None:
    store, actions = joined
    page = report_of(store, tmp_path / "run.html")
    for error_type in table(store, "iterations")["error_type"].drop_nulls().unique():
        assert error_type in page
    for name in actions["name"].unique():
        assert name in page
    assert "Atomic actions" in page
    assert "threadlog timeline --task af5e63fc --workload 2 --iteration" in page


def test_lanes_are_real_thread_slots(case_store) -> None:
    """With idents, one lane per (pid, ident) that ran the workload; without, what overlaps need."""
    store, _ = case_store(C07, "thread")
    report = build_report(Store.open(store))
    assert len(report.sections) == 5
    for section in report.sections:
        its = section.iterations
        assert its["lane"].n_unique() == its.select("pid", "thread").n_unique()
    bare, _ = case_store(C07, "default")
    for section in build_report(Store.open(bare)).sections:
        its = section.iterations
        for (pid,), rows in its.group_by("pid"):
            spans = list(zip(rows["start_ts"].dt.epoch("us"), rows["end_ts"].dt.epoch("us"), strict=True))
            need = max_overlap([(s, max(e, s + 1)) for s, e in spans])
            assert rows["lane"].n_unique() == need, pid


def test_timelines_embedded_for_failures_and_slowest(case_store) -> None:
    """Each error type has an embedded failed example, and each workload its slowest iteration."""
    store, _ = case_store(C07, "thread")
    report = build_report(Store.open(store))
    for section in report.sections:
        embedded = {tl.iteration["iteration"]: tl for tl in section.timelines}
        for row in section.failures.iter_rows(named=True):
            assert row["examples"][0] in embedded
        slowest = section.iterations.sort("duration_s", descending=True)["iteration"][0]
        assert slowest in embedded
        for tl in section.timelines:
            assert tl.records.height == tl.iteration["records"]
            assert tl.records["offset_s"].min() >= 0


def test_workload_filter_and_unknown_task(case_store, tmp_path: Path) -> None:
    store, _ = case_store(C07, "thread")
    report = build_report(Store.open(store), workload=4)
    assert [(s.workload) for s in report.sections] == [4]
    assert report.workloads.height == 5  # the overview still lists every workload
    assert_clean_error(run("report", "--out", tmp_path / "x.html", "--task", "ffff", "--store", store), "no task")
    assert not (tmp_path / "x.html").exists()


def secret_store(tmp_path: Path) -> Path:
    log = tmp_path / "secret.log"
    log.write_text(SECRET_LOG)
    store = tmp_path / "store"
    assert run("parse", log, "--store", store).exit_code == 0
    return store


def test_secrets_are_masked_unless_asked(tmp_path: Path) -> None:
    store = secret_store(tmp_path)
    page = report_of(store, tmp_path / "run.html")
    assert "hunter2" not in page
    assert "gAAAAsecrettoken" not in page
    assert "X-Auth-Token: ***" in page
    shown = report_of(store, tmp_path / "open.html", "--show-secrets")
    assert "hunter2" in shown


def test_page_without_rally(tmp_path: Path) -> None:
    """A service log gets threads and levels over time, its requests and its errors grouped."""
    store = tmp_path / "store"
    assert run("parse", OPENSTACK / "neutron-server.log", "--store", store).exit_code == 0
    report = build_report(Store.open(store))
    assert report.sections == []
    assert report.threads_over_time.height > 0
    assert set(report.levels_over_time["level"]) == set(table(store, "records")["level"].drop_nulls().unique())
    assert report.levels_over_time["records"].sum() == table(store, "records")["ts"].is_not_null().sum()
    assert report.requests is not None
    errors = table(store, "records").filter(pl.col("level").is_in(["ERROR", "CRITICAL"]))
    assert report.error_groups["records"].sum() + 0 <= errors.height
    assert report.error_groups["records"].sum() > 0
    page = report_of(store, tmp_path / "run.html")
    assert "no Rally iterations" in page
    assert "records by level" in page


# -- in a real browser ------------------------------------------------------------------------


def _click(page: Any, section: str, iteration: int) -> dict:
    """Click iteration `iteration` on the lanes chart of `section` (as plotly reports a click on
    a bar); say whether its timeline opened, and what the hint says."""
    chart = page.locator(f"#{section} div.chart").first
    chart.scroll_into_view_if_needed()
    chart.locator("svg.main-svg, canvas").first.wait_for(state="attached", timeout=15_000)
    chart.evaluate("(el, n) => el.emit('plotly_click', {points: [{customdata: n}]})", iteration)
    opened = page.evaluate(
        "(id) => { const d = document.getElementById(id); return d ? d.open : null; }", f"{section}-it-{iteration}"
    )
    return {"opened": opened, "hint": page.locator("#hint").inner_text()}


def open_in_chromium(page_path: Path, shot: Path | None = None, click: list[tuple[str, int]] | None = None) -> dict:
    """Load the page from file:// in headless Chromium with no network; scroll every chart into
    view; return what rendered, the console errors, the requests and the page's text."""
    assert CHROMIUM, "the browser tests need Chromium (apt-get install chromium)"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.route(re.compile(r"^(?!file:|data:|blob:)"), lambda route: route.abort())
        page.goto(page_path.as_uri(), wait_until="load")
        charts = page.locator("div.chart")
        drawn = 0
        for i in range(charts.count()):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            chart.locator("svg.main-svg, canvas").first.wait_for(state="attached", timeout=15_000)
            drawn += 1
        if click is not None:
            clicks = [_click(page, *c) for c in click]
        if shot is not None:
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shot))
        text = page.locator("body").inner_text()
        total = charts.count()
        browser.close()
    seen = {"charts": total, "drawn": drawn, "errors": errors, "requests": requests, "text": text}
    if click is not None:
        seen["clicks"] = clicks
    return seen


def test_report_in_a_browser(joined, tmp_path: Path) -> None:
    """The page draws every chart, logs no console error, asks nothing of the network, and
    shows every failure type and atomic action name of the run."""
    store, actions = joined
    out = tmp_path / "run.html"
    report_of(store, out)
    task = table(store, "iterations")["task"][0]
    section = f"w-{task}-2"
    report = build_report(Store.open(store))
    embedded = next(s for s in report.sections if s.workload == 2).timelines[0].iteration["iteration"]
    shown = {tl.iteration["iteration"] for tl in next(s for s in report.sections if s.workload == 2).timelines}
    other = next(n for n in range(1, 101) if n not in shown)
    seen = open_in_chromium(out, tmp_path / "shot.png", click=[(section, embedded), (section, other)])
    # clicking an embedded iteration opens its timeline; another one shows the command for it
    assert seen["clicks"][0]["opened"] is True
    assert seen["clicks"][1]["opened"] is None
    assert f"threadlog timeline --task af5e63fc --workload 2 --iteration {other}" in seen["clicks"][1]["hint"]
    assert seen["charts"] >= 10
    assert seen["drawn"] == seen["charts"]
    assert seen["errors"] == []
    assert [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:"))] == []
    for error_type in table(store, "iterations")["error_type"].drop_nulls().unique():
        assert error_type in seen["text"]
    for name in actions["name"].unique():
        assert name in seen["text"]
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_report_without_rally_in_a_browser(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run("parse", OPENSTACK / "nova-compute.log", "--store", store).exit_code == 0
    out = tmp_path / "run.html"
    report_of(store, out)
    seen = open_in_chromium(out)
    assert seen["charts"] == 2
    assert seen["drawn"] == 2
    assert seen["errors"] == []
    assert [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:"))] == []


def test_big_workloads_are_aggregated(case_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bar limit a workload's lanes become a heat map and its durations runs of
    iterations, and the page still draws every chart."""
    monkeypatch.setattr("threadlog.report_html.BARS_LIMIT", 90)  # workloads 1, 2 and 3 are bigger
    store, _ = case_store(C07, "thread")
    out = tmp_path / "run.html"
    page = report_of(store, out)
    assert page.count('"type":"heatmap"') == 3
    assert page.count("median of ") == 3
    seen = open_in_chromium(out)
    assert seen["drawn"] == seen["charts"]
    assert seen["errors"] == []


def test_page_of_a_log_without_times(case_store, tmp_path: Path) -> None:
    """Without timestamps the iterations are drawn over log lines, on the same thread lanes."""
    store, _ = case_store(C07, "blog")
    report = build_report(Store.open(store))
    for section in report.sections:
        its = section.iterations
        assert its["lane"].n_unique() == its.select("pid", "thread").n_unique()
    page = report_of(store, tmp_path / "run.html")
    assert page.count("log line (the log has no times)") == 5
    assert "No durations: the log has no times." in page
    assert "nothing to draw over time" in page


def test_report_of_a_real_joined_run(tmp_path: Path) -> None:
    """A real Rally run parsed with its own JSON report: Rally's scenarios, SLA and every atomic
    action name on the page, drawn in Chromium without errors; the trace nests them."""
    case = RALLY / C07
    store = tmp_path / "store"
    report = case / "rally-report.json.gz"
    parsed = run("parse", case / "input-thread.log.gz", "--rally-report", report, "--store", store)
    assert parsed.exit_code == 0, parsed.stderr
    actions = table(store, "atomic_actions")
    assert actions.height > 0
    out = tmp_path / "run.html"
    page = report_of(store, out)
    for scenario in table(store, "workloads")["scenario"].drop_nulls().unique():
        assert scenario in page
    assert "failure_rate" in page  # the SLA criteria
    seen = open_in_chromium(out)
    assert seen["drawn"] == seen["charts"]
    assert seen["errors"] == []
    assert [u for u in seen["requests"] if not u.startswith(("file:", "data:", "blob:"))] == []
    for name in actions["name"].unique():
        assert name in seen["text"]
    for error_type in table(store, "iterations")["error_type"].drop_nulls().unique():
        assert error_type in seen["text"]
    events = trace_of(store, tmp_path / "run.json")
    check_nesting(events)
    timed = actions.filter(pl.col("started_at").is_not_null() & pl.col("finished_at").is_not_null())
    assert sum(ev.get("cat") == "atomic_action" for ev in events) == timed.height


def test_rallys_error_text_is_masked_like_the_logs(joined, tmp_path: Path) -> None:
    """Rally's error of an iteration (the page's example where the log holds no traceback)
    is masked as the log's own error is, unless secrets are asked for."""
    store, _ = joined
    into = tmp_path / "store"
    shutil.copytree(store, into)
    its = table(into, "iterations")
    said = "Unauthorized: password=hunter3 rejected"
    its.with_columns(rally_error=pl.when(pl.col("status") == "error").then(pl.lit(said))).write_parquet(
        into / "iterations.parquet"
    )
    for mask, shown in ((True, "Unauthorized: password=*** rejected"), (False, said)):
        failures = pl.concat(s.failures for s in build_report(Store.open(into), mask=mask).sections)
        assert failures.height > 0
        assert set(failures["rally_error"].to_list()) == {shown}
