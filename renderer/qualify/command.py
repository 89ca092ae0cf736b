"""`python -m renderer qualify`: render the reference suite, measure every output FILE, and refuse a regression.

Each case of cases.SUITE is rendered with the chosen backend (rendering.render_case), then measured with
measure.measure() against the input audio's own decoded duration. The numbers are checked against the gate's
limits and the backend's baseline; the exit status is non-zero when any case fails, and every failure names its
case and metric.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..engine import BACKENDS, available_backends, checkpoint_digest, render
from ..errors import BackendUnavailableError
from . import cases as qualify_cases
from . import gate as qualify_gate
from . import results as qualify_results
from .gate import Gate
from .rendering import CI_RESOLUTION, FPS, CaseResult, render_case
from .report import baseline_moments, choose_moments, known_moments, write_report
from .selftest import run_self_test

__all__ = ["CI_RESOLUTION", "cmd_qualify", "run_suite"]


def warm_up(backend: str, resolution: int, workdir: Path) -> float:
    """One short render before the timed ones: loading models (minutes for Sonic) is a worker's one-time cost,
    not part of any job's real-time factor."""
    started = time.perf_counter()
    render(
        qualify_cases.FIXTURES / "portrait.jpg",
        qualify_cases.FIXTURES / "speech.wav",
        workdir / "warm-up.mp4",
        {"resolution": resolution, "fps": FPS},
        backend=backend,
        end=1.0,
    )
    return time.perf_counter() - started


def run_suite(
    cases: list[qualify_cases.Case],
    backend: str,
    resolution: int,
    workdir: Path,
    gate: Gate,
    *,
    regression: bool = True,
    out=sys.stdout,
) -> list[CaseResult]:
    print(f"warm-up render (loads the models) {warm_up(backend, resolution, workdir):.2f} s", file=out, flush=True)
    results = []
    for case in cases:
        result = render_case(case, backend, resolution, workdir)
        result.failures = gate.judge(case.name, result.metrics, result.error, regression=regression)
        print(_case_line(result), file=out, flush=True)
        results.append(result)
    return results


def _case_line(result: CaseResult) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    if result.error:
        return f"{result.name:16} {result.input_seconds:6.2f} s audio  render failed {result.error}  {verdict}"
    m = result.metrics
    parts = f" in {result.segments} parts" if result.segments > 1 else ""
    return (
        f"{result.name:16} {result.input_seconds:6.2f} s audio  render {result.render_seconds:5.2f} s{parts} "
        f"(RTF {m['rtf']:.3f})  measure {result.measure_seconds:5.2f} s  corr {m['correlation']:.2f}  "
        f"offset {m['offset_frames']:+d}  closed {m['mouth_closed_in_silence']:.2f}  "
        f"drift {m['identity_drift_max']:.3f}  jaw {m['jaw_ratio']:.2f}  shape {m['shape_correlation']:.2f}/"
        f"{m['width_range']:.2f}  flat {m['interior_flat_share']:.2f}  {verdict}"
    )


def cmd_qualify(args) -> int:
    directory = Path(args.qualification_dir)
    results_dir = getattr(args, "results_dir", None)
    if args.backend not in BACKENDS:
        print(f"unknown backend {args.backend!r}; choose one of {', '.join(BACKENDS)}", file=sys.stderr)
        return 2
    try:
        cases = qualify_cases.select(args.cases)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.record and args.cases:
        print("--record needs the whole suite: leave out --cases", file=sys.stderr)
        return 2
    if args.self_test and results_dir:
        print("--results-dir gives a suite run's figures: leave it out with --self-test", file=sys.stderr)
        return 2
    version = BACKENDS[args.backend].VERSION
    available, reason = available_backends()[args.backend]
    digest = _digest(args.backend) if available else "unavailable"
    if not available or digest == "unavailable":
        if not available:
            print(f"the {args.backend} backend is not available here: {reason}", file=sys.stderr)
        if results_dir:  # the pipeline still sees which backend and version could not be judged
            _write_results(results_dir, [], args.backend, version, digest, total=len(cases), passed=False)
        return 2
    gate, notes = Gate.load(directory, args.backend, args.resolution)
    notes += _digest_notes(directory, args.backend, version, digest)
    scope = f"self-test on {cases[0].name}" if args.self_test else f"{len(cases)} case(s)"
    print(
        f"quality gate: {args.backend} ({version}) at {args.resolution} px, thresholds v"
        f"{gate.thresholds['version']}, {scope}"
    )
    print(f"checkpoint: {digest}")
    for note in notes:
        print(f"note: {note}")
    with tempfile.TemporaryDirectory(prefix="qualify-") as scratch:
        workdir = Path(args.report) if args.report else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        known = _known_moments(args, directory, workdir)  # read before the previous report is cleared
        _clear_previous_report(workdir)
        if args.self_test:
            return run_self_test(cases[0], args.backend, args.resolution, workdir, gate)
        return _qualify(args, cases, gate, version, directory, workdir, digest=digest, known_moments=known)


def _digest(backend: str) -> str:
    """The checkpoint digest, or "unavailable" (said on stderr) when the weights cannot be read."""
    try:
        return checkpoint_digest(backend)
    except BackendUnavailableError as error:
        print(f"the {backend} backend's checkpoint cannot be identified: {error.message}", file=sys.stderr)
        return "unavailable"


def _digest_notes(directory: Path, backend: str, version: str, digest: str) -> list[str]:
    record = qualify_gate.qualification_for(backend, version, directory)
    recorded = (record or {}).get("digest")
    if recorded and recorded != digest:
        return [
            f"results.json's record of {version} judged checkpoint {recorded}, this run renders with {digest}: "
            f"other weights need a new VERSION in renderer/backends/{backend}.py, or jobs claim the other "
            "weights' result"
        ]
    return []


def _known_moments(args, directory: Path, workdir: Path) -> dict:
    """Moments to reuse: --moments-from, the backend's baseline, another backend's baseline, the report this run
    replaces (report.known_moments takes each case from the first that has it)."""
    sources = []
    if getattr(args, "moments_from", None):
        sources.append((str(args.moments_from), Path(args.moments_from)))
    own = qualify_gate.baseline_path(directory, args.backend)
    sources.append((own.name, own))
    sources += [(path.name, path) for path in sorted(directory.glob("baseline-*.json")) if path != own]
    if args.report:
        sources.append(("the previous report in this folder", workdir / "report.json"))
    return known_moments(sources)


def _write_results(
    results_dir, results, backend: str, version: str, digest: str, *, total: int, passed: bool | None = None
) -> dict:
    values = qualify_results.figures(
        results, backend=backend, version=version, digest=digest, total=total, passed=passed
    )
    qualify_results.write(Path(results_dir), values)
    return values


REPORT_ENTRIES = (
    "report.html",
    "report.json",
    "contact_sheet.png",
    "plots",
    "strips",
    "videos",
    "parts",
    "inputs",
    "self-test",
    "warm-up.mp4",
    "warm-up.poster.jpg",
)


def _clear_previous_report(directory: Path) -> None:
    """A report directory reused by CI must not keep plots or videos of cases this run did not render. Only
    what qualify itself writes is removed: --report may point at a folder that holds other things."""
    for name in REPORT_ENTRIES:
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _qualify(
    args,
    cases,
    gate: Gate,
    version: str,
    directory: Path,
    workdir: Path,
    *,
    digest: str,
    known_moments: dict | None = None,
) -> int:
    results_dir = getattr(args, "results_dir", None)
    started = time.perf_counter()
    try:
        # When the baseline is being replaced, moving away from the old one is expected; the absolute limits hold.
        results = run_suite(cases, args.backend, args.resolution, workdir, gate, regression=not args.update_baseline)
    except BaseException:
        if results_dir:  # interrupted or broken before the end: the pipeline still reads a failed gate
            _write_results(results_dir, [], args.backend, version, digest, total=len(cases), passed=False)
        raise
    total = time.perf_counter() - started
    failures = [failure for result in results for failure in result.failures]
    for failure in failures:
        print(failure)
    passed = not failures
    print(
        f"{'PASSED' if passed else 'FAILED'}: {sum(r.passed for r in results)}/{len(results)} cases passed "
        f"in {total:.1f} s"
    )
    figures = qualify_results.figures(results, backend=args.backend, version=version, digest=digest, passed=passed)
    if results_dir:
        qualify_results.write(Path(results_dir), figures)
        shown = ", ".join(f"{name}={qualify_results.text(name, figures[name])}" for name in qualify_results.MEASURED)
        print(f"results: {results_dir} ({shown})")
    moments, moments_from = choose_moments(results, known_moments)
    if args.report:
        written = write_report(
            workdir,
            results,
            gate,
            version=version,
            seconds=total,
            digest=digest,
            moments=moments,
            moments_from=moments_from,
            figures=qualify_results.for_record(figures),
        )
        print(f"report: {', '.join(str(path) for path in written)}")
    if args.update_baseline:
        if not passed:
            print("baseline not updated: a baseline must meet the absolute limits", file=sys.stderr)
        else:
            path = qualify_gate.write_baseline(
                directory,
                args.backend,
                version,
                args.resolution,
                gate.thresholds["version"],
                {r.name: r.metrics for r in results},
                moments=baseline_moments(results, moments),
            )
            print(f"baseline written: {path}")
    if args.record:
        path = qualify_gate.record_result(
            directory,
            args.backend,
            version,
            passed=passed,
            resolution=args.resolution,
            cases=len(results),
            thresholds_version=gate.thresholds["version"],
            failures=[str(failure) for failure in failures],
            checkpoint_digest=digest,
            figures=qualify_results.for_record(figures),
        )
        print(f"recorded {version}: {'passed' if passed else 'failed'} in {path}")
    return 0 if passed else 1
