"""The UI in Debian's chromium against a server filled through the mlflow client: every view,
its interactions, and its loading, empty and error states. Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from mlflow import MlflowClient
from playwright.sync_api import Page, Request, Response, Route, expect

from tests.e2e.ui.conftest import screenshot
from tests.e2e.ui.data import LONG_METRIC, MODEL, Seeded

pytestmark = pytest.mark.timeout(900)

RESPONSE_BUDGET = 500 * 1024
SERIES_BLUE = (37, 99, 235)  # the first run's colour (#2563eb, chart.js)


def stroke_pixels(page: Page, metric: str, rgb: tuple[int, int, int] = SERIES_BLUE) -> int:
    """Pixels of a chart's canvas painted in a series' colour: proof that its line was drawn."""
    return int(
        page.evaluate(
            """([metric, [r, g, b]]) => {
                const canvas = document.querySelector(`figure[data-metric="${metric}"] canvas`);
                const {width, height} = canvas;
                const {data} = canvas.getContext('2d').getImageData(0, 0, width, height);
                const near = (i, c) => Math.abs(data[i] - c) < 40;
                let found = 0;
                for (let i = 0; i < data.length; i += 4) {
                  const opaque = data[i + 3] > 200;
                  if (opaque && near(i, r) && near(i + 1, g) && near(i + 2, b)) found += 1;
                }
                return found;
            }""",
            [metric, list(rgb)],
        )
    )


def chart(page: Page, metric: str) -> object:
    figure = page.locator(f'figure[data-metric="{metric}"]')
    expect(figure).to_have_attribute("data-state", "ready", timeout=60_000)
    return figure


def drag(page: Page, metric: str, start: float, end: float) -> None:
    """Drag across a chart from one fraction of its width to another (uPlot's zoom gesture)."""
    box = page.locator(f'figure[data-metric="{metric}"] .u-over').bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def run_names(page: Page) -> list[str]:
    return page.locator("#runs tbody tr td:nth-child(2) a").all_inner_texts()


def test_experiments_list_shows_run_counts_and_last_activity(page: Page, ui: Seeded) -> None:
    page.goto(f"{ui.url}/")
    rows = page.locator("#experiments tbody tr")
    expect(rows.first).to_be_visible()
    vision = page.locator(f'#experiments tr[data-experiment-id="{ui.vision}"]')
    expect(vision.locator("td").nth(2)).to_have_text("6")
    expect(vision.locator("td").nth(3)).to_have_text(re.compile(r"just now|min ago"))
    empty = page.locator(f'#experiments tr[data-experiment-id="{ui.empty}"]')
    expect(empty.locator("td").nth(2)).to_have_text("0")
    # The most recently active experiment comes first.
    expect(rows.first).to_have_attribute("data-experiment-id", ui.vision)
    screenshot(page, "01-experiments")
    page.locator("input[type=search]").fill("nlp")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ui-nlp")


def test_runs_filter_inline_error_sort_and_pages(page: Page, ui: Seeded) -> None:
    page.goto(f"{ui.url}/#/experiments")
    page.get_by_role("link", name="ui-vision").click()
    expect(page.locator("#runs tbody tr")).to_have_count(6)
    expect(page.locator("h1")).to_have_text("ui-vision")

    # A filter in MLflow's search syntax.
    page.locator("input[name=filter]").fill("params.optimizer = 'adam' and metrics.loss < 0.5")
    page.locator("input[name=filter]").press("Enter")
    expect(page.locator("#runs tbody tr")).to_have_count(3)
    assert sorted(run_names(page)) == ["resnet-adam-1e-2", "resnet-adam-1e-3", "vit-adam-1e-3"]
    screenshot(page, "02-runs-filtered")

    # A bad one: the server's own message, shown next to the input.
    bad = "metrics.loss << 1"
    refused = httpx.post(
        f"{ui.url}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [ui.vision], "filter": bad},
    ).json()
    page.locator("input[name=filter]").fill(bad)
    page.locator("input[name=filter]").press("Enter")
    error = page.locator(".filter-error")
    expect(error).to_be_visible()
    expect(error.locator(".error-code")).to_have_text(refused["error_code"])
    expect(error.locator(".error-message")).to_have_text(refused["message"])
    expect(page.locator("#runs")).to_have_count(0)
    screenshot(page, "03-runs-filter-error")
    page.get_by_role("link", name="Clear", exact=True).click()
    expect(page.locator("#runs tbody tr")).to_have_count(6)

    # Sort by a metric on the server (order_by), both ways, as MLflow orders it.
    client = MlflowClient(tracking_uri=ui.url)
    for direction in ("ASC", "DESC"):
        page.locator('#runs th[data-column="m:loss"] a').click()
        expect(page.locator('#runs th[data-column="m:loss"]')).to_have_attribute(
            "aria-sort", "ascending" if direction == "ASC" else "descending"
        )
        expected = [
            r.info.run_name
            for r in client.search_runs([ui.vision], order_by=[f"metrics.loss {direction}"])
        ]
        assert run_names(page) == expected
        assert "order=metrics.%60loss%60" in page.url
    screenshot(page, "04-runs-sorted")

    # Pages of two runs, following next_page_token.
    page.goto(f"{ui.url}/#/experiments/{ui.vision}?n=2&order=attributes.run_name%20ASC")
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    first_page = run_names(page)
    page.get_by_role("link", name="Next page »").click()
    expect(page.locator(".pager")).to_contain_text("Runs 3\u20134")  # an en dash
    second_page = run_names(page)
    assert first_page + second_page == sorted(first_page + second_page)
    assert not set(first_page) & set(second_page)


def test_run_page_charts_params_tags_and_artifacts(page: Page, ui: Seeded) -> None:
    page.goto(f"{ui.url}/#/experiments/{ui.vision}")
    page.get_by_role("link", name="resnet-adam-1e-2").click()
    expect(page.locator("h1")).to_have_text("resnet-adam-1e-2")
    loss = chart(page, "loss")
    expect(loss).to_have_attribute("data-points", "200")
    assert stroke_pixels(page, "loss") > 200
    expect(page.locator("#params")).to_contain_text("optimizer")
    expect(page.locator("#params")).to_contain_text("adam")
    expect(page.locator("#tags")).to_contain_text("sweep")

    # Artifacts: files with download links through the proxied artifact API, directories open.
    config = page.locator("#artifacts a", has_text="config.json")
    expect(config).to_be_visible()
    download = httpx.get(f"{ui.url}{config.get_attribute('href')}")
    assert download.status_code == 200 and download.json() == {"optimizer": "adam", "lr": 0.01}
    page.locator("#artifacts summary", has_text="notes/").click()
    expect(page.locator("#artifacts a", has_text="summary.txt")).to_be_visible()
    screenshot(page, "05-run")

    # Wall-clock time on the x axis (one point a second here), and a zoom on it.
    page.locator(".segmented label", has_text="Time").click()
    loss = chart(page, "loss")
    assert "x=time" in page.url
    assert stroke_pixels(page, "loss") > 200
    screenshot(page, "06-run-time-axis")
    drag(page, "loss", 0.25, 0.5)
    expect(loss.locator("button", has_text="Reset zoom")).to_be_visible()
    chart(page, "loss")
    low, high = (int(x) for x in (loss.get_attribute("data-range") or "").split("-"))
    assert 30 <= low < high <= 120 and high - low >= 30


def test_million_point_metric_draws_from_a_small_response_and_zooms(
    page: Page, ui: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    responses: list[Response] = []
    page.on(
        "response",
        lambda r: responses.append(r) if "get-history-bulk-interval" in r.url else None,
    )
    began = time.monotonic()
    page.goto(f"{ui.url}/#/runs/{ui.long_run}")
    figure = chart(page, LONG_METRIC)
    seconds = time.monotonic() - began
    sizes = [len(r.body()) for r in responses]
    total = sum(sizes)
    points = int(figure.get_attribute("data-points") or 0)
    with capsys.disabled():  # the figure the README quotes, in the test log
        print(
            f"\n1,000,000-point chart: {len(sizes)} response(s), {total:,} bytes, {points} points, "
            f"ready in {seconds:.2f}s (logged in {ui.long_seconds:.1f}s)"
        )
    assert ui.long_points == 1_000_000
    assert len(sizes) == 1 and 0 < total < RESPONSE_BUDGET
    assert 500 <= points <= 2500
    expect(figure).to_have_attribute("data-range", f"0-{ui.long_points - 1}")
    assert stroke_pixels(page, LONG_METRIC) > 300
    screenshot(page, "07-run-1m-points")

    # Zoom: drag across the middle tenth of the chart; the visible steps are asked for again.
    responses.clear()
    drag(page, LONG_METRIC, 0.45, 0.50)
    expect(figure.locator("button", has_text="Reset zoom")).to_be_visible()
    chart(page, LONG_METRIC)
    assert responses and "start_step=" in responses[-1].url and "end_step=" in responses[-1].url
    low, high = (int(x) for x in (figure.get_attribute("data-range") or "").split("-"))
    assert 400_000 < low < high < 550_000
    zoomed_points = int(figure.get_attribute("data-points") or 0)
    # Finer detail: the zoomed range holds about as many points as the whole history did.
    assert (high - low) / zoomed_points < (ui.long_points / points) / 5
    assert sum(len(r.body()) for r in responses) < RESPONSE_BUDGET
    screenshot(page, "08-run-1m-zoomed")

    # Double-click zooms out to the whole history again.
    page.locator(f'figure[data-metric="{LONG_METRIC}"] .u-over').dblclick()
    expect(figure).to_have_attribute("data-range", f"0-{ui.long_points - 1}")


def test_compare_overlays_metrics_and_marks_param_differences(page: Page, ui: Seeded) -> None:
    page.goto(f"{ui.url}/#/experiments/{ui.vision}")
    for name in ("resnet-adam-1e-2", "resnet-sgd-1e-1"):
        page.locator("#runs tbody tr", has_text=name).locator("input[type=checkbox]").check()
    compare = page.locator("#compare-selected")
    expect(compare).to_have_text("Compare selected (2)")
    compare.click()
    expect(page.locator("h1")).to_have_text("Comparing 2 runs")
    for metric in ("loss", "acc"):
        figure = chart(page, metric)
        expect(figure).to_have_attribute("data-points", "400")  # 200 points of each run
    assert stroke_pixels(page, "loss", SERIES_BLUE) > 100
    assert stroke_pixels(page, "loss", (220, 38, 38)) > 100  # the second run, in red
    differs = page.locator("#compare-params tr.differs th").all_inner_texts()
    assert sorted(d.replace("≠", "").strip() for d in differs) == ["lr", "optimizer"]
    expect(page.locator('#compare-params tr[data-key="arch"]')).not_to_have_class("differs")
    screenshot(page, "09-compare")
    page.locator("#only-differences").check()
    expect(page.locator("#compare-params tbody tr")).to_have_count(2)


def _history_index(ui: Seeded, seq: int) -> int:
    entries = httpx.get(f"{ui.url}/api/ledgerflow/registry/models/{MODEL}/history").json()[
        "entries"
    ]
    return [e["seq"] for e in entries].index(seq)


def test_registry_history_and_as_of(page: Page, ui: Seeded) -> None:
    page.goto(f"{ui.url}/#/models")
    row = page.locator(f'#models tr[data-model="{MODEL}"]')
    expect(row).to_contain_text("@champion → v2")
    screenshot(page, "10-registry")
    row.get_by_role("link", name=MODEL).click()

    def stage(version: int) -> str:
        return page.locator(f'#versions tr[data-version="{version}"] td.stage').inner_text()

    def aliases(version: int) -> str:
        return page.locator(f'#versions tr[data-version="{version}"] td.aliases').inner_text()

    # Now: v2 in Production with @champion, v1 archived.
    expect(page.locator('#model-state section[data-as-of="now"]')).to_be_visible()
    now = (stage(2), aliases(2), stage(1), aliases(1))
    assert now == ("Production", "@champion", "Archived", "")
    timeline = page.locator("#history")
    promotion = timeline.locator('li[data-event-type="promotion.decided"]')
    expect(promotion).to_contain_text("release-bot")
    expect(promotion).to_contain_text("self-reported")
    expect(promotion).to_contain_text("metrics.acc >= current.acc")
    expect(timeline.locator("li.rejected")).to_contain_text("RESOURCE_DOES_NOT_EXIST")
    screenshot(page, "11-model-now")

    # Back to the moment v1 was in Production with @champion.
    seq = ui.history_seqs["v1 production"]
    page.locator("#as-of-slider").fill(str(_history_index(ui, seq)))
    expect(page.locator(f'#model-state section[data-as-of="{seq}"]')).to_be_visible()
    assert (stage(1), aliases(1), stage(2), aliases(2)) == ("Production", "@champion", "None", "")
    expect(page.locator("#as-of-label")).to_contain_text(f"event #{seq}")
    assert f"as_of_seq={seq}" in page.url
    expect(timeline.locator("li.future").first).to_be_visible()  # later events greyed out
    screenshot(page, "12-model-as-of")

    # The link is the moment: reloading it shows the same past.
    page.reload()
    expect(page.locator(f'#model-state section[data-as-of="{seq}"]')).to_be_visible()
    assert stage(1) == "Production"

    # A time before the model existed says so.
    page.locator("#as-of-time").fill("2001-01-01T00:00:00")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#model-state")).to_contain_text("did not exist yet")

    # And back to now.
    page.get_by_role("button", name="Now").click()
    expect(page.locator('#model-state section[data-as-of="now"]')).to_be_visible()
    assert stage(2) == "Production"


def test_system_page_shows_lag_ingest_and_audit_chains(page: Page, ui: Seeded) -> None:
    page.goto(f"{ui.url}/#/system")
    lag = page.locator("#lag-table tbody tr")
    expect(lag.first).to_be_visible()
    assert lag.count() == 9  # the control partition and 8 data partitions
    expect(page.locator("#lag")).to_contain_text("caught up")
    expect(page.locator("#events-per-second")).to_contain_text("events/s")
    expect(page.locator("#ingest")).to_contain_text("metrics.logged")
    chains = page.locator("#audit-table tbody tr")
    expect(chains.first).to_contain_text("ledgerflow.control/0")
    expect(page.locator("#audit")).to_contain_text("heads consistent")
    screenshot(page, "13-system")


def test_loading_empty_and_error_states(page: Page, ui: Seeded) -> None:
    # Loading: a search held back by the test shows the loading state until it answers.
    held: list[Route] = []
    page.route("**/api/2.0/mlflow/runs/search", lambda route, _request: held.append(route))
    page.goto(f"{ui.url}/#/experiments/{ui.vision}")
    expect(page.locator(".state.loading")).to_be_visible()
    screenshot(page, "14-loading")
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    expect(page.locator("#runs tbody tr")).to_have_count(6)
    page.unroute("**/api/2.0/mlflow/runs/search")

    # Empty: an experiment without runs says how to log one.
    page.goto(f"{ui.url}/#/experiments/{ui.empty}")
    expect(page.locator(".state.empty")).to_contain_text("No runs in this experiment yet")
    screenshot(page, "15-empty-experiment")

    # Errors from the API, in its words.
    page.goto(f"{ui.url}/#/runs/0123456789abcdef0123456789abcdef")
    error = page.locator(".state.error")
    expect(error.locator(".error-code")).to_have_text("RESOURCE_DOES_NOT_EXIST")
    expect(error).to_contain_text("Run with id=0123456789abcdef0123456789abcdef not found")
    screenshot(page, "16-run-not-found")

    # The server unreachable: said so, with a retry that works once it answers again.
    def refuse(route: Route, _request: Request) -> None:
        route.abort("connectionrefused")

    page.route("**/api/ledgerflow/ui/experiments*", refuse)
    page.goto(f"{ui.url}/#/experiments")
    expect(page.locator(".state.error")).to_contain_text("The server cannot be reached")
    page.unroute("**/api/ledgerflow/ui/experiments*")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#experiments tbody tr").first).to_be_visible()

    page.goto(f"{ui.url}/#/no/such/view")
    expect(page.locator(".state.error")).to_contain_text("No such page")
