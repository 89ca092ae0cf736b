"""A teacher types a script in the browser, a worker says it into the library with its captions, the teacher makes
a video from it, watches it with the captions showing, and downloads them; in English and Chinese, on a desktop and
a 360 px phone."""

import re

import pytest

from portal.library.models import Script
from renderer import captions
from tests.browsing import BROWSER_TESTS, log_in, outside_the_browser
from tests.factories import make_user
from tests.jobs_helpers import fixture_inputs

pytestmark = BROWSER_TESTS

SCRIPTS = {
    "en": ("en-joe", "Good morning, class. Today we learn how plants make sugar.\n\nAny questions?"),
    "zh-CN": ("zh-cmn", "同学们好。今天我们学习植物怎样制造糖。\n\n有问题吗？"),
}
MADE = {"en": "Make a video from it", "zh-CN": "用它制作视频"}
DOWNLOAD_VTT = {"en": "Captions (WebVTT)", "zh-CN": "字幕（WebVTT）"}


@pytest.fixture
def teacher(transactional_db):
    user = make_user("teacher@example.com")
    fixture_inputs(user)  # a portrait to animate
    return user


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 360, "height": 740}], ids=["desktop", "phone"]
)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_typed_script_is_said_into_the_library_with_its_captions(
    teacher, worker, browser, live_server, screenshots, language, viewport
):
    voice, text = SCRIPTS[language]
    name = f"script{'' if language == 'en' else '-zh-hans'}{'' if viewport['width'] > 400 else '-phone'}"
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language}, viewport=viewport)
    page = context.new_page()
    log_in(None, live_server.url, "teacher@example.com", page=page)
    page.goto(f"{live_server.url}/library/")
    page.locator(".write-script a").click()
    page.locator("#id_title").fill("第一课" if language != "en" else "Lesson one")
    page.locator("#id_text").fill(text)
    page.locator("#id_voice").select_option(voice)
    page.locator("button[value=preflight]").click()
    page.locator(".estimate").wait_for()
    page.screenshot(path=str(screenshots / f"{name}-written.png"), full_page=True)
    page.locator(".script-form button:not([value])").click()
    page.locator("a.button", has_text=MADE[language]).wait_for(timeout=60_000)  # the page refreshes itself
    page.screenshot(path=str(screenshots / f"{name}-said.png"), full_page=True)
    script = outside_the_browser(lambda: Script.objects.select_related("audio").get())
    assert script.status == Script.Status.READY and len(script.audio.captions) == 3
    assert page.locator("ol.cues li").count() == 3
    page.locator("a.button", has_text=MADE[language]).click()
    assert page.locator("#id_audio").input_value() == str(script.audio.id)

    page.select_option("select[name=resolution]", "256")
    page.wait_for_selector(".preflight li.good")
    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    page.wait_for_selector("video", timeout=180_000)
    cues = page.eval_on_selector(
        "video",
        """v => new Promise(done => {
            const track = v.textTracks[0];
            const ready = () => track.cues && track.cues.length ? done([...track.cues].map(c => [c.startTime, c.text]))
                                                               : setTimeout(ready, 100);
            ready();
        })""",
    )
    assert [text for _, text in cues] == [cue[2] for cue in script.audio.captions]
    page.eval_on_selector("video", f"v => {{ v.currentTime = {cues[1][0] + 0.5}; }}")  # a caption on screen
    page.wait_for_function("document.querySelector('video').textTracks[0].activeCues.length > 0")
    page.locator("video").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"{name}-watched.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name=DOWNLOAD_VTT[language]).click()
    assert download.value.suggested_filename.endswith(".vtt")
    saved = captions.parse(open(download.value.path(), encoding="utf-8").read())
    assert [cue.as_list() for cue in saved] == script.audio.captions
    context.close()
