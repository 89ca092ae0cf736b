"""Whitelisted render parameters with defaults and validation.

Unknown keys are refused (a typo such as `dynamic_scal` must not silently fall back to a default).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ParameterError, UnknownParameterError

DEFAULT_SEED = 72589  # Sonic's own default, so both backends agree when the user gives none
LOW_QUALITY_STEPS = 20


# `resolution` is the video's shorter side in pixels (a 16:9 video at 1080 is 1920x1080, a 9:16 one 1080x1920).
# The one list of sizes: validate_params refuses any other, and a plan (billing/plans.py Plan.resolutions) offers
# those up to its maximum, so the job form and the API cannot drift apart.
RESOLUTIONS = (256, 384, 512, 720, 1080, 1440)
MAX_RESOLUTION = RESOLUTIONS[-1]


@dataclass(frozen=True)
class RenderParams:
    resolution: int = 512  # the output's shorter side in pixels
    fps: int = 25
    expand_ratio: float = 0.5  # face crop margin, as a fraction of the face size on each side
    crop_face: bool = True  # False keeps the whole image (only scaled)
    dynamic_scale: float = 1.0  # mouth motion
    motion_scale: float = 1.0  # head motion
    inference_steps: int = 25  # Sonic only
    seed: int = DEFAULT_SEED
    face_index: int | None = None  # None: the largest face

    @property
    def warnings(self) -> list[str]:
        notes = []
        if self.inference_steps < LOW_QUALITY_STEPS:
            notes.append(
                f"inference_steps={self.inference_steps} is below {LOW_QUALITY_STEPS}: "
                "faster but lower quality with the sonic backend"
            )
        return notes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# name -> (kind, minimum, maximum); None bounds mean unbounded
_RULES: dict[str, tuple[type, float | None, float | None]] = {
    "resolution": (int, RESOLUTIONS[0], MAX_RESOLUTION),
    "fps": (int, 10, 60),
    "expand_ratio": (float, 0.0, 1.0),
    "crop_face": (bool, None, None),
    "dynamic_scale": (float, 0.5, 2.0),
    "motion_scale": (float, 0.0, 2.0),
    "inference_steps": (int, 10, 50),
    "seed": (int, 0, 2**31 - 1),
    "face_index": (int, 0, 99),
}
PARAMETER_NAMES = tuple(f.name for f in fields(RenderParams))
assert set(PARAMETER_NAMES) == set(_RULES)


def _coerce(name: str, value: Any) -> Any:
    kind, low, high = _RULES[name]
    if value is None and name == "face_index":
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ParameterError(f"{name} must be true or false, got {value!r}", field=name)
    if isinstance(value, bool):  # bool is an int subclass; True is not a resolution
        raise ParameterError(f"{name} must be a number, got {value!r}", field=name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}", field=name) from None
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be a finite number, got {value!r}", field=name)
    if kind is int:
        if number != int(number):
            raise ParameterError(f"{name} must be a whole number, got {value!r}", field=name)
        number = int(number)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ParameterError(f"{name} must be between {low:g} and {high:g}, got {value!r}", field=name)
    if name == "resolution" and number not in RESOLUTIONS:
        raise ParameterError(
            f"resolution must be one of {', '.join(map(str, RESOLUTIONS))} (the video's shorter side), got {value!r}",
            field=name,
        )
    return number


def validate_params(raw: dict[str, Any] | RenderParams | None = None) -> RenderParams:
    """Check a user-supplied dict and return complete parameters (defaults filled in)."""
    if isinstance(raw, RenderParams):
        raw = raw.as_dict()
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(PARAMETER_NAMES))
    if unknown:
        raise UnknownParameterError(
            f"unknown parameter {unknown[0]!r}; allowed: {', '.join(PARAMETER_NAMES)}", field=unknown[0]
        )
    values = {name: _coerce(name, value) for name, value in raw.items() if value is not None or name == "face_index"}
    return RenderParams(**values)
