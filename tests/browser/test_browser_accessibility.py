"""axe-core (the npm package, vendored under tests/vendor) checks every page for WCAG 2 A and AA problems: labels,
names, contrast, landmarks, language; in English and Chinese, signed in and out. Each page's violations are listed
by rule and element."""

from pathlib import Path

import pytest

from portal.jobs import sharing
from tests.browsing import BROWSER_TESTS, log_in
from tests.factories import make_user
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan

pytestmark = BROWSER_TESTS

AXE = Path(__file__).parents[1] / "vendor" / "axe-core" / "axe.min.js"
SIGNED_IN = [
    "/",
    "/library/",
    "/jobs/",
    "/jobs/new/",
    "/billing/",
    "/accounts/preferences/",
    "/accounts/email/",
    "/accounts/api-keys/",
    "/jobs/webhook/",
]


@pytest.fixture
def marketer_with_a_shared_video(transactional_db):
    user = make_user("marketer@example.com")
    give_plan(user, "pro")
    portrait, audio = fixture_inputs(user)
    job = finished_job(user, portrait=portrait, audio=audio, title="Spring launch")
    return job, sharing.create(job, 7)


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"]}});
        return result.violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
    }""")
    return found


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_page_passes_axe(marketer_with_a_shared_video, browser, live_server, language):
    job, link = marketer_with_a_shared_video
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    problems = {}
    for path in ["/", "/accounts/login/", "/accounts/signup/", f"/watch/{link.token}/"]:
        page.goto(f"{live_server.url}{path}")
        problems[path] = violations(page)
    log_in(None, live_server.url, job.owner.email, page=page)
    for path in [*SIGNED_IN, f"/jobs/{job.id}/"]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        problems[path] = violations(page)
    problems = {path: found for path, found in problems.items() if found}
    assert problems == {}, problems


def test_the_checker_itself_flags_a_page_with_problems(browser):
    page = browser.new_page()
    page.set_content('<html><body><img src="x.png"><input><p style="color:#ccc">faint</p></body></html>')
    found = {problem.split(":")[0] for problem in violations(page)}
    assert {"image-alt", "label", "color-contrast", "html-has-lang"} <= found
