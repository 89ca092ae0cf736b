"""The quality gate's rules: absolute limits and allowed regressions read from renderer/qualify/records/.

thresholds.json (versioned) holds the limits every case must meet, per-backend and per-case overrides, and how far
a metric may move from the baseline; baseline-<backend>.json holds the numbers of the last accepted run;
results.json records which renderer version passed the gate (qualification_for() reads it for the admin).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

QUALIFICATION_DIR = Path(__file__).resolve().parent / "records"
RULE_KINDS = ("min", "max", "max_abs")
REGRESSION_KINDS = ("max_drop", "max_rise", "max_ratio", "floor")


@dataclass(frozen=True)
class Failure:
    case: str
    metric: str
    value: float
    rule: str  # the broken limit in words, e.g. "limit |x| <= 1"

    def __str__(self) -> str:
        if isinstance(self.value, float) and math.isnan(self.value):  # no number to show: "render failed ..."
            return f"FAIL {self.case}: {self.metric} {self.rule}"
        return f"FAIL {self.case}: {self.metric} = {_number(self.value)} ({self.rule})"


def _number(value) -> str:
    if isinstance(value, float) and not math.isnan(value):
        return f"{value:.4g}"
    return str(value)


def load_thresholds(directory: Path = QUALIFICATION_DIR) -> dict:
    thresholds = json.loads((Path(directory) / "thresholds.json").read_text())
    if "version" not in thresholds or "limits" not in thresholds:
        raise ValueError(f"{directory}/thresholds.json needs a 'version' and 'limits'")
    for rules in _all_rule_sets(thresholds):
        for metric, rule in rules.items():
            if not set(rule) <= set(RULE_KINDS):
                raise ValueError(f"thresholds.json: {metric} has an unknown rule {sorted(rule)}; use {RULE_KINDS}")
    for metric, rule in thresholds.get("regression", {}).items():
        if not set(rule) <= set(REGRESSION_KINDS):
            raise ValueError(f"thresholds.json: regression of {metric} has an unknown rule; use {REGRESSION_KINDS}")
    return thresholds


def _all_rule_sets(thresholds: dict):
    yield thresholds["limits"]
    yield from thresholds.get("backend_limits", {}).values()
    yield from thresholds.get("case_limits", {}).values()


def limits_for(thresholds: dict, backend: str, case: str) -> dict[str, dict]:
    """The rules for one case: general limits, then the backend's, then the case's (later ones win)."""
    merged = {metric: dict(rule) for metric, rule in thresholds["limits"].items()}
    layers = (thresholds.get("backend_limits", {}).get(backend, {}), thresholds.get("case_limits", {}).get(case, {}))
    for layer in layers:
        for metric, rule in layer.items():
            merged[metric] = dict(rule)
    return merged


def rule_text(rule: dict) -> str:
    """An absolute limit in the words a failure prints: ">= 0.6", "<= 0", "|x| <= 1"."""
    words = {"min": ">= {}", "max": "<= {}", "max_abs": "|x| <= {}"}
    return ", ".join(words[kind].format(_number(rule[kind])) for kind in RULE_KINDS if kind in rule)


def regression_text(rule: dict, before) -> str:
    """How far a metric may move from its baseline value, in a failure's words."""
    words = []
    if "max_drop" in rule:
        words.append(f"may drop at most {_number(rule['max_drop'])}")
    if "max_rise" in rule:
        words.append(f"may rise at most {_number(rule['max_rise'])}")
    if "max_ratio" in rule:
        floor = f" or {_number(rule['floor'])}" if "floor" in rule else ""
        words.append(f"at most {_number(rule['max_ratio'])}x that{floor}")
    return f"baseline {_number(before)}, {', '.join(words)}"


def check_limits(case: str, metrics: dict, limits: dict[str, dict]) -> list[Failure]:
    failures = []
    for metric, rule in limits.items():
        value = metrics.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            failures.append(Failure(case, metric, math.nan, "not measured"))
            continue
        if "min" in rule and value < rule["min"]:
            failures.append(Failure(case, metric, value, f"limit >= {_number(rule['min'])}"))
        if "max" in rule and value > rule["max"]:
            failures.append(Failure(case, metric, value, f"limit <= {_number(rule['max'])}"))
        if "max_abs" in rule and abs(value) > rule["max_abs"]:
            failures.append(Failure(case, metric, value, f"limit |x| <= {_number(rule['max_abs'])}"))
    return failures


def check_regression(case: str, metrics: dict, baseline: dict, rules: dict[str, dict]) -> list[Failure]:
    """How far each metric may move from the baseline's value for the same case."""
    failures = []
    for metric, rule in rules.items():
        value, before = metrics.get(metric), baseline.get(metric)
        if value is None or before is None:
            continue
        if "max_drop" in rule and value < before - rule["max_drop"]:
            failures.append(
                Failure(
                    case, metric, value, f"baseline {_number(before)}, may drop at most {_number(rule['max_drop'])}"
                )
            )
        if "max_rise" in rule and value > before + rule["max_rise"]:
            failures.append(
                Failure(
                    case, metric, value, f"baseline {_number(before)}, may rise at most {_number(rule['max_rise'])}"
                )
            )
        # "floor": below it a change is timer noise (an RTF of 0.04 against 0.02 says nothing)
        if "max_ratio" in rule and value > max(before * rule["max_ratio"], rule.get("floor", 0.0)):
            floor = f" or {_number(rule['floor'])}" if "floor" in rule else ""
            failures.append(
                Failure(
                    case,
                    metric,
                    value,
                    f"baseline {_number(before)}, at most {_number(rule['max_ratio'])}x that{floor}",
                )
            )
    return failures


def baseline_path(directory: Path, backend: str) -> Path:
    return Path(directory) / f"baseline-{backend}.json"


def load_baseline(directory: Path, backend: str) -> dict | None:
    path = baseline_path(directory, backend)
    return json.loads(path.read_text()) if path.exists() else None


def write_baseline(
    directory: Path,
    backend: str,
    renderer_version: str,
    resolution: int,
    thresholds_version,
    case_metrics: dict[str, dict],
    moments: dict[str, dict] | None = None,
) -> Path:
    """This run's numbers become the baseline; cases this run did not include keep their old numbers. `moments`
    (per case: the report's quiet and loud frame indices) is kept too, so later reports show the same frames."""
    previous = load_baseline(directory, backend) or {}
    cases = previous.get("cases", {}) if previous.get("resolution") == resolution else {}
    cases.update(case_metrics)
    kept_moments = {**previous.get("moments", {}), **(moments or {})}
    path = baseline_path(directory, backend)
    path.write_text(
        json.dumps(
            {
                "backend": backend,
                "renderer_version": renderer_version,
                "resolution": resolution,
                "thresholds_version": thresholds_version,
                "date": _now(),
                "cases": cases,
                **({"moments": kept_moments} if kept_moments else {}),
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    return path


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def record_result(
    directory: Path,
    backend: str,
    version: str,
    *,
    passed: bool,
    resolution: int,
    cases: int,
    thresholds_version,
    failures: list[str],
    checkpoint_digest: str | None = None,
    figures: dict | None = None,
) -> Path:
    """Remember that this renderer version passed (or failed) the whole suite; the last run of a version wins.
    checkpoint_digest (stored as "digest") says which weights were judged, figures the headline numbers
    (qualify_results.for_record)."""
    path = Path(directory) / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault(backend, {})[version] = {
        "result": "passed" if passed else "failed",
        "date": _now(),
        "resolution": resolution,
        "cases": cases,
        "thresholds_version": thresholds_version,
        "failures": failures,
        **({"digest": checkpoint_digest} if checkpoint_digest else {}),
        **({"figures": figures} if figures else {}),
    }
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return path


def qualification_for(backend: str, version: str, directory: Path | str = QUALIFICATION_DIR) -> dict | None:
    """The committed gate result for a renderer version, e.g. for the admin to show beside a job's output:
    {"backend", "version", "result": "passed" | "failed", "date", "resolution", "cases", "thresholds_version",
    "failures"}, and for newer records "digest" (renderer.checkpoint_digest of the weights judged) and "figures"
    ({"cases_passed", "cases_total", "duration_error_ms", "offset_frames", "sync_correlation"}: qualify
    --results-dir's numbers, null where not measured); None when that version was never qualified with --record."""
    path = Path(directory) / "results.json"
    if not path.exists():
        return None
    entry = json.loads(path.read_text()).get(backend, {}).get(version)
    return {"backend": backend, "version": version, **entry} if entry else None


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
        thresholds = load_thresholds(directory)
        baseline, notes = load_baseline(directory, backend), []
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
        return limits_for(self.thresholds, self.backend, case)

    def baseline_metrics(self, case: str) -> dict:
        return (self.baseline or {}).get("cases", {}).get(case, {})

    def judge(self, name: str, metrics: dict, error: str | None = None, *, regression: bool = True):
        if error is not None:
            return [Failure(name, "render", math.nan, f"failed {error}")]
        failures = check_limits(name, metrics, self.limits(name))
        if regression:
            failures += check_regression(
                name, metrics, self.baseline_metrics(name), self.thresholds.get("regression", {})
            )
        return failures
