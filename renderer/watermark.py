"""The visible mark on Free plan videos: small text in the lower right, blended on a precomputed mask."""

from __future__ import annotations

import cv2
import numpy as np

TEXT = "Sonic Portal - AI generated"
# Every output carries this in its MP4 metadata, watermark or not.
AI_METADATA = {"comment": "AI-generated video made with Sonic Portal", "title": "AI-generated talking portrait"}


class Watermark:
    def __init__(self, width: int, height: int, text: str = TEXT):
        scale = max(0.35, min(width, height) / 900)
        thickness = max(1, round(scale * 2))
        (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        margin = max(4, int(min(width, height) * 0.02))
        box_w, box_h = text_w + 2 * margin, text_h + baseline + 2 * margin
        self.x0, self.y0 = max(0, width - box_w), max(0, height - box_h)
        mask = np.zeros((height - self.y0, width - self.x0), np.uint8)
        cv2.putText(
            mask, text, (margin, margin + text_h), cv2.FONT_HERSHEY_SIMPLEX, scale, (255,), thickness, cv2.LINE_AA
        )
        shadow = cv2.GaussianBlur(cv2.dilate(mask, np.ones((3, 3), np.uint8)), (0, 0), 1.5)
        self.white = (mask.astype(np.float32) / 255 * 0.85)[..., None]
        self.dark = (shadow.astype(np.float32) / 255 * 0.5)[..., None]

    def apply(self, frame: np.ndarray) -> np.ndarray:
        region = frame[self.y0 :, self.x0 :].astype(np.float32)
        region *= 1 - self.dark
        region += (255 - region) * self.white
        frame[self.y0 :, self.x0 :] = region.astype(np.uint8)
        return frame
