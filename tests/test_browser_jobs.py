"""In a real browser, with a real worker: choose inputs, pre-flight, render, watch progress, play, download."""

import os
import re
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BROWSER_TESTS, log_in, make_user
from tests.jobs_helpers import fixture_inputs, give_plan

pytestmark = BROWSER_TESTS


@pytest.fixture
def teacher_with_inputs(transactional_db):
    user = make_user("teacher@example.com")
    give_plan(user, "teacher")
    return user, fixture_inputs(user)


def test_render_a_video_and_watch_it_arrive(teacher_with_inputs, worker, browser, live_server, tmp_path):
    _, (portrait, audio) = teacher_with_inputs
    page = log_in(browser, live_server.url, "teacher@example.com")

    page.click("text=Videos")
    page.click("text=New video")
    page.select_option("select[name=portrait]", str(portrait.id))
    page.select_option("select[name=audio]", str(audio.id))
    page.select_option("select[name=resolution]", "256")
    page.wait_for_selector(".preflight li.good")
    assert "Face found" in page.inner_text(".preflight")
    assert "Cost: 10 s" in page.inner_text(".preflight")

    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    page.wait_for_selector("video", timeout=120_000)  # the page follows progress and shows the player when done
    assert "Succeeded" in page.inner_text(".status")
    duration = page.eval_on_selector(
        "video", "v => new Promise(r => v.readyState >= 1 ? r(v.duration) : v.onloadedmetadata = () => r(v.duration))"
    )
    assert abs(duration - audio.duration_seconds) < 0.05
    href = page.get_attribute("a:has-text('Download MP4')", "href")
    # The signed link works without the browser's session.
    with urllib.request.urlopen(live_server.url + href) as response:
        assert response.headers["Content-Type"] == "video/mp4" and len(response.read()) > 10_000
    page.screenshot(path=str(Path(os.environ.get("SCREENSHOT_DIR", tmp_path)) / "job.png"), full_page=True)
