"""Reading one image file as 8-bit grayscale, with errors that name the file and the fix."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError

#: Extensions OpenCV decodes that we treat as images when walking a folder.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".webp"}
)


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _truncated(data: bytes, suffix: str) -> bool:
    # OpenCV decodes a truncated JPEG/PNG with only a stderr warning, filling the rest with gray;
    # a missing end marker is the cheap, reliable sign of a cut-off file.
    if suffix in (".jpg", ".jpeg"):
        return b"\xff\xd9" not in data[-64:]
    if suffix == ".png":
        return b"IEND" not in data[-32:]
    return False


def _decode(path: Path) -> np.ndarray:
    """The decoded, EXIF-oriented image at ``path`` as OpenCV returns it (any depth/channels).

    Raises :class:`DataError` naming the file for a missing, unreadable, empty, corrupt,
    truncated or non-image file.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found", "check the path or re-extract the dataset") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not an image", "name the image files in it") from None
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror})", "check its permissions") from None
    if not data:
        raise DataError(path, "empty file", "re-download or delete it")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        kind = "corrupt image" if is_image_name(path) else "not an image OpenCV can decode"
        raise DataError(path, kind, "re-download the file or remove it (PNG, JPEG, ... expected)")
    if _truncated(data, path.suffix.lower()):
        raise DataError(path, "truncated image file", "re-download the file or remove it")
    return _apply_exif_orientation(data, image)


def read_gray(path: str | Path, expect_size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode ``path`` to a 2-D uint8 grayscale array (EXIF orientation honoured).

    Colour and 16-bit images are converted. ``expect_size`` ``(H, W)``, when given, is enforced.
    Raises :class:`DataError` naming the file for a missing, unreadable, corrupt, truncated or
    non-image file and for a wrong size.
    """
    path = Path(path)
    image = to_gray_uint8(_decode(path))
    if expect_size is not None and image.shape != tuple(expect_size):
        raise DataError(
            path, f"image is {image.shape[1]}x{image.shape[0]}, expected "
            f"{expect_size[1]}x{expect_size[0]}", "this file does not belong to this release; remove it",
        )
    return image


def read_color(path: str | Path) -> np.ndarray:
    """Decode ``path`` to an ``(H, W, 3)`` uint8 BGR array (EXIF orientation honoured).

    Grayscale images are replicated to three channels, alpha is dropped and 16-bit images are
    reduced to 8 bits. Raises :class:`DataError` naming the file, as :func:`read_gray` does.
    """
    image = _decode(Path(path))
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:  # float: one min-max scaling for all channels keeps the hues
        lo, hi = float(image.min()), float(image.max())
        image = ((image - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """Any OpenCV image (gray, BGR, BGRA; 8 or 16 bit; float) as 2-D uint8 grayscale."""
    if image.ndim == 3:
        if image.shape[2] == 1:
            image = image[:, :, 0]
        else:
            code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            image = cv2.cvtColor(image, code)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        lo, hi = float(image.min()), float(image.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = ((image - lo) * scale).astype(np.uint8)
    return np.ascontiguousarray(image)


def _apply_exif_orientation(data: bytes, image: np.ndarray) -> np.ndarray:
    # IMREAD_UNCHANGED skips OpenCV's own EXIF handling, so apply the orientation tag here.
    if not data.startswith(b"\xff\xd8"):
        return image
    orientation = _exif_orientation(data)
    ops = {
        2: lambda im: cv2.flip(im, 1),
        3: lambda im: cv2.rotate(im, cv2.ROTATE_180),
        4: lambda im: cv2.flip(im, 0),
        5: lambda im: cv2.flip(cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE), 1),
        6: lambda im: cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE),
        7: lambda im: cv2.flip(cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
        8: lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    return ops[orientation](image) if orientation in ops else image


def _exif_orientation(data: bytes) -> int:
    """The EXIF Orientation tag (1..8) of a JPEG, 1 when absent or unparsable."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, seglen = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
            tiff = data[i + 10:i + 2 + seglen]
            order = "little" if tiff[:2] == b"II" else "big"
            try:
                ifd = int.from_bytes(tiff[4:8], order)
                for k in range(int.from_bytes(tiff[ifd:ifd + 2], order)):
                    entry = tiff[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
                    if int.from_bytes(entry[:2], order) == 0x0112:
                        return int.from_bytes(entry[8:10], order)
            except (IndexError, ValueError):
                return 1
            return 1
        if marker in (0xDA, 0xD9):
            break
        i += 2 + seglen
    return 1
