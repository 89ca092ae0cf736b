"""A long lecture sent from the library page over a slow connection that drops half-way: the upload goes on from
where it stopped, with a progress bar, and the lecture lands in the library once a worker has checked it."""

import pytest

from portal.library.models import AudioClip, Upload
from tests.browsing import BROWSER_TESTS, log_in, outside_the_browser
from tests.factories import make_user
from tests.media import audio_bytes

pytestmark = BROWSER_TESTS

MB = 1024 * 1024


@pytest.fixture
def teacher(transactional_db):
    return make_user("teacher@example.com")


LOST = {"en": "Connection lost", "zh-CN": "连接已断开"}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_an_upload_cut_off_half_way_goes_on_and_lands_in_the_library(
    teacher, worker, browser, live_server, tmp_path, screenshots, language
):
    lecture = tmp_path / "第一课 lecture.wav"
    lecture.write_bytes(audio_bytes(".wav", seconds=600.0))  # 16 kHz mono: 19.2 MB, three 8 MiB parts
    size = lecture.stat().st_size
    suffix = "" if language == "en" else "-zh-hans"

    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    log_in(None, live_server.url, "teacher@example.com", page=page)
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    throttle = {"offline": False, "latency": 20, "downloadThroughput": 50 * MB, "uploadThroughput": 4 * MB}
    network.send("Network.emulateNetworkConditions", throttle)

    form = page.locator("form.upload").nth(1)
    form.locator("input[type=file]").set_input_files(str(lecture))
    form.locator("button").click()
    progress = form.locator(".transfer progress")
    page.wait_for_function("document.querySelectorAll('form.upload')[1].querySelector('progress').value > 20")
    page.screenshot(path=str(screenshots / f"upload-progress{suffix}.png"), full_page=True)

    # The connection drops in the middle of the second part.
    page.wait_for_function("document.querySelectorAll('form.upload')[1].querySelector('progress').value > 50")
    network.send("Network.emulateNetworkConditions", {**throttle, "offline": True})
    page.context.set_offline(True)
    form.locator(".transfer-text", has_text=LOST[language]).wait_for(timeout=60_000)
    stopped_at = outside_the_browser(lambda: Upload.objects.get().received)
    assert 0 < stopped_at < size, "part of the lecture arrived, not all"
    stalled = progress.evaluate("bar => bar.value")
    page.screenshot(path=str(screenshots / f"upload-offline{suffix}.png"), full_page=True)

    page.context.set_offline(False)
    network.send("Network.emulateNetworkConditions", throttle)
    clip = page.locator("tr.clip")
    clip.wait_for(timeout=90_000)
    assert page.locator("tr.clip .name").inner_text() == lecture.name
    assert page.locator("tr.clip .duration").inner_text() == "10:00"
    assert page.locator("html").get_attribute("lang") == ("en" if language == "en" else "zh-hans")
    assert outside_the_browser(lambda: AudioClip.objects.get().size_bytes) == size
    upload = outside_the_browser(Upload.objects.get)
    assert upload.status == "ready" and upload.received == size
    assert stalled < 100
    page.screenshot(path=str(screenshots / f"upload-done{suffix}.png"), full_page=True)
