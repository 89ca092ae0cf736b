"""The quality gate's report, for a person to look at: report.json, contact_sheet.png and plots/<case>.png.

The contact sheet shows, for every case, frames at quiet moments (the mouth should be shut), at loud moments (it
should be open) and the frame whose face drifted most from the first. Each plot draws the measured mouth opening
over the audio envelope, and the identity drift under it, so a lag, a mouth moving in silence or a face falling
apart is visible at a glance.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .media import iter_video_frames

THUMB = 150  # px: the longer side of a thumbnail
LABEL_WIDTH = 300
CAPTION = 34
FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_MOMENT_GAP_SECONDS = 1.0  # two thumbnails of one kind show different moments
GREEN, RED, INK, PAPER = (40, 140, 40), (30, 30, 200), (30, 30, 30), (245, 245, 245)


def write_report(directory: Path, results, gate, *, version: str, seconds: float) -> list[Path]:
    directory = Path(directory)
    plots = directory / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    moments = {result.name: pick_moments(result.report) for result in results if result.report is not None}
    plot_paths = {name: plot_case(result, gate.limits(result.name), moments[name], plots / f"{name}.png")
                  for result in results if (name := result.name) in moments}
    sheet = contact_sheet(results, moments, gate, version, directory / "contact_sheet.png")
    summary = directory / "report.json"
    summary.write_text(json.dumps(_summary(results, gate, version, seconds, moments, plot_paths, directory),
                                  indent=2) + "\n")
    return [summary, sheet, plots]


def _summary(results, gate, version, seconds, moments, plot_paths, directory: Path) -> dict:
    failures = [str(failure) for result in results for failure in result.failures]
    return {
        "backend": gate.backend,
        "renderer_version": version,
        "resolution": gate.resolution,
        "thresholds_version": gate.thresholds["version"],
        "baseline": None if gate.baseline is None else {
            key: gate.baseline.get(key) for key in ("renderer_version", "resolution", "date")},
        "result": "failed" if failures else "passed",
        "failures": failures,
        "seconds": round(seconds, 2),
        "cases": {result.name: {
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
            "measured": result.report.summary() if result.report else None,
            "moments": moments.get(result.name),
            "video": _relative(result.output, directory),
            "plot": _relative(plot_paths.get(result.name), directory),
        } for result in results},
    }


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
    found = {}
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
    small = cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
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
        lines = [f"{result.input_seconds:.2f} s audio, {result.report.width}x{result.report.height}",
                 f"corr {m['correlation']:.2f}  offset {m['offset_frames']:+d} frames",
                 f"closed in silence {m['mouth_closed_in_silence']:.2f}",
                 f"duration error {m['duration_error_frames']:+.2f} frames",
                 f"identity drift max {m['identity_drift_max']:.3f}",
                 f"RTF {m['rtf']:.3f}"]
        lines += [f"! {failure.metric}" for failure in result.failures][:3]
    for line, text in enumerate(lines):
        cv2.putText(panel, text, (8, 48 + 18 * line), FONT, 0.42, RED if text.startswith(("!", "[")) else INK, 1,
                    cv2.LINE_AA)
    return panel


def contact_sheet(results, moments, gate, version: str, target: Path) -> Path:
    rows = []
    row_height = THUMB + CAPTION
    for result in results:
        cells = [_label(result, row_height)]
        chosen = moments.get(result.name)
        if chosen is not None and result.output is not None:
            fps = result.report.fps
            frames = _frames(result.output, {i for indices in chosen.values() for i in indices})
            envelope, drift = result.report.envelope, result.report.identity_drift
            for kind in ("quiet", "loud", "worst_drift"):
                for index in chosen[kind]:
                    if index in frames:
                        title = "worst drift" if kind == "worst_drift" else kind
                        detail = (f"drift {drift[index]:.3f}" if kind == "worst_drift"
                                  else f"level {envelope[index]:.2f}")
                        cells.append(_thumbnail(frames[index], [f"{title} t={index / fps:.2f}s", detail]))
        row = np.concatenate(cells, axis=1)
        rows.append(row)
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 4), (0, width - row.shape[1]), (0, 0)), constant_values=200) for row in rows]
    header = np.full((40, width, 3), PAPER, np.uint8)
    failed = any(not result.passed for result in results)
    cv2.putText(header, f"quality gate: {gate.backend} {version} at {gate.resolution} px, thresholds v"
                        f"{gate.thresholds['version']}: {'FAILED' if failed else 'PASSED'}",
                (8, 27), FONT, 0.6, RED if failed else GREEN, 2, cv2.LINE_AA)
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
    figure, (upper, lower) = plt.subplots(2, 1, figsize=(10, 4.8), dpi=100, sharex=True,
                                          gridspec_kw={"height_ratios": [3, 1]})
    upper.fill_between(times, 0, envelope, color="0.75", label="audio envelope (0 = silence)")
    upper.plot(times, mouth, color="tab:red", linewidth=1.4, label="measured mouth opening (0 = at rest)")
    for kind, colour in (("quiet", "tab:blue"), ("loud", "tab:orange")):
        for index in moments[kind]:
            upper.axvline(index / report.fps, color=colour, linestyle=":", linewidth=1)
    m = result.metrics
    upper.set_title(f"{result.name}: correlation {m['correlation']:.2f}, A/V offset {m['offset_frames']:+d} frames, "
                    f"mouth closed in {m['mouth_closed_in_silence']:.0%} of silent frames "
                    f"({'PASS' if result.passed else 'FAIL'})", fontsize=10)
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
