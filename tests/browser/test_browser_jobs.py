"""In a real browser, with a real worker, in English and Chinese: choose inputs, pre-flight, render, watch progress,
play, download, share with a stranger; an outsider cannot open the job."""

import re
import urllib.request

import pytest

from tests.browsing import BROWSER_TESTS, log_in
from tests.factories import make_user
from tests.jobs_helpers import fixture_inputs, give_plan

pytestmark = BROWSER_TESTS


@pytest.fixture
def teacher_with_inputs(transactional_db):
    make_user("outsider@example.com")
    user = make_user("teacher@example.com")
    give_plan(user, "teacher")
    return user, fixture_inputs(user)


TEXTS = {
    "en": {
        "videos": "Videos",
        "new": "New video",
        "face": "Face found",
        "cost": "Cost: 10 s",
        "succeeded": "Succeeded",
        "download": "Download MP4",
        "share": "Create share link",
        "revoke": "Revoke",
    },
    "zh-CN": {
        "videos": "视频",
        "new": "新建视频",
        "face": "已找到人脸",
        "cost": "消耗：10 秒",
        "succeeded": "已完成",
        "download": "下载 MP4",
        "share": "创建分享链接",
        "revoke": "吊销",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_render_share_and_watch_a_video(teacher_with_inputs, worker, browser, live_server, screenshots, language):
    _, (portrait, audio) = teacher_with_inputs
    text = TEXTS[language]
    suffix = "" if language == "en" else "-zh-hans"
    page = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language}).new_page()
    log_in(None, live_server.url, "teacher@example.com", page=page)

    page.get_by_role("link", name=text["videos"], exact=True).click()
    page.get_by_role("link", name=text["new"], exact=True).first.click()
    page.select_option("select[name=portrait]", str(portrait.id))
    page.select_option("select[name=audio]", str(audio.id))
    page.select_option("select[name=resolution]", "256")
    page.wait_for_selector(".preflight li.good")
    assert text["face"] in page.inner_text(".preflight")
    assert text["cost"] in page.inner_text(".preflight")

    page.click("button[value=submit]")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    page.wait_for_selector("video", timeout=120_000)  # the page follows progress and shows the player when done
    assert text["succeeded"] in page.inner_text(".status")
    duration = page.eval_on_selector(
        "video", "v => new Promise(r => v.readyState >= 1 ? r(v.duration) : v.onloadedmetadata = () => r(v.duration))"
    )
    assert abs(duration - audio.duration_seconds) < 0.05
    href = page.get_attribute(f"a:has-text('{text['download']}')", "href")
    # The signed link works without the browser's session.
    with urllib.request.urlopen(live_server.url + href) as response:
        assert response.headers["Content-Type"] == "video/mp4" and len(response.read()) > 10_000
    page.screenshot(path=str(screenshots / f"job{suffix}.png"), full_page=True)

    # Shared: a stranger's browser, signed in nowhere, plays it from the link; the job page itself stays private.
    page.click(f"button:has-text('{text['share']}')")
    share_url = page.locator("input.share-url").input_value()
    assert share_url.startswith(f"{live_server.url}/watch/")
    stranger = browser.new_context().new_page()
    stranger.goto(share_url)
    shared_duration = stranger.eval_on_selector(
        "video", "v => new Promise(r => v.readyState >= 1 ? r(v.duration) : v.onloadedmetadata = () => r(v.duration))"
    )
    assert abs(shared_duration - audio.duration_seconds) < 0.05
    stranger.screenshot(path=str(screenshots / f"shared{suffix}.png"), full_page=True)
    job_url = page.url
    assert stranger.goto(job_url).url.startswith(f"{live_server.url}/accounts/login/")
    outsider = log_in(browser, live_server.url, "outsider@example.com")
    assert outsider.goto(job_url).status == 404
    assert outsider.goto(job_url + "status/").status == 404
    page.click(f".share-link button:has-text('{text['revoke']}')")
    page.locator(".share-link").wait_for(state="detached")
    assert stranger.goto(share_url).status == 404


@pytest.fixture
def free_user_with_a_lecture(transactional_db):
    from portal.library.upload import store
    from tests.media import audio_bytes, upload

    user = make_user("free@example.com")
    portrait, speech = fixture_inputs(user)
    lecture = store.add_audio(user, upload("lecture.mp3", audio_bytes(".mp3", seconds=61)))
    return portrait, speech, lecture


def test_render_is_offered_only_when_the_check_would_accept_it(
    free_user_with_a_lecture, browser, live_server, screenshots
):
    portrait, speech, lecture = free_user_with_a_lecture
    page = log_in(browser, live_server.url, "free@example.com")
    page.goto(f"{live_server.url}/jobs/new/")
    # The one portrait is chosen already and shown with the face that will move.
    assert page.input_value("select[name=portrait]") == str(portrait.id)
    page.locator(".portrait-preview .face-box").wait_for()
    assert page.locator(".portrait-preview img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("button.render").is_disabled(), "nothing to render before audio is chosen"
    assert not page.locator("details.advanced").evaluate("d => d.open")

    page.select_option("select[name=audio]", str(lecture.id))
    refusal = page.locator(".preflight li.bad[data-code=job_too_long]")
    refusal.wait_for()
    assert refusal.locator("a").get_attribute("href") == "/billing/"
    assert page.locator("button.render").is_disabled()
    assert page.locator(".audio-preview svg rect").count() == 200
    assert "1:01" in page.inner_text(".audio-preview figcaption")
    page.screenshot(path=str(screenshots / "new-video-refused.png"), full_page=True)

    page.select_option("select[name=audio]", str(speech.id))
    page.wait_for_function("!document.querySelector('button.render').disabled")
    assert page.locator(".preflight li.bad").count() == 0
    page.screenshot(path=str(screenshots / "new-video.png"), full_page=True)
