"""`python -m renderer qualify`: render the reference suite, measure every output FILE, and refuse a regression.

Each case of qualify_cases.SUITE is rendered with the chosen backend (long audio in parts, joined, as the portal
does), then measured with quality.measure() against the input audio's own decoded duration. The numbers are
checked against qualify_gate's limits and the backend's baseline; the exit status is non-zero when any case
fails, and every failure names its case and metric.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import qualify_cases, qualify_gate, qualify_results
from .engine import BACKENDS, available_backends, checkpoint_digest, render
from .errors import RenderError
from .media import AudioReader
from .quality import QualityReport, measure
from .segments import concat, plan_parts

FPS = 25  # every case renders at the product's default frame rate
CI_RESOLUTION = 256


@dataclass
class CaseResult:
    case: qualify_cases.Case
    output: Path | None
    input_seconds: float  # the input audio's decoded duration: what the video must last
    render_seconds: float = 0.0  # wall clock, every part and the join included
    measure_seconds: float = 0.0
    segments: int = 1
    report: QualityReport | None = None
    error: str | None = None  # a render that raised: "[code] message"
    failures: list[qualify_gate.Failure] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def rtf(self) -> float:
        return self.render_seconds / self.input_seconds if self.input_seconds else math.nan

    @property
    def metrics(self) -> dict:
        """The gated numbers, each in a unit that reads the same at any frame rate or resolution."""
        if self.report is None:
            return {}
        report, fps = self.report, self.report.fps or FPS
        expected_frames = max(1, math.ceil(self.input_seconds * FPS - 1e-6))
        return {
            "duration_error_frames": round((report.video_duration - self.input_seconds) * fps, 3),
            "audio_error_frames": round((report.audio_duration - self.input_seconds) * fps, 3),
            "frame_count_error": report.frames - expected_frames,
            "offset_frames": report.offset_frames,
            "correlation": round(report.correlation, 4),
            "mouth_closed_in_silence": round(report.mouth_closed_in_silence, 4),
            "blank_frames": report.blank_frames,
            "longest_frozen_seconds": round(report.longest_frozen_seconds, 3),
            "faces_missing": report.faces_missing,
            "identity_drift_mean": round(report.identity_drift_mean, 4),
            "identity_drift_max": round(report.identity_drift_max, 4),
            "jaw_follow": round(report.jaw_follow, 4),
            "jaw_ratio": round(report.jaw_ratio, 4),
            "shape_correlation": round(report.shape_correlation, 4),
            "width_range": round(report.width_range, 4),
            "interior_flat_share": round(report.interior_flat_share, 4),
            "rtf": round(self.rtf, 4),
        }

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


def decoded_seconds(audio: Path) -> float:
    reader = AudioReader(audio)
    for _ in reader:
        pass
    return reader.duration


def render_case(case: qualify_cases.Case, backend: str, resolution: int, workdir: Path) -> CaseResult:
    """Make the case's inputs, render them (in parts when the case says so) and measure the output file."""
    inputs, videos = workdir / "inputs", workdir / "videos"
    inputs.mkdir(parents=True, exist_ok=True)
    videos.mkdir(parents=True, exist_ok=True)
    portrait, audio = case.portrait(inputs), case.audio(inputs)
    result = CaseResult(case, videos / f"{case.name}.mp4", decoded_seconds(audio))
    params = {"resolution": resolution, "fps": FPS, **case.params}
    started = time.perf_counter()
    try:
        if case.segment_seconds is None:
            render(portrait, audio, result.output, params, backend=backend)
        else:
            result.segments = _render_in_parts(
                portrait, audio, result.output, params, backend, case.segment_seconds, workdir / "parts" / case.name
            )
    except RenderError as error:
        result.error, result.output = f"[{error.code}] {error.message}", None
        return result
    except Exception as error:  # a model's own crash (CUDA, a bad checkpoint): this case fails, the suite goes on
        traceback.print_exc()
        result.error, result.output = f"[crashed] {type(error).__name__}: {error}", None
        return result
    finally:
        result.render_seconds = time.perf_counter() - started
    started = time.perf_counter()
    try:
        result.report = measure(result.output, reference_audio_duration=result.input_seconds)
    except Exception as error:  # an output file that cannot be measured fails its case
        traceback.print_exc()
        result.error = f"[unmeasurable] {type(error).__name__}: {error}"
    result.measure_seconds = time.perf_counter() - started
    return result


def _render_in_parts(
    portrait: Path, audio: Path, output: Path, params: dict, backend: str, max_seconds: float, parts_dir: Path
) -> int:
    parts_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_parts(audio, max_seconds=max_seconds, fps=params["fps"])
    parts = []
    for index, segment in enumerate(plan.segments):
        part = parts_dir / f"part-{index}.mp4"
        render(
            portrait,
            audio,
            part,
            params,
            backend=backend,
            start=segment.start,
            end=segment.end,
            loudness_reference_db=plan.loudness_reference_db,
        )
        parts.append(part)
    concat(parts, output)
    return len(plan.segments)


@dataclass
class Gate:
    """The rules one run is judged by."""

    backend: str
    resolution: int
    thresholds: dict
    baseline: dict | None  # None: only the absolute limits apply

    @classmethod
    def load(cls, directory: Path, backend: str, resolution: int) -> tuple[Gate, list[str]]:
        """The gate, and notes on what it will not compare (no baseline, or one made at another resolution)."""
        thresholds = qualify_gate.load_thresholds(directory)
        baseline, notes = qualify_gate.load_baseline(directory, backend), []
        if baseline is None:
            notes.append(f"no baseline for the {backend} backend in {directory}: only the absolute limits apply")
        elif baseline.get("resolution") != resolution:
            notes.append(
                f"the {backend} baseline was made at {baseline.get('resolution')} px and this run is at "
                f"{resolution} px: only the absolute limits apply"
            )
            baseline = None
        return cls(backend, resolution, thresholds, baseline), notes

    def limits(self, case: str) -> dict:
        return qualify_gate.limits_for(self.thresholds, self.backend, case)

    def baseline_metrics(self, case: str) -> dict:
        return (self.baseline or {}).get("cases", {}).get(case, {})

    def judge(self, name: str, metrics: dict, error: str | None = None, *, regression: bool = True):
        if error is not None:
            return [qualify_gate.Failure(name, "render", math.nan, f"failed {error}")]
        failures = qualify_gate.check_limits(name, metrics, self.limits(name))
        if regression:
            failures += qualify_gate.check_regression(
                name, metrics, self.baseline_metrics(name), self.thresholds.get("regression", {})
            )
        return failures


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
    from .qualify_selftest import run_self_test

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
    from .errors import BackendUnavailableError

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
    replaces (qualify_report.known_moments takes each case from the first that has it)."""
    from .qualify_report import known_moments

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
    from .qualify_report import baseline_moments, choose_moments

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
        from .qualify_report import write_report

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
