"""What tests make and look at, for any test module to import (conftest.py holds only fixtures): users with and
without a second factor, the committed media, what media storage holds, and a real Dramatiq worker in this process."""

import time
from contextlib import contextmanager
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.files.storage import default_storage

from portal.accounts.models import User
from renderer.qualify.cases import FIXTURES

__all__ = [
    "FIXTURES",
    "PASSWORD",
    "make_user",
    "running_worker",
    "storage_has",
    "stored_files",
    "totp_code",
    "with_second_factor",
]

PASSWORD = "correct horse battery staple"


def make_user(email: str, password: str = PASSWORD) -> User:
    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def with_second_factor(client, user) -> str:
    """Signs the client in as staff who has set up an authenticator app and entered its code in this session (what
    allauth records after the login's code step): refund-capable staff need it for admin. Returns the TOTP secret."""

    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:  # signing in again on another client: the same authenticator app
        secret = get_adapter().decrypt(existing.data["secret"])
    else:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    client.force_login(user)
    session = client.session
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session.save()
    return secret


def totp_code(secret: str, time_to_use: float = 5.0) -> str:
    """The code an authenticator app shows now, read with at least `time_to_use` seconds left before it changes.

    The server accepts only the code of the step it checks in, so a code read in the last moment of a step and
    checked in the next is refused: a person would wait for the next code, and so does this.
    """
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    left = app_settings.TOTP_PERIOD - time.time() % app_settings.TOTP_PERIOD
    if left < time_to_use:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def stored_files() -> list[str]:
    """Every file name in media storage (local file system storage in tests)."""
    return sorted(str(p.relative_to(settings.MEDIA_ROOT)) for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def storage_has(name: str) -> bool:
    return default_storage.exists(name)


@contextmanager
def running_worker(threads: int = 2, queues=None):
    """A real Dramatiq worker on the real Redis broker, in this process (so it sees the test database); on every
    queue, or only on `queues`."""
    import dramatiq

    from portal import queue

    queue.declare_actors()  # as a worker process does when it starts
    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100, queues=queues)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        # A stopped worker's hook stays on the broker and would grab queues declared later; take it off.
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
