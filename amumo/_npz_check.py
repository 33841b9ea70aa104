"""Checks of an ``.npz`` archive before numpy reads it.

``np.load`` trusts the shape declared in each member's ``.npy`` header and
allocates it before reading: a 1 KB file that declares a 40 GB array ends in a
``MemoryError`` (or swaps). A malformed header gives a bare ``ValueError`` /
``UnicodeDecodeError``. :func:`check_npz_members` reads only the headers and
compares each declared size with what the archive can hold, so such files fail
with a message that names the file and the member.

It sits below all layers (like :mod:`amumo._util`): embeddings files
(:func:`amumo.Embeddings.load`) and model checkpoints (``TinyCLIP.load``) use it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

__all__ = ["check_npz_members", "MAX_DEFLATE_RATIO"]

#: DEFLATE cannot compress by more than about 1032:1; a member claiming more is corrupt.
MAX_DEFLATE_RATIO = 1100


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def check_npz_members(
    path: str | Path, fix: str | None = None
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Read the ``.npy`` header of every member of ``path`` without loading data.

    Returns ``{member name: (shape, dtype)}`` (names without ``.npy``).

    ``fix`` ends each message (what to do); the default speaks of embeddings files.

    Raises
    ------
    ValueError
        A member's header is malformed, holds an object (pickled) dtype, or declares
        more bytes than the archive can hold (truncated or forged file). The message
        names the file, the member and what to do.

    Examples
    --------
    >>> import io, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npz")
    >>> np.savez(path, a=np.zeros((2, 3), np.float32))
    >>> check_npz_members(path)["a"][0]
    (2, 3)
    """
    path = Path(path)
    disk = path.stat().st_size
    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    fix = fix or (
        "the file is truncated or corrupt (or not written by amumo): re-create it with "
        "Embeddings.save."
    )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ValueError(f"{path} is not a readable .npz archive ({err}); {fix}") from err
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            name = info.filename[: -len(".npy")]
            if info.compress_size > disk:
                raise ValueError(
                    f"{path}: member {name!r} claims {_bytes(info.compress_size)} of compressed "
                    f"data but the file has {_bytes(disk)}; {fix}"
                )
            limit = info.compress_size * (
                1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
            )
            try:
                with archive.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
                    elif version in ((2, 0), (3, 0)):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
                    else:  # pragma: no cover - read_magic accepts only these
                        raise ValueError(f"unsupported .npy version {version}")
                    header_bytes = handle.tell()
            except (ValueError, SyntaxError, TypeError, UnicodeDecodeError, EOFError,
                    zipfile.BadZipFile, OSError) as err:
                raise ValueError(
                    f"{path}: member {name!r} has a malformed .npy header "
                    f"({type(err).__name__}: {err}); {fix}"
                ) from err
            if dtype.hasobject:
                raise ValueError(
                    f"{path}: member {name!r} holds Python objects (dtype {dtype}), which amumo "
                    "never writes and will not unpickle; "
                    f"{fix}"
                )
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            available = min(info.file_size, limit) - header_bytes
            if declared > max(available, 0):
                raise ValueError(
                    f"{path}: member {name!r} declares a {dtype} array of shape {shape} "
                    f"({_bytes(declared)}) but the archive holds at most "
                    f"{_bytes(max(available, 0))} for it; {fix}"
                )
            found[name] = (tuple(shape), dtype)
    return found
