"""The embedded PostgreSQL (portal/embedded_postgres.py): the first process starts it, the last one stops it, a killed
process does not keep it alive, `make run`'s data survives a restart and a throw-away server leaves nothing behind."""

import os
import signal
import subprocess
import sys

import pytest

from portal import embedded_postgres

# A process that attaches, then runs each SQL line it reads and prints the first column of the first row.
CLIENT = """
import sys
import psycopg
from portal import embedded_postgres

url = embedded_postgres.attach(sys.argv[1], throwaway=sys.argv[2] == "throwaway")
print(url, flush=True)
with psycopg.connect(url, autocommit=True) as connection:
    for line in sys.stdin:
        cursor = connection.execute(line)
        print(cursor.fetchone()[0] if cursor.description else "-", flush=True)
"""


class Client:
    def __init__(self, root, mode="keep"):
        self.process = subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(root), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
            env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        )
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("postgres://postgres@/portal?host="), self.url

    def sql(self, statement: str) -> str:
        self.process.stdin.write(statement + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def leave(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0


@pytest.fixture
def root(tmp_path):
    yield tmp_path / "postgres"
    pid = embedded_postgres.pid_of(tmp_path / "postgres")
    if pid:  # a failed test must not leave a server behind
        os.kill(pid, signal.SIGTERM)


@pytest.mark.slow
def test_the_last_process_to_leave_stops_the_server_and_its_data_survives_a_restart(root):
    first = Client(root)
    server = embedded_postgres.pid_of(root)
    assert server is not None
    first.sql("CREATE TABLE notes (body text)")
    first.sql("INSERT INTO notes VALUES ('made before the restart') RETURNING body")

    second = Client(root)
    assert embedded_postgres.pid_of(root) == server  # joined, not started again
    first.leave()
    assert embedded_postgres.pid_of(root) == server  # still in use by the second
    assert second.sql("SELECT count(*) FROM notes") == "1"
    second.leave()
    assert embedded_postgres.pid_of(root) is None

    again = Client(root)
    assert embedded_postgres.pid_of(root) not in (None, server)
    assert again.sql("SELECT body FROM notes") == "made before the restart"
    again.leave()
    assert embedded_postgres.pid_of(root) is None


@pytest.mark.slow
def test_a_killed_process_does_not_keep_the_server_alive(root):
    killed = Client(root)
    server = embedded_postgres.pid_of(root)
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(timeout=10)
    assert embedded_postgres.pid_of(root) == server  # nobody stopped it...

    survivor = Client(root)
    assert embedded_postgres.pid_of(root) == server
    assert survivor.sql("SELECT 1") == "1"
    survivor.leave()
    assert embedded_postgres.pid_of(root) is None  # ...and the next one to leave does


@pytest.mark.slow
def test_a_throwaway_server_is_stopped_and_deleted(root):
    client = Client(root, mode="throwaway")
    assert client.sql("SELECT current_setting('server_version_num')::int / 10000") == "18"
    assert (root / "data" / "PG_VERSION").exists()
    client.leave()
    assert not root.exists()


@pytest.mark.slow
def test_a_process_stopped_with_sigterm_still_stops_the_server(root):
    client = Client(root, mode="throwaway")
    assert embedded_postgres.pid_of(root) is not None
    client.process.send_signal(signal.SIGTERM)
    assert client.process.wait(timeout=30) == 128 + signal.SIGTERM
    assert not root.exists()
