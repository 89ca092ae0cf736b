#!/usr/bin/env python3
"""Copy each step script of deploy/tekton/scripts/ into the Task that runs it.

A Tekton step's script must be inline in the Task (or in its image); the scripts are kept as files so that tests run
them (tests/deploy/test_tekton.py). A step names its file on its `script: |` line, `script: |  # file: scripts/x.py`,
and this replaces the block under it with the file, indented. `--check` changes nothing and exits 1 when a Task's
script differs from its file.

    python deploy/tekton/sync_scripts.py          # after editing a script
    python deploy/tekton/sync_scripts.py --check  # what the test runs
"""

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"^(?P<indent> *)(?:- )?script: \|\s+# file: (?P<file>scripts/\S+)\s*$")


def embedded(task_text: str, root: Path = HERE) -> tuple[str, list[str]]:
    """The Task's text with every marked script block replaced by its file, and the files it names."""
    lines = task_text.splitlines(keepends=True)
    out, files, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        match = MARKER.match(line)
        if not match:
            continue
        indent = len(match["indent"]) + (2 if line.lstrip().startswith("- ") else 0)
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > indent):
            i += 1
        files.append(match["file"])
        body = (root / match["file"]).read_text()
        out += [" " * (indent + 2) + text if text.strip() else "\n" for text in body.splitlines(keepends=True)]
    return "".join(out), files


def stale(root: Path = HERE) -> list[Path]:
    """The Task files whose scripts differ from the files they name."""
    return [
        path
        for path in sorted((root / "tasks").glob("*.yaml"))
        if embedded(path.read_text(), root)[0] != path.read_text()
    ]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = stale()
        for path in found:
            print(
                f"{path.relative_to(HERE.parent.parent)}: its inline script differs from the file it names; "
                f"run python deploy/tekton/sync_scripts.py"
            )
        return 1 if found else 0
    for path in stale():
        path.write_text(embedded(path.read_text())[0])
        print(f"updated {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
