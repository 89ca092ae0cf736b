"""On a phone 360 px wide, every page a signed-in user opens fits the screen: no sideways scrolling."""

import pytest

from portal.jobs import sharing
from tests.browsing import BROWSER_TESTS
from tests.factories import PASSWORD, make_user
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan

pytestmark = BROWSER_TESTS

PAGES = [
    "/",
    "/library/",
    "/jobs/",
    "/jobs/new/",
    "/billing/",
    "/accounts/email/",
    "/accounts/api-keys/",
    "/jobs/webhook/",
    "/accounts/preferences/",
]


@pytest.fixture
def marketer_with_a_video(transactional_db):
    user = make_user("a.marketer.with.a.long.address@example.com")
    give_plan(user, "pro")
    portrait, audio = fixture_inputs(user)
    job = finished_job(user, portrait=portrait, audio=audio, title="A product launch with a rather long title")
    job.share = sharing.create(job, 7)
    return job


def shot_name(path: str) -> str:
    return "phone-" + ("-".join(part for part in path.split("/") if part) or "home") + ".png"


def test_every_page_fits_a_360_px_phone(marketer_with_a_video, browser, live_server, screenshots):
    job = marketer_with_a_video
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True)
    page.goto(f"{live_server.url}/accounts/login/")
    for path in ["/", "/accounts/login/", "/accounts/signup/", f"/watch/{job.share.token}/"]:  # signed out
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width} px wide"
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", job.owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/library/")
    for path in [*PAGES, f"/jobs/{job.id}/"]:
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width} px wide"
        page.screenshot(path=str(screenshots / shot_name("/job/" if str(job.id) in path else path)), full_page=True)
