"""`make lint`'s import check: it passes on the tree, and it fails on a cycle planted between the portal's layers."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
    )


def copy_of_the_code(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in ("portal", "billing", "renderer"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("fixtures", "__pycache__"))
    return tree


def test_the_tree_keeps_every_import_contract(tmp_path):
    result = lint_imports(copy_of_the_code(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_cycle_through_the_queue_is_refused(tmp_path):
    tree = copy_of_the_code(tmp_path)
    with open(tree / "portal" / "queue.py", "a") as queue:
        queue.write("\nfrom portal.jobs import services  # the queue reaching up into the jobs app\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert len(broken) == 2, result.stdout  # the cycle between apps, and the layers
    assert "portal.queue -> portal.jobs.services" in result.stdout


def test_the_render_engine_may_not_import_django(tmp_path):
    tree = copy_of_the_code(tmp_path)
    with open(tree / "renderer" / "errors.py", "a") as errors:
        errors.write("\nfrom django.conf import settings  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "renderer is not allowed to import django" in result.stdout
    assert "renderer.errors -> django" in result.stdout
