"""Face landmarks with mediapipe's face mesh (model bundled in the wheel, works offline).

Landmarks are returned in pixel coordinates of the image that was analysed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
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


# Around a small face found by the full-range detector, this much context (times the face box) goes to the mesh,
# scaled so the face fills the mesh's input the way a close-up portrait would.
SMALL_FACE_CONTEXT = 2.2
SMALL_FACE_CROP_PIXELS = 384


def _mesh_faces(bgr: np.ndarray, max_faces: int) -> list[Face]:
    import mediapipe as mp

    with (
        _lock,
        mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.5
        ) as mesh,
    ):
        result = mesh.process(np.ascontiguousarray(bgr[:, :, ::-1]))
    return _to_faces(result, bgr.shape[1], bgr.shape[0])


def _face_boxes(bgr: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Face boxes (x0, y0, x1, y1 in pixels) from mediapipe's full-range detector, which sees smaller faces than
    the mesh's; half-size overlapping tiles of the picture are searched when the whole picture shows none."""
    import mediapipe as mp

    height, width = bgr.shape[:2]
    half_w, half_h = width // 2, height // 2
    offsets_x, offsets_y = (0, width // 4, width - half_w), (0, height // 4, height - half_h)
    windows = [(0, 0, width, height)] + [(x, y, x + half_w, y + half_h) for y in offsets_y for x in offsets_x]
    boxes: list[tuple[float, float, float, float]] = []
    with _lock, mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as finder:
        for x0, y0, x1, y1 in windows:
            found = finder.process(np.ascontiguousarray(bgr[y0:y1, x0:x1, ::-1])).detections or []
            for detection in found:
                box = detection.location_data.relative_bounding_box
                left, top = x0 + box.xmin * (x1 - x0), y0 + box.ymin * (y1 - y0)
                candidate = (left, top, left + box.width * (x1 - x0), top + box.height * (y1 - y0))
                if not any(_overlap(candidate, other) > 0.3 for other in boxes):
                    boxes.append(candidate)
            if boxes:
                break
    return boxes


def _overlap(a, b) -> float:
    """Intersection over union of two boxes."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _small_faces(bgr: np.ndarray, max_faces: int) -> list[Face]:
    """Faces too small for the mesh's own (short-range) detector: meshed in an enlarged crop around each box the
    full-range detector finds, then mapped back to the picture."""
    height, width = bgr.shape[:2]
    faces = []
    for left, top, right, bottom in _face_boxes(bgr)[:max_faces]:
        cx, cy = (left + right) / 2, (top + bottom) / 2
        half = max(right - left, bottom - top) * SMALL_FACE_CONTEXT / 2
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(width, cx + half)), int(min(height, cy + half))
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        zoom = SMALL_FACE_CROP_PIXELS / max(x1 - x0, y1 - y0)
        crop = cv2.resize(bgr[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        for face in _mesh_faces(crop, 1):
            faces.append(Face((face.points / zoom + np.array([x0, y0], np.float32)).astype(np.float32)))
    return faces


def detect_faces(bgr: np.ndarray, max_faces: int = 8) -> list[Face]:
    """All faces in a still image, largest first. Small faces in a large picture (a half-body shot) are found
    too: the mesh's own detector only sees faces larger than about an eighth of the picture."""
    faces = _mesh_faces(bgr, max_faces) or _small_faces(bgr, max_faces)
    return sorted(faces, key=lambda face: face.area, reverse=True)


class FaceTracker:
    """Landmarks frame after frame of a video (tracking mode: faster and steadier than per-image). static=True
    detects afresh in every picture, for frames far apart (the quality report's moments)."""

    def __init__(self, *, static: bool = False):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.5
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


def face_pose(face: Face) -> tuple[float, float]:
    """(turn, roll): turn is how far the nose sits from the middle between the cheeks, as a share of half the
    face's width (0 facing the camera, about 0.5 at a three-quarter view, 1 in profile); roll is the tilt of the
    line through the eye corners in degrees."""
    p = face.points
    left, right = p[CHEEK_LEFT], p[CHEEK_RIGHT]
    half = max(1e-6, abs(float(right[0] - left[0])) / 2)
    turn = abs(float(p[NOSE_TIP, 0] - (left[0] + right[0]) / 2)) / half
    outer_left, outer_right = p[EYES[0][0][0]], p[EYES[1][0][-1]]
    roll = float(np.degrees(np.arctan2(outer_right[1] - outer_left[1], outer_right[0] - outer_left[0])))
    return turn, roll


def mouth_opening(face: Face) -> float:
    """Inner-lip gap divided by mouth width: scale-free, so it compares across resolutions."""
    p = face.points
    gap = float(np.linalg.norm(p[INNER_LIP_BOTTOM] - p[INNER_LIP_TOP]))
    width = float(np.linalg.norm(p[MOUTH_CORNER_RIGHT] - p[MOUTH_CORNER_LEFT]))
    return gap / max(width, 1e-6)
