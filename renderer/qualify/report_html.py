"""report.html: the quality gate's report for a person, readable in any browser with nothing else installed.

One file, made from report.json's content: the verdict and what was judged (backend, version, checkpoint digest,
resolution, date), the failures as the gate prints them, a table of every case against every check (failed cells
red), then per case its checks with value, limit, baseline and verdict, the strip of mouth crops, the plot and a
link to the video. Images and videos are linked by relative path next to it (strips/, plots/, videos/); no
script, no stylesheet or font from elsewhere. Every text put in the page is escaped.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from urllib.parse import quote

from .gate import rule_text

# The checks in reading order: (short column heading, what it measures and in which unit).
LABELS = {
    "duration_error_frames": ("duration", "video duration minus input audio duration, frames"),
    "audio_error_frames": ("audio length", "output audio duration minus input audio duration, frames"),
    "frame_count_error": ("frame count", "frames minus the expected count"),
    "offset_frames": ("A/V offset", "mouth against sound, frames (> 0: the mouth is late)"),
    "correlation": ("sync corr.", "mouth opening vs audio envelope, at zero lag"),
    "mouth_closed_in_silence": ("shut in pauses", "share of silent frames with the mouth shut"),
    "blank_frames": ("blank", "blank frames"),
    "longest_frozen_seconds": ("frozen", "longest frozen stretch, seconds"),
    "faces_missing": ("no face", "frames without a face found"),
    "identity_drift_mean": ("drift mean", "identity drift, mean over frames"),
    "identity_drift_max": ("drift max", "identity drift, worst frame"),
    "jaw_follow": ("jaw follow", "chin drop vs lip gap, correlation"),
    "jaw_ratio": ("jaw ratio", "chin drop per unit of lip gap"),
    "shape_correlation": ("shape corr.", "mouth width vs the audio's spread feature"),
    "width_range": ("width range", "mouth width variation in speech, of its width"),
    "interior_flat_share": ("flat inside", "largest one-colour share of the open mouth's inside"),
    "rtf": ("RTF", "render seconds per audio second"),
}

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #1d1d1d; background: #f4f4f2; }
main { max-width: 1380px; margin: 0 auto; padding: 0 16px 40px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
header.verdict { padding: 18px 22px; margin: 16px 0; border-radius: 6px; border-left: 12px solid; }
header.pass { background: #e7f4e8; border-color: #2e7d32; }
header.fail { background: #fdeaea; border-color: #c62828; }
h1 { margin: 0 0 6px; font-size: 26px; }
h2 { font-size: 19px; margin: 0 0 8px; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 4px; color: #fff; font-weight: 700;
         letter-spacing: .04em; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; }
.count { font-size: 20px; font-weight: 600; margin: 4px 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; word-break: break-all; }
section.box { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
section.failures { border-color: #e0a0a0; background: #fff8f8; }
ul.fail-list { margin: 4px 0; padding-left: 20px; } ul.fail-list li { margin: 2px 0; }
ul.fail-list code { color: #9b1c1c; }
table { border-collapse: collapse; background: #fff; }
table.matrix { font-size: 12px; width: 100%; }
table.matrix th, table.matrix td { border: 1px solid #ddd; padding: 3px 4px; text-align: right; }
table.matrix th { background: #f0f0ee; font-weight: 600; vertical-align: bottom; }
table.matrix th small { display: block; font-weight: 400; color: #666; }
table.matrix td.case, table.matrix th.case { text-align: left; white-space: nowrap; }
table.matrix td small { display: block; color: #666; font-size: 10.5px; }
td.fail { background: #f8c9c9; color: #7a0f0f; font-weight: 700; }
td.verdict.pass { background: #d5ecd6; color: #1b5e20; font-weight: 700; text-align: center; }
td.verdict.fail { text-align: center; }
td.na { color: #999; }
table.matrix td.error { text-align: left; }
.case-grid { display: grid; grid-template-columns: minmax(470px, 540px) 1fr; gap: 16px; align-items: start; }
table.checks { font-size: 12.5px; width: 100%; table-layout: fixed; }
table.checks col.check { width: 31%; } table.checks col.value, table.checks col.baseline { width: 11%; }
table.checks col.limit { width: 13%; } table.checks col.allowed { width: 19%; } table.checks col.result { width: 15%; }
table.checks th.num { text-align: right; }
table.checks td.allowed, table.checks th.allowed { padding-left: 12px; }
table.checks th, table.checks td { border-bottom: 1px solid #e4e4e4; padding: 3px 6px; text-align: left;
                                   vertical-align: top; }
table.checks th { background: #f0f0ee; }
table.checks td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.checks tr.fail td { background: #fbe0e0; }
table.checks tr.fail td.status { color: #b71c1c; font-weight: 700; }
table.checks td.status.pass { color: #2e7d32; font-weight: 600; }
table.checks td.status.info, table.checks td.status.not-measured { color: #777; }
table.checks tr.fail td { border-bottom-color: #f1c4c4; }
table.checks tr.why td { padding-top: 0; color: #9b1c1c; }
table.checks .what { display: block; color: #777; font-size: 11px; }
section.case { border-left: 8px solid #2e7d32; }
section.case.fail { border-left-color: #c62828; }
p.desc { color: #444; margin: 0 0 10px; }
figure { margin: 0 0 12px; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; display: block; }
figcaption { color: #555; font-size: 12.5px; margin-top: 3px; }
.links a { margin-right: 14px; }
footer { color: #666; font-size: 12.5px; }
"""


def write_html(target: Path, summary: dict) -> Path:
    target = Path(target)
    target.write_text(render(summary), encoding="utf-8")
    return target


def render(summary: dict) -> str:
    passed = summary.get("result") == "passed"
    verdict = "PASSED" if passed else "FAILED"
    title = f"Quality gate {verdict}: {summary.get('backend')} {summary.get('renderer_version')}"
    cases = summary.get("cases", {})
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>",
        _header(summary, passed),
        _failures(summary),
        _matrix(summary),
        *(_case(name, case) for name, case in cases.items()),
        _footer(),
        "</main></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _href(path: str | None) -> str:
    return _e(quote(str(path))) if path else ""


def _status(passed: bool) -> str:
    return "pass" if passed else "fail"


def number(value) -> str:
    """A metric as the table shows it: integers whole, other numbers to 3 decimals, "–" for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def _header(summary: dict, passed: bool) -> str:
    baseline = summary.get("baseline")
    baseline_text = (
        f"{baseline.get('renderer_version')} at {baseline.get('resolution')} px, {baseline.get('date')}"
        if baseline
        else "none at this resolution: only the absolute limits apply"
    )
    facts = [
        ("backend", summary.get("backend")),
        ("renderer version", summary.get("renderer_version")),
        ("checkpoint digest", summary.get("checkpoint_digest")),
        ("resolution", f"{summary.get('resolution')} px"),
        ("thresholds", f"version {summary.get('thresholds_version')}"),
        ("baseline", baseline_text),
        ("date", summary.get("date")),
        ("run time", f"{summary.get('seconds')} s"),
    ]
    figures = summary.get("figures")
    if figures:
        facts.insert(0, ("worst case", _headline(figures)))
    rows = "".join(
        f"<dt>{_e(name)}</dt><dd{' class=mono' if name == 'checkpoint digest' else ''}>{_e(value)}</dd>"
        for name, value in facts
    )
    total, ok = summary.get("cases_total", len(summary.get("cases", {}))), summary.get("cases_passed")
    if ok is None:
        ok = sum(case.get("passed", False) for case in summary.get("cases", {}).values())
    verdict = "PASSED" if passed else "FAILED"
    return (
        f'<header class="verdict {_status(passed)}">'
        f'<h1><span class="badge {_status(passed)}">{verdict}</span> Quality gate: {_e(summary.get("backend"))} '
        f"<code>{_e(summary.get('renderer_version'))}</code></h1>"
        f'<p class="count">{_e(ok)} of {_e(total)} cases passed</p>'
        f'<dl class="facts">{rows}</dl>'
        f'<p class="links"><a href="contact_sheet.png">contact sheet</a><a href="report.json">report.json</a></p>'
        "</header>"
    )


def _headline(figures: dict) -> str:
    """The --results-dir figures in words; "nan" there (a case has no measurement) makes the worst unknown."""
    names = ("duration_error_ms", "offset_frames", "sync_correlation")
    if any(figures.get(name) is None for name in names):
        return "unknown: a case has no measurement (its render failed)"
    offset = figures["offset_frames"]
    return (
        f"duration error {number(figures['duration_error_ms'])} ms · A/V offset {number(offset)} "
        f"frame{'' if offset == 1 else 's'} · lowest sync correlation {number(figures['sync_correlation'])}"
    )


def _failures(summary: dict) -> str:
    items = []
    for name, case in summary.get("cases", {}).items():
        for text in case.get("failures", []):
            items.append(f'<li><a href="#case-{_e(name)}">{_e(name)}</a>: <code>{_e(text)}</code></li>')
    if not items:
        return ""
    return (
        f'<section class="box failures"><h2>Failures ({len(items)})</h2>'
        f'<ul class="fail-list">{"".join(items)}</ul></section>'
    )


def _columns(summary: dict) -> list[str]:
    seen: list[str] = [name for name in LABELS]
    for case in summary.get("cases", {}).values():
        for check in case.get("checks", []):
            if check["metric"] not in seen and check["metric"] != "render":
                seen.append(check["metric"])
    return seen


def _matrix(summary: dict) -> str:
    columns = _columns(summary)
    defaults = summary.get("default_limits", {})
    head = ['<th class="case">case</th><th>result</th>']
    for metric in columns:
        label, what = LABELS.get(metric, (metric, metric))
        limit = rule_text(defaults[metric]) if metric in defaults else "not gated"
        head.append(f'<th title="{_e(metric)}: {_e(what)}">{_e(label)}<small>{_e(limit)}</small></th>')
    rows = []
    for name, case in summary.get("cases", {}).items():
        passed = case.get("passed", False)
        cells = [
            f'<td class="case"><a href="#case-{_e(name)}">{_e(name)}</a></td>',
            f'<td class="verdict {_status(passed)}">{"PASS" if passed else "FAIL"}</td>',
        ]
        if case.get("error"):
            cells.append(f'<td class="fail error" colspan="{len(columns)}">render failed {_e(case["error"])}</td>')
        else:
            checks = {check["metric"]: check for check in case.get("checks", [])}
            for metric in columns:
                check = checks.get(metric)
                if check is None:
                    cells.append('<td class="na">–</td>')
                    continue
                css = "fail" if check["status"] == "fail" else ""
                own = case.get("limits", {}).get(metric)
                special = own is not None and own != defaults.get(metric)
                note = f"<small>{_e(check['limit'])}</small>" if special and check.get("limit") else ""
                why = f' title="{_e("; ".join(check["failures"]))}"' if check["failures"] else ""
                cells.append(f'<td class="{css}"{why}>{_e(number(check["value"]))}{note}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<section class="box"><h2>Every case against every check</h2>'
        '<p class="desc">Red: the check failed (the case\'s own section says why). Under each heading the limit '
        "every case must meet; a limit of a case's own is shown in its cell. Values against the baseline are in "
        "each case's table.</p>"
        f'<table class="matrix"><thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        "</section>"
    )


def _case(name: str, case: dict) -> str:
    passed = case.get("passed", False)
    facts = [f"{number(case.get('input_seconds'))} s audio"]
    if case.get("segments", 1) > 1:
        facts.append(f"rendered in {case['segments']} parts")
    facts.append(f"render {number(case.get('render_seconds'))} s, measure {number(case.get('measure_seconds'))} s")
    failures = "".join(f"<li><code>{_e(text)}</code></li>" for text in case.get("failures", []))
    failures = f'<ul class="fail-list">{failures}</ul>' if failures else ""
    return (
        f'<section class="box case {_status(passed)}" id="case-{_e(name)}">'
        f'<h2><span class="badge {_status(passed)}">{"PASS" if passed else "FAIL"}</span> {_e(name)}</h2>'
        f'<p class="desc">{_e(case.get("description"))}. {_e("; ".join(facts))}.</p>{failures}'
        f'<div class="case-grid"><div>{_checks(case)}</div><div>{_media(name, case)}</div></div></section>'
    )


def _checks(case: dict) -> str:
    rows = []
    for check in case.get("checks", []):
        metric = check["metric"]
        label, what = LABELS.get(metric, (metric, "" if metric == "render" else metric))
        status = check["status"]
        baseline = "" if check.get("baseline") is None else number(check["baseline"])
        allowed = check.get("regression") or ""
        if allowed.startswith("baseline "):  # the baseline has its own column
            allowed = allowed.split(", ", 1)[-1]
        word = {"pass": "pass", "fail": "FAIL", "info": "not gated", "not measured": "not measured"}.get(status, status)
        css = _e(status.replace(" ", "-"))
        rows.append(
            f'<tr class="{css}"><td>{_e(label)}<span class="what">{_e(what)}</span></td>'
            f'<td class="num">{_e(number(check.get("value")))}</td><td class="num">{_e(check.get("limit") or "")}</td>'
            f'<td class="num">{_e(baseline)}</td><td class="allowed">{_e(allowed)}</td>'
            f'<td class="status {css}">{_e(word)}</td></tr>'
        )
        for text in check.get("failures", []):  # the gate's own words, under the row they explain
            rows.append(f'<tr class="{css} why"><td colspan="6"><code>{_e(text)}</code></td></tr>')
    columns = "".join(f'<col class="{name}">' for name in ("check", "value", "limit", "baseline", "allowed", "result"))
    head = (
        '<th>check</th><th class="num">value</th><th class="num">limit</th><th class="num">baseline</th>'
        '<th class="allowed">allowed change</th><th>result</th>'
    )
    return (
        f'<table class="checks"><colgroup>{columns}</colgroup><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _media(name: str, case: dict) -> str:
    parts = []
    moments = case.get("moments") or {}
    if case.get("strip"):
        quiet = ", ".join(str(i) for i in moments.get("quiet", [])) or "none"
        loud = ", ".join(str(i) for i in moments.get("loud", [])) or "none"
        parts.append(
            f'<figure><img src="{_href(case["strip"])}" alt="{_e(name)}: mouth crops at the chosen frames">'
            f"<figcaption>The mouth at frames {_e(quiet)} (pauses: it must be shut) and {_e(loud)} (loud: it must "
            f"be open). {_e(_origin(case.get('moments_from')))}: a run that reuses them shows the same frames, so "
            "strips of two runs compare side by side.</figcaption></figure>"
        )
    if case.get("plot"):
        parts.append(
            f'<figure><img src="{_href(case["plot"])}" alt="{_e(name)}: mouth opening against the audio envelope">'
            "<figcaption>Red: the measured mouth opening; grey: the audio envelope. Red trailing grey is a lag, red "
            "without grey a mouth moving in silence; dotted lines are the strip's frames. Below: identity drift "
            "and its limit.</figcaption></figure>"
        )
    if case.get("video"):
        parts.append(f'<p class="links"><a href="{_href(case["video"])}">video ({_e(case["video"])})</a></p>')
    if case.get("error"):
        parts.append(f'<p class="desc">No video: the render failed {_e(case["error"])}.</p>')
    return "".join(parts)


def _origin(source: str | None) -> str:
    if not source or source == "picked from this run":
        return "Frames picked from this run (the longest pauses, the loudest moments)"
    return f"Frames reused from {source}"


def _footer() -> str:
    return (
        "<footer><p>Made by <code>python -m renderer qualify</code>. Limits: "
        "<code>renderer/qualify/records/thresholds.json</code>; baseline: "
        "<code>renderer/qualify/records/baseline-&lt;backend&gt;.json</code>. Every number here is measured from "
        "the rendered files (renderer/qualify/measure.py), not taken from the renderer.</p></footer>"
    )
