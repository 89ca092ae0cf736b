"""The built-in talking-portrait animator: landmark-driven image warps, no learned model.

Per frame it (1) warps small regions around the mouth and eyes of the still portrait with precomputed
displacement fields scaled by the audio drivers (jaw drop, lip spread or rounding, pressed lips),
(2) paints the inside of the mouth into the gap the jaw opens (cavity, teeth and tongue in colours
sampled from the portrait; the closed-mouth pixels are never stretched into it), and (3) moves the
head with one smooth full-frame remap whose mask keeps the background still.

Everything that varies over time is a function of the absolute frame time and the seed, so a segment
rendered alone matches the same frames of a whole-file render.
"""

from __future__ import annotations

import functools
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
CHIN_LEVER = 1.2  # the chin is further from the jaw's hinge than the lower lip: it travels this much further
SPREAD_AMOUNT = 0.11  # corner travel outwards for "ee", of the mouth width
ROUND_AMOUNT = 0.14  # corner travel inwards for "oo"
ROUND_LENS = 0.72  # a rounded opening is this much narrower than a neutral one
TEETH_DEFAULT = np.array([176, 202, 224], np.float32)  # BGR: warm ivory, for portraits showing none
TONGUE_TINT = np.array([118, 122, 205], np.float32)  # BGR: the pink the lip colour is pulled towards
UPPER_TEETH_LINES = (0.0, 0.27, 0.5, 0.7)  # where neighbouring teeth meet, in half-widths of the opening
LOWER_TEETH_LINES = (0.0, 0.18, 0.36, 0.54)  # lower incisors are narrower


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


@dataclass(frozen=True)
class MouthColours:
    """What the inside of this portrait's mouth looks like, sampled from the portrait itself."""

    lips: np.ndarray  # BGR float32
    teeth: np.ndarray
    shows_teeth: bool  # the still portrait already shows its upper teeth between the lips


def sample_mouth_colours(image: np.ndarray, points: np.ndarray) -> MouthColours:
    upper_out, upper_in = points[UPPER_OUTER_LIP], points[UPPER_INNER_LIP]
    lower_in, lower_out = points[LOWER_INNER_LIP], points[LOWER_OUTER_LIP]
    left, right = sorted((float(upper_out[0, 0]), float(upper_out[-1, 0])))
    width = max(1.0, right - left)
    xs = np.arange(int(left + 0.2 * width), int(np.ceil(right - 0.2 * width)), dtype=np.float32)
    height, image_width = image.shape[:2]
    xs = xs[(xs >= 0) & (xs < image_width)]

    def between(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        pixels = []
        for x, y0, y1 in zip(xs.astype(int), _curve(top, xs), _curve(bottom, xs), strict=True):
            rows = np.arange(int(np.ceil(y0 + 0.5)), int(np.floor(y1 - 0.5)) + 1)
            rows = rows[(rows >= 0) & (rows < height)]
            pixels.append(image[rows, x])
        return np.concatenate(pixels).astype(np.float32) if pixels else np.zeros((0, 3), np.float32)

    lips = np.concatenate([between(upper_out, upper_in), between(lower_in, lower_out)])
    lip_colour = np.median(lips, axis=0) if len(lips) else np.array([110, 110, 160], np.float32)
    inside = between(upper_in, lower_in)
    gap = float(np.max(_curve(lower_in, xs) - _curve(upper_in, xs))) / width if len(xs) else 0.0
    luminance = inside @ np.array([0.114, 0.587, 0.299], np.float32) if len(inside) else np.zeros(0)
    lip_luminance = float(lip_colour @ np.array([0.114, 0.587, 0.299], np.float32))
    bright = inside[luminance > lip_luminance + 25] if len(inside) else inside
    shows_teeth = gap > 0.035 and len(bright) >= max(6, 0.25 * len(inside))
    if shows_teeth:
        teeth = np.median(bright, axis=0)
    else:
        # No teeth to copy: an off-white that sits in the portrait's light (darker in a dim photo or painting).
        teeth = TEETH_DEFAULT * np.clip(lip_luminance / 120.0, 0.65, 1.05)
    return MouthColours(lip_colour.astype(np.float32), np.asarray(teeth, np.float32), shows_teeth)


class MouthRig:
    """The lower face as a jaw (chin, lower lip and lower teeth drop together in one smooth warp that fades into
    the neck), lips that spread, round or press together, and the inside of the open mouth: a cavity shaded from
    the lips inward, upper and lower teeth in the portrait's own colours and a tongue, all with soft edges."""

    def __init__(self, image: np.ndarray, points: np.ndarray):
        height, width = image.shape[:2]
        upper_in, lower_in = points[UPPER_INNER_LIP], points[LOWER_INNER_LIP]
        upper_out, lower_out = points[UPPER_OUTER_LIP], points[LOWER_OUTER_LIP]
        left, right = sorted((float(upper_out[0, 0]), float(upper_out[-1, 0])))
        self.mouth_width = right - left
        self.center_x = (left + right) / 2
        chin_y = float(points[CHIN, 1])
        nose_y = float(points[SUBNASALE, 1])
        jaw_half = 0.5 * abs(float(points[CHEEK_RIGHT, 0] - points[CHEEK_LEFT, 0])) * 0.75
        self.max_drop = MAX_JAW_DROP * self.mouth_width
        self.colours = sample_mouth_colours(image, points)

        below_chin = 0.6 * (chin_y - float(upper_in[:, 1].mean())) + self.max_drop * 2.5
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
        self.rows = ys[:, 0]

        self.inner_half = max(2.0, 0.5 * self.mouth_width * 0.92)
        upper_y, lower_y = _curve(upper_in, xs), _curve(lower_in, xs)
        # The mouth opens where the jaw parts from the upper teeth: under the teeth a portrait already shows,
        # else between the lips.
        self.seam = lower_y - 0.6 if self.colours.shows_teeth else (upper_y + lower_y) / 2
        seam_mid = float(np.median(self.seam))
        self.lens = {shape: self._lens(xs, shape) for shape in ("neutral", "round")}

        jaw_u = (xs - self.center_x) / jaw_half
        jaw_profile = np.clip(1 - jaw_u**2, 0, 1) ** 0.8
        depth = np.clip((ys - self.seam) / max(4.0, chin_y - seam_mid), 0, 1)
        below = _smoothstep(self.seam - 0.5, self.seam + 0.5, ys)
        neck_fade = np.exp(-(np.maximum(0, ys - chin_y) ** 2) / (2 * (0.3 * below_chin) ** 2))
        rise = np.clip(1 - (self.seam - ys) / max(3.0, seam_mid - nose_y), 0, 1) ** 1.5
        self.drop_field = {}
        for shape, lens in self.lens.items():
            # Lower face: a hard step at the seam (what opens the gap), the lip's lens profile broadening to the
            # jaw's width and lever towards the chin, then a fade below the chin into the neck.
            profile = (1 - depth) * lens + depth * np.maximum(lens, jaw_profile) * (1 + (CHIN_LEVER - 1) * depth)
            lower_field = below * profile * neck_fade
            upper_field = -(1 - below) * UPPER_LIP_SHARE * lens * rise  # the upper lip lifts a little
            self.drop_field[shape] = (lower_field + upper_field).astype(np.float32)

        # Corners travel sideways (out for "ee", in for "oo"), strongest at lip height.
        lips_half_height = max(3.0, float(lower_out[:, 1].max() - upper_out[:, 1].min()) / 2)
        lip_mid = float(upper_out[:, 1].min() + lips_half_height)
        su = (xs - self.center_x) / (0.5 * self.mouth_width)
        side = np.clip(su, -1, 1) * np.exp(-(np.maximum(0, np.abs(su) - 1) ** 2) / 0.18)
        vertical = np.exp(-((ys - lip_mid) ** 2) / (2 * (1.4 * lips_half_height) ** 2))
        self.spread_field = (side * vertical).astype(np.float32)

        # Pressed lips ("m", "b", "p"): the lips close over whatever gap the portrait shows, the upper lip coming
        # down and the lower one up to meet at the seam, each stretched over about two lip heights.
        reach = 2.0 * lips_half_height
        mid = (upper_y + lower_y) / 2
        above_mid = np.clip((ys - (upper_y - reach)) / np.maximum(mid - (upper_y - reach), 1.0), 0, 1)
        below_mid = np.clip(((lower_y + reach) - ys) / np.maximum((lower_y + reach) - mid, 1.0), 0, 1)
        close = np.where(ys < mid, (mid - upper_y) * above_mid, -(lower_y - mid) * below_mid)
        self.close_field = (close * self.lens["neutral"]).astype(np.float32)
        self.lips_parted = float(np.abs(self.close_field).max()) > 0.25  # else pressing them changes no pixel

        self.source = np.ascontiguousarray(image[r.slices])
        source_height, source_width = self.source.shape[:2]
        self.texture = self._texture((source_height, source_width))
        self._map_x = np.empty_like(self.grid_x)
        self._map_y = np.empty_like(self.grid_y)
        self.xs = xs
        self.upper_teeth_lines = self._teeth_lines(UPPER_TEETH_LINES)
        self.lower_teeth_lines = self._teeth_lines(LOWER_TEETH_LINES)
        lips = self.colours.lips
        # The inside's colours: the cavity deep in (near black) and by the lips, the tongue, the teeth.
        self.palette = np.stack(
            [lips * 0.2 + 4, lips * 0.6, lips * 0.55 + TONGUE_TINT * 0.45, self.colours.teeth]
        ).astype(np.float32)

    def _lens(self, xs: np.ndarray, shape: str) -> np.ndarray:
        """The opening's height profile across the mouth: widest in the middle, closed at the corners."""
        half = self.inner_half * (ROUND_LENS if shape == "round" else 1.0)
        return (np.clip(1 - ((xs - self.center_x) / half) ** 2, 0, 1) ** 0.6).astype(np.float32)

    @staticmethod
    def _texture(shape: tuple[int, int]) -> np.ndarray:
        """Fixed soft mottling for the cavity, so it never reads as one flat colour (the same in every frame)."""
        noise: np.ndarray = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), 2.5)
        return noise / max(1e-6, float(noise.std()))

    def render(self, target: np.ndarray, mouth_open: float, spread: float, scale: float, closure: float = 0.0) -> None:
        """Write the mouth region for this frame into `target` (the same size as the portrait)."""
        r = self.region
        drop = self.max_drop * scale * mouth_open
        rounding = max(0.0, -spread)
        travel = self.mouth_width * scale * (SPREAD_AMOUNT * max(0.0, spread) - ROUND_AMOUNT * rounding)
        closure = min(1.0, closure * scale) if self.lips_parted else 0.0
        if drop < 0.05 and abs(travel) < 0.05 and closure < 0.02:
            target[r.slices] = self.source
            return
        field = (
            self.drop_field["neutral"]
            if rounding == 0
            else (self.drop_field["neutral"] * (1 - rounding) + self.drop_field["round"] * rounding)
        )
        np.multiply(field, -drop, out=self._map_y)
        if closure >= 0.02:
            self._map_y -= closure * self.close_field
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
            lens = self.lens["neutral"] * (1 - rounding) + self.lens["round"] * rounding
            self._paint_interior(target[r.slices], drop, lens, rounding)

    def _teeth_lines(self, where: tuple[float, ...]) -> np.ndarray:
        """Brightness across a row of teeth, per column: faint darker lines where two teeth meet."""
        u = (self.xs - self.center_x) / self.inner_half
        lines = np.ones_like(u)
        for at in where:
            lines -= 0.07 * np.exp(-(((np.abs(u) - at) * self.inner_half) ** 2) / 0.4)
        return lines

    def _paint_interior(self, patch: np.ndarray, drop: float, lens: np.ndarray, rounding: float) -> None:
        top = self.seam - UPPER_LIP_SHARE * drop * lens
        bottom = self.seam + drop * lens
        columns = np.flatnonzero(bottom - top > 0.5)
        if len(columns) == 0:
            return
        c0, c1 = columns[0], columns[-1] + 1
        r0 = max(0, int(np.floor(top[c0:c1].min() - self.region.y0)) - 2)
        r1 = min(patch.shape[0], int(np.ceil(bottom[c0:c1].max() - self.region.y0)) + 2)
        if r1 <= r0:
            return
        ys = self.rows[r0:r1, None]
        t, b = top[c0:c1], bottom[c0:c1]
        gap = np.maximum(b - t, 1e-3)
        u = (self.xs[c0:c1] - self.center_x) / self.inner_half
        core = np.clip(1.3 * lens[c0:c1], 0, 1)  # fades everything but the cavity towards the corners
        width = self.mouth_width

        # Every pixel mixes four colours (the cavity's deep and rim shades, the tongue, the teeth), layer over
        # layer; the layers are kept as per-pixel weights and mixed in one product, which is what keeps this fast.
        # Cavity: the lips' own colour, darkened, next to them, near black deeper in; mottled, never flat.
        from_edge = np.minimum(ys - t, b - ys)
        rim_share = np.maximum(np.exp(-np.maximum(from_edge, 0) / (0.18 * gap + 1.0)), np.abs(u) ** 4)
        mottle = 1 + 0.12 * self.texture[r0:r1, c0:c1]
        w_deep, w_rim = (1 - rim_share) * mottle, rim_share * mottle

        # Tongue: a rounded pink shape low in the mouth, lit from the front, lower in a rounded mouth.
        tongue_top = b - gap * 0.42 * (1 - 0.45 * rounding)
        tongue_half = 0.62 * (1 - 0.3 * rounding)
        reach = np.maximum(b - tongue_top, 1e-3)
        tongue_shape = _smoothstep(1.0, 0.8, np.sqrt((u / tongue_half) ** 2 + ((ys - b) / reach) ** 2))
        tongue_light = 0.7 + 0.3 * np.clip(1 - (ys - tongue_top) / reach, 0, 1)
        over = 0.85 * min(1.0, drop / (0.12 * width)) * tongue_shape
        w_deep, w_rim = w_deep * (1 - over), w_rim * (1 - over)
        w_tongue = over * 0.9 * tongue_light

        # Teeth: a lower row rising from the lower lip, in shadow, and (when the portrait shows none) an upper
        # row under the upper lip; both narrower than the opening, with faint lines where two teeth meet.
        span = _smoothstep(0.85, 0.6, np.abs(u))
        lower_height = np.minimum(0.2 * gap, 0.06 * width) * span
        over = 0.95 * _smoothstep(b - lower_height - 0.6, b - lower_height + 0.6, ys) * (lower_height > 0.5)
        lower_shade = 0.8 + 0.12 * np.clip((ys - (b - lower_height)) / np.maximum(lower_height, 1), 0, 1)
        w_deep, w_rim, w_tongue = w_deep * (1 - over), w_rim * (1 - over), w_tongue * (1 - over)
        w_teeth = over * lower_shade * self.lower_teeth_lines[c0:c1]
        if not self.colours.shows_teeth:
            upper_height = np.minimum(0.24 * gap, 0.075 * width) * span
            over = 0.95 * _smoothstep(t + upper_height + 0.6, t + upper_height - 0.6, ys) * (upper_height > 0.5)
            upper_shade = (0.8 + 0.2 * lens[c0:c1]) * self.upper_teeth_lines[c0:c1]
            w_deep, w_rim, w_tongue = w_deep * (1 - over), w_rim * (1 - over), w_tongue * (1 - over)
            w_teeth = w_teeth * (1 - over) + over * upper_shade

        alpha = _smoothstep(t - 0.7, t + 0.7, ys) * _smoothstep(b + 0.7, b - 0.7, ys)
        alpha *= np.clip(gap / 1.5, 0, 1) * np.maximum(core, 0.6)
        weights = np.stack([w_deep, w_rim, w_tongue, w_teeth], axis=-1) * alpha[..., None]
        region = patch[r0:r1, c0:c1].astype(np.float32)
        blended = region * (1 - alpha)[..., None] + weights @ self.palette
        patch[r0:r1, c0:c1] = np.clip(blended, 0, 255).astype(np.uint8)


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


@functools.lru_cache(maxsize=4096)
def _blink_start(seed: int, slot: int) -> float:
    return slot * BLINK_SLOT_SECONDS + 1.0 + 2.0 * np.random.default_rng([seed, slot]).random()


def blink_closure(t: float, seed: int) -> float:
    """Eyelid closure (0 open .. 1 shut) at absolute time t; blink times depend only on seed and slot."""
    slot = int(np.floor(t / BLINK_SLOT_SECONDS))
    closure = 0.0
    for k in (slot - 1, slot):
        if k < 0:
            continue
        start = _blink_start(seed, k)
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
        image_height, image_width = self.image.shape[:2]
        self.head = HeadRig((image_height, image_width), points)
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

    def frame(self, t: float, mouth_open: float, spread: float, energy: float, closure: float = 0.0) -> np.ndarray:
        self.mouth.render(self.expression, mouth_open, spread, self.dynamic_scale, closure)
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
                t,
                float(drivers.mouth_open[offset]),
                float(drivers.spread[offset]),
                float(drivers.energy[offset]),
                float(drivers.closure[offset]),
            )
