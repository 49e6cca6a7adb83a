"""The rating page in a real browser (Debian's chromium through chromedriver and selenium),
against the real server: play, switch, loop, move sliders, submit two trials, find them in
SQLite, reload and resume. Skipped, with the reason, where chromium is not installed, unless
GANSEP_REQUIRE_BROWSER=1 (CI sets it: there it must run)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.listen.test_server import _free_port, _wait_until_up

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER) and os.environ.get("GANSEP_REQUIRE_BROWSER") != "1":
    pytest.skip("chromium and chromedriver are not installed (make install installs them as "
                "root: apt-get install chromium chromium-driver)", allow_module_level=True)

pytestmark = pytest.mark.slow  # a real browser, a real server


@pytest.fixture
def served(built_test, tmp_path):
    port, db = _free_port(), tmp_path / "ratings.sqlite"
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gansep.cli.main", "listen", "serve", str(built_test),
         "--port", str(port), "--db", str(db)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        _wait_until_up(url, server)
        yield url, db
    finally:
        server.kill()
        server.wait()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--autoplay-policy=no-user-gesture-required", "--window-size=1000,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(condition, timeout: float = 15.0):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the page")


def player_state(driver) -> dict:
    return driver.execute_script(
        "const p = window.gansepListen.player; return p && {current: p.current, playing: "
        "p.playing, position: p.position(), loop: [p.loopStart, p.loopEnd], state: "
        "p.context.state};")


def test_rate_two_trials_then_reload_and_resume(served, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, db = served
    find = browser.find_element
    browser.get(url + "/")
    wait_for(lambda: find(By.ID, "progress-text").text == "Training")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#stimuli .row")) == 5)

    # Training: play, then switch while playing: the position carries on.
    buttons = browser.find_elements(By.CSS_SELECTOR, "#stimuli .stimulus-button")
    buttons[0].click()
    first = wait_for(lambda: (lambda s: s if s["playing"] and s["position"] > 0.2 else None)(
        player_state(browser)))
    buttons[1].click()
    switched = player_state(browser)
    assert switched["current"] == buttons[1].get_attribute("data-key")
    assert switched["state"] == "running" and switched["position"] >= first["position"]
    assert "playing" in buttons[1].get_attribute("class")
    assert "playing" not in buttons[0].get_attribute("class")
    # A loop region by dragging on the timeline; a tiny drag still gives 0.5 s.
    timeline = find(By.ID, "timeline")
    width = timeline.size["width"]
    ActionChains(browser).move_to_element_with_offset(timeline, int(-0.3 * width), 0) \
        .click_and_hold().move_by_offset(int(0.4 * width), 0).release().perform()
    loop = player_state(browser)["loop"]
    assert loop[0] == pytest.approx(0.3, abs=0.05) and loop[1] == pytest.approx(0.9, abs=0.05)
    ActionChains(browser).move_to_element_with_offset(timeline, 0, 0).click_and_hold() \
        .move_by_offset(3, 0).release().perform()
    loop = player_state(browser)["loop"]
    assert loop[1] - loop[0] == pytest.approx(0.5, abs=1e-6)
    # While the next trial's audio loads (held back a second here), the last trial's rows
    # are gone and nothing plays: no slider or key can rate it from the wrong audio.
    browser.execute_script(
        "const plain = window.fetch; window.fetch = (...args) => new Promise((done) => "
        "setTimeout(() => done(plain(...args)), 1000)); window.plainFetch = plain;")
    find(By.ID, "start-test").click()
    assert browser.find_elements(By.CSS_SELECTOR, "#stimuli .row") == []
    assert player_state(browser) is None
    assert find(By.ID, "progress-text").text == "Training"

    # Trial 1: submitting needs every stimulus played; sliders moved with the mouse.
    wait_for(lambda: find(By.ID, "progress-text").text == "Trial 1 of 3")
    browser.execute_script("window.fetch = window.plainFetch;")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#stimuli .row")) == 5)
    submit = find(By.ID, "submit")
    assert not submit.is_enabled()
    rows = browser.find_elements(By.CSS_SELECTOR, "#stimuli .row")
    expected = {}
    for i, row in enumerate(rows):
        row.find_element(By.CSS_SELECTOR, "button").click()
        slider = row.find_element(By.CSS_SELECTOR, "input[type=range]")
        ActionChains(browser).move_to_element_with_offset(
            slider, int((i * 0.2 - 0.4) * slider.size["width"]), 0).click().perform()
        expected[slider.get_attribute("data-key")] = int(slider.get_attribute("value"))
        assert not (i < 4 and submit.is_enabled())
    assert len(set(expected.values())) == 5  # five different positions, five ratings
    wait_for(submit.is_enabled)
    browser.save_screenshot(os.environ.get("GANSEP_SCREENSHOT") or
                            str(db.parent / "page.png"))
    submit.click()

    # Trial 2 with the keyboard: letters play, arrows rate the one playing, Enter submits.
    wait_for(lambda: find(By.ID, "progress-text").text == "Trial 2 of 3")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#stimuli .row")) == 5)
    body = find(By.TAG_NAME, "body")
    for letter in "abcde":
        body.send_keys(letter)
        body.send_keys(Keys.ARROW_UP * 3)
    wait_for(find(By.ID, "submit").is_enabled)
    body.send_keys(Keys.ENTER)
    wait_for(lambda: find(By.ID, "progress-text").text == "Trial 3 of 3")

    with sqlite3.connect(db) as connection:
        submissions = connection.execute(
            "SELECT trial, position FROM submissions ORDER BY position").fetchall()
        ratings = connection.execute("SELECT trial, stimulus, rating FROM ratings").fetchall()
    assert [p for _, p in submissions] == [0, 1]
    first_trial = submissions[0][0]
    assert {s: r for t, s, r in ratings if t == first_trial} == expected
    assert sorted(r for t, _, r in ratings if t == submissions[1][0]) == [15.0] * 5

    # A reload resumes at the third trial, without the training page.
    browser.refresh()
    wait_for(lambda: find(By.ID, "progress-text").text == "Trial 3 of 3")
    assert find(By.ID, "intro").get_attribute("hidden")
    shown = browser.execute_script("return window.gansepListen.trial.id")
    assert shown not in {t for t, _ in submissions}
