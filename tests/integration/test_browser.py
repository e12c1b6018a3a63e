"""The web page in a real browser: `muscall serve` on 127.0.0.1, headless Debian chromium driven by selenium.

Types a query, gets results, plays a result's audio, asks for "more like this", searches by an uploaded clip,
checks the phone layout and saves a screenshot (a PNG in the test's tmp folder); shows a track's zero-shot
tags (written by `muscall tag --write-db`) as predicted, and an uploaded clip's quality and alignment scores.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import serving
from tests.support.tiny_service import build_tone_index, make_tiny_checkpoint, make_tiny_heads
from muscall.cli.main import main as muscall_main

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def server(tmp_path):
    """`muscall serve` over a tiny index tagged zero-shot, with quality heads, on a free port; yields its base URL
    and the index's folder."""
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt")
    index_dir, shards = build_tone_index(tmp_path / "world", ckpt)
    labels = tmp_path / "labels.json"
    labels.write_text('{"genres": ["jazz", "rock", "ambient"], "moods": ["calm", "bright"]}')
    assert muscall_main(["tag", "--catalog", str(shards), "--checkpoint", str(ckpt), "--labels", str(labels),
                         "--set", "moods", "--out", str(tmp_path / "moods.csv"), "--write-db", str(index_dir),
                         "--no-progress"]) == 0
    (tmp_path / "rated").mkdir()
    heads = make_tiny_heads(tmp_path / "rated", ckpt)
    cmd = [sys.executable, "-m", "muscall.cli.main", "serve", "--catalog", str(index_dir), "--checkpoint", str(ckpt),
           "--labels", str(labels), "--windows", str(shards), "--heads", str(heads), "--log-level", "warning"]
    proc, url = serving.serve(cmd, tmp_path / "server.log")
    try:
        yield url, tmp_path / "world"
    finally:
        serving.stop(proc)


FAKE_SERVER = """
import http.server, sys
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[-1])), Ready).serve_forever()
"""


def test_server_start_retries_on_a_fresh_port_only_when_its_port_was_taken(tmp_path, monkeypatch):
    real, picked = serving.free_port, []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()  # another process won the race for the first port handed out
        busy = taken.getsockname()[1]

        def first_busy() -> int:
            picked.append(real() if picked else busy)
            return picked[-1]

        monkeypatch.setattr(serving, "free_port", first_busy)
        proc, url = serving.serve([sys.executable, "-c", FAKE_SERVER], tmp_path / "fake.log")
    try:
        assert picked[0] == busy and len(picked) == 2 and url == f"http://127.0.0.1:{picked[1]}"
        assert proc.poll() is None
    finally:
        serving.stop(proc)
    picked.clear()
    with pytest.raises(RuntimeError, match="exited with 3"):  # any other failure is not retried
        serving.serve([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "bad.log")
    assert len(picked) == 1


@pytest.fixture
def browser(tmp_path):
    """Headless chromium (skips when selenium, chromium or chromedriver is missing)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    if CHROMIUM is None or not CHROMEDRIVER.exists():
        pytest.skip("chromium / chromedriver not installed (bash scripts/install_system_deps.sh)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                 "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _results(driver) -> list:
    return driver.find_elements("css selector", "#results li.result")


def _wait(driver, condition, timeout: float = 20.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _first_id(driver) -> str:
    return _results(driver)[0].get_attribute("data-track-id")


def test_search_play_more_like_this_and_upload(server, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    url, world = server
    browser.get(url + "/")
    _wait(browser, lambda d: len(d.find_elements("css selector", "#genre option")) == 4)  # All + 3 genres

    query = browser.find_element("id", "query")
    query.send_keys("calm jazz music", Keys.ENTER)  # keyboard only
    _wait(browser, lambda d: len(_results(d)) == 8)
    assert "8 results" in browser.find_element("id", "status").text
    assert browser.find_element("id", "results").get_attribute("aria-live") == "polite"
    first = _results(browser)[0]
    assert first.find_element("css selector", ".score").text.startswith("score ")
    assert first.find_elements("css selector", ".tags li")

    player = first.find_element("css selector", "audio")
    assert player.get_attribute("src").endswith("/audio")
    played = browser.execute_async_script("""
        const audio = arguments[0], done = arguments[arguments.length - 1];
        audio.play().then(() => setTimeout(() => done({time: audio.currentTime, paused: audio.paused}), 800))
                    .catch((err) => done({error: String(err)}));""", player)
    assert "error" not in played and played["time"] > 0, played

    reference = _first_id(browser)
    first.find_element("css selector", "button.similar").click()
    _wait(browser, lambda d: "tracks like" in d.find_element("id", "status").text and len(_results(d)) == 7)
    assert reference not in [r.get_attribute("data-track-id") for r in _results(browser)]

    browser.find_element("id", "clip").send_keys(str(world / "audio" / "rock" / "tone4.wav"))
    browser.find_element("id", "audio-btn").click()
    _wait(browser, lambda d: "tone4.wav" in d.find_element("id", "status").text and len(_results(d)) == 8)
    assert _first_id(browser) == "rock/tone4.wav"

    shot = tmp_path / "search-page.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert browser.save_screenshot(str(tmp_path / "search-page-phone.png"))


def test_predicted_tags_and_clip_scores(server, browser):
    url, world = server
    browser.get(url + "/")
    browser.find_element("id", "query").send_keys("calm jazz music")
    browser.find_element("id", "search-btn").click()
    _wait(browser, lambda d: len(_results(d)) == 8)
    for result in _results(browser):  # each track's zero-shot moods, as GET /tracks/{id} stores them
        track = httpx.get(url + "/tracks/" + result.get_attribute("data-track-id")).json()
        predicted = track["attributes"]["zeroshot"]["moods"]
        shown = [t.text for t in result.find_elements("css selector", ".predicted .tag")]
        assert shown == predicted and shown, (shown, track)
        assert "predicted" in result.find_element("css selector", ".predicted").text
        own = [t.text for t in result.find_elements("css selector", ".tags li")]
        assert track["attributes"]["genre"] in own and not set(own) & set(predicted)

    clip, prompt = world / "audio" / "jazz" / "tone0.wav", "calm jazz music with a low tone"
    expected = httpx.post(url + "/score", files={"file": ("tone0.wav", clip.read_bytes(), "audio/wav")},
                          data={"prompt": prompt}, timeout=60).json()
    browser.find_element("id", "score-clip").send_keys(str(clip))
    browser.find_element("id", "score-prompt").send_keys(prompt)
    browser.find_element("id", "score-btn").click()
    _wait(browser, lambda d: d.find_element("id", "scores").is_displayed())
    panel = browser.find_element("id", "scores")
    assert "tone0.wav" in panel.find_element("tag name", "h2").text
    terms = [dt.text for dt in panel.find_elements("css selector", "dt")]
    quality = [dd.text for dd in panel.find_elements("css selector", "dd[data-kind=quality]")]
    assert expected["scores"] and terms[:len(quality)] == list(expected["scores"])
    assert quality == [f"{v:.2f}" for v in expected["scores"].values()]
    alignment = panel.find_element("css selector", "dd[data-kind=alignment]").text
    assert alignment == f"{expected['alignment']:.3f} (calibrated)" and expected["alignment_calibrated"]
