"""The explorer page in a real browser: headless Chromium from Debian driven by Selenium, against the real
`vaekit explore` server. Skipped when Chromium is missing locally; a failure under CI=true (CI installs it).

Set VAEKIT_EXPLORER_SCREENSHOT=docs/images/explorer.png to refresh the docs' screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# no network: without these flags Chromium waits on lookups, updates and sync at start
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1300,1200"]


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    if missing:
        msg = f"the browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)  # CI installs Chromium in .ci/run: a missing browser there is a failure
        pytest.skip(msg)


@pytest.fixture
def browser(tmp_path):
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    # the driver path is given: Selenium does not look for (or download) one
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, what: str, timeout: float = 15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition(d), message=f"timed out waiting for {what}")


def _src(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).get_attribute("src") or ""


def test_sliders_interpolation_upload_and_drawing_in_chromium(browser, served, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    d = browser
    d.get(served)
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "the page to start")
    _wait(d, lambda d: _src(d, "decoded").startswith("data:image/png"), "the first decoded image")
    with urllib.request.urlopen(served + "api/info", timeout=10) as r:
        info = json.load(r)
    assert len(d.find_elements("css selector", "#sliders input[type=range]")) == info["latent_dim"]
    assert len(d.find_elements("css selector", "#thumbs img")) == min(60, info["n_test"])

    # move the most used dimension's slider to its end with the keyboard: the decoded image changes
    before = _src(d, "decoded")
    first = d.find_element("css selector", "#sliders input[type=range]")
    first.send_keys(Keys.END)
    _wait(d, lambda d: _src(d, "decoded") != before, "the decoded image to change after moving a slider")
    dim = int(first.get_attribute("data-dim"))
    assert dim == info["order"][0]
    assert d.find_element("id", f"z{dim}-out").text == f"{info['ranges'][dim][1]:.2f}"

    # pick two endpoints by clicking thumbnails, then scrub t to 1
    thumbs = d.find_elements("css selector", "#thumbs img")
    thumbs[4].click()
    thumbs[9].click()
    picked = [d.find_element("id", f"idx-{k}").get_attribute("value") for k in "ab"]
    assert picked == ["4", "9"]
    _wait(d, lambda d: _src(d, "interp").startswith("data:image/png"), "the interpolation")
    before = _src(d, "interp")
    d.find_element("id", "t").send_keys(Keys.END)
    _wait(d, lambda d: _src(d, "interp") != before, "the interpolation to follow t")

    # upload a file: its reconstruction appears and a marker lands on the map
    upload = tmp_path / "upload.png"
    picture = Image.new("L", (48, 48))
    ImageDraw.Draw(picture).ellipse((12, 18, 36, 30), fill=255)  # a white ellipse on black, like the data
    picture.save(upload)
    d.find_element("id", "file").send_keys(str(upload))
    _wait(d, lambda d: _src(d, "upload-recon").startswith("data:image/png"), "the reconstruction of the upload")
    marker = d.find_element("id", "upload-marker")
    _wait(d, lambda d: marker.get_attribute("display") == "inline", "the upload's marker on the map")
    u, v = map(float, re.findall(r"-?[\d.]+", marker.get_attribute("transform")))
    assert 0 <= u <= 400 and 0 <= v <= 400

    # draw a stroke on the canvas: releasing the pen sends the drawing
    before = _src(d, "upload-input")
    canvas = d.find_element("id", "draw")
    ActionChains(d).move_to_element_with_offset(canvas, -40, -30).click_and_hold().move_by_offset(40, 30) \
        .move_by_offset(30, -40).release().perform()
    _wait(d, lambda d: _src(d, "upload-input") != before, "the drawing's reconstruction")
    assert not d.find_element("id", "error").is_displayed(), d.find_element("id", "error").text

    shot = tmp_path / "explorer.png"
    assert d.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    if os.environ.get("VAEKIT_EXPLORER_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["VAEKIT_EXPLORER_SCREENSHOT"])


def test_a_typed_sentence_in_chromium(browser, served_text):
    from selenium.webdriver.common.keys import Keys

    d = browser
    d.get(served_text)
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "the page to start")
    shown = {panel: d.find_element("id", panel).is_displayed() for panel in ("upload-panel", "typed-panel")}
    assert shown == {"upload-panel": False, "typed-panel": True}
    _wait(d, lambda d: d.find_element("id", "decoded-item").get_attribute("innerHTML").startswith("<div"),
          "the sentence the sliders decode")
    box = d.find_element("id", "sentence")
    box.send_keys("the huge red zorblax moves up .", Keys.ENTER)
    _wait(d, lambda d: len(d.find_elements("css selector", "#neighbours > li")) == 5, "the five nearest test items")
    assert "<unk>" in d.find_element("id", "typed-input").text  # an unknown word, as the model reads it
    assert d.find_element("id", "typed-recon").find_elements("css selector", "li")
    assert d.find_element("id", "upload-marker").get_attribute("display") == "inline"
    assert not d.find_element("id", "error").is_displayed(), d.find_element("id", "error").text


def test_a_sound_run_pictures_and_plays_in_chromium(browser, served_sound, tmp_path):
    import numpy as np
    import soundfile as sf
    from selenium.webdriver.common.keys import Keys

    d = browser
    d.get(served_sound)
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "the page to start")
    shown = {panel: d.find_element("id", panel).is_displayed() for panel in ("upload-panel", "draw-col", "typed-panel")}
    assert shown == {"upload-panel": True, "draw-col": False, "typed-panel": False}
    assert d.find_element("id", "file").get_attribute("accept") == ".wav,.flac,.ogg"
    _wait(d, lambda d: _src(d, "decoded-audio").startswith("data:audio/wav"), "the first decoded sound")
    assert _src(d, "decoded").startswith("data:image/png") and d.find_element("id", "decoded-audio").is_displayed()

    # a slider moved and released: a new picture and a new sound
    before = _src(d, "decoded-audio")
    d.find_element("css selector", "#sliders input[type=range]").send_keys(Keys.END)
    _wait(d, lambda d: _src(d, "decoded-audio") != before, "the sound to follow the slider")
    _wait(d, lambda d: _src(d, "audio-a").startswith("data:audio/wav"), "the interpolation's endpoints' sounds")

    # an uploaded clip: its sound as the model hears it and its reconstruction, and a marker on the map
    clip = tmp_path / "tone.wav"
    sf.write(clip, 0.3 * np.sin(2 * np.pi * 440 * np.arange(4000) / 16000), 16000)
    d.find_element("id", "file").send_keys(str(clip))
    _wait(d, lambda d: _src(d, "upload-recon-audio").startswith("data:audio/wav"), "the upload's reconstruction")
    assert _src(d, "upload-input-audio").startswith("data:audio/wav")
    assert d.find_element("id", "upload-marker").get_attribute("display") == "inline"

    # a click on the map plays the nearest test item
    d.find_element("id", "markers").click()
    _wait(d, lambda d: _src(d, "map-item-audio").startswith("data:audio/wav"), "the nearest test item's sound")
    assert d.find_element("id", "map-item-caption").text.startswith("test item ")
    assert not d.find_element("id", "error").is_displayed(), d.find_element("id", "error").text


@pytest.fixture
def served_video():
    """The explorer of a video run (the stand-in model of `fakes`) served by uvicorn in this process."""
    import threading

    import torch
    import uvicorn

    from tests.kinds.videos.fakes import FakeSequentialVAE, flat_videos
    from vaekit.cli.explore import bind
    from vaekit.explore.app import create_app
    from vaekit.explore.state import ExplorerState
    from vaekit.kinds.videos import VideoKind

    x = flat_videos([[0.2, 0.3, 0.4, 0.3], [0.6, 0.5, 0.6, 0.7], [0.5, 0.5, 0.1, 0.5]])
    app = create_app(ExplorerState(FakeSequentialVAE(static_dim=2), x, torch.tensor([0, 1, 0]), kind=VideoKind()))
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_video_run_plays_and_swaps_in_chromium(browser, served_video):
    from selenium.webdriver.common.keys import Keys

    d = browser
    d.get(served_video)
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "the page to start")
    assert d.find_element("id", "video-panel").is_displayed() and not d.find_element("id", "draw-col").is_displayed()
    _wait(d, lambda d: _src(d, "decoded").startswith("data:image/gif"), "the decoded video")
    _wait(d, lambda d: _src(d, "video-out").startswith("data:image/gif"), "the content and motion video")
    assert d.find_element("id", "content-what").text == "test video 0"
    assert d.find_element("id", "motion-what").text == "test video 1"
    assert len(d.find_elements("css selector", "#content-sliders input")) == 2
    before = _src(d, "video-out")
    d.find_element("id", "motion-draw").click()
    _wait(d, lambda d: _src(d, "video-out") != before, "a new motion")
    assert d.find_element("id", "motion-what").text == "prior draw, seed 0"
    before = _src(d, "video-out")
    d.find_element("css selector", "#shift-sliders input").send_keys(Keys.END)
    _wait(d, lambda d: _src(d, "video-out") != before, "the motion slider")
    assert not d.find_element("id", "error").is_displayed(), d.find_element("id", "error").text


def test_a_conditional_image_run_takes_a_class_in_chromium(browser, served_conditional, tmp_path):
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(served_conditional)
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "1", "the page to start")
    classes = Select(d.find_element("id", "class"))
    assert [o.text for o in classes.options] == ["bar", "ring", "square"]
    assert d.find_element("id", "upload-label-box").is_displayed()
    # test item A's conversion row: one picture per class
    _wait(d, lambda d: len(d.find_elements("css selector", "#convert-row img")) == 3, "A's conversion row")
    assert "test item 0" in d.find_element("id", "convert-what").text

    # another class: the sliders' picture changes
    _wait(d, lambda d: _src(d, "decoded").startswith("data:image/png"), "the first decoded image")
    before = _src(d, "decoded")
    classes.select_by_index(2)
    _wait(d, lambda d: _src(d, "decoded") != before, "the decoded image to follow the class")

    # random: the sliders move to a draw from the prior and the picture follows
    before, first = _src(d, "decoded"), d.find_element("css selector", "#sliders output").text
    d.find_element("id", "random").click()
    _wait(d, lambda d: _src(d, "decoded") != before, "the random draw's picture")
    assert d.find_element("css selector", "#sliders output").text != first

    # an upload with its class: its reconstruction and its own conversion row
    upload = tmp_path / "bar.png"
    picture = Image.new("L", (16, 16))
    ImageDraw.Draw(picture).rectangle((3, 7, 12, 8), fill=255)
    picture.save(upload)
    Select(d.find_element("id", "upload-label")).select_by_visible_text("bar")
    d.find_element("id", "file").send_keys(str(upload))
    _wait(d, lambda d: "your upload" in d.find_element("id", "convert-what").text, "the upload's conversion row")
    assert _src(d, "upload-recon").startswith("data:image/png")
    assert len(d.find_elements("css selector", "#convert-row img")) == 3
    assert not d.find_element("id", "error").is_displayed(), d.find_element("id", "error").text
