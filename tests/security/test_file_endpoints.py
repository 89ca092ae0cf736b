"""Every endpoint that serves a stored file, attacked through its headers: a Range header no parser should choke on
(4,301 digits once answered 500 and logged the signed URL), and what an inline response names (never the storage
key)."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from portal import storage
from portal.jobs import sharing
from tests.api.conftest import key_client
from tests.jobs_helpers import finished_job
from tests.library_helpers import add_audio, add_portrait

HUGE = "9" * 4301


@pytest.fixture
def files(owner):
    from billing.models import BillingAccount
    from portal.api import keys

    BillingAccount.objects.create(user=owner, plan_override="pro")
    portrait, clip = add_portrait(owner), add_audio(owner)
    job = finished_job(owner, portrait=portrait, audio=clip)
    share = sharing.create(job, 7)
    api = key_client(keys.create(owner, "attack suite")[1])
    return {
        "portrait image": (None, reverse("library:portrait_image", args=[portrait.id])),
        "thumbnail": (None, reverse("library:portrait_thumbnail", args=[portrait.id])),
        "audio": (None, reverse("library:audio_file", args=[clip.id])),
        "poster": (None, reverse("jobs:poster", args=[job.id])),
        "signed video link": ("anonymous", storage.download_path(job, job.output.name)),
        "signed poster link": ("anonymous", storage.download_path(job, job.poster.name)),
        "shared video": ("anonymous", reverse("shared_video_file", args=[share.token])),
        "shared poster": ("anonymous", reverse("shared_video_poster", args=[share.token])),
        "API portrait image": (api, f"/api/v1/portraits/{portrait.id}/image/"),
        "API thumbnail": (api, f"/api/v1/portraits/{portrait.id}/thumbnail/"),
        "API audio": (api, f"/api/v1/audio/{clip.id}/file/"),
    }


def fetch(owner_client, files, name, **headers):
    who, url = files[name]
    client = owner_client if who is None else Client() if who == "anonymous" else who
    return client.get(url, headers=headers)


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={HUGE}-",
        f"bytes=0-{HUGE}",
        f"bytes=-{HUGE}",
        f"bytes={HUGE}-{HUGE}",
        "bytes=00000000000000000000000001-2",
        "bytes=1-2,3-4",
        "bytes=a-b",
        "items=0-1",
    ],
)
@pytest.mark.parametrize(
    "endpoint",
    [
        "portrait image",
        "thumbnail",
        "audio",
        "poster",
        "signed video link",
        "signed poster link",
        "shared video",
        "shared poster",
        "API portrait image",
        "API thumbnail",
        "API audio",
    ],
)
@pytest.mark.slow
def test_a_range_header_no_one_could_mean_is_answered_with_the_whole_file(
    owner_client, files, endpoint, header, caplog
):
    with caplog.at_level(logging.WARNING):
        response = fetch(owner_client, files, endpoint, Range=header)
    assert response.status_code == 200, (endpoint, header[:40], response.status_code)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("endpoint", ["portrait image", "audio", "signed video link", "shared video", "API audio"])
def test_inline_responses_never_name_the_stored_file(owner_client, owner, files, endpoint):
    response = fetch(owner_client, files, endpoint)
    assert response.status_code == 200
    disposition = response.get("Content-Disposition", "")
    assert owner.storage_prefix.hex not in disposition and str(owner.storage_prefix) not in disposition
    assert ".mp4" not in disposition and ".png" not in disposition and ".wav" not in disposition
