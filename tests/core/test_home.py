"""The home page: for a visitor, what the product does (a video it made itself) and the plans; for a signed-in user,
"New video" first, their usage and their recent videos (their own only)."""

from django.contrib.staticfiles import finders
from django.urls import reverse

from billing.plans import all_plans
from tests.jobs_helpers import finished_job


def test_a_visitor_sees_a_sample_video_and_every_plan(client, db):
    page = client.get("/").content.decode()
    assert "samples/talking-portrait.mp4" in page and "Create a free account" in page
    assert finders.find("samples/talking-portrait.mp4"), "the sample is shipped with the static files"
    for plan in all_plans():
        assert f"<h3>{plan.display_name}</h3>" in page


def test_a_signed_in_user_sees_new_video_first_usage_and_only_their_recent_videos(owner_client, owner, outsider):
    mine = finished_job(owner, title="Lesson 7")
    finished_job(outsider, title="Someone else's pitch")
    page = owner_client.get("/").content.decode()
    assert page.index(reverse("jobs:new")) < page.index("Lesson 7")
    assert reverse("jobs:detail", args=[mine.id]) in page and "Someone else's pitch" not in page
    assert 'class="render-left"' in page and "Free" in page


def test_a_new_user_is_pointed_to_the_library(owner_client):
    page = owner_client.get("/").content.decode()
    assert "No videos yet" in page and f'href="{reverse("library:index")}"' in page
