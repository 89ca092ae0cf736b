"""The checkpoint registry as staff see it in admin: the builtin weights CI qualified (vouched for by the committed
gate record) and a Sonic checkpoint the pipeline promoted, each with its figures and report; withdrawing one stops
it serving."""

import re

import pytest
from django.contrib.auth.models import Permission

from portal.accounts.models import User
from tests.browsing import BROWSER_TESTS
from tests.factories import PASSWORD, make_user, totp_code, with_second_factor

pytestmark = BROWSER_TESTS
SONIC = "sha256:" + "5e" * 32


@pytest.fixture
def registry(transactional_db, tmp_path):
    """What a cluster's registry holds after CI's builtin run and one pipeline run for Sonic; an ML engineer on staff
    who may change checkpoints, with an authenticator (a sensitive power: it needs the second factor)."""
    from django.core.management import call_command
    from django.test import Client

    from portal.checkpoints.serving import checkpoint_for

    checkpoint_for("builtin")  # the first worker records what results.json vouches for
    results = tmp_path / "results"
    results.mkdir()
    for name, value in {
        "backend": "sonic",
        "renderer-version": "sonic-cvpr2025",
        "checkpoint-digest": SONIC,
        "passed": "true",
        "cases-passed": "17",
        "cases-total": "17",
        "duration-error-ms": "19.4",
        "offset-frames": "1",
        "sync-correlation": "0.683",
    }.items():
        (results / name).write_text(value)
    call_command(
        "promote_checkpoint",
        results_dir=results,
        pipeline_run="sonic-portal-qualify-x7k2p",
        report_url="https://reports.example.com/qualify/0b1c2d3e/report.html",
    )
    engineer = make_user("ml@example.com")
    User.objects.filter(pk=engineer.pk).update(is_staff=True)
    engineer.user_permissions.add(*Permission.objects.filter(codename__in=["view_checkpoint", "change_checkpoint"]))
    return with_second_factor(Client(), engineer)


def test_staff_see_which_weights_serve_and_withdraw_one(registry, browser, live_server, screenshots):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/checkpoints/checkpoint/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=login]", "ml@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("input[name=code]", totp_code(registry))
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/checkpoints/checkpoint/"))

    rows = page.locator("#result_list tbody tr").all_inner_texts()
    builtin, sonic = (next(row for row in rows if row.split()[0] == name) for name in ("builtin", "sonic"))
    assert "17/17 cases" in builtin and "repository gate record" in builtin
    assert "17/17 cases · duration ±19.4 ms · offset 1 frames · sync r 0.68" in sonic
    assert "qualification pipeline" in sonic and "5e5e5e5e5e5e" in sonic
    assert page.locator("#result_list a:has-text('report')").get_attribute("href").endswith("/0b1c2d3e/report.html")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate("(r => r.scrollWidth <= r.clientWidth)(document.querySelector('#changelist .results'))"), (
        "every column fits at 1280 px"
    )
    page.screenshot(path=screenshots / "checkpoints-registry.png", full_page=True)

    page.locator("#result_list tbody tr", has_text="sonic").locator("input.action-select").check()
    page.select_option("select[name=action]", "withdraw")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    assert "1 checkpoint(s) withdrawn." in page.inner_text("ul.messagelist")
    sonic_row = page.locator("#result_list tbody tr", has_text="sonic")
    assert sonic_row.locator("img[alt=False]").count() == 1, "no longer serves users"
    page.screenshot(path=screenshots / "checkpoints-withdrawn.png", full_page=True)
