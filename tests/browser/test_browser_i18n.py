"""A browser set to Chinese in Shanghai: pages in Chinese, its time zone reported by our JavaScript and used for
times, Chinese file names shown, and the switcher turns the portal to English."""

import re
from datetime import UTC, datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from portal import storage
from portal.jobs.models import Job
from portal.library.models import AudioClip
from tests.browsing import BROWSER_TESTS
from tests.factories import PASSWORD, make_user
from tests.jobs_helpers import finished_job

pytestmark = BROWSER_TESTS


@pytest.fixture
def teacher_with_a_chinese_lecture(transactional_db):
    """A video of "第一课：问候.wav", made at 02:49 UTC on 9 December 2025 (10:49 in Shanghai)."""
    user = make_user("laoshi@example.com")
    name = storage.new_key(user, "audio", ".wav")
    default_storage.save(name, ContentFile(b"RIFF"))
    audio = AudioClip.objects.create(
        owner=user,
        original_name="第一课：问候.wav",
        file=name,
        size_bytes=4,
        duration_seconds=42.5,
        sample_rate=16000,
        channels=1,
        codec="pcm_s16le",
        content_type="audio/wav",
    )
    job = finished_job(user, audio=audio, audio_duration_seconds=42.5)
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2025, 12, 9, 2, 49, tzinfo=UTC))
    return job


def test_a_chinese_browser_in_shanghai(teacher_with_a_chinese_lecture, browser, live_server, screenshots):
    job = teacher_with_a_chinese_lecture
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()

    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "忘记密码？" in page.inner_text("main")
    page.wait_for_function("document.cookie.includes('tz=')")
    assert {cookie["name"]: cookie["value"] for cookie in context.cookies()}["tz"] == "Asia/Shanghai"

    page.fill("input[name=login]", job.owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/library/$"))
    assert "您的素材库" in page.inner_text("h1")

    page.click("header a[href='/jobs/']")
    page.wait_for_url(re.compile(r"/jobs/$"))
    assert page.inner_text("h1") == "您的视频"
    assert "第一课：问候" in page.inner_text("table.jobs")  # the title: the audio's name without ".wav"
    page.screenshot(path=str(screenshots / "jobs-zh-hans.png"), full_page=True)

    page.click("text=第一课：问候")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    assert page.inner_text(".created-at") == "2025年12月9日 10:49"
    assert "已完成" in page.inner_text(".status") and "下载 MP4" in page.inner_text(".download")
    page.screenshot(path=str(screenshots / "job-zh-hans.png"), full_page=True)

    # The switcher: English from now on, for this account on any device.
    page.select_option("#language-choice", "en")
    page.click(".language-switcher button")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text(".created-at") == "9 Dec 2025 10:49"
    context.close()

    # Another Chinese browser (no cookies): the login page is Chinese, the account then in its saved English. (Checked
    # through the browser: the ORM must not be used while Playwright's loop runs in this thread; see conftest.)
    page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    page.fill("input[name=login]", job.owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/library/$"))
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("h1") == "Your library"
    page.context.close()
