"""Requests per second of job creation through the API next to a trivial authenticated endpoint, on a running
portal (`make run`, or gunicorn). Makes its own Business-plan user and one key per thread (each key has its own
rate-limit budget), sends only to --url (default SITE_URL, loopback by default), and deletes the user at the end."""

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field

import urllib3
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand

from billing.models import BillingAccount
from portal.accounts.models import User
from portal.api import keys
from portal.library.upload import store
from renderer.qualify.cases import FIXTURES


def _fixture(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FIXTURES / name).read_bytes())


@dataclass
class Tally:
    seconds: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, status: int, seconds: float) -> None:
        self.seconds.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1


class Command(BaseCommand):
    help = "Measure API requests/s: GET /api/v1/me/ and POST /api/v1/jobs/ (each job canceled at once)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.SITE_URL, help="The running portal (default SITE_URL).")
        parser.add_argument("--threads", type=int, default=4)
        parser.add_argument("--seconds", type=float, default=10.0, help="How long each endpoint is measured.")

    def handle(self, url, threads, seconds, **options):
        self.threads = threads
        user = User.objects.create_user(email=f"api-bench-{uuid.uuid4().hex[:8]}@example.invalid")
        try:
            BillingAccount.objects.create(user=user, plan_override="business")
            portrait = store.add_portrait(user, _fixture("portrait.jpg"))
            audio = store.add_audio(user, _fixture("speech.wav"))
            bench_keys = [keys.create(user, f"bench {n}")[1] for n in range(threads)]
            body = {"portrait": str(portrait.id), "audio": str(audio.id), "options": {"resolution": 256}}
            self.stdout.write(f"{url}: {threads} threads, {seconds:g} s per endpoint (Business plan, one key each)")
            self._report("GET  /api/v1/me/", self._run(url, bench_keys, seconds, "GET", "/me/", None))
            self._report("POST /api/v1/jobs/", self._run(url, bench_keys, seconds, "POST", "/jobs/", body))
        finally:
            user.delete()  # with its jobs, files and ledger

    def _run(self, url: str, bench_keys: list[str], seconds: float, method: str, path: str, body) -> Tally:
        tally, lock = Tally(), threading.Lock()
        deadline = time.monotonic() + seconds

        def loop(key: str):
            pool = urllib3.PoolManager(headers={"Authorization": f"Bearer {key}"}, retries=False)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = pool.request(method, f"{url}/api/v1{path}", json=body)
                elapsed = time.perf_counter() - started
                with lock:
                    tally.add(response.status, elapsed)
                if method == "POST" and response.status == 201:
                    # Not timed: it keeps the plan's concurrent-jobs limit free (a queued job ends at once).
                    pool.request("POST", f"{url}/api/v1/jobs/{response.json()['id']}/cancel/")

        workers = [threading.Thread(target=loop, args=(key,)) for key in bench_keys]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return tally

    def _report(self, name: str, tally: Tally) -> None:
        timed = sorted(tally.seconds)
        if not timed:
            self.stdout.write(f"{name}: no requests")
            return
        # Little's law: with `threads` requests always in flight, the endpoint answers threads / mean latency per
        # second (the job bench also spends time canceling each job, which this leaves out).
        rate = self.threads / statistics.fmean(timed)
        p = statistics.quantiles(timed, n=100) if len(timed) > 1 else [timed[0]] * 99
        self.stdout.write(
            f"{name:20} {len(timed):6} requests  {rate:7.1f} req/s  p50 {p[49] * 1000:5.0f} ms  "
            f"p95 {p[94] * 1000:5.0f} ms  statuses {dict(sorted(tally.statuses.items()))}"
        )
