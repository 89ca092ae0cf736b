"""Digests that identify the weights a backend renders with (renderer.checkpoint_digest): content hashes of model
files, streamed in 1 MiB chunks, with a small cache so a worker restart does not hash gigabytes again.

The cache (XDG_CACHE_HOME or ~/.cache, sonic-portal/checkpoint-digests.json) maps a file's resolved path to the
sha256 of its content, valid while the file's size and mtime_ns are those recorded. It is an optimisation only: a
cache that cannot be read or written (a read-only home in a pod) costs a re-hash, never a wrong or failed digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1 << 20  # 1 MiB
CACHE_NAME = Path("sonic-portal") / "checkpoint-digests.json"


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's content, read in 1 MiB chunks (checkpoints are gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / CACHE_NAME


class HashCache:
    """File hashes keyed by (resolved path, size, mtime_ns), kept in one JSON file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else cache_path()
        self.entries = self._read()
        self.changed = False

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        files = data.get("files") if isinstance(data, dict) else None
        return files if isinstance(files, dict) else {}

    def sha256(self, path: Path) -> str:
        resolved = Path(path).resolve()
        stat = resolved.stat()
        key, entry = str(resolved), self.entries.get(str(resolved))
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return entry["sha256"]
        value = file_sha256(resolved)
        self.entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": value}
        self.changed = True
        return value

    def save(self) -> None:
        """Write the cache atomically (two workers may start at once), dropping files that no longer exist."""
        if not self.changed:
            return
        files = {key: entry for key, entry in self.entries.items() if Path(key).exists()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-digests-")
            with os.fdopen(handle, "w") as out:
                json.dump({"version": 1, "files": files}, out, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError:
            return  # no cache this time: the next digest hashes again
        self.changed = False


def tree_files(root: Path, name: str) -> list[Path]:
    """The file `name` under root, or every file below the directory `name` (hidden ones left out: a Hugging Face
    download keeps its own bookkeeping there), sorted; symlinks are followed."""
    path = root / name
    if path.is_file():
        return [path]
    found = []
    for folder, folders, files in os.walk(path, followlinks=True):
        folders[:] = sorted(entry for entry in folders if not entry.startswith("."))
        found += [Path(folder) / entry for entry in sorted(files) if not entry.startswith(".")]
    return found


def combine(entries: Iterable[tuple[str, int, str]], salt: str = "") -> str:
    """One "sha256:<hex>" over (name, size, content sha256) lines, in the order given, after an optional salt
    line (a backend's VERSION)."""
    digest = hashlib.sha256()
    if salt:
        digest.update(f"{salt}\n".encode())
    for name, size, value in entries:
        digest.update(f"{name}\t{size}\t{value}\n".encode())
    return f"sha256:{digest.hexdigest()}"
