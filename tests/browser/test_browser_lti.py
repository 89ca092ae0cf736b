"""In a real browser: a teacher adds one of their videos to a course page of the test platform (tests/lti_helpers.py)
through deep linking, in the course page's frame, signing in in a window of our own; then a student with no portal
account watches it there, with its captions. In English and Chinese, on a desktop and a 360 px phone.

The course page and the tool are both on 127.0.0.1 (other ports): same site, so the tool's cookies (pylti1p3's OIDC
state, the portal's session) reach its frame as they would with first-party cookies. The tool's own
Content-Security-Policy is not bypassed here, so its frame-ancestors and form-action are what let it work."""

import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

import renderer
from portal import storage
from portal.lti.models import CourseVideo
from renderer.qualify.cases import FIXTURES
from tests.browsing import BROWSER_TESTS, log_in, outside_the_browser
from tests.jobs_helpers import finished_job
from tests.lti_helpers import TestPlatform

pytestmark = BROWSER_TESTS

CAPTIONS = {
    "en": ("Photosynthesis", [[0.5, 2.0, "Good morning, class."], [2.5, 4.0, "Today: how plants make sugar."]]),
    "zh-CN": ("光合作用", [[0.5, 2.0, "同学们好。"], [2.5, 4.0, "今天我们学习植物怎样制造糖。"]]),
}
TEXTS = {
    "en": {"picker": "Choose a video", "signed_in": "You are signed in"},
    "zh-CN": {"picker": "选择视频", "signed_in": "你已登录"},
}
FRAME = "iframe[name=lti-frame]"


@pytest.fixture(scope="session")
def talking_video(tmp_path_factory):
    """A real, playable video (the committed portrait saying the committed speech, 256 px, about 4 s to make), made
    once for the run: the student's player loads and plays it, captions on screen."""
    output = tmp_path_factory.mktemp("lti-render") / "speech.mp4"
    made = renderer.render(FIXTURES / "portrait.jpg", FIXTURES / "speech.wav", output, {"resolution": 256})
    return output.read_bytes(), made.poster_path.read_bytes(), made.audio_duration


@pytest.fixture
def lesson(teacher, language, talking_video):
    title, cues = CAPTIONS[language]
    video, poster, seconds = talking_video
    finished_job(teacher, title="Not this one", captions=[[0.5, 1.0, "Other."]], captions_language="en")
    poster_key = default_storage.save(storage.new_key(teacher, "posters", ".jpg"), ContentFile(poster))
    return finished_job(
        teacher,
        title=title,
        video=video,
        poster=poster_key,
        audio_duration_seconds=seconds,
        captions=cues,
        captions_language=language,
    )


@pytest.fixture
def tool_url(live_server) -> str:
    """The live server (listening on localhost: 127.0.0.1) by the address the course site names, so that both are
    one site: localhost and 127.0.0.1 are two."""
    return live_server.url.replace("//localhost:", "//127.0.0.1:")


@pytest.fixture
def platform(transactional_db, tool_url, settings, language):
    """The course site, its launches in the walk's language; the tool's pages may be framed by it (a Moodle over
    plain HTTP needs that in LTI_FRAME_ANCESTORS: only HTTPS sites may by default)."""
    with TestPlatform(tool_url=tool_url, locale=language) as running:
        running.register()
        settings.SITE_URL = tool_url
        settings.LTI_FRAME_ANCESTORS = ["'self'", "https:", running.base]
        yield running
        assert running.problems == []


def context_for(browser, language, viewport):
    # bypass_csp off: the tool's policy (frame-ancestors, form-action to the platform) must allow the walk itself.
    return browser.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}, viewport=viewport, bypass_csp=False
    )


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 360, "height": 740}], ids=["desktop", "phone"]
)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_teacher_adds_a_video_to_a_course_and_a_student_watches_it_there(
    teacher, lesson, platform, browser, tool_url, screenshots, language, viewport
):
    text = TEXTS[language]
    suffix = f"{'' if language == 'en' else '-zh-hans'}{'' if viewport['width'] > 400 else '-phone'}"

    # The teacher, signed in to the portal in this browser, adds an activity on the course page.
    context = context_for(browser, language, viewport)
    page = log_in(None, tool_url, "teacher@example.com", page=context.new_page())
    page.goto(platform.course_url)
    page.get_by_role("button", name="Add an activity: Sonic Portal video").click()
    frame = page.frame_locator(FRAME)
    frame.locator("[data-code=sign_in_needed]").wait_for()
    page.screenshot(path=str(screenshots / f"lti-sign-in{suffix}.png"), full_page=True)

    # The frame asks them to sign in in a window of ours (the portal's login refuses to be framed); signed in
    # already, they only confirm there, close it, and the frame moves on to the chooser by itself.
    with context.expect_page() as opened:
        frame.locator("[data-code=sign_in_needed] a[target=_blank]").click()
    window = opened.value
    window.wait_for_url(re.compile(r"/lti/pick/[^/]+/sign-in/$"))
    assert "Biology 101" in window.inner_text("main")
    window.locator("main form button").click()
    window.get_by_role("heading", name=text["signed_in"]).wait_for()
    window.close()

    chooser = frame.locator(f".share-link[data-id='{lesson.id}']")
    chooser.wait_for()  # lti.js reloads the frame once /status/ says the teacher has signed in
    frame.get_by_role("heading", name=text["picker"]).wait_for()
    assert frame.locator(".share-link").count() == 2
    page.screenshot(path=str(screenshots / f"lti-picker{suffix}.png"), full_page=True)
    if viewport["width"] < 400:
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert_fits(frame, ".share-link")

    # Chosen: the tool's signed answer posts itself to the platform, which checks it with the tool's key set and
    # shows the course again, now listing the video.
    chooser.locator("button").click()
    page.locator(".activity", has_text=lesson.display_title).wait_for()
    assert page.locator(FRAME).is_hidden()
    placed = outside_the_browser(lambda: CourseVideo.objects.get())
    assert placed.job_id == lesson.id and placed.course_title == "Biology 101"
    (activity,) = platform.activities
    assert activity["custom"] == {"sonic_portal_video": placed.token}
    assert activity["url"] == f"{tool_url}/lti/launch/"
    page.screenshot(path=str(screenshots / f"lti-course{suffix}.png"), full_page=True)
    context.close()

    # A student: another browser, no portal account, opens the course page and watches the video in its frame.
    context = context_for(browser, language, viewport)
    page = context.new_page()
    page.goto(platform.course_url)
    page.locator(".activity", has_text=lesson.display_title).get_by_role("button", name="Watch").click()
    frame = page.frame_locator(FRAME)
    video = frame.locator("video")
    video.wait_for()
    frame.get_by_role("heading", name=lesson.display_title).wait_for()
    assert frame.locator("video track[kind=captions]").get_attribute("srclang") == language
    cues = video.evaluate(
        """v => new Promise(done => {
            const track = v.textTracks[0];
            const ready = () => track.cues && track.cues.length ? done([...track.cues].map(c => [c.startTime, c.text]))
                                                               : setTimeout(ready, 100);
            ready();
        })"""
    )
    assert cues == [[start, words] for start, _, words in lesson.captions]
    duration = video.evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r(v.duration) : v.onloadedmetadata = () => r(v.duration))"
    )
    assert abs(duration - lesson.audio_duration_seconds) < 0.05
    # A caption on screen, and the frame under it decoded (no spinner in the screenshot).
    shown = video.evaluate(
        f"""v => new Promise(done => {{
            const track = v.textTracks[0];
            const cue = new Promise(r => track.addEventListener("cuechange", () => track.activeCues.length && r()));
            const picture = new Promise(r => v.addEventListener("seeked", function ready() {{
                v.readyState >= 3 ? r() : v.addEventListener("canplay", ready, {{ once: true }});
            }}, {{ once: true }}));
            v.currentTime = {cues[1][0] + 0.5};
            Promise.all([cue, picture]).then(() => done(track.activeCues[0].text));
        }})"""
    )
    assert shown == cues[1][1]
    assert frame.locator("html").get_attribute("lang") == ("en" if language == "en" else "zh-hans")
    assert outside_the_browser(lambda: CourseVideo.objects.get().launches) == 1
    page.locator(FRAME).scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"lti-student{suffix}.png"), full_page=True)
    if viewport["width"] < 400:
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert_fits(frame, "video")
    context.close()


def assert_fits(frame, selector: str) -> None:
    """Nothing in the frame is wider than the frame: no sideways scrolling inside the course page."""
    width = frame.locator("html").evaluate("html => html.clientWidth")
    scroll = frame.locator("html").evaluate("html => html.scrollWidth")
    assert scroll <= width, f"the frame scrolls sideways: {scroll} > {width} px"
    box = frame.locator(selector).first.evaluate("e => e.getBoundingClientRect().right")
    assert box <= width + 0.5, f"{selector} ends at {box} px in a {width} px frame"
