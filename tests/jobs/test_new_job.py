import threading

import pytest
from django.db import connection
from django.urls import reverse

from billing import quota
from billing.models import UsagePeriod
from portal.errors import Refusal
from portal.jobs import services
from portal.jobs.models import Job
from portal.library.upload import store
from tests.factories import make_user
from tests.jobs_helpers import fixture_inputs, form_data, give_plan, messages_in_queue, reservation_state
from tests.media import audio_bytes, image_bytes, upload

URL = reverse("jobs:new")


def test_form_offers_only_the_users_own_inputs(owner_client, owner, outsider):
    mine, _ = fixture_inputs(owner)
    theirs, _ = fixture_inputs(outsider)
    page = owner_client.get(URL).content.decode()
    assert str(mine.id) in page and str(theirs.id) not in page
    assert "720 px" not in page and "1080 px" not in page, "the Free plan's resolutions only"


def test_preflight_is_free_and_reports_face_duration_and_cost(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    body = owner_client.post(
        URL, {**form_data(portrait, audio), "action": "preflight"}, headers={"Accept": "application/json"}
    ).json()
    assert body["ok"] and body["faces_found"] == 1 and body["face_error"] is None
    assert body["audio_duration_seconds"] == pytest.approx(audio.duration_seconds, abs=0.001)
    assert body["quota_seconds"] == 10
    assert not Job.objects.exists() and quota.usage_summary(owner)["reserved_seconds"] == 0


def test_preflight_reports_a_missing_face(owner_client, owner):
    _, audio = fixture_inputs(owner)
    wall = store.add_portrait(owner, upload("wall.png", image_bytes("PNG", (400, 400), noise=True)))
    body = owner_client.post(
        URL, {**form_data(wall, audio), "action": "preflight"}, headers={"Accept": "application/json"}
    ).json()
    assert not body["ok"] and body["face_error"]["code"] == "no_face"


def test_submit_reserves_quota_and_queues_after_commit(owner_client, owner, django_capture_on_commit_callbacks):
    portrait, audio = fixture_inputs(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(URL, {**form_data(portrait, audio), "action": "submit"})
    job = Job.objects.get()
    assert response.url == reverse("jobs:detail", args=[job.id])
    assert (job.status, job.queue_name, job.quota_seconds, job.watermark) == ("queued", "builtin-free", 10, True)
    assert job.params["resolution"] == 256 and reservation_state(job) == "reserved"
    assert quota.usage_summary(owner)["reserved_seconds"] == 10
    assert messages_in_queue("builtin-free") == 1 and job.message_id


def test_nothing_is_queued_when_the_transaction_rolls_back(owner, django_capture_on_commit_callbacks):
    portrait, audio = fixture_inputs(owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.submit(owner, portrait, audio, {"resolution": 256})
    assert len(callbacks) == 1 and messages_in_queue("builtin-free") == 0


@pytest.mark.parametrize(
    "options, code",
    [
        ({"dynamic_scale": 5}, "invalid_parameter"),
        ({"resolution": 1080}, "resolution_not_in_plan"),
        ({"volume": 3}, "unknown_parameter"),
    ],
)
def test_bad_options_are_refused_with_a_code(owner, options, code):
    portrait, audio = fixture_inputs(owner)
    with pytest.raises(Refusal) as refusal:
        services.submit(owner, portrait, audio, {"resolution": 256, **options})
    assert refusal.value.code == code and not Job.objects.exists()


def test_audio_longer_than_the_plan_allows(owner):
    portrait, _ = fixture_inputs(owner)
    long_clip = store.add_audio(owner, upload("talk.mp3", audio_bytes(".mp3", seconds=61)))
    with pytest.raises(Refusal) as refusal:
        services.submit(owner, portrait, long_clip, {"resolution": 256})
    assert refusal.value.code == "job_too_long"


def test_preflight_refuses_a_lecture_longer_than_the_plan_with_the_way_to_upgrade(owner_client, owner):
    portrait, _ = fixture_inputs(owner)
    lecture = store.add_audio(owner, upload("lecture.mp3", audio_bytes(".mp3", seconds=61)))
    body = owner_client.post(
        URL, {**form_data(portrait, lecture), "action": "preflight"}, headers={"Accept": "application/json"}
    ).json()
    assert body["ok"] is False and body["refusal"]["code"] == "job_too_long" and body["upgrade_would_help"]
    page = owner_client.post(URL, {**form_data(portrait, lecture), "action": "preflight"}).content.decode()
    assert 'data-code="job_too_long"' in page and f'href="{reverse("billing:usage")}">See plans</a>' in page


def test_preflight_uses_the_face_found_when_the_portrait_was_checked(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    # What the upload's check stored is what the pre-flight says, without decoding the portrait again.
    type(portrait).objects.filter(pk=portrait.pk).update(
        faces_found=None,
        face_box=None,
        face_error_code="no_face",
        face_error_message="No face was found in the portrait; use a photo with one clearly visible face.",
    )
    body = owner_client.post(
        URL, {**form_data(portrait, audio), "action": "preflight"}, headers={"Accept": "application/json"}
    ).json()
    assert body["ok"] is False and body["face_error"]["code"] == "no_face"


def test_a_library_of_one_portrait_and_one_audio_is_chosen_already(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    form = owner_client.get(URL).context["form"]
    assert (form["portrait"].value(), form["audio"].value()) == (portrait.pk, audio.pk)
    store.add_audio(owner, upload("second.wav", audio_bytes(".wav")))
    form = owner_client.get(URL).context["form"]
    assert form["portrait"].value() == portrait.pk and not form["audio"].value()


def test_the_page_has_each_inputs_preview_and_folds_the_advanced_options(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    response = owner_client.get(URL)
    previews = response.context["previews"]
    assert previews["portraits"][str(portrait.id)]["face_box"] == portrait.face_box
    assert len(previews["audio"][str(audio.id)]["waveform"]) == 200
    page = response.content.decode()
    advanced = page[page.index('<details class="advanced"') : page.index("</details>")]
    assert 'name="dynamic_scale"' in advanced and 'name="seed"' in advanced and 'name="portrait"' not in advanced


def test_concurrency_limit_of_the_plan(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    services.submit(owner, portrait, audio, {"resolution": 256})
    response = owner_client.post(
        URL, {**form_data(portrait, audio), "action": "submit"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 429 and response.json()["error"]["code"] == "too_many_jobs"


def test_quota_exceeded_shows_in_the_form(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    quota.usage_summary(owner)
    quota.reserve_seconds(owner, 60, job_ref="earlier")
    UsagePeriod.objects.filter(user=owner).update(used_seconds=250)
    page = owner_client.post(URL, {**form_data(portrait, audio), "action": "submit"}).content.decode()
    assert "left this period" in page and not Job.objects.exists()


def test_outsiders_inputs_cannot_be_used(owner_client, owner, outsider):
    theirs_portrait, theirs_audio = fixture_inputs(outsider)
    response = owner_client.post(
        URL, {**form_data(theirs_portrait, theirs_audio), "action": "submit"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400 and "portrait" in response.json()["error"]["fields"]
    with pytest.raises(Refusal):
        services.submit(owner, theirs_portrait, theirs_audio, {})
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_submissions_at_the_edge_of_the_quota_never_overspend():
    user = make_user("busy@example.com")
    give_plan(user, "business")
    portrait, audio = fixture_inputs(user)
    quota.reserve_seconds(user, 10, job_ref="warm-up")  # creates this period's row
    period = UsagePeriod.objects.get(user=user)
    allowance = quota.period_limit_seconds(user, period)
    UsagePeriod.objects.filter(pk=period.pk).update(used_seconds=allowance - 10 - 50)  # room for five 10 s jobs
    accepted, refused = [], []
    start = threading.Barrier(20)

    def submit_one():
        start.wait()
        try:
            accepted.append(services.submit(user, portrait, audio, {"resolution": 256}).id)
        except Refusal as refusal:
            refused.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit_one) for _ in range(20)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert len(accepted) == 5 and refused == ["quota_exceeded"] * 15
    period.refresh_from_db()
    assert period.used_seconds + period.reserved_seconds == allowance
