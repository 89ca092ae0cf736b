"""A bounded load test: the portal under gunicorn (on this machine's PostgreSQL and Redis, whatever DATABASE_URL and
REDIS_URL say), 100 simulated signed-in users for 60 s (tests/load/locustfile.py: browsing, resumable portrait
uploads, submitting and cancelling renders), then a table per endpoint: requests/s, p50/p95/p99 and errors, with the
submit endpoint's requests/s next to a trivial one's. Sends only to 127.0.0.1; its accounts are deleted at the end."""

import base64
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from billing.models import BillingAccount
from portal.accounts.models import User
from portal.library.upload import store
from portal.local_ports import free_port
from renderer.qualify.cases import FIXTURES

LOCUSTFILE = Path(settings.BASE_DIR) / "tests" / "load" / "locustfile.py"
PORTRAIT = FIXTURES / "portrait.jpg"


def _fixture(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FIXTURES / name).read_bytes())


class Command(BaseCommand):
    help = "Load-test the portal under gunicorn with locust: 100 users for 60 s; prints per-endpoint numbers."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=100)
        parser.add_argument("--seconds", type=int, default=60)
        parser.add_argument("--accounts", type=int, default=20, help="Signed-in accounts the users share.")
        parser.add_argument(
            "--workers",
            type=int,
            default=2 * (os.cpu_count() or 1) + 1,
            help="gunicorn processes (default 2 x cores + 1)",
        )
        parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per process")

    def handle(self, users, seconds, accounts, workers, threads, **options):
        people = []
        try:
            sessions = []
            for _ in range(accounts):
                user = User.objects.create_user(email=f"load-{uuid.uuid4().hex[:10]}@example.invalid")
                people.append(user)
                BillingAccount.objects.create(user=user, plan_override="business")
                client = Client()
                client.force_login(user)
                sessions.append(
                    {
                        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "csrf": _get_new_csrf_string(),
                        "portrait": str(store.add_portrait(user, _fixture("portrait.jpg")).id),
                        "audio": str(store.add_audio(user, _fixture("speech.wav")).id),
                    }
                )
            with tempfile.TemporaryDirectory(prefix="load-test-") as workdir:
                stats = self._run(sessions, Path(workdir), users, seconds, workers, threads)
            self._report(stats, users, seconds, workers, threads)
        finally:
            for user in people:
                user.delete()

    def _run(self, sessions, workdir: Path, users, seconds, workers, threads) -> list[dict]:
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                # Keep-alive longer than a simulated user's pause (1-3 s), as a proxy in front would: with gunicorn's
                # 2 s default a connection closed while idle resets the next request the client sends on it.
                "--threads",
                str(threads),
                "--keep-alive",
                "75",
                "--log-level",
                "warning",
            ],
            cwd=settings.BASE_DIR,
            env=os.environ.copy(),
            start_new_session=True,
        )
        try:
            self._wait_for(port)
            env = {
                **os.environ,
                "LOAD_TEST_SESSIONS": json.dumps(sessions),
                "LOAD_TEST_PORTRAIT": base64.b64encode(PORTRAIT.read_bytes()).decode(),
            }
            locust = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(LOCUSTFILE),
                    "--headless",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "-u",
                    str(users),
                    "-r",
                    str(max(users // 5, 1)),
                    "-t",
                    f"{seconds}s",
                    "--csv",
                    str(workdir / "load"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
            if not (workdir / "load_stats.csv").exists():
                raise CommandError(f"locust did not run:\n{locust.stderr[-3000:]}")
            with open(workdir / "load_stats.csv") as table, open(workdir / "load_failures.csv") as failures:
                self.failures = list(csv.DictReader(failures))
                return list(csv.DictReader(table))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    def _wait_for(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError("gunicorn did not start")

    def _report(self, stats, users, seconds, workers, threads) -> None:
        self.stdout.write(
            f"{users} users for {seconds} s against gunicorn ({workers} processes x {threads} threads) "
            f"on {os.cpu_count()} cores"
        )
        columns = ("requests", "req/s", "p50", "p95", "p99", "errors")
        self.stdout.write(
            f"{'endpoint':<42} " + " ".join(f"{name:>{8 if name == 'requests' else 7}}" for name in columns)
        )
        for row in stats:
            self.stdout.write(
                f"{row['Name']:<42} {row['Request Count']:>8} {float(row['Requests/s']):>7.1f} {row['50%']:>7} "
                f"{row['95%']:>7} {row['99%']:>7} {row['Failure Count']:>7}"
            )
        for failure in self.failures:
            self.stdout.write(
                f"error: {failure['Method']} {failure['Name']}: {failure['Error']} (x{failure['Occurrences']})"
            )
        by_name = {row["Name"]: row for row in stats}
        submit, trivial = by_name.get("POST /jobs/new/ (submit)"), by_name.get("GET /healthz (trivial)")
        if submit and trivial:
            self.stdout.write(
                f"submit {float(submit['Requests/s']):.1f} req/s (p95 {submit['95%']} ms) next to "
                f"/healthz {float(trivial['Requests/s']):.1f} req/s (p95 {trivial['95%']} ms); times "
                "in ms"
            )
