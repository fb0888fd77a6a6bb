"""Reading one image file as 8-bit grayscale, with errors that name the file and the fix."""
from __future__ import annotations

import errno
import io
import os
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import DataError, ImageError, UsageError

#: Extensions of the image formats fer-bench reads. Each is a format whose header Pillow reads
#: without decoding, so the size of every image is known, and checked, before OpenCV decodes it.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".webp"}
)

#: Largest image (width x height) decoded; ``$FER_BENCH_MAX_PIXELS`` overrides it. 50 MP admits
#: every camera photo (8000x6000 is 48 MP, a 50 MP full-frame sensor 8640x5760) and decodes to
#: at most 400 MB (16-bit BGRA); a face needs far fewer pixels. A decompression bomb (a few-MB
#: PNG of 50000x50000) is refused from its header, before anything is allocated.
MAX_PIXELS = 50_000_000
MAX_PIXELS_ENV = "FER_BENCH_MAX_PIXELS"
_LINK_FIX = "repair the link or delete it"
_TOO_LARGE_FIX = (f"a decompression bomb or far too large for a face: shrink it, or raise "
                  f"{MAX_PIXELS_ENV} if it is genuine")
# The Pillow formats of IMAGE_EXTENSIONS (PPM reads .pgm, .ppm and .pbm). A file whose header
# none of them parses is refused undecoded: OpenCV also reads formats such as Radiance HDR and
# colour PFM whose size nothing checks before OpenCV allocates it, up to its own cap of 2**30 pixels
# (a 4 MB HDR file of 32000x32000 would decode to 12 GB). OpenCV's cap can be lowered only by
# $OPENCV_IO_MAX_IMAGE_PIXELS set before cv2 is first imported; OpenCV reads it once, at import.
_HEADER_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "PPM", "WEBP")
_UNKNOWN_FORMAT = "corrupt image, or not a PNG/JPEG/BMP/TIFF/PNM/WebP image"
_UNKNOWN_FIX = "re-download it, save it as 8- or 16-bit PNG or JPEG, or remove it"
# Pillow warns while it reads some headers (its decompression-bomb check, which MAX_PIXELS
# replaces; corrupt EXIF in a TIFF): that would print more lines beside the one-line error.
# catch_warnings swaps process-wide state, so the loaders' decoding threads take turns.
_QUIET_PILLOW = threading.Lock()


# OpenCV's decoders log their failures to stderr ("[ERROR:0@...] imdecode_ ...") before they
# return None; every caller here reports the file in one line instead, so only fatal messages
# are kept (the level is process-wide, and toggling it per call would serialise the decoding
# threads).
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_FATAL)


def max_pixels() -> int:
    """The pixel limit: ``$FER_BENCH_MAX_PIXELS`` when set, else :data:`MAX_PIXELS`."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise UsageError(f"{MAX_PIXELS_ENV}={raw!r} is not a positive whole number of pixels "
                         f"(unset it for the default {MAX_PIXELS})")
    return value


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def link_error(path: str | os.PathLike, exc: OSError) -> DataError | None:
    """The error for ``path`` when opening it failed with ``exc`` because of a symbolic link.

    A link loop and a dangling link (naming its target) get their own one-line error, with the
    fix; None when no link is to blame. Every loader reports links through this one function.
    """
    if exc.errno == errno.ELOOP:
        return DataError(path, "symbolic link loop", _LINK_FIX)
    if exc.errno == errno.ENOENT and os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:  # removed meanwhile
            target = "a missing file"
        return DataError(path, f"broken symbolic link to {target}", _LINK_FIX)
    return None


def read_error(path: str | os.PathLike, exc: OSError) -> DataError:
    """The one-line error for a file whose reading failed with ``exc``.

    A link loop or dangling link (:func:`link_error`), a missing file, or an unreadable one.
    """
    problem = link_error(path, exc)
    if problem is not None:
        return problem
    if isinstance(exc, FileNotFoundError):
        return DataError(path, "file not found", "check the path or re-extract the dataset")
    return DataError(path, f"cannot read file ({exc.strerror or exc})", "check its permissions")


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

    The size is read from the header first and an image over :func:`max_pixels`, or one whose
    header is not of a format fer-bench reads, is refused before it is decoded. Raises
    :class:`DataError` naming the file for a missing, unreadable, empty, too large, corrupt,
    truncated or non-image file, and for a symbolic link loop or a dangling link.
    """
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(path, "is a directory, not an image", "name the image files in it"
                        ) from None
    except OSError as exc:
        raise read_error(path, exc) from None
    if not data:
        raise DataError(path, "empty file", "re-download or delete it")
    limit = max_pixels()
    _check_header(path, data, limit)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV's own limits (2**30 pixels) and decoder failures
        raise DataError(path, f"OpenCV cannot decode it ({_cv_reason(exc)})",
                        "re-download the file or remove it") from None
    if image is None:
        kind = "corrupt image" if is_image_name(path) else "not an image OpenCV can decode"
        raise DataError(path, kind,
                        "re-download the file or remove it (PNG, JPEG, ... expected)")
    if _truncated(data, path.suffix.lower()):
        raise DataError(path, "truncated image file", "re-download the file or remove it")
    try:
        check_image(image)
    except ImageError as exc:
        raise DataError(path, f"unsupported image layout ({exc})", "save it as PNG or JPEG"
                        ) from None
    # again on the decoded size: OpenCV may read a size other than the header Pillow parsed
    _check_pixels(path, image.shape[1], image.shape[0], limit)
    return _apply_exif_orientation(data, image)


def _check_header(path: Path, data: bytes, limit: int) -> None:
    """Refuse ``data`` whose header says it has over ``limit`` pixels, before it is decoded.

    Pillow reads only the header. Data whose header it cannot parse as one of the formats
    fer-bench reads is refused too: OpenCV would decode it with nothing checking its size.
    """
    try:
        with _QUIET_PILLOW, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=_HEADER_FORMATS) as im:
                width, height = im.size
    except Image.DecompressionBombError:  # Pillow gives no size above 2 * its MAX_IMAGE_PIXELS
        ceiling = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        if limit <= ceiling:
            raise DataError(path, f"image has over {ceiling} pixels, more than the limit of "
                            f"{limit}", _TOO_LARGE_FIX) from None
        return  # a limit raised past Pillow's: OpenCV's own 2**30-pixel cap still holds
    except Exception:  # noqa: BLE001 - any parse failure: an unknown format or a corrupt header
        raise DataError(path, _UNKNOWN_FORMAT, _UNKNOWN_FIX) from None
    _check_pixels(path, width, height, limit)


def _check_pixels(path: Path, width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise DataError(path, f"image is {width}x{height} pixels, more than the limit of {limit}",
                        _TOO_LARGE_FIX)


def _cv_reason(exc: cv2.error) -> str:
    """OpenCV's multi-line error as one short line (the failed check, without the source path)."""
    text = getattr(exc, "err", "") or str(exc)
    return " ".join(text.replace(">", " ").split())[:200]


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
            f"{expect_size[1]}x{expect_size[0]}",
            "this file does not belong to this release; remove it",
        )
    return image


def read_color(path: str | Path) -> np.ndarray:
    """Decode ``path`` to an ``(H, W, 3)`` uint8 BGR array (EXIF orientation honoured).

    Grayscale images are replicated to three channels, alpha is dropped and 16-bit images are
    reduced to 8 bits. Raises :class:`DataError` naming the file, as :func:`read_gray` does.
    """
    image = _to_uint8(_decode(Path(path)))  # float: one scaling for all channels keeps the hues
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def check_image(image: object) -> np.ndarray:
    """``image`` as an array, checked to be one the image helpers accept.

    Accepted: an ``(H, W)`` array, or ``(H, W, C)`` with C = 1 (gray), 3 (BGR, OpenCV's order)
    or 4 (BGRA), of bool, integer or float dtype. How each dtype becomes 8-bit is up to the
    converter (:func:`to_gray_uint8` for decoded files, :func:`fer_bench.face.to_gray` for arrays).
    An empty image (H or W is 0) is accepted and converts to an empty ``(H, W)`` array: its
    callers say which image it is (``FaceStage``) or find no face in it (``detect_faces``).

    Raises
    ------
    ImageError
        For any other shape, or a dtype that is not numbers (object, complex, strings).
    """
    try:
        a = np.asarray(image)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise ImageError(f"not an image array ({exc})") from None
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))):
        raise ImageError(f"expected a grayscale (H, W) or colour (H, W, 1|3|4) image, "
                         f"got shape {a.shape}")
    if a.dtype != bool and a.dtype.kind not in "iuf":
        raise ImageError(f"cannot read an image of dtype {a.dtype}; pass numbers")
    return a


def to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; 8 or 16 bit; float) as 2-D uint8 grayscale.

    16-bit images keep their top 8 bits; floats and other integer depths (float TIFF, PFM,
    ...) are min-max scaled over their finite values (NaN and infinities clipped into that
    range); bool maps to 0 / 255. Raises :class:`ImageError` for what :func:`check_image`
    refuses.
    """
    image = check_image(image)
    if image.size == 0:  # OpenCV's colour conversion refuses empty input
        return np.zeros(image.shape[:2], np.uint8)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 3:
        if image.shape[2] == 1:
            image = image[:, :, 0]
        else:
            if image.dtype not in (np.uint8, np.uint16, np.float32):  # depths cvtColor can take
                image = image.astype(np.float32)
            code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            image = cv2.cvtColor(np.ascontiguousarray(image), code)
    return _to_uint8(image)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is, uint16's top 8 bits, anything else min-max scaled over its finite values."""
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype.kind != "f":
        image = image.astype(np.float64)
    finite = np.isfinite(image)
    lo, hi = (float(image[finite].min()), float(image[finite].max())) if finite.any() \
        else (0.0, 0.0)
    if not finite.all():  # NaN as the darkest value, infinities as the ends of the range
        image = np.nan_to_num(image, nan=lo, posinf=hi, neginf=lo)
    with np.errstate(over="ignore", invalid="ignore"):  # a range wider than the dtype holds
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = np.nan_to_num((image - lo) * scale, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(image, 0, 255).astype(np.uint8)


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
