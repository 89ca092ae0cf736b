"""Path traversal in every file parameter: the names of uploaded files (the form, the resumable upload's metadata,
the REST API), a video's title (its downloaded file's name), and the ids and tokens in file URLs. Storage keys are
made by the server, so a name is only ever shown, never followed; ids and tokens that are not ours are 404."""

import base64
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from billing.models import BillingAccount
from portal import storage
from portal.api import keys
from portal.jobs import sharing
from portal.library.models import AudioClip, Upload
from tests.api.conftest import key_client
from tests.factories import stored_files
from tests.jobs_helpers import finished_job
from tests.library_helpers import run_check
from tests.media import audio_bytes, upload

ESCAPES = [
    "../../../../../../tmp/sonic-escape.wav",
    "..\\..\\..\\..\\tmp\\sonic-escape.wav",
    "/tmp/sonic-escape.wav",
    "users/../../sonic-escape.wav",
    "%2e%2e%2f%2e%2e%2fsonic-escape.wav",
    "....//....//sonic-escape.wav",
]


def sent_as_form(client, owner, name: str, content: bytes) -> str:
    response = client.post(
        reverse("library:upload_audio"), {"file": upload(name, content)}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def sent_resumably(client, owner, name: str, content: bytes) -> str:
    metadata = {"filename": name, "kind": "audio"}
    created = client.post(
        reverse("library:uploads"),
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(content)),
            "Upload-Metadata": ",".join(
                f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in metadata.items()
            ),
        },
    )
    assert created.status_code == 201, created.content
    sent = client.patch(
        created["Location"],
        content,
        content_type="application/offset+octet-stream",
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0"},
    )
    assert sent.status_code == 204
    return created.json()["id"]


def sent_through_the_api(client, owner, name: str, content: bytes) -> str:
    BillingAccount.objects.update_or_create(user=owner, defaults={"plan_override": "pro"})
    response = key_client(keys.create(owner, "script")[1]).post(
        "/api/v1/audio/", {"file": upload(name, content)}, format="multipart"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def outside_media_root() -> list[Path]:
    media = Path(settings.MEDIA_ROOT).resolve()
    candidates = [
        Path("/tmp/sonic-escape.wav"),
        media.parent / "sonic-escape.wav",
        media / "sonic-escape.wav",
        media.parent.parent / "sonic-escape.wav",
    ]
    return [path for path in candidates if path.exists()]


@pytest.mark.parametrize("send", [sent_as_form, sent_resumably, sent_through_the_api], ids=["form", "resumable", "api"])
@pytest.mark.parametrize("name", ESCAPES)
def test_an_uploaded_files_name_never_chooses_where_it_is_stored(owner_client, owner, send, name):
    upload_id = send(owner_client, owner, name, audio_bytes(".wav"))
    run_check(upload_id)
    checked = Upload.objects.get(pk=upload_id)
    assert checked.status == Upload.Status.READY, (checked.error_code, checked.error_message)
    clip = AudioClip.objects.get(pk=checked.audio_id)
    assert stored_files() == [clip.file.name]
    assert clip.file.name.startswith(f"users/{owner.storage_prefix}/audio/") and ".." not in clip.file.name
    assert outside_media_root() == []
    assert clip.original_name == name.replace("\\", "/").rsplit("/", 1)[-1], "shown as its last part, whatever way in"


@pytest.mark.parametrize("title", ["../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow", "a/../b\tc"])
def test_a_title_that_looks_like_a_path_downloads_under_a_plain_file_name(owner_client, owner, title):
    job = finished_job(owner, title=title)
    response = owner_client.get(reverse("jobs:download", args=[_token(job)]) + "?download=1")
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    filename = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert "/" not in filename and "\\" not in filename and not filename.startswith("."), disposition
    assert filename.endswith(".mp4")


def _token(job) -> str:

    return storage.download_path(job, job.output.name).rstrip("/").rsplit("/", 1)[1]


@pytest.mark.parametrize(
    "route",
    [
        "/library/audio/{escape}/file/",
        "/library/portraits/{escape}/image/",
        "/library/portraits/{escape}/thumbnail/",
        "/jobs/{escape}/poster/",
        "/jobs/download/{escape}/",
        "/watch/{escape}/video.mp4",
        "/watch/{escape}/poster.jpg",
        "/api/v1/audio/{escape}/file/",
        "/api/v1/portraits/{escape}/image/",
        "/api/v1/uploads/{escape}/",
    ],
)
@pytest.mark.parametrize(
    "escape",
    [
        "..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fsettings.py",
        "..%5c..%5cwin.ini",
        "%252e%252e%252fetc%252fpasswd",
        "....%2f%2f",
    ],
)
def test_ids_and_tokens_that_walk_up_the_tree_find_nothing(owner_client, owner, route, escape):
    job = finished_job(owner)
    sharing.create(job, 7)
    client = owner_client
    if route.startswith("/api/"):
        BillingAccount.objects.update_or_create(user=owner, defaults={"plan_override": "pro"})
        client = key_client(keys.create(owner, "script")[1])
    response = client.get(route.format(escape=escape))
    assert response.status_code in (403, 404), (route, escape, response.status_code)
    assert b"SECRET_KEY" not in b"".join(response.streaming_content if response.streaming else [response.content])
