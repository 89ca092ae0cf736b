"""`make run` on a machine without Redis: the embedded valkey serves REDIS_URL and keeps queued data across restarts."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(port: int, data_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.local", "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "embedded_redis", "--data-dir", str(data_dir)], cwd=ROOT, env=env
    )
    client = Redis(port=port, socket_connect_timeout=0.5)
    for _ in range(100):
        try:
            if client.ping():
                return process
        except RedisError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("embedded valkey did not answer")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


@pytest.mark.slow
def test_embedded_valkey_keeps_queued_messages_across_a_restart(tmp_path):
    port = free_port()
    server = start(port, tmp_path)
    try:
        Redis(port=port).rpush("dramatiq:default", "a queued job")
    finally:
        stop(server)
    assert not _answers(port), "stopping the command stops the server"

    server = start(port, tmp_path)
    try:
        assert Redis(port=port).lrange("dramatiq:default", 0, -1) == [b"a queued job"]
    finally:
        stop(server)


def _answers(port: int) -> bool:
    try:
        return Redis(port=port, socket_connect_timeout=0.5).ping()
    except RedisError:
        return False
