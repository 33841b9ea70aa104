"""Helpers every layer needs: the package version, atomic file writes, and mapping a
function over a few large independent pieces of work in threads.

This module sits below all of amumo's layers (``data``, ``models``,
``embeddings``, ``analysis``, ``widgets``...) and imports nothing from them, so
any layer may use it without importing upward.

Atomic writes go through a temporary file in the destination folder followed by
:func:`os.replace`: a reader sees the old file or the complete new one, never a
half-written one, and an interrupted write (Ctrl-C, a killed worker) leaves at
most a hidden ``.<name>.*.tmp`` file behind. The finished file gets the
permissions an ordinary ``open(path, "w")`` would give it (``0o666`` minus the
process umask); :func:`tempfile.mkstemp` alone would leave it ``0o600``,
unreadable to the rest of a team sharing a cache folder.

Examples
--------
>>> import tempfile, pathlib
>>> from amumo._util import atomic_write_bytes, atomic_write
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_bytes(folder / "a.txt", b"hello").read_bytes()
b'hello'
>>> with atomic_write(folder / "b.bin") as handle:
...     _ = handle.write(b"streamed")
>>> (folder / "b.bin").read_bytes()
b'streamed'
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

__all__ = [
    "__version__", "atomic_write", "atomic_write_bytes", "current_umask", "fixed",
    "lower_thread_priority",
]

#: The package version (kept equal to ``[project] version`` in pyproject.toml; a test checks).
__version__ = "0.1.0"


def fixed(value: float, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, never "-0.00": a value that rounds to zero is
    written as zero (a label reading "−0.00" suggests a sign that is not there).

    Examples
    --------
    >>> fixed(-0.001), fixed(-1.5e-17, 3), fixed(-0.25), fixed(0.851, 3)
    ('0.00', '0.000', '-0.25', '0.851')
    """
    return f"{round(float(value), int(digits)) + 0.0:.{int(digits)}f}"


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read with the
    classic ``os.umask`` set-and-restore (not thread-safe for a moment, which is
    why the first way is preferred).

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Open a binary file handle whose contents replace ``path`` atomically on success.

    Use it to stream large outputs (``np.save(handle, array)``) without holding
    the bytes in memory. The data are flushed and fsync'ed before the rename;
    if the ``with`` block raises, the temporary file is removed and ``path`` is
    left untouched.

    Parameters
    ----------
    path : str or Path
        Destination; missing parent folders are created.
    overwrite : bool, default True
        If False and ``path`` exists, raise :class:`FileExistsError` before writing.

    Yields
    ------
    file object
        Opened ``"wb"`` on a temporary file in the same folder as ``path``.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        if not overwrite and path.exists():
            raise FileExistsError(f"{path} appeared while writing; pass overwrite=True.")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename.

    A reader never sees a half-written file; an interrupted write leaves the old
    file (or nothing) in place. The file's mode is ``0o666 & ~umask``, as for
    ``open(path, "wb")``.

    Parameters
    ----------
    path : str or Path
        Destination; missing parent folders are created.
    data : bytes
        The full contents.
    overwrite : bool, default True
        If False and ``path`` exists, raise :class:`FileExistsError`.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    with atomic_write(path, overwrite=overwrite) as handle:
        handle.write(data)
    return path


def map_in_threads(
    func: Callable[[_T], _R], items: Iterable[_T], *, parallel: bool = True,
    name: str = "amumo",
) -> list[_R]:
    """``[func(item) for item in items]``, spread over up to one thread per core.

    For a few large pieces of work whose heavy lifting releases the GIL (numpy, BLAS,
    hashlib): the modalities of a million pairs, the block ranges of one pass. Runs in
    the calling thread when ``parallel`` is False, when there is one item or one core.
    Results keep the order of ``items``, so sums combined in that order do not depend on
    which thread finished first. ``name`` prefixes the threads' names.

    Examples
    --------
    >>> map_in_threads(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1) if parallel else 1
    if workers < 2:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        return list(pool.map(func, items))


def _job_nice(text: str) -> int:
    try:
        return max(0, min(19, int(text)))
    except ValueError:
        raise ValueError(
            f"AMUMO_JOB_NICE={text!r} is not a whole number; set it to 0 (background jobs at "
            "the kernel's priority) up to 19 (lowest), or unset it for the default 5."
        ) from None


#: How much lower than the kernel's own threads a background job runs (Linux nice steps;
#: the environment variable ``AMUMO_JOB_NICE``, 0 … 19).
JOB_NICE = _job_nice(os.environ.get("AMUMO_JOB_NICE", "5"))


def lower_thread_priority(step: int | None = None) -> bool:
    """Give the calling thread (and the threads it starts) ``step`` more nice levels.

    A widget's background job (a pass over ten million rows, a metrics panel, UMAP)
    uses both cores for a minute; at the same priority it shares them evenly with the
    kernel's message loop, the Jupyter server and the browser drawing its result, and
    the first picture waited for the pass. A few nice levels lower (:data:`JOB_NICE`,
    5 unless ``AMUMO_JOB_NICE`` says otherwise) lets those run first whenever they need
    a core, and costs nothing on an idle machine. Linux only (a thread's nice value is
    its own there); elsewhere, or when refused, nothing changes.

    Returns True when the priority was lowered.

    Examples
    --------
    >>> import threading
    >>> done = []
    >>> t = threading.Thread(target=lambda: done.append(lower_thread_priority(0)))
    >>> t.start(); t.join()
    >>> done
    [False]
    """
    step = JOB_NICE if step is None else int(step)
    if step <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + step))
    except OSError:
        return False
    return True
