import threading

import pytest
from django.db import connection
from django.test import override_settings

from portal.accounts.models import User
from portal.library import usage
from portal.library.errors import UploadRejected
from tests.library_helpers import add_audio, add_portrait


def test_usage_follows_uploads_and_deletions(owner, django_capture_on_commit_callbacks):
    portrait = add_portrait(owner)
    clip = add_audio(owner)
    owner.refresh_from_db()
    assert owner.storage_used_bytes == portrait.size_bytes + clip.size_bytes
    with django_capture_on_commit_callbacks(execute=True):
        portrait.delete()
    owner.refresh_from_db()
    assert owner.storage_used_bytes == clip.size_bytes


@pytest.mark.django_db(transaction=True)
@override_settings(STORAGE_QUOTA_BYTES=1000)
def test_concurrent_uploads_at_the_edge_of_the_quota_never_overshoot():
    user = User.objects.create_user(email="busy@example.com")
    accepted, refused = [], []
    start = threading.Barrier(20)

    def upload_100_bytes():
        start.wait()
        try:
            usage.reserve(user, 100)
            accepted.append(1)
        except UploadRejected as rejection:
            refused.append(rejection.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload_100_bytes) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 10 and refused == ["storage_quota_exceeded"] * 10
    user.refresh_from_db()
    assert user.storage_used_bytes == 1000
