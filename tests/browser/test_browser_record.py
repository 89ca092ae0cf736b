"""A teacher speaks a lesson straight into the library: Chromium's fake microphone (a steady beep) is recorded with
the level meter moving, played back, named and saved, then checked like any upload."""

import os

import pytest

from portal.library.models import AudioClip
from tests.browsing import BROWSER_TESTS, CHROMIUM, CHROMIUM_FLAGS, log_in, outside_the_browser
from tests.factories import make_user

pytestmark = BROWSER_TESTS


@pytest.fixture
def browser_with_a_fake_microphone(live_server):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def teacher(transactional_db):
    return make_user("teacher@example.com")


def test_record_listen_name_and_save_a_lesson(
    teacher, worker, browser_with_a_fake_microphone, live_server, screenshots
):
    context = browser_with_a_fake_microphone.new_context(permissions=["microphone"], bypass_csp=True)
    page = context.new_page()
    log_in(None, live_server.url, "teacher@example.com", page=page)

    page.click(".recorder .record")
    page.wait_for_function("document.querySelector('.recorder meter').value > 0.05")
    page.wait_for_function("document.querySelector('.recorder .elapsed').textContent === '0:02'")
    assert page.locator(".recorder .take").is_hidden() and page.locator(".recorder .record").is_hidden()
    assert page.locator(".recorder .stop").is_visible()
    page.screenshot(path=str(screenshots / "library-recording.png"), full_page=True)
    page.click(".recorder .stop")
    take = page.locator(".recorder .take")
    take.wait_for()
    page.wait_for_function("document.querySelector('.recorder .take audio').readyState >= 1")
    assert page.locator(".recorder .stop").is_hidden() and page.locator(".recorder .level").is_hidden()
    page.fill(".recorder .take-name", "Lesson 5 warm-up")
    page.click(".recorder .save")

    page.locator("tr.clip").wait_for(timeout=60_000)
    assert page.locator("tr.clip .name").inner_text() == "Lesson 5 warm-up.webm"
    clip = outside_the_browser(AudioClip.objects.get)
    assert clip.codec == "opus" and 2.0 <= clip.duration_seconds < 5.0
