"""Photos that live on the web (e.g. MSCOCO's ``coco_url``), fetched by the kernel.

Datasets such as ``am.datasets.clip_coco500()`` carry links to their photos, not the
photos (they are not ours to ship). When the kernel is online the Preview shows the
photo anyway: the **kernel** downloads it (a browser on an https page such as MyBinder
would block ``http://images.cocodataset.org`` as mixed content), keeps it in amumo's
cache folder (``$AMUMO_CACHE_DIR/images/``, written atomically, checked to be an image
before it is kept), and sends a thumbnail exactly like a local image, lazily, on hover.
The download runs in a thread, so the kernel keeps answering while it waits, and gives
up after ``timeout`` seconds with a plain message that the card shows.

Turn it off with ``remote_images=False`` on any view (``am.Explorer(emb,
remote_images=False)``) or for the whole session with the environment variable
``AMUMO_REMOTE_IMAGES=0`` (e.g. on a machine that must not reach the network).

Examples
--------
>>> from amumo.widgets.remote import url_column, check_url
>>> import pandas as pd
>>> url_column(pd.DataFrame({"caption": ["a"], "coco_url": ["http://x/1.jpg"]}))
'coco_url'
>>> check_url("file:///etc/passwd")
Traceback (most recent call last):
...
ValueError: photo URL 'file:///etc/passwd' is not http(s); only web links are fetched.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from amumo._util import atomic_write_bytes

__all__ = [
    "REMOTE_ENV",
    "URL_COLUMNS",
    "RemoteImageError",
    "remote_images_default",
    "url_column",
    "check_url",
    "image_cache_dir",
    "fetch_image",
    "fetch_image_in_thread",
]

#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` turns remote photos off.
REMOTE_ENV = "AMUMO_REMOTE_IMAGES"
#: Meta columns holding a pair's photo link, first match wins (``url``: LAION and
#: clip-retrieval metadata, see :mod:`amumo.embeddings.clip_retrieval`).
URL_COLUMNS = ("coco_url", "image_url", "photo_url", "url")
#: Seconds a fetch may take before the card says it could not load.
DEFAULT_TIMEOUT = 6.0
#: Larger downloads are refused (a photo, not a dataset).
MAX_BYTES = 20_000_000
#: After a host failed, further requests to it fail at once for this many seconds
#: (hovering across an offline Explorer must not queue hundreds of doomed downloads).
RETRY_AFTER = 30.0

_FAILED: dict[str, tuple[float, str]] = {}
_LOCK = threading.Lock()
_USER_AGENT = "amumo (https://github.com/amumo-project/amumo) preview"


class RemoteImageError(OSError):
    """A photo could not be downloaded or is not an image (message says why, for the card)."""


def remote_images_default() -> bool:
    """False when ``$AMUMO_REMOTE_IMAGES`` is 0/false/no/off, else True.

    Examples
    --------
    >>> import os
    >>> os.environ["AMUMO_REMOTE_IMAGES"] = "off"; remote_images_default()
    False
    >>> del os.environ["AMUMO_REMOTE_IMAGES"]; remote_images_default()
    True
    """
    value = os.environ.get(REMOTE_ENV, "").strip().lower()
    return value not in {"0", "false", "no", "off"}


def url_column(meta: pd.DataFrame) -> str | None:
    """The meta column holding photo links (one of :data:`URL_COLUMNS`), or None."""
    for name in URL_COLUMNS:
        if name in meta.columns:
            return name
    return None


def check_url(url: object) -> str:
    """``url`` as a str if it is an http(s) link; raises ``ValueError`` otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"photo URL {url!r} is empty; this pair has no photo link.")
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"photo URL {url!r} is not http(s); only web links are fetched.")
    return url.strip()


def image_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder of downloaded photos: ``<amumo cache>/images`` (``$AMUMO_CACHE_DIR``)."""
    from amumo.embeddings.cache import resolve_cache_dir

    return resolve_cache_dir(cache_dir) / "images"


def _cache_file(url: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
    suffix = suffix if suffix in (".jpg", ".jpeg", ".png", ".gif", ".webp") else ".img"
    return image_cache_dir(cache_dir) / digest[:2] / f"{digest}{suffix}"


def cached_image(url: str, cache_dir: str | os.PathLike[str] | None = None) -> bytes | None:
    """The cached bytes of ``url``'s photo, or None when it was never downloaded."""
    try:
        return _cache_file(check_url(url), cache_dir).read_bytes()
    except (OSError, ValueError):
        return None


def _verify_image(data: bytes, url: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise RemoteImageError(
            f"{url} did not return an image ({len(data):,} bytes that PIL cannot read: {err})."
        ) from None


def fetch_image(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cache_dir: str | os.PathLike[str] | None = None,
) -> bytes:
    """The photo at ``url`` (cached bytes if it was fetched before, else downloaded).

    Parameters
    ----------
    url : str
        An http(s) link.
    timeout : float
        Seconds for the connection and each read.
    cache_dir : path, optional
        amumo cache root (default ``$AMUMO_CACHE_DIR`` or the user cache folder).

    Returns
    -------
    bytes
        The file as served (verified to be an image by PIL), also written atomically
        to ``<cache>/images/`` so later calls (and other sessions) read it from disk.

    Raises
    ------
    ValueError
        ``url`` is not an http(s) link.
    RemoteImageError
        No network, an HTTP error, a timeout, a file over 20 MB or not an image;
        the message says which, in words a card can show.
    """
    url = check_url(url)
    file = _cache_file(url, cache_dir)
    if file.is_file():
        return file.read_bytes()
    host = urllib.parse.urlsplit(url).netloc
    with _LOCK:
        failed = _FAILED.get(host)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise RemoteImageError(failed[1])
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked)
            data = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise RemoteImageError(
            f"{host} answered HTTP {err.code} ({err.reason}) for {url}."
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        message = (
            f"could not reach {host} ({reason}): is the kernel offline? "
            f"(remote_images=False or {REMOTE_ENV}=0 stops trying)"
        )
        with _LOCK:
            _FAILED[host] = (time.monotonic(), message)
        raise RemoteImageError(message) from None
    if len(data) > MAX_BYTES:
        raise RemoteImageError(f"{url} is larger than {MAX_BYTES // 1_000_000} MB; not loaded.")
    _verify_image(data, url)
    with _LOCK:
        _FAILED.pop(host, None)
    try:
        atomic_write_bytes(file, data)
    except OSError:  # a read-only cache must not hide the photo
        pass
    return data


def fetch_image_in_thread(
    url: str,
    done: Callable[[bytes | None, str | None], None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cache_dir: str | os.PathLike[str] | None = None,
) -> threading.Thread:
    """Fetch ``url`` in a daemon thread and call ``done(data, None)`` or ``done(None, message)``.

    ``done`` is called exactly once, at the latest ``timeout`` + 1 seconds later, even
    when name resolution hangs (``urlopen``'s timeout does not cover DNS): the
    download then goes on in the background and only fills the cache.
    """
    result: dict[str, object] = {}

    def download() -> None:
        try:
            result["data"] = fetch_image(url, timeout=timeout, cache_dir=cache_dir)
        except (RemoteImageError, ValueError) as err:
            result["error"] = str(err)
        except Exception as err:  # noqa: BLE001 - reported in the card, never raised in a thread
            result["error"] = f"could not load {url}: {type(err).__name__}: {err}"

    def waiter() -> None:
        worker = threading.Thread(target=download, name="amumo-photo", daemon=True)
        worker.start()
        worker.join(timeout + 1.0)
        if "data" in result:
            done(result["data"], None)  # type: ignore[arg-type]
        elif "error" in result:
            done(None, str(result["error"]))
        else:
            done(None, f"the photo did not arrive within {timeout:g} s ({url}); try again later.")

    thread = threading.Thread(target=waiter, name="amumo-photo-wait", daemon=True)
    thread.start()
    return thread
