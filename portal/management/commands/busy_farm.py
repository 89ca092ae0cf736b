"""A busy render farm in miniature, on this machine's database and Redis, with real worker processes.

One user's long lecture and short jobs from other users of the same tier, two worker processes, a short heartbeat
timeout, and one worker killed with SIGKILL in the middle of a part. Prints when each job was submitted, started
and finished, and checks what a farm must guarantee: everything succeeds, each job is charged exactly once, no part
is rendered twice except the one whose worker was killed, and every short job starts before the lecture ends.

It makes throw-away accounts (deleted at the end, with their files) in whatever database it runs against.
"""

import os
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
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from billing.models import BillingAccount, UsageEntry
from portal import connections, queue
from portal.accounts.models import User
from portal.jobs import services
from portal.jobs.models import Job, JobSegment
from portal.library.upload import store
from renderer.qualify.cases import FIXTURES, looped_speech


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("--parts", type=int, default=20, help="Parts of the lecture (at least).")
        parser.add_argument("--short-jobs", type=int, default=10, help="Other users, one 10-second job each.")
        parser.add_argument("--segment-seconds", type=float, default=12.0)
        parser.add_argument("--heartbeat-timeout", type=float, default=3.0)
        parser.add_argument("--resolution", type=int, default=256)
        parser.add_argument("--plan", default="teacher", help="The tier everyone is on (a paid plan by default).")
        parser.add_argument("--timeout", type=float, default=900, help="Give up after this many seconds.")
        parser.add_argument("--keep", action="store_true", help="Keep the accounts and videos it made.")

    def handle(self, *args, **options):
        self.options = options
        self.run_id = uuid.uuid4().hex[:8]
        self.processes: list[subprocess.Popen] = []
        workdir = self.workdir = Path(tempfile.mkdtemp(prefix="busy-farm-"))
        users = []
        try:
            users = self._users()
            report = self._run(users, workdir)
        finally:
            for process in self.processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=60)
            if not options["keep"]:
                User.objects.filter(pk__in=[user.pk for user in users]).delete()
        failures = [line for line in report if line.startswith("FAIL")]
        for line in report:
            self.stdout.write(line)
        if failures:
            raise CommandError(f"{len(failures)} check(s) failed; the processes' logs are in {workdir}", returncode=1)
        shutil.rmtree(workdir, ignore_errors=True)

    # --- set-up ----------------------------------------------------------------------------------------------

    def _users(self) -> list[User]:
        made = []
        for name in ["lecturer"] + [f"short{n}" for n in range(1, self.options["short_jobs"] + 1)]:
            email = f"farm-{self.run_id}-{name}@example.com"
            user = User.objects.create_user(email=email)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
            BillingAccount.objects.create(user=user, plan_override=self.options["plan"])
            made.append(user)
        return made

    def _inputs(self, user, seconds: float, workdir: Path):
        speech = looped_speech(seconds, workdir / f"talk-{seconds:g}s.wav")
        portrait = store.add_portrait(
            user, SimpleUploadedFile("portrait.jpg", (FIXTURES / "portrait.jpg").read_bytes())
        )
        audio = store.add_audio(user, SimpleUploadedFile(speech.name, speech.read_bytes()))
        return portrait, audio

    def _env(self, name: str, workdir: Path) -> dict:
        folder = workdir / name
        folder.mkdir()
        namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
        return {
            **os.environ,
            "DATABASE_URL": connections.database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DRAMATIQ_NAMESPACE": namespace,
            "SONIC_TEST_NAMESPACE": namespace,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "SONIC_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "SEGMENT_SECONDS": str(self.options["segment_seconds"]),
            "JOB_HEARTBEAT_TIMEOUT": str(self.options["heartbeat_timeout"]),
            # Dramatiq gives a dead worker's prefetched messages back after this long (checked on 20 % of fetches).
            "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "5000",
            "DRAMATIQ_MAINTENANCE_CHANCE": "200000",
            "TMPDIR": str(folder),  # each worker renders in its own folder
            "dramatiq_prom_db": str(folder / "metrics"),
            "dramatiq_prom_port": "0",
            "dramatiq_prom_host": "127.0.0.1",
        }

    def _start(self, name: str, command: list[str], workdir: Path) -> subprocess.Popen:
        log = (workdir / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=settings.BASE_DIR,
            env=self._env(name, workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    # --- the run ---------------------------------------------------------------------------------------------

    def _run(self, users: list[User], workdir: Path) -> list[str]:
        options = self.options
        queues = ["--queues", *queue.queue_names()]
        workers = [
            self._start(f"worker{n}", ["rundramatiq", "--processes", "1", "--threads", "1", *queues], workdir)
            for n in (1, 2)
        ]
        self._start("scheduler", ["jobs_maintenance", "--every", "1"], workdir)
        lecturer, others = users[0], users[1:]
        lecture_seconds = options["parts"] * options["segment_seconds"] - 1
        render = {"resolution": options["resolution"]}
        started = time.monotonic()
        lecture = services.submit(lecturer, *self._inputs(lecturer, lecture_seconds, workdir), render)
        short_inputs = [self._inputs(user, 10.0, workdir) for user in others]
        self._wait(lambda: JobSegment.objects.filter(job=lecture, status="running").exists(), "the lecture's parts")
        shorts = [services.submit(user, *inputs, render) for user, inputs in zip(others, short_inputs, strict=True)]

        # Kill the first worker while it renders a part.
        victim = self._wait(lambda: self._part_running_on(workers[0]), "a part on worker 1", poll=0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        workers[0].wait()
        jobs = [lecture, *shorts]
        self._wait(
            lambda: not Job.objects.filter(pk__in=[j.pk for j in jobs]).exclude(status__in=Job.FINISHED).exists(),
            "every job to finish",
            timeout=options["timeout"],
        )
        return self._report(lecture, shorts, victim, started, killed_at)

    def _part_running_on(self, worker: subprocess.Popen):
        processes = [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]
        hosts = [f"{socket.gethostname()}:{pid}" for pid in processes]
        return JobSegment.objects.filter(status="running", worker_host__in=hosts).first()

    def _wait(self, condition, what: str, timeout: float = 300, poll: float = 0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            for process in self.processes:
                if process.poll() not in (None, -signal.SIGKILL):
                    raise CommandError(f"{process.args[2]} exited ({process.returncode}); its log is in {self.workdir}")
            time.sleep(poll)
        raise CommandError(f"timed out after {timeout:.0f} s waiting for {what}")

    # --- what happened ---------------------------------------------------------------------------------------

    def _report(self, lecture: Job, shorts: list[Job], victim: JobSegment, started: float, killed_at: float):
        lecture.refresh_from_db()
        for job in shorts:
            job.refresh_from_db()
        t0 = lecture.created_at

        def at(moment) -> str:
            return f"{(moment - t0).total_seconds():7.1f}" if moment else "      -"

        lines = [
            f"busy farm: 2 workers, heartbeat timeout {self.options['heartbeat_timeout']:g} s, "
            f"parts of {self.options['segment_seconds']:g} s, {self.options['resolution']} px, plan "
            f"{self.options['plan']}; seconds since the lecture was submitted",
            f"{'job':<22} {'audio s':>8} {'submitted':>9} {'started':>7} {'finished':>8} status     attempts",
        ]
        for name, job in [("lecture", lecture)] + [(f"short {n}", job) for n, job in enumerate(shorts, 1)]:
            lines.append(
                f"{name:<22} {job.audio_duration_seconds:8.1f} {at(job.created_at):>9} {at(job.started_at)} "
                f"{at(job.finished_at):>8} {job.status:<10} {job.attempts}"
            )
        parts = list(lecture.segments.order_by("index"))
        twice = [part.index for part in parts if part.attempts > 1]
        lines.append(
            f"lecture: {len(parts)} parts; killed worker 1 {killed_at - started:.1f} s in, while it rendered "
            f"part {victim.index}; parts claimed more than once: {twice or 'none'}"
        )
        jobs = [lecture, *shorts]
        charges = {
            job.pk: UsageEntry.objects.filter(reservation_id=job.reservation_id, kind="charge").count() for job in jobs
        }
        checks = [
            ("every job succeeded", all(job.status == Job.Status.SUCCEEDED for job in jobs)),
            (f"the lecture has at least {self.options['parts']} parts", len(parts) >= self.options["parts"]),
            ("each job charged exactly once", set(charges.values()) == {1}),
            (f"no part rendered twice except part {victim.index}, the killed one", set(twice) <= {victim.index}),
            (
                "every short job started before the lecture ended",
                all(job.started_at and lecture.finished_at and job.started_at < lecture.finished_at for job in shorts),
            ),
        ]
        lines += [f"{'PASS' if ok else 'FAIL'} {what}" for what, ok in checks]
        return lines
