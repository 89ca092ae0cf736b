"""Face landmarks with mediapipe's face mesh (model bundled in the wheel, works offline).

Landmarks are returned in pixel coordinates of the image that was analysed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

# Mediapipe face-mesh indices used by the animator and the quality meter.
UPPER_INNER_LIP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER_LIP = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
UPPER_OUTER_LIP = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LOWER_OUTER_LIP = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
EYES = (
    # (upper lid from corner to corner, lower lid from corner to corner)
    ([33, 246, 161, 160, 159, 158, 157, 173, 133], [33, 7, 163, 144, 145, 153, 154, 155, 133]),
    ([362, 398, 384, 385, 386, 387, 388, 466, 263], [362, 382, 381, 380, 374, 373, 390, 249, 263]),
)
CHIN, NOSE_TIP, SUBNASALE, FOREHEAD = 152, 1, 2, 10
CHEEK_LEFT, CHEEK_RIGHT = 234, 454
INNER_LIP_TOP, INNER_LIP_BOTTOM = 13, 14
MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT = 61, 291

_lock = threading.Lock()  # mediapipe graphs are not safe to share between threads


@dataclass(frozen=True)
class Face:
    points: np.ndarray  # (468, 2) float32 pixel coordinates

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0 = self.points.min(axis=0)
        x1, y1 = self.points.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return min(x1 - x0, y1 - y0)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)


def _to_faces(result, width: int, height: int) -> list[Face]:
    faces = []
    for landmarks in result.multi_face_landmarks or []:
        points = np.array([(p.x * width, p.y * height) for p in landmarks.landmark[:468]], np.float32)
        faces.append(Face(points))
    return faces


def detect_faces(bgr: np.ndarray, max_faces: int = 8) -> list[Face]:
    """All faces in a still image, largest first."""
    import mediapipe as mp

    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    with _lock, mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.5
    ) as mesh:
        result = mesh.process(rgb)
    faces = _to_faces(result, bgr.shape[1], bgr.shape[0])
    return sorted(faces, key=lambda face: face.area, reverse=True)


class FaceTracker:
    """Landmarks frame after frame of a video (tracking mode: faster and steadier than per-image)."""

    def __init__(self):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.5
        )

    def __call__(self, bgr: np.ndarray) -> Face | None:
        with _lock:
            result = self._mesh.process(np.ascontiguousarray(bgr[:, :, ::-1]))
        faces = _to_faces(result, bgr.shape[1], bgr.shape[0])
        return faces[0] if faces else None

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mouth_opening(face: Face) -> float:
    """Inner-lip gap divided by mouth width: scale-free, so it compares across resolutions."""
    p = face.points
    gap = float(np.linalg.norm(p[INNER_LIP_BOTTOM] - p[INNER_LIP_TOP]))
    width = float(np.linalg.norm(p[MOUTH_CORNER_RIGHT] - p[MOUTH_CORNER_LEFT]))
    return gap / max(width, 1e-6)
