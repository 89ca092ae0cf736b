"""A new user, in a real (headless Chromium) browser: sign up, verify, upload, see, delete; outsiders see nothing."""

import re

from django.core import mail

from tests.browsing import BROWSER_TESTS, log_in
from tests.factories import FIXTURES, PASSWORD

pytestmark = BROWSER_TESTS


def test_new_user_signs_up_uploads_sees_and_deletes(
    outsider, worker, browser, live_server, settings, tmp_path, screenshots
):
    settings.SITE_URL = live_server.url
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=email]", "teacher@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))

    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/library/$"))
    assert page.is_visible("text=No portraits yet")

    portrait_form = page.locator("form.upload").nth(0)
    portrait_form.locator("input[type=file]").set_input_files(str(FIXTURES / "portrait.jpg"))
    portrait_form.locator("button").click()
    thumbnail = page.locator(".portrait img")
    thumbnail.wait_for()
    page.wait_for_function("document.querySelector('.portrait img').naturalWidth > 0")
    assert page.locator(".portrait .name").inner_text() == "portrait.jpg"

    audio_form = page.locator("form.upload").nth(1)
    audio_form.locator("input[type=file]").set_input_files(str(FIXTURES / "speech.wav"))
    audio_form.locator("button").click()
    page.locator("tr.clip").wait_for()
    assert re.fullmatch(r"\d+\.\d s", page.locator("tr.clip .duration").inner_text())

    # A text file named like a photo is sent, checked and refused, with its reason under the form until dismissed.
    fake = tmp_path / "holiday.png"
    fake.write_text("not really a picture")
    page.locator("form.upload").nth(0).locator("input[type=file]").set_input_files(str(fake))
    page.locator("form.upload").nth(0).locator("button").click()
    error = page.locator(".upload-state.refused .error")
    error.wait_for()
    assert error.get_attribute("data-code") == "unreadable_image"
    assert "holiday.png" in page.locator(".upload-state.refused").inner_text()
    assert page.locator(".portrait").count() == 1
    # A name we do not take at all is refused before a byte is sent, next to the form.
    notes = tmp_path / "notes.txt"
    notes.write_text("lesson plan")
    page.locator("form.upload").nth(0).locator("input[type=file]").set_input_files(str(notes))
    page.locator("form.upload").nth(0).locator("button").click()
    page.locator("form.upload .error[data-code=unsupported_type]").wait_for()

    page.screenshot(path=str(screenshots / "library.png"), full_page=True)
    thumbnail_url = thumbnail.get_attribute("src")

    # Someone else, signed in on another browser, cannot fetch the first user's files.
    other = log_in(browser, live_server.url, "outsider@example.com")
    assert other.locator(".portrait").count() == 0
    assert other.goto(f"{live_server.url}{thumbnail_url}").status == 404

    page.locator(".upload-state.refused button").click()
    page.locator(".upload-state").wait_for(state="detached")
    page.locator(".portrait button.danger").click()
    page.wait_for_selector("text=Deleted portrait portrait.jpg")
    assert page.locator(".portrait").count() == 0
    assert page.locator("tr.clip").count() == 1
