import pytest
from rest_framework.test import APIClient

from portal.accounts.models import User
from portal.api import keys
from tests.conftest import make_user, stored_files
from tests.jobs_helpers import give_plan


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
    """The API's error shape, and nothing of the upload kept: no row, no file, no storage counted."""
    error = assert_error(response, status, code, field)
    assert not model.objects.exists()
    assert stored_files() == []
    assert storage_used(user) == 0
    return error
