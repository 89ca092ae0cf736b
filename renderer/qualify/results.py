"""The gate's headline figures, one small text file each (`qualify --results-dir DIR`), the way a Tekton task's
results are read from $(results.<name>.path): no trailing newline, a few bytes each (Tekton allows 4096 bytes for
all of a task's results by default). The same figures go into the results.json record of a --record run
(snake_case names, null for "nan").

    passed              "true" / "false"
    cases-passed        cases that met every limit
    cases-total         cases run
    duration-error-ms   the worst |video duration - input audio duration| over the cases, ms, one decimal
    offset-frames       the worst |A/V offset| of the mouth against the sound over the cases, frames
    sync-correlation    the lowest mouth-vs-audio correlation over the cases, 3 decimals
    renderer-version    the backend's VERSION
    checkpoint-digest   renderer.checkpoint_digest(backend): "sha256:<hex>" ("unavailable" when it cannot be made)
    backend             builtin / sonic

A figure over the cases is "nan" when any case has no measurement (its render raised): the worst case is unknown.
"""

from __future__ import annotations

import math
from pathlib import Path

NAMES = (
    "passed",
    "cases-passed",
    "cases-total",
    "duration-error-ms",
    "offset-frames",
    "sync-correlation",
    "renderer-version",
    "checkpoint-digest",
    "backend",
)
MEASURED = ("duration-error-ms", "offset-frames", "sync-correlation")  # "nan" when a case has no measurement


def figures(
    results, *, backend: str, version: str, digest: str, total: int | None = None, passed: bool | None = None
) -> dict:
    """The figures of a run (results: qualify.CaseResult list, maybe empty when the run could not start); `total`
    is the number of cases that were to run, `passed` the gate's verdict (default: every case passed)."""
    total = len(results) if total is None else total
    measured = [result.report for result in results]
    complete = bool(results) and len(results) == total and all(report is not None for report in measured)
    if complete:
        duration = round(
            max(
                abs(r.video_duration - result.input_seconds) * 1000 for r, result in zip(measured, results, strict=True)
            ),
            1,
        )
        offset: float = max(abs(int(r.offset_frames)) for r in measured)  # an int; NaN when not measured
        correlation = round(min(float(r.correlation) for r in measured), 3)
    else:
        duration = offset = correlation = math.nan
    cases_passed = sum(result.passed for result in results)
    return {
        "passed": (cases_passed == total and total > 0) if passed is None else passed,
        "cases-passed": cases_passed,
        "cases-total": total,
        "duration-error-ms": duration,
        "offset-frames": offset,
        "sync-correlation": correlation,
        "renderer-version": version,
        "checkpoint-digest": digest,
        "backend": backend,
    }


def text(name: str, value) -> str:
    """One figure as its result file holds it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if name == "duration-error-ms":
        return f"{value:.1f}"
    if name == "sync-correlation":
        return f"{value:.3f}"
    return str(value)


def write(directory: Path, values: dict) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in NAMES:
        path = directory / name
        path.write_text(text(name, values[name]))
        written.append(path)
    return written


def for_record(values: dict) -> dict:
    """The figures as JSON numbers under snake_case names (null for "nan"), for results.json and report.json:
    {"cases_passed", "cases_total", "duration_error_ms", "offset_frames", "sync_correlation"}."""
    keep = ("cases-passed", "cases-total", *MEASURED)
    return {
        name.replace("-", "_"): None if isinstance(values[name], float) and math.isnan(values[name]) else values[name]
        for name in keep
    }
