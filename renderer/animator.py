"""The built-in talking-portrait animator: landmark-driven image warps, no learned model.

Per frame it (1) warps small regions around the mouth and eyes of the still portrait with precomputed
displacement fields scaled by the audio drivers, (2) paints a dark mouth interior with a hint of teeth
into the gap the jaw opens (the closed-mouth pixels are never stretched into it), and (3) moves the
head with one smooth full-frame remap whose mask keeps the background still.

Everything that varies over time is a function of the absolute frame time and the seed, so a segment
rendered alone matches the same frames of a whole-file render.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .audio_features import MotionDrivers
from .face import (
    CHEEK_LEFT,
    CHEEK_RIGHT,
    CHIN,
    EYES,
    FOREHEAD,
    LOWER_INNER_LIP,
    LOWER_OUTER_LIP,
    SUBNASALE,
    UPPER_INNER_LIP,
    UPPER_OUTER_LIP,
)
from .stages import PreparedPortrait

BLINK_SLOT_SECONDS = 4.0  # one blink per slot, placed 1..3 s into it: intervals of 2..6 s
BLINK_CLOSE, BLINK_HOLD, BLINK_OPEN = 0.07, 0.05, 0.13
MAX_JAW_DROP = 0.26  # of the mouth width, at full loudness and dynamic_scale 1
UPPER_LIP_SHARE = 0.18  # how much of the opening the upper lip contributes (moving up)
SPREAD_AMOUNT = 0.07  # corner travel, of the mouth width
INTERIOR_TOP = np.array([46, 40, 92], np.float32)  # BGR: dark red-brown near the lips
INTERIOR_DEEP = np.array([16, 11, 30], np.float32)  # almost black deeper in
TEETH = np.array([206, 214, 222], np.float32)
TONGUE = np.array([58, 58, 128], np.float32)


def _curve(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a lip or lid contour at each x (landmarks sorted by x, held constant past the ends)."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1]).astype(np.float32)


def _smoothstep(edge0: float | np.ndarray, edge1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass
class _Region:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def _region(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> _Region:
    return _Region(max(0, int(x0)), max(0, int(y0)), min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


class _Smooth1D:
    """Seeded smooth noise of absolute time: a sum of slow sines."""

    def __init__(self, rng: np.random.Generator, low_hz: float = 0.06, high_hz: float = 0.4, terms: int = 3):
        self.freqs = rng.uniform(low_hz, high_hz, terms)
        self.phases = rng.uniform(0, 2 * np.pi, terms)
        self.weights = rng.uniform(0.5, 1.0, terms)
        self.weights /= np.sqrt((self.weights**2).sum() / 2)  # unit RMS

    def __call__(self, t: float) -> float:
        return float((self.weights * np.sin(2 * np.pi * self.freqs * t + self.phases)).sum())


class MouthRig:
    """Jaw drop, lip spread/rounding and the painted mouth interior, confined to a small region."""

    def __init__(self, image: np.ndarray, points: np.ndarray):
        height, width = image.shape[:2]
        upper_in, lower_in = points[UPPER_INNER_LIP], points[LOWER_INNER_LIP]
        upper_out, lower_out = points[UPPER_OUTER_LIP], points[LOWER_OUTER_LIP]
        self.left, self.right = float(upper_out[0, 0]), float(upper_out[-1, 0])
        if self.left > self.right:
            self.left, self.right = self.right, self.left
        self.mouth_width = self.right - self.left
        self.center_x = (self.left + self.right) / 2
        chin_y = float(points[CHIN, 1])
        nose_y = float(points[SUBNASALE, 1])
        seam_mid = float((upper_in[:, 1].mean() + lower_in[:, 1].mean()) / 2)
        jaw_half = 0.5 * abs(float(points[CHEEK_RIGHT, 0] - points[CHEEK_LEFT, 0])) * 0.75
        self.max_drop = MAX_JAW_DROP * self.mouth_width

        below_chin = 0.6 * (chin_y - seam_mid) + self.max_drop * 2
        self.region = _region(
            self.center_x - jaw_half * 1.15,
            nose_y - 2,
            self.center_x + jaw_half * 1.15,
            chin_y + below_chin,
            width,
            height,
        )
        r = self.region
        xs = np.arange(r.x0, r.x1, dtype=np.float32)
        ys = np.arange(r.y0, r.y1, dtype=np.float32)[:, None]
        self.grid_x, self.grid_y = np.meshgrid(xs, ys[:, 0])

        inner_half = max(2.0, 0.5 * self.mouth_width * 0.92)
        u = (xs - self.center_x) / inner_half
        self.lens = np.clip(1 - u**2, 0, 1) ** 0.6  # gap profile: widest in the middle, closed at corners
        upper_y = _curve(upper_in, xs)
        lower_y = _curve(lower_in, xs)
        self.upper_y, self.lower_y = upper_y, lower_y
        self.seam = (upper_y + lower_y) / 2
        resting_gap = float(np.max(lower_y - upper_y)) / self.mouth_width
        # A portrait that already shows its teeth keeps them; a painted hint would double them.
        self.teeth_strength = 0.85 if resting_gap < 0.04 else 0.35

        # Lower face: a hard step at the lip seam (that is what opens the gap), the lip's lens profile
        # broadening to the jaw's width towards the chin, and a fade below the chin into the neck.
        jaw_u = (xs - self.center_x) / jaw_half
        jaw_profile = np.clip(1 - jaw_u**2, 0, 1) ** 0.8
        depth = np.clip((ys - self.seam) / max(4.0, chin_y - seam_mid), 0, 1)
        below = _smoothstep(self.seam - 0.5, self.seam + 0.5, ys)
        profile = (1 - depth) * self.lens + depth * np.maximum(self.lens, jaw_profile)
        neck_fade = np.exp(-np.maximum(0, ys - chin_y) ** 2 / (2 * (0.3 * below_chin) ** 2))
        lower_field = below * profile * neck_fade
        # Upper lip: moves up a little, fading out towards the nose.
        rise = np.clip(1 - (self.seam - ys) / max(3.0, seam_mid - nose_y), 0, 1) ** 1.5
        upper_field = -(1 - below) * UPPER_LIP_SHARE * self.lens * rise
        self.drop_field = (lower_field + upper_field).astype(np.float32)

        # Spread: corners travel sideways, strongest at lip height.
        lips_half_height = max(3.0, float(lower_out[:, 1].max() - upper_out[:, 1].min()) / 2)
        lip_mid = float(upper_out[:, 1].min() + lips_half_height)
        su = (xs - self.center_x) / (0.5 * self.mouth_width)
        side = np.clip(su, -1, 1) * np.exp(-np.maximum(0, np.abs(su) - 1) ** 2 / 0.18)
        vertical = np.exp(-((ys - lip_mid) ** 2) / (2 * (1.4 * lips_half_height) ** 2))
        self.spread_field = (side * vertical).astype(np.float32)

        self.source = np.ascontiguousarray(image[r.slices])
        self._map_x = np.empty_like(self.grid_x)
        self._map_y = np.empty_like(self.grid_y)
        self.rows = ys[:, 0]
        self.inner_u = u

    def render(self, target: np.ndarray, mouth_open: float, spread: float, scale: float) -> None:
        """Write the mouth region for this frame into `target` (the same size as the portrait)."""
        r = self.region
        drop = self.max_drop * scale * mouth_open
        travel = SPREAD_AMOUNT * self.mouth_width * scale * spread
        if drop < 0.05 and abs(travel) < 0.05:
            target[r.slices] = self.source
            return
        np.multiply(self.drop_field, -drop, out=self._map_y)
        self._map_y += self.grid_y
        np.multiply(self.spread_field, -travel, out=self._map_x)
        self._map_x += self.grid_x
        # Sample from the region's own copy; offsets keep coordinates relative to it.
        cv2.remap(
            self.source,
            self._map_x - r.x0,
            self._map_y - r.y0,
            cv2.INTER_LINEAR,
            dst=target[r.slices],
            borderMode=cv2.BORDER_REPLICATE,
        )
        if drop >= 0.6:
            self._paint_interior(target[r.slices], drop)

    def _paint_interior(self, patch: np.ndarray, drop: float) -> None:
        top = self.seam - UPPER_LIP_SHARE * drop * self.lens
        bottom = self.seam + drop * self.lens
        columns = np.flatnonzero(bottom - top > 0.5)
        if len(columns) == 0:
            return
        c0, c1 = columns[0], columns[-1] + 1
        r0 = max(0, int(np.floor(top[c0:c1].min() - self.region.y0)) - 1)
        r1 = min(patch.shape[0], int(np.ceil(bottom[c0:c1].max() - self.region.y0)) + 2)
        if r1 <= r0:
            return
        ys = self.rows[r0:r1, None]
        t, b = top[c0:c1], bottom[c0:c1]
        alpha = np.clip(ys - t + 0.5, 0, 1) * np.clip(b - ys + 0.5, 0, 1)
        depth = np.clip((ys - t) / np.maximum(b - t, 1.0), 0, 1)  # 0 at the upper lip, 1 at the lower
        # Darkest in the middle of the cavity, a little lighter and redder next to the lips.
        edge = np.minimum(1, np.minimum(depth, 1 - depth) * 4 + np.abs(self.inner_u[c0:c1]) ** 3)
        colour = INTERIOR_TOP + (INTERIOR_DEEP - INTERIOR_TOP) * edge[..., None]
        # Tongue: a dim red shape at the bottom, visible when the mouth is well open.
        tongue = np.clip((depth - 0.62) / 0.3, 0, 1) * min(1.0, drop / (0.2 * self.mouth_width))
        tongue *= np.clip(1 - np.abs(self.inner_u[c0:c1]) / 0.8, 0, 1)
        colour = colour + (TONGUE - colour) * (0.55 * tongue)[..., None]
        # Upper teeth: a light band under the upper lip, thinner towards the corners.
        band = np.minimum(0.3 * (b - t), 0.085 * self.mouth_width) * np.clip(1.5 * self.lens[c0:c1] - 0.2, 0, 1)
        teeth = np.clip(t + band - ys + 0.5, 0, 1) * (band > 0.4)
        shade = (0.7 + 0.3 * self.lens[c0:c1])[..., None]
        colour = colour + (TEETH * shade - colour) * (self.teeth_strength * teeth)[..., None]
        region = patch[r0:r1, c0:c1].astype(np.float32)
        patch[r0:r1, c0:c1] = (region + (colour - region) * alpha[..., None]).astype(np.uint8)


class EyeRig:
    """Blink: the lid margin slides down to the lower lid, stretching only the lid skin above it.

    The skin between the crease (a fixed distance above the lid) and the margin is stretched; the brow
    above the crease and the eye below the moving margin do not move, so nothing else distorts.
    """

    LID_SKIN = 0.9  # crease height above the lid margin, in eye openings

    def __init__(self, image: np.ndarray, upper: np.ndarray, lower: np.ndarray):
        height, width = image.shape[:2]
        x0 = float(min(upper[:, 0].min(), lower[:, 0].min()))
        x1 = float(max(upper[:, 0].max(), lower[:, 0].max()))
        eye_w = x1 - x0
        opening = max(2.0, float((lower[:, 1] - upper[:, 1]).max()))
        self.skin = self.LID_SKIN * opening
        self.region = _region(
            x0 - 0.1 * eye_w, upper[:, 1].min() - self.skin - 2, x1 + 0.1 * eye_w, lower[:, 1].max() + 3, width, height
        )
        r = self.region
        xs = np.arange(r.x0, r.x1, dtype=np.float32)
        self.grid_x, self.grid_y = np.meshgrid(xs, np.arange(r.y0, r.y1, dtype=np.float32))
        self.top = _curve(upper, xs)[None, :]
        inside = (xs >= x0) & (xs <= x1)
        gap = np.where(inside, np.maximum(0, _curve(lower, xs) - _curve(upper, xs)), 0).astype(np.float32)
        self.gap = cv2.GaussianBlur(gap[None, :], (0, 0), 1.0)
        self.source = np.ascontiguousarray(image[r.slices])
        self._map_y = np.empty_like(self.grid_y)

    def render(self, target: np.ndarray, closure: float) -> None:
        r = self.region
        if closure < 0.02:
            target[r.slices] = self.source
            return
        travel = closure * self.gap  # how far the margin has come down, per column
        crease = self.top - self.skin
        margin = self.top + travel
        y = self.grid_y
        on_lid = (y >= crease) & (y <= margin)
        shift = (y - crease) * travel / (self.skin + travel)
        np.subtract(y, np.where(on_lid, shift, 0), out=self._map_y)
        cv2.remap(
            self.source,
            self.grid_x - r.x0,
            self._map_y - r.y0,
            cv2.INTER_LINEAR,
            dst=target[r.slices],
            borderMode=cv2.BORDER_REPLICATE,
        )


class HeadRig:
    """Small roll, nod, sway and scale of the head; a soft mask keeps the frame's edges still."""

    COARSE = 8  # the displacement is smooth, so it is computed at 1/8 size and upsampled

    def __init__(self, shape: tuple[int, int], points: np.ndarray):
        height, width = shape
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        self.face_size = float(max(x1 - x0, y1 - y0))
        self.cx, self.cy = float((x0 + x1) / 2), float(points[CHIN, 1])  # pivot near the neck
        forehead_y = float(points[FOREHEAD, 1])
        cw, ch = max(2, width // self.COARSE), max(2, height // self.COARSE)
        xs = (np.arange(cw, dtype=np.float32) + 0.5) * width / cw
        ys = (np.arange(ch, dtype=np.float32) + 0.5) * height / ch
        gx, gy = np.meshgrid(xs, ys)
        # Head ellipse: the face plus hair above, fading out over about half a face.
        ex, ey = float((x0 + x1) / 2), float((forehead_y + points[CHIN, 1]) / 2 - 0.1 * (y1 - y0))
        rx, ry = 0.85 * (x1 - x0), 0.85 * (y1 - y0)
        distance = np.sqrt(((gx - ex) / rx) ** 2 + ((gy - ey) / ry) ** 2)
        mask = 1 - _smoothstep(0.8, 1.7, distance)
        self.basis = {
            "roll": (-(gy - self.cy) * mask, (gx - self.cx) * mask),
            "scale": ((gx - self.cx) * mask, (gy - self.cy) * mask),
            "tx": (mask, np.zeros_like(mask)),
            "ty": (np.zeros_like(mask), mask),
        }
        self.size = (width, height)
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.grid_x, self.grid_y = grid_x, grid_y
        self._coarse_x = np.empty_like(mask)
        self._coarse_y = np.empty_like(mask)
        self._map_x = np.empty_like(grid_x)
        self._map_y = np.empty_like(grid_y)

    def maps(self, pose: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        self._coarse_x.fill(0)
        self._coarse_y.fill(0)
        for name, amount in pose.items():
            bx, by = self.basis[name]
            self._coarse_x += amount * bx
            self._coarse_y += amount * by
        cv2.resize(self._coarse_x, self.size, dst=self._map_x, interpolation=cv2.INTER_LINEAR)
        cv2.resize(self._coarse_y, self.size, dst=self._map_y, interpolation=cv2.INTER_LINEAR)
        # Backward map: each output pixel looks up where its content came from.
        np.subtract(self.grid_x, self._map_x, out=self._map_x)
        np.subtract(self.grid_y, self._map_y, out=self._map_y)
        return self._map_x, self._map_y


def blink_closure(t: float, seed: int) -> float:
    """Eyelid closure (0 open .. 1 shut) at absolute time t; blink times depend only on seed and slot."""
    slot = int(np.floor(t / BLINK_SLOT_SECONDS))
    closure = 0.0
    for k in (slot - 1, slot):
        if k < 0:
            continue
        start = k * BLINK_SLOT_SECONDS + 1.0 + 2.0 * np.random.default_rng([seed, k]).random()
        dt = t - start
        if 0 <= dt < BLINK_CLOSE:
            closure = max(closure, dt / BLINK_CLOSE)
        elif BLINK_CLOSE <= dt < BLINK_CLOSE + BLINK_HOLD:
            closure = 1.0
        elif BLINK_CLOSE + BLINK_HOLD <= dt < BLINK_CLOSE + BLINK_HOLD + BLINK_OPEN:
            closure = max(closure, 1 - (dt - BLINK_CLOSE - BLINK_HOLD) / BLINK_OPEN)
    return closure


class PortraitAnimator:
    """Produces frame after frame for given drivers; one instance per render."""

    def __init__(self, portrait: PreparedPortrait, *, seed: int, dynamic_scale: float, motion_scale: float):
        self.image = portrait.image
        points = portrait.face.points
        self.mouth = MouthRig(self.image, points)
        self.eyes = [EyeRig(self.image, points[upper], points[lower]) for upper, lower in EYES]
        self.head = HeadRig(self.image.shape[:2], points)
        self.seed = seed
        self.dynamic_scale = dynamic_scale
        self.motion_scale = motion_scale
        rng = np.random.default_rng([seed, 7])
        self.noise = {name: _Smooth1D(rng) for name in ("roll", "tx", "ty", "scale", "talk")}
        self.expression = self.image.copy()
        self.output = np.empty_like(self.image)

    def pose(self, t: float, energy: float) -> dict[str, float]:
        m = self.motion_scale
        size = self.head.face_size
        talk = 0.5 + 0.5 * self.noise["talk"](t * 2.5)  # livelier motion while speaking
        return {
            "roll": m * np.deg2rad(1.1 * self.noise["roll"](t) + 1.2 * energy * (talk - 0.5)),
            "tx": m * size * (0.010 * self.noise["tx"](t)),
            "ty": m * size * (0.006 * self.noise["ty"](t) + 0.010 * energy * talk),
            "scale": m * (0.008 * self.noise["scale"](t) + 0.006 * energy),
        }

    def frame(self, t: float, mouth_open: float, spread: float, energy: float) -> np.ndarray:
        self.mouth.render(self.expression, mouth_open, spread, self.dynamic_scale)
        closure = blink_closure(t, self.seed)
        for eye in self.eyes:
            eye.render(self.expression, closure)
        if self.motion_scale == 0:
            np.copyto(self.output, self.expression)
            return self.output
        map_x, map_y = self.head.maps(self.pose(t, energy))
        cv2.remap(self.expression, map_x, map_y, cv2.INTER_LINEAR, dst=self.output, borderMode=cv2.BORDER_REPLICATE)
        return self.output

    def frames(self, drivers: MotionDrivers, first_frame: int, fps: int) -> Iterator[np.ndarray]:
        for offset in range(len(drivers.mouth_open)):
            t = (first_frame + offset) / fps
            yield self.frame(
                t, float(drivers.mouth_open[offset]), float(drivers.spread[offset]), float(drivers.energy[offset])
            )
