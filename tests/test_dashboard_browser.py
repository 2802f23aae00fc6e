"""The dashboard in a real browser: headless Debian Chromium (selenium + chromedriver) against uvicorn on
127.0.0.1, over the real pets09-overlap run of tests/test_dashboard_api.py. Clicks run -> timeline -> identity ->
video -> search (a crop cut from c1 with the gt boxes), asserting on what the pages show, and writes a
screenshot of every page to test-output/dashboard/."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from test_dashboard_api import RUN_ID, load_bench, measured_report, pets_run, query_choice, query_crop, true_identity

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from mtmct.dashboard import create_app  # noqa: E402

bench = load_bench()


@pytest.fixture(scope="module")
def url(pg_url: str) -> str:
    return pets_run(pg_url.rsplit("/", 1)[0])


@pytest.fixture(scope="module")
def shots(test_output: Path) -> Path:
    out = test_output / "dashboard"
    out.mkdir(exist_ok=True)
    return out


def wait(driver, condition, timeout: float = 20):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, timeout).until(lambda d: condition(d))


def loaded(driver, css: str) -> bool:  # type: ignore[no-untyped-def]
    """Every image matching ``css`` has finished loading with pixels."""
    return driver.execute_script(
        "const imgs = document.querySelectorAll(arguments[0]);"
        "return imgs.length > 0 && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0);", css)


def test_click_through_run_timeline_identity_video_and_search(browser, base: str, url: str, shots: Path,
                                                              tmp_path: Path) -> None:
    d = browser
    truth = true_identity(url)
    d.get(base + "/")
    row = d.find_element(By.CSS_SELECTOR, f'tr[data-run="{RUN_ID}"]')
    assert row.find_element(By.CSS_SELECTOR, ".cameras").text == "2"
    n_identities = int(row.find_element(By.CSS_SELECTOR, ".identities").text)
    assert n_identities > 0 and int(row.find_element(By.CSS_SELECTOR, ".tracklets").text) >= n_identities
    d.save_screenshot(str(shots / "runs.png"))

    row.find_element(By.CSS_SELECTOR, "a.run-link").click()
    wait(d, lambda d: d.current_url.endswith(f"/runs/{RUN_ID}"))
    rows = d.find_elements(By.CSS_SELECTOR, ".tl-row")
    bars = d.find_elements(By.CSS_SELECTOR, ".tl-row .bar")
    assert len(rows) == n_identities and len(bars) >= n_identities
    assert all(b.size["width"] > 0 for b in bars)
    d.save_screenshot(str(shots / "timeline.png"))
    def window() -> float:
        return float(d.find_element(By.ID, "tl-end").get_attribute("value")) - float(
            d.find_element(By.ID, "tl-start").get_attribute("value"))

    before, widths = window(), [b.size["width"] for b in bars]
    d.find_element(By.ID, "zoom-in").click()
    assert window() == pytest.approx(before / 2, abs=0.2)
    assert any(b.is_displayed() and b.size["width"] > 1.9 * w for b, w in zip(bars, widths))
    d.find_element(By.ID, "zoom-reset").click()
    d.find_element(By.CSS_SELECTOR, '.cam-filter[value="c2"]').click()  # show c1 only
    visible = [b for b in d.find_elements(By.CSS_SELECTOR, ".bar") if b.is_displayed()]
    assert visible and {b.get_attribute("data-cam") for b in visible} == {"c1"}
    assert int(d.find_element(By.ID, "tl-count").text) < n_identities
    d.save_screenshot(str(shots / "timeline-c1-only.png"))
    d.find_element(By.CSS_SELECTOR, '.cam-filter[value="c2"]').click()

    d.find_element(By.CSS_SELECTOR, f'.tl-row[data-gid="{truth}"] a.identity-link').click()
    wait(d, lambda d: d.current_url.endswith(f"/identities/{truth}"))
    cameras = d.find_elements(By.CSS_SELECTOR, "#visits tbody tr")
    assert d.find_element(By.ID, "identity-id").text == f"g{truth}"
    assert int(d.find_element(By.ID, "n-cameras").text) == len(cameras) == 2  # seen by both cameras
    wait(d, lambda d: loaded(d, "img.trajectory") and loaded(d, "img.crop"))
    assert len(d.find_elements(By.CSS_SELECTOR, "img.trajectory")) == 2
    d.save_screenshot(str(shots / "identity.png"))

    d.find_element(By.CSS_SELECTOR, '#visits tr[data-camera="c1"] a').click()
    wait(d, lambda d: "/cameras/c1/video" in d.current_url and loaded(d, "#player-frame"))
    player = d.find_element(By.ID, "player")
    start = int(player.get_attribute("data-frame"))
    src = d.find_element(By.ID, "player-frame").get_attribute("src")
    d.find_element(By.ID, "player-play").click()
    wait(d, lambda d: int(player.get_attribute("data-frame")) >= start + 5)
    d.find_element(By.ID, "player-play").click()  # pause
    assert d.find_element(By.ID, "player-frame").get_attribute("src") != src and loaded(d, "#player-frame")
    paused = int(player.get_attribute("data-frame"))
    d.execute_script("const s = document.getElementById('player-slider'); s.value = 7;"
                     "s.dispatchEvent(new Event('input'));")
    wait(d, lambda d: d.find_element(By.ID, "player-frame").get_attribute("src").endswith("/frames/7.jpg"))
    assert paused != 7 and "frame 7 /" in d.find_element(By.ID, "player-label").text
    d.save_screenshot(str(shots / "video.png"))

    d.get(base + f"/runs/{RUN_ID}/graph")
    edge = d.find_element(By.CSS_SELECTOR, '#camera-graph .edge[data-a="c1"][data-b="c2"]')
    assert int(edge.get_attribute("data-count")) > 0 and "c1→c2" in d.find_element(By.ID, "camera-graph").text
    assert len(d.find_elements(By.CSS_SELECTOR, "#camera-graph .node")) == 2
    d.save_screenshot(str(shots / "graph.png"))

    d.get(base + f"/runs/{RUN_ID}/flows?bin_s=5")
    assert len(d.find_elements(By.CSS_SELECTOR, "#flows tbody tr")) >= 5
    d.save_screenshot(str(shots / "flows.png"))

    crop, _ = query_crop(url)
    frame, person, _ = query_choice(url)
    photo = tmp_path / f"c1-frame{frame}-person{person}.png"
    cv2.imwrite(str(photo), cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
    d.find_element(By.LINK_TEXT, "Search").click()
    wait(d, lambda d: d.current_url.endswith("/search"))
    d.find_element(By.ID, "search-file").send_keys(str(photo))
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#results tr.result") and loaded(d, "#results img.crop"), 60)
    top = d.find_element(By.CSS_SELECTOR, "#results tr.result")
    assert top.get_attribute("data-gid") == str(truth) and top.get_attribute("data-cameras") == "2"
    d.save_screenshot(str(shots / "search.png"))
    top.find_element(By.CSS_SELECTOR, "a.result-link").click()
    wait(d, lambda d: d.current_url.endswith(f"/runs/{RUN_ID}/identities/{truth}"))
    assert d.find_element(By.ID, "identity-id").text == f"g{truth}"


def test_search_page_shows_the_servers_error_for_a_non_image(browser, base: str, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    browser.get(base + "/search")
    browser.find_element(By.ID, "search-file").send_keys(str(bad))
    status = browser.find_element(By.ID, "search-status")
    wait(browser, lambda d: "failed" in status.text)
    assert "not an image" in status.text


def test_api_docs_render_offline(browser, base: str, shots: Path) -> None:
    """Swagger UI's files come with the app (this browser reaches no CDN): the docs page lists the endpoints."""
    browser.get(base + "/docs")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    assert "/api/runs/{run_id}/timeline" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui").text
    browser.save_screenshot(str(shots / "docs.png"))


def test_an_unknown_run_is_a_404_page(browser, base: str) -> None:
    browser.get(base + "/runs/nope")
    assert "404" in browser.find_element(By.ID, "error-status").text
    assert "unknown run id 'nope'" in browser.find_element(By.ID, "error-message").text


def test_graph_shows_applied_windows_beside_observed_transits(browser, shots: Path, tmp_path: Path) -> None:
    """The synthetic 3-camera run with a fusion report measured on its own data (tests/test_dashboard_api.py):
    the learned window is drawn on its graph edge and listed in the same table row as the observed transits, and
    the thresholds table says where each value came from; screenshot graph-fusion.png."""
    url = f"sqlite:///{tmp_path / 'fused.db'}"
    repo = bench.build_run(url, identities=40, cameras=3)
    report = measured_report(repo, "synthetic")
    repo.write_fusion_report("synthetic", report)
    repo.db.close()
    server, port = bench.serve(create_app(url))
    try:
        browser.get(f"http://127.0.0.1:{port}/runs/synthetic/graph")
        learned = report.links[0]
        window = f"{learned.min_s:.1f}–{learned.max_s:.1f} s"
        edge = browser.find_element(By.CSS_SELECTOR, '#camera-graph .edge[data-a="c1"][data-b="c2"] text.window')
        assert edge.is_displayed() and window in edge.text and f"{learned.matches} matches" in edge.text
        row = browser.find_element(By.CSS_SELECTOR, '#links tr[data-a="c1"][data-b="c2"]')
        assert row.find_element(By.CSS_SELECTOR, ".applied").text == window
        assert row.find_element(By.CSS_SELECTOR, ".source").text == f"learned from {learned.matches} matches"
        assert {t.text.split(":")[0] for t in row.find_elements(By.CSS_SELECTOR, ".transit")} == {"c1→c2", "c2→c1"}
        sources = {r.get_attribute("data-name"): r.get_attribute("data-source")
                   for r in browser.find_elements(By.CSS_SELECTOR, "#thresholds tbody tr")}
        assert sources == {t.name: t.source for t in report.thresholds}
        browser.save_screenshot(str(shots / "graph-fusion.png"))
    finally:
        server.should_exit = True
