"""A teacher adds a video to a course: the platform's login and deep-linking launch, the chooser in its frame, the
sign-in in a window of our own, and the signed answer the platform checks with our key set. Someone else's video is
a 404, and so is the chooser to someone signed in as another user."""

import re

from django.test import Client
from django.urls import reverse

from portal.jobs.models import Job, ShareLink
from portal.lti.models import CourseVideo
from tests.jobs_helpers import finished_job
from tests.lti_helpers import CONTENT_ITEMS, LTI, frame_client, page_code


def chooser_url(response) -> str:
    assert response.status_code == 302, response.content[:500]
    assert re.fullmatch(r"/lti/pick/lti1p3-launch-[0-9a-f-]{36}/", response.url)
    return response.url


def signed_in_window(user) -> Client:
    window = Client()
    window.force_login(user)
    return window


def confirm(window: Client, url: str):
    return window.post(url + "sign-in/")


def test_a_teacher_adds_a_finished_video_and_the_platform_accepts_the_signed_answer(platform, owner, outsider):
    lesson = finished_job(owner, title="Photosynthesis", captions=[[0.5, 1.5, "Hello."]])
    finished_job(owner, title="Still rendering", status=Job.Status.RUNNING, video=None)
    finished_job(outsider, title="Not yours")
    frame = frame_client()

    url = chooser_url(platform.launch(frame, "LtiDeepLinkingRequest"))
    waiting = frame.get(url)
    assert waiting.status_code == 200 and page_code(waiting) == "sign_in_needed"
    assert "Biology 101" in waiting.content.decode()
    assert frame.get(url + "status/").json() == {"signed_in": False}

    # In a window of our own: the login first, then back to the confirmation.
    anonymous = Client().get(url + "sign-in/")
    assert anonymous.status_code == 302 and anonymous.url == f"{reverse('account_login')}?next={url}sign-in/"
    window = signed_in_window(owner)
    asked = window.get(url + "sign-in/").content.decode()
    assert "Biology 101" in asked and "Test Moodle" in asked
    assert page_code(confirm(window, url)) == "signed_in"

    assert frame.get(url + "status/").json() == {"signed_in": True}
    chooser = frame.get(url)
    page = chooser.content.decode()
    assert chooser.status_code == 200 and "Photosynthesis" in page
    assert "Still rendering" not in page and "Not yours" not in page

    answered = frame.post(url, {"job": str(lesson.id)})
    assert answered.status_code == 200
    policy = answered["Content-Security-Policy"]
    assert f"form-action 'self' {platform.base}" in policy and "frame-ancestors 'self' https:" in policy
    assert "X-Frame-Options" not in answered

    message = platform.deep_linking_answer(answered.content.decode(), Client().get(reverse("lti:jwks")).json())
    assert message[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert message[LTI + "deployment_id"] == platform.deployment_id
    assert message["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "platform-opaque-42"
    (item,) = message[CONTENT_ITEMS]
    placed = CourseVideo.objects.get()
    assert item["type"] == "ltiResourceLink" and item["title"] == "Photosynthesis"
    assert item["url"] == "http://127.0.0.1:8000/lti/launch/"
    assert item["custom"] == {"sonic_portal_video": placed.token}
    assert (placed.job, placed.owner, placed.course_title, placed.deployment_id) == (
        lesson,
        owner,
        "Biology 101",
        "1",
    )
    # The share link the course plays from is the owner's to see and revoke on the video's page.
    link = ShareLink.objects.get(job=lesson)
    assert placed.share_link == link and link.is_active()
    assert link.token in window.get(reverse("jobs:detail", args=[lesson.id])).content.decode()


def test_a_teacher_cannot_add_someone_elses_video(platform, owner, outsider):
    theirs = finished_job(outsider, title="Not yours")
    frame = frame_client()
    url = chooser_url(platform.launch(frame, "LtiDeepLinkingRequest"))
    confirm(signed_in_window(owner), url)
    for job_id in (str(theirs.id), "not-a-uuid", ""):
        refused = frame.post(url, {"job": job_id})
        assert refused.status_code == 404 and page_code(refused) == "not_found"
    assert not CourseVideo.objects.exists() and not ShareLink.objects.exists()


def test_the_chooser_is_the_confirming_teachers_only(platform, owner, outsider):
    finished_job(owner, title="Photosynthesis")
    frame = frame_client()
    url = chooser_url(platform.launch(frame, "LtiDeepLinkingRequest"))
    assert frame.post(url, {"job": "x"}).status_code == 404, "nobody has signed in yet"
    confirm(signed_in_window(owner), url)

    other = signed_in_window(outsider)
    assert other.get(url).status_code == 404, "signed in as someone else: not theirs"
    assert other.get(url + "status/").status_code == 404
    taken = confirm(other, url)
    assert taken.status_code == 409 and page_code(taken) == "picker_taken"
    assert "Photosynthesis" in frame.get(url).content.decode(), "still the first teacher's"


def test_an_unknown_chooser_is_404_everywhere(platform, owner):
    url = "/lti/pick/lti1p3-launch-00000000-0000-0000-0000-000000000000/"
    for response in (frame_client().get(url), signed_in_window(owner).get(url + "sign-in/")):
        assert response.status_code == 404 and page_code(response) == "picker_expired"
    assert frame_client().get(url + "status/").status_code == 404


def test_the_chooser_lists_no_videos_yet_clearly(platform, owner):
    frame = frame_client()
    url = chooser_url(platform.launch(frame, "LtiDeepLinkingRequest"))
    confirm(signed_in_window(owner), url)
    assert page_code(frame.get(url)) == "no_finished_videos"


def test_a_chinese_course_gets_the_chooser_in_chinese(platform, owner):
    frame = frame_client()
    launched = platform.launch(frame, "LtiDeepLinkingRequest", **{LTI + "launch_presentation": {"locale": "zh_CN"}})
    page = frame.get(chooser_url(launched))
    assert '<html lang="zh-hans">' in page.content.decode()


def test_over_https_the_state_cookie_works_in_a_frame_and_the_chooser_needs_it(platform, owner):
    """What browsers require of a cookie set inside another site's frame: SameSite=None; Secure."""
    frame = frame_client()
    login = platform.login(frame, secure=True)
    state_cookie = frame.cookies[f"lti1p3-{login['state']}"]
    session_cookie = frame.cookies["lti1p3-session-id"]
    for cookie in (state_cookie, session_cookie):
        assert cookie["samesite"] == "None" and cookie["secure"] and cookie["httponly"]
    token = platform.id_token(login["nonce"], "LtiDeepLinkingRequest")
    url = chooser_url(frame.post(reverse("lti:launch"), {"id_token": token, "state": login["state"]}, secure=True))
    confirm(signed_in_window(owner), url)
    assert frame.get(url, secure=True).status_code == 200

    elsewhere = frame_client()  # the launch id alone, in a browser without the launch's cookie
    elsewhere.cookies["lti1p3-session-id"] = "someone-elses"
    assert page_code(elsewhere.get(url, secure=True)) == "picker_expired"
