"""File helpers shared by the dataset loaders and the encoders: images and digests."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from amumo.data.base import UnreadableItemError

__all__ = ["open_image", "decode_image", "file_digest", "open_regular_file", "IMAGE_SUFFIXES"]

#: File suffixes treated as images when scanning folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")

_BLOCK = 1 << 16
_SAMPLED_BLOCKS = 32
_FULL_HASH_LIMIT = 64 << 20


def open_regular_file(path: str | os.PathLike[str], what: str | None = None) -> BinaryIO:
    """Open ``path`` for binary reading only if it is a regular file.

    The check is made on the opened descriptor (a path swapped after a check cannot slip
    through), and the open does not block: a FIFO would otherwise block the kernel
    forever and ``/dev/zero`` would be read until memory runs out (both report a size
    of 0).

    Raises
    ------
    ValueError
        Naming ``what`` (default: the file name) when the path cannot be opened or is a
        FIFO, a device or anything but a regular file.

    Examples
    --------
    >>> open_regular_file("/dev/zero", "the clip")
    Traceback (most recent call last):
    ...
    ValueError: the clip is a device, not a regular file; nothing is read from it.
    """
    what = what or Path(path).name
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise ValueError(f"{what} cannot be opened ({err.strerror}).") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        if kind == "not a regular file":
            raise ValueError(f"{what} is not a regular file; nothing is read from it.")
        raise ValueError(f"{what} is {kind}, not a regular file; nothing is read from it.")
    return os.fdopen(fd, "rb")


def _bomb(what: str, err: Exception) -> UnreadableItemError:
    return UnreadableItemError(
        f"{what} has too many pixels to decode safely (decompression bomb guard "
        f"PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS}; raise it to read such images "
        f"on purpose): {err}"
    )


def _finish(image: Image.Image, what: str) -> Image.Image:
    try:
        image.load()
        return image.convert("RGB")
    except Image.DecompressionBombError as err:
        raise _bomb(what, err) from err
    except (OSError, ValueError, SyntaxError, MemoryError) as err:
        raise UnreadableItemError(f"{what} could not be decoded as an image: {err}") from err


def open_image(path: str | Path) -> Image.Image:
    """Read an image file fully and return it as RGB.

    Raises
    ------
    UnreadableItemError
        The file is missing, truncated or not an image; the message names the file.
    """
    path = Path(path)
    try:
        image = Image.open(path)
    except FileNotFoundError as err:
        raise UnreadableItemError(f"image file {str(path)!r} does not exist") from err
    except Image.DecompressionBombError as err:
        raise _bomb(f"image file {str(path)!r}", err) from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise UnreadableItemError(
            f"image file {str(path)!r} is not a readable image: {err}"
        ) from err
    with image:
        return _finish(image, f"image file {str(path)!r}")


def decode_image(data: bytes, what: str = "image bytes") -> Image.Image:
    """Decode encoded image bytes (PNG, JPEG, ...) to an RGB PIL image.

    Raises
    ------
    UnreadableItemError
        The bytes are not a decodable image.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UnreadableItemError(f"{what} is a {type(data).__name__}, not encoded image bytes")
    try:
        image = Image.open(io.BytesIO(bytes(data)))
    except Image.DecompressionBombError as err:
        raise _bomb(what, err) from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise UnreadableItemError(f"{what} is not a readable image: {err}") from err
    return _finish(image, what)


def file_digest(path: str | Path) -> str:
    """SHA-1 identifying a file's content, cheap even for multi-GB checkpoints.

    Files up to 64 MiB are hashed whole; larger ones by size plus 32 evenly
    spaced 64 KiB blocks (including the first and the last). Independent of the
    file's name, location and modification time.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha1(str(size).encode())
    with path.open("rb") as handle:
        if size <= _FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            last = size - _BLOCK
            for k in range(_SAMPLED_BLOCKS):
                handle.seek(last * k // (_SAMPLED_BLOCKS - 1))
                digest.update(handle.read(_BLOCK))
    return digest.hexdigest()


def stat_signature(path: str | Path) -> list[int]:
    """``[size, mtime_ns]`` of a file (a cheap change detector for many images)."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]
