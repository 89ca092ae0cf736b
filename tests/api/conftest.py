import pytest
from rest_framework.test import APIClient

from portal.accounts.models import User
from portal.api import keys
from portal.library.models import Upload
from tests.factories import make_user, stored_files
from tests.jobs_helpers import give_plan
from tests.library_helpers import run_check
from tests.media import upload


def key_client(key: str) -> APIClient:
    """A client that sends the key as a script would, with no session."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def pro_user(email: str):
    """A user on the Pro plan, which includes the API."""
    user = make_user(email)
    give_plan(user, "pro")
    return user


@pytest.fixture
def marketer(db):
    return pro_user("marketer@example.com")


@pytest.fixture
def api(marketer) -> APIClient:
    _, key = keys.create(marketer, "tests")
    return key_client(key)


@pytest.fixture
def rival(db):
    """Another Pro user with a key of their own: their ids must be 404 to `api`."""
    return pro_user("rival@example.com")


@pytest.fixture
def rival_api(rival) -> APIClient:
    _, key = keys.create(rival, "rival's")
    return key_client(key)


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    """The one error shape: code, message, request id (the Request-Id header's), and the field when there is one."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert error["request_id"] == response["Request-Id"] and error["request_id"].startswith("req_")
    if field is not None:
        assert error.get("field") == field, error
    return error


def storage_used(user) -> int:
    return User.objects.get(pk=user.pk).storage_used_bytes


def assert_upload_refused(response, status: int, code: str, user, model, field: str | None = None) -> dict:
    """Refused at the door, in the API's error shape, with nothing of the upload kept: no row, file or storage."""
    error = assert_error(response, status, code, field)
    assert not model.objects.exists() and not Upload.objects.exists()
    assert stored_files() == []
    assert storage_used(user) == 0
    return error


def send_checked(client, url: str, name: str, content: bytes) -> dict:
    """POST a file as a script does (202, stored but not decoded), run the worker's check, then GET the upload."""
    response = client.post(url, {"file": upload(name, content)}, format="multipart")
    assert response.status_code == 202, (response.status_code, response.content[:500])
    assert response.json()["status"] == "checking" and response["Retry-After"]
    assert response["Location"] == f"/api/v1/uploads/{response.json()['id']}/"
    run_check(response.json()["id"])
    checked = client.get(response["Location"])
    assert checked.status_code == 200 and "Retry-After" not in checked
    return checked.json()


def assert_check_refused(state: dict, code: str, user, model) -> dict:
    """Refused by the worker's check: the upload says why, and nothing of the file is kept or counted."""
    assert state["status"] == "refused", state
    assert state["error"]["code"] == code and state["error"]["message"], state["error"]
    assert state["portrait"] is None and state["audio"] is None
    assert not model.objects.exists()
    assert stored_files() == []
    assert storage_used(user) == 0
    return state["error"]
