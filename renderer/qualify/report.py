"""The quality gate's report, for a person to look at: report.html, report.json, contact_sheet.png, plots/<case>.png
and strips/<case>.jpg.

report.html (report_html) shows every case's checks with their limits, the failures as the gate prints them, a
strip of mouth crops, the plot and a link to the video. The contact sheet shows, for every case, frames at quiet
moments (the mouth should be shut), at loud moments (it should be open) and the frame whose face drifted most from
the first. Each plot draws the measured mouth opening over the audio envelope, and the identity drift under it, so
a lag, a mouth moving in silence or a face falling apart is visible at a glance.

The quiet and loud moments of a case are the same frame indices from run to run, so two runs' strips can be laid
side by side: they come from --moments-from, else the backend's baseline, else another backend's baseline, else
the report.json this run replaces, and are picked afresh (pick_moments) only when none of those has the case or
the case's audio length changed. report.json says where each case's moments came from.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from ..face import LOWER_OUTER_LIP, MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT, UPPER_OUTER_LIP, FaceTracker
from ..media import iter_video_frames
from . import gate as qualify_gate
from .report_html import write_html

THUMB = 150  # px: the longer side of a thumbnail
LABEL_WIDTH = 300
CAPTION = 34
FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_MOMENT_GAP_SECONDS = 1.0  # two thumbnails of one kind show different moments
GREEN, RED, INK, PAPER = (40, 140, 40), (30, 30, 200), (30, 30, 30), (245, 245, 245)
REUSED_KINDS = ("quiet", "loud")  # worst_drift is this run's own
CROP_WIDTH, CROP_HEIGHT, CROP_CAPTION = 192, 144, 40  # px: one mouth crop of a strip, and its caption below
MOUTH_CONTEXT = 2.1  # a crop is this many mouth widths wide


def known_moments(sources: list[tuple[str, Path]]) -> dict[str, dict]:
    """Per case, the first source's moments: {"quiet": [...], "loud": [...], "input_seconds": s | None, "from":
    label}. A source is a report.json (cases.<case>.moments) or a baseline file (moments.<case>); one that is
    missing or unreadable is skipped."""
    found: dict[str, dict] = {}
    for label, path in sources:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        entries = {
            name: {**case["moments"], "input_seconds": case.get("input_seconds")}
            for name, case in (data.get("cases") or {}).items()
            if isinstance(case, dict) and isinstance(case.get("moments"), dict)
        }
        entries.update(data.get("moments") or {})
        for name, entry in entries.items():
            if name in found or not isinstance(entry, dict):
                continue
            if all(isinstance(entry.get(kind), list) for kind in REUSED_KINDS):
                found[name] = {kind: [int(i) for i in entry[kind] if int(i) >= 0] for kind in REUSED_KINDS} | {
                    "input_seconds": entry.get("input_seconds"),
                    "from": label,
                }
    return found


def choose_moments(results, known: dict[str, dict] | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Each measured case's moments ({"quiet", "loud", "worst_drift"}) and where its quiet and loud ones came
    from: reused from `known` when it has the case for audio of the same length, else picked from this run."""
    moments, origin = {}, {}
    for result in results:
        if result.report is None:
            continue
        picked = pick_moments(result.report)
        reuse = (known or {}).get(result.name)
        seconds = reuse.get("input_seconds") if reuse else None
        if reuse and (seconds is None or abs(seconds - result.input_seconds) < 0.5 / (result.report.fps or 25)):
            picked.update({kind: list(reuse[kind]) for kind in REUSED_KINDS})
            origin[result.name] = reuse["from"]
        else:
            origin[result.name] = "picked from this run"
        moments[result.name] = picked
    return moments, origin


def baseline_moments(results, moments: dict[str, dict]) -> dict[str, dict]:
    """What a baseline keeps of the moments, for later runs to reuse."""
    by_name = {result.name: result for result in results}
    return {
        name: {**{kind: chosen[kind] for kind in REUSED_KINDS}, "input_seconds": round(by_name[name].input_seconds, 4)}
        for name, chosen in moments.items()
    }


def write_report(
    directory: Path,
    results,
    gate,
    *,
    version: str,
    seconds: float,
    digest: str = "unknown",
    moments: dict[str, dict] | None = None,
    moments_from: dict[str, str] | None = None,
    figures: dict | None = None,
) -> list[Path]:
    """Everything a person looks at, in `directory`; `figures` (qualify_results.for_record) head the page."""
    directory = Path(directory)
    plots, strips = directory / "plots", directory / "strips"
    plots.mkdir(parents=True, exist_ok=True)
    strips.mkdir(parents=True, exist_ok=True)
    if moments is None:
        moments, moments_from = choose_moments(results)
    frames = {
        result.name: _frames(result.output, {i for indices in moments[result.name].values() for i in indices})
        for result in results
        if result.name in moments and result.output is not None
    }
    plot_paths = {
        name: plot_case(result, gate.limits(result.name), moments[name], plots / f"{name}.png")
        for result in results
        if (name := result.name) in moments
    }
    strip_paths = {
        name: mouth_strip(result, moments[name], frames.get(name, {}), strips / f"{name}.jpg")
        for result in results
        if (name := result.name) in moments
    }
    sheet = contact_sheet(results, moments, gate, version, directory / "contact_sheet.png", frames=frames)
    summary = _summary(
        results, gate, version, seconds, moments, moments_from or {}, plot_paths, strip_paths, directory, digest
    )
    if figures is not None:
        summary["figures"] = figures
    path = directory / "report.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    page = write_html(directory / "report.html", summary)
    return [page, path, sheet, plots, strips]


def _summary(
    results, gate, version, seconds, moments, moments_from, plot_paths, strip_paths, directory: Path, digest: str
) -> dict:
    failures = [str(failure) for result in results for failure in result.failures]
    return {
        "backend": gate.backend,
        "renderer_version": version,
        "checkpoint_digest": digest,
        "resolution": gate.resolution,
        "thresholds_version": gate.thresholds["version"],
        "baseline": None
        if gate.baseline is None
        else {key: gate.baseline.get(key) for key in ("renderer_version", "resolution", "date")},
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "result": "failed" if failures else "passed",
        "cases_passed": sum(result.passed for result in results),
        "cases_total": len(results),
        "failures": failures,
        "seconds": round(seconds, 2),
        "default_limits": qualify_gate.limits_for(gate.thresholds, gate.backend, ""),
        "cases": {
            result.name: {
                "description": result.case.description,
                "params": result.case.params,
                "input_seconds": round(result.input_seconds, 4),
                "segments": result.segments,
                "render_seconds": round(result.render_seconds, 3),
                "measure_seconds": round(result.measure_seconds, 3),
                "passed": result.passed,
                "error": result.error,
                "failures": [str(failure) for failure in result.failures],
                "metrics": result.metrics,
                "limits": gate.limits(result.name),
                "baseline": gate.baseline_metrics(result.name),
                "checks": _checks(result, gate),
                "measured": result.report.summary() if result.report else None,
                "moments": moments.get(result.name),
                "moments_from": moments_from.get(result.name),
                "video": _relative(result.output, directory),
                "plot": _relative(plot_paths.get(result.name), directory),
                "strip": _relative(strip_paths.get(result.name), directory),
            }
            for result in results
        },
    }


def _checks(result, gate) -> list[dict]:
    """One row per gated number: its value, the absolute limit and the baseline rule, and the failures on it."""
    limits, baseline = gate.limits(result.name), gate.baseline_metrics(result.name)
    rules = gate.thresholds.get("regression", {})
    metrics = result.metrics
    failed: dict[str, list[str]] = {}
    for failure in result.failures:
        failed.setdefault(failure.metric, []).append(str(failure))
    rows = (
        [
            {
                "metric": "render",
                "value": None,
                "limit": "no error",
                "baseline": None,
                "regression": None,
                "status": "fail",
                "failures": failed.pop("render"),
            }
        ]
        if "render" in failed
        else []
    )
    for metric in [*metrics, *(name for name in limits if name not in metrics)]:
        value = metrics.get(metric)
        if isinstance(value, float) and math.isnan(value):
            value = None
        before = baseline.get(metric)
        regression = (
            qualify_gate.regression_text(rules[metric], before) if metric in rules and before is not None else None
        )
        limit = qualify_gate.rule_text(limits[metric]) if metric in limits else None
        if result.error is not None:
            status = "not measured"
        elif metric in failed:
            status = "fail"
        else:
            status = "pass" if limit or regression else "info"
        rows.append(
            {
                "metric": metric,
                "value": value,
                "limit": limit,
                "baseline": before,
                "regression": regression,
                "status": status,
                "failures": failed.pop(metric, []),
            }
        )
    for metric, texts in failed.items():  # a failure on a number this table has no row for
        rows.append(
            {
                "metric": metric,
                "value": None,
                "limit": None,
                "baseline": None,
                "regression": None,
                "status": "fail",
                "failures": texts,
            }
        )
    return rows


def _relative(path: Path | None, directory: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(path).relative_to(directory))
    except ValueError:
        return str(path)


def pick_moments(report) -> dict[str, list[int]]:
    """Frame indices: the middles of the longest pauses, the loudest frames, and the worst identity drift."""
    envelope = np.array(report.envelope)
    gap = max(1, int(MIN_MOMENT_GAP_SECONDS * report.fps))
    runs, start = [], None
    for index, silent in enumerate([*(envelope <= 0.0), False]):
        if silent and start is None:
            start = index
        elif not silent and start is not None:
            runs.append((index - start, (start + index - 1) // 2))
            start = None
    quiet = [middle for _, middle in sorted(runs, reverse=True)[:2]]
    if not quiet:  # no real pause in the clip: its quietest frame
        quiet = [int(np.argmin(envelope))]
    loud = _spread(np.argsort(-envelope, kind="stable"), gap, 2)
    drift = np.nan_to_num(np.array(report.identity_drift, np.float64), nan=-1.0)
    return {"quiet": sorted(quiet), "loud": sorted(loud), "worst_drift": [int(np.argmax(drift))]}


def _spread(order, gap: int, count: int) -> list[int]:
    chosen: list[int] = []
    for index in (int(i) for i in order):
        if all(abs(index - other) >= gap for other in chosen):
            chosen.append(index)
        if len(chosen) == count:
            break
    return chosen


def _frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    found: dict[int, np.ndarray] = {}
    if not wanted:
        return found
    for index, frame in enumerate(iter_video_frames(path)):
        if index in wanted:
            found[index] = frame
        if len(found) == len(wanted):
            break
    return found


def _thumbnail(frame: np.ndarray, caption: list[str]) -> np.ndarray:
    cell = np.full((THUMB + CAPTION, THUMB, 3), PAPER, np.uint8)
    height, width = frame.shape[:2]
    scale = THUMB / max(height, width)
    small = cv2.resize(
        frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    y, x = (THUMB - small.shape[0]) // 2, (THUMB - small.shape[1]) // 2
    cell[y : y + small.shape[0], x : x + small.shape[1]] = small
    for line, text in enumerate(caption):
        cv2.putText(cell, text, (4, THUMB + 13 + 14 * line), FONT, 0.38, INK, 1, cv2.LINE_AA)
    return cell


def _label(result, height: int) -> np.ndarray:
    panel = np.full((height, LABEL_WIDTH, 3), PAPER, np.uint8)
    cv2.putText(panel, result.name, (8, 24), FONT, 0.6, INK, 2, cv2.LINE_AA)
    verdict = "PASS" if result.passed else "FAIL"
    cv2.putText(panel, verdict, (LABEL_WIDTH - 60, 24), FONT, 0.6, GREEN if result.passed else RED, 2, cv2.LINE_AA)
    if result.error:
        lines = [result.error[i : i + 42] for i in range(0, min(len(result.error), 168), 42)]
    else:
        m = result.metrics
        lines = [
            f"{result.input_seconds:.2f} s audio, {result.report.width}x{result.report.height}",
            f"corr {m['correlation']:.2f}  offset {m['offset_frames']:+d} frames",
            f"closed in silence {m['mouth_closed_in_silence']:.2f}",
            f"duration error {m['duration_error_frames']:+.2f} frames",
            f"identity drift max {m['identity_drift_max']:.3f}",
            f"RTF {m['rtf']:.3f}",
        ]
        lines += [f"! {failure.metric}" for failure in result.failures][:3]
    for line, text in enumerate(lines):
        cv2.putText(
            panel, text, (8, 48 + 18 * line), FONT, 0.42, RED if text.startswith(("!", "[")) else INK, 1, cv2.LINE_AA
        )
    return panel


def contact_sheet(results, moments, gate, version: str, target: Path, *, frames: dict | None = None) -> Path:
    rows = []
    row_height = THUMB + CAPTION
    for result in results:
        cells = [_label(result, row_height)]
        chosen = moments.get(result.name)
        if chosen is not None and result.output is not None:
            fps = result.report.fps
            frames_of_case = (frames or {}).get(result.name)
            if frames_of_case is None:
                frames_of_case = _frames(result.output, {i for indices in chosen.values() for i in indices})
            envelope, drift = result.report.envelope, result.report.identity_drift
            for kind in ("quiet", "loud", "worst_drift"):
                for index in chosen[kind]:
                    if index in frames_of_case:
                        title = "worst drift" if kind == "worst_drift" else kind
                        detail = (
                            f"drift {drift[index]:.3f}" if kind == "worst_drift" else f"level {envelope[index]:.2f}"
                        )
                        cells.append(_thumbnail(frames_of_case[index], [f"{title} t={index / fps:.2f}s", detail]))
        row = np.concatenate(cells, axis=1)
        rows.append(row)
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=200) for row in rows]
    header = np.full((40, width, 3), PAPER, np.uint8)
    failed = any(not result.passed for result in results)
    cv2.putText(
        header,
        f"quality gate: {gate.backend} {version} at {gate.resolution} px, thresholds v"
        f"{gate.thresholds['version']}: {'FAILED' if failed else 'PASSED'}",
        (8, 27),
        FONT,
        0.6,
        RED if failed else GREEN,
        2,
        cv2.LINE_AA,
    )
    cv2.imwrite(str(target), np.concatenate([header, *rows], axis=0))
    return target


def plot_case(result, limits: dict, moments: dict, target: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on CI or GPU machines
    import matplotlib.pyplot as plt

    report = result.report
    times = np.arange(len(report.envelope)) / report.fps
    opening = np.array(report.mouth_open)
    rest, top = np.percentile(opening, 5), np.percentile(opening, 95)
    mouth = (opening - rest) / (top - rest if top > rest else 1.0)
    envelope = np.array(report.envelope)
    figure, (upper, lower) = plt.subplots(
        2, 1, figsize=(10, 4.8), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    upper.fill_between(times, 0, envelope, color="0.75", label="audio envelope (0 = silence)")
    upper.plot(times, mouth, color="tab:red", linewidth=1.4, label="measured mouth opening (0 = at rest)")
    for kind, colour in (("quiet", "tab:blue"), ("loud", "tab:orange")):
        for index in moments[kind]:
            upper.axvline(index / report.fps, color=colour, linestyle=":", linewidth=1)
    m = result.metrics
    upper.set_title(
        f"{result.name}: correlation {m['correlation']:.2f}, A/V offset {m['offset_frames']:+d} frames, "
        f"mouth closed in {m['mouth_closed_in_silence']:.0%} of silent frames "
        f"({'PASS' if result.passed else 'FAIL'})",
        fontsize=10,
    )
    upper.set_ylabel("relative level")
    upper.legend(loc="upper right", fontsize=8)
    drift = np.array(report.identity_drift, np.float64)
    lower.plot(times[: len(drift)], drift, color="tab:purple", linewidth=1)
    limit = limits.get("identity_drift_max", {}).get("max")
    if limit is not None:
        lower.axhline(limit, color="tab:red", linestyle="--", linewidth=1, label=f"limit {limit:g}")
        lower.legend(loc="upper right", fontsize=8)
    lower.set_ylabel("identity drift")
    lower.set_xlabel("seconds (dotted: the quiet and loud frames on the contact sheet)")
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)
    return target


def mouth_strip(result, moments: dict, frames: dict[int, np.ndarray], target: Path) -> Path:
    """The mouth at the case's quiet moments (it must be shut), then at its loud ones (open): crops of one size per
    case, centred on the lips of each frame, captioned with the frame index, time, audio level and mouth opening."""
    report = result.report
    fps = report.fps or 25
    order = [(kind, index) for kind in REUSED_KINDS for index in moments.get(kind, [])]
    mouths: dict[int, tuple[np.ndarray, float]] = {}
    with FaceTracker(static=True) as tracker:
        for _, index in order:
            if index in frames and (face := tracker(frames[index])) is not None:
                lips = face.points[UPPER_OUTER_LIP + LOWER_OUTER_LIP]
                width = float(np.linalg.norm(face.points[MOUTH_CORNER_RIGHT] - face.points[MOUTH_CORNER_LEFT]))
                mouths[index] = (lips.mean(axis=0), width)
    # One crop size per case (the median mouth), so an open mouth looks bigger than a shut one, as it is.
    size = MOUTH_CONTEXT * float(np.median([width for _, width in mouths.values()])) if mouths else None
    opening = np.array(report.mouth_open, np.float64)
    rest, top = (np.percentile(opening, 5), np.percentile(opening, 95)) if len(opening) else (0.0, 1.0)
    cells: list[np.ndarray] = []
    previous_kind = None
    for kind, index in order:
        cell = np.full((CROP_HEIGHT + CROP_CAPTION, CROP_WIDTH, 3), PAPER, np.uint8)
        frame = frames.get(index)
        if frame is None:
            note = "no such frame"
        elif index not in mouths or size is None:  # size is None only when no frame has a face
            note = "no face found"
        else:
            note = None
            centre, _ = mouths[index]
            cell[:CROP_HEIGHT] = _crop(frame, centre, size)
        if note:
            cv2.putText(cell, note, (10, CROP_HEIGHT // 2), FONT, 0.5, RED, 1, cv2.LINE_AA)
        heading = f"{'pause: shut' if kind == 'quiet' else 'loud: open'}  #{index}  {index / fps:.2f}s"
        cv2.putText(cell, heading, (4, CROP_HEIGHT + 15), FONT, 0.4, INK, 1, cv2.LINE_AA)
        if index < len(opening):
            share = (opening[index] - rest) / (top - rest) if top > rest else 0.0
            detail = f"level {report.envelope[index]:.2f}  opening {share:.2f}"
            cv2.putText(cell, detail, (4, CROP_HEIGHT + 32), FONT, 0.4, INK, 1, cv2.LINE_AA)
        if cells:  # a narrow gap between crops, a wider one between the pauses and the loud moments
            gap = 20 if kind != previous_kind else 4
            cells.append(np.full((CROP_HEIGHT + CROP_CAPTION, gap, 3), 255, np.uint8))
        cells.append(cell)
        previous_kind = kind
    if not cells:
        cells = [np.full((CROP_HEIGHT + CROP_CAPTION, CROP_WIDTH, 3), PAPER, np.uint8)]
    cv2.imwrite(str(target), np.concatenate(cells, axis=1), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return target


def _crop(frame: np.ndarray, centre: np.ndarray, size: float) -> np.ndarray:
    """A CROP_WIDTH x CROP_HEIGHT picture of the frame around `centre`, `size` pixels wide (edges padded)."""
    width = size
    height = size * CROP_HEIGHT / CROP_WIDTH
    scale = CROP_WIDTH / width
    # Slightly below the lips' centre: the chin drops when the mouth opens.
    x0, y0 = centre[0] - width / 2, centre[1] - height * 0.42
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
    return cv2.warpAffine(
        frame,
        matrix,
        (CROP_WIDTH, CROP_HEIGHT),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=PAPER,
    )
