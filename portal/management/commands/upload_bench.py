"""A lecture-sized upload the way the library page sends it (tus, 8 MiB parts) to a gunicorn web process this command
starts on a loopback port: throttled, cut off half-way through a part, resumed from the server's offset. It prints the
transfer's speed and the web process's memory through it (sampled every 0.2 s), then runs the worker's check of the
file in this process and prints how long it took. Makes its own Business-plan user and deletes it at the end."""

import base64
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from pathlib import Path

import numpy as np
import psutil
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test import Client

from billing.models import BillingAccount
from portal.accounts.models import User
from portal.library.models import Upload
from portal.library.upload import check
from portal.local_ports import free_port

PART = 8 * 1024 * 1024
SAMPLE_RATE = 44_100


def _lecture(path: Path, size: int) -> None:
    """A mono 16-bit WAV of about `size` bytes: a voice-like tone that rises and falls, written a block at a time."""
    seconds_per_block = 60
    frames_left = (size - 44) // 2
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1), output.setsampwidth(2), output.setframerate(SAMPLE_RATE)
        start = 0
        while frames_left > 0:
            count = min(frames_left, seconds_per_block * SAMPLE_RATE)
            t = (start + np.arange(count)) / SAMPLE_RATE
            signal_ = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t))
            output.writeframes((signal_ * 32767).astype("<i2").tobytes())
            start, frames_left = start + count, frames_left - count


class MemorySampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process, self.samples, self.stopping = psutil.Process(pid), [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                self.samples.append(self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)


class Command(BaseCommand):
    help = "Upload a lecture in parts to a local gunicorn, throttled and cut off half-way; print speed and memory."

    def add_arguments(self, parser):
        parser.add_argument("--megabytes", type=int, default=500, help="Size of the lecture (MB, 10^6 bytes).")
        parser.add_argument("--rate", type=float, default=20.0, help="Upload speed limit, MB/s.")
        parser.add_argument("--no-check", action="store_true", help="Skip the worker's check at the end.")

    def handle(self, megabytes, rate, no_check, **options):
        size = megabytes * 1_000_000
        if size > settings.AUDIO_MAX_BYTES:
            raise CommandError(f"{megabytes} MB is over AUDIO_MAX_BYTES ({settings.AUDIO_MAX_BYTES} bytes)")
        self.rate = rate * 1_000_000
        user = User.objects.create_user(email=f"upload-bench-{uuid.uuid4().hex[:8]}@example.invalid")
        try:
            BillingAccount.objects.create(user=user, plan_override="business")
            with tempfile.TemporaryDirectory(prefix="upload-bench-") as workdir:
                lecture = Path(workdir) / "lecture.wav"
                _lecture(lecture, size)
                self.stdout.write(
                    f"lecture: {lecture.stat().st_size / 1e6:.1f} MB WAV, "
                    f"{(lecture.stat().st_size - 44) / 2 / SAMPLE_RATE / 60:.1f} min"
                )
                upload_id = self._send(user, lecture)
            if not no_check:
                self._check(upload_id)
        finally:
            user.delete()

    def _send(self, user, lecture: Path) -> str:
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
                "1",
                "--timeout",
                "30",
                "--log-level",
                "warning",
            ],
            cwd=settings.BASE_DIR,
            env=os.environ.copy(),
            start_new_session=True,
        )
        try:
            self.cookies = self._log_in(user, port)
            worker = psutil.Process(server.pid).children()[0]
            sampler = MemorySampler(worker.pid)
            idle = worker.memory_info().rss
            sampler.start()
            started = time.monotonic()
            upload_id, cut_at = self._upload(port, lecture)
            elapsed = time.monotonic() - started
            sampler.stopping.set()
            sampler.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        size = lecture.stat().st_size
        peak = max(sampler.samples)
        self.stdout.write(
            f"sent {size / 1e6:.1f} MB in {elapsed:.1f} s ({size / 1e6 / elapsed:.1f} MB/s, limit "
            f"{self.rate / 1e6:g} MB/s); connection cut at {cut_at / 1e6:.1f} MB and resumed there"
        )
        self.stdout.write(
            f"web process RSS: {idle / 2**20:.1f} MiB idle, {min(sampler.samples) / 2**20:.1f}-"
            f"{peak / 2**20:.1f} MiB during the upload ({len(sampler.samples)} samples), "
            f"{(peak - idle) / 2**20:+.1f} MiB at most over idle"
        )
        return upload_id

    def _log_in(self, user, port: int) -> dict:
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _attempt in range(100):  # gunicorn is starting
            try:
                connection.request("GET", "/library/", headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"})
                break
            except OSError:
                connection.close()
                time.sleep(0.1)
        response = connection.getresponse()
        response.read()
        csrf = response.headers["Set-Cookie"].split(f"{settings.CSRF_COOKIE_NAME}=", 1)[1].split(";", 1)[0]
        return {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
            "Tus-Resumable": "1.0.0",
        }

    def _request(self, port, method, path, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(method, path, headers={**self.cookies, **(headers or {})})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def _upload(self, port: int, lecture: Path) -> tuple[str, int]:
        size = lecture.stat().st_size
        metadata = ",".join(
            f"{key} {base64.b64encode(value).decode()}"
            for key, value in (("filename", b"lecture.wav"), ("kind", b"audio"))
        )
        created = self._request(
            port, "POST", "/library/uploads/", {"Upload-Length": str(size), "Upload-Metadata": metadata}
        )
        if created.status != 201:
            raise CommandError(f"creating the upload answered {created.status}")
        location = created.headers["Location"]
        cut_at, cut_done, offset = None, False, 0
        with open(lecture, "rb") as source:
            while offset < size:
                length = min(PART, size - offset)
                cut = not cut_done and offset >= size // 2
                source.seek(offset)
                status = self._send_part(port, location, offset, source, length, cut_after=length // 2 if cut else None)
                if cut:
                    cut_done = True
                    time.sleep(0.5)
                    head = self._request(port, "HEAD", location)
                    offset = cut_at = int(head.headers["Upload-Offset"])
                    continue
                if status != 204:
                    raise CommandError(f"a part at {offset} answered {status}")
                offset += length
        return location.rstrip("/").rsplit("/", 1)[1], cut_at

    def _send_part(self, port, location, offset, source, length, cut_after=None) -> int | None:
        """Send one part at the rate limit; with cut_after, close the connection after that many bytes."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.putrequest("PATCH", location)
        for header, value in {
            **self.cookies,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            "Content-Length": str(length),
        }.items():
            connection.putheader(header, value)
        connection.endheaders()
        sent, block, started = 0, 256 * 1024, time.monotonic()
        while sent < (cut_after or length):
            chunk = source.read(min(block, length - sent))
            connection.send(chunk)
            sent += len(chunk)
            ahead = sent / self.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if cut_after is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()
            return None
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status

    def _check(self, upload_id: str) -> None:
        own = psutil.Process()
        before = own.memory_info().rss
        sampler = MemorySampler(own.pid)
        sampler.start()
        started = time.monotonic()
        status = check.check(upload_id)
        elapsed = time.monotonic() - started
        sampler.stopping.set()
        sampler.join()
        upload = Upload.objects.select_related("audio").get(pk=upload_id)
        result = (
            f"{upload.audio.duration_seconds / 60:.1f} min, waveform of {len(upload.audio.waveform)} points"
            if upload.audio
            else f"{upload.error_code}: {upload.error_message}"
        )
        self.stdout.write(
            f"worker's check: {status} in {elapsed:.1f} s ({result}); its RSS "
            f"{max(sampler.samples + [before]) / 2**20:.1f} MiB at most, "
            f"{(max(sampler.samples + [before]) - before) / 2**20:+.1f} MiB over before"
        )
