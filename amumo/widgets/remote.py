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
``AMUMO_REMOTE_IMAGES=0`` (e.g. on a machine that must not reach the network); the
front end cannot switch it back on (the kernel owns the setting).

A link in a dataset's meta is data, not an instruction, so the kernel fetches only what
a photo needs:

- **public addresses only**: the host's name is resolved and every address it resolves
  to, and the address actually connected to, must be public, on the first request and
  on every redirect. Loopback (``127.0.0.1``), private (``10.x``, ``192.168.x``),
  link-local (``169.254.169.254``, cloud metadata) and other special addresses are
  refused, unless a local image server is wanted: ``AMUMO_REMOTE_PRIVATE_HOSTS=1`` (or
  ``remote_private_hosts = True`` on a widget, ``allow_private=True`` here);
- **http(s) only**, also when redirected (no ``ftp:``, ``file:``); links that carry a
  user name or password are refused and never echoed;
- **bounded**: at most :data:`MAX_DOWNLOADS` downloads at once (a fixed set of daemon
  threads, whatever is hovered), at most ``timeout`` seconds per download in all (a
  server that drips a byte at a time is cut off), at most :data:`MAX_BYTES`; the
  thumbnail is decoded within a pixel budget
  (:data:`amumo.widgets._encode.MAX_THUMBNAIL_PIXELS`).

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
>>> check_url("https://me:s3cret@example.org/a.jpg")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: photo URL 'https://***@example.org/a.jpg' carries a user name or password; ...
"""

from __future__ import annotations

import hashlib
import heapq
import http.client
import io
import ipaddress
import itertools
import os
import queue
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from amumo._util import atomic_write_bytes

__all__ = [
    "REMOTE_ENV",
    "PRIVATE_ENV",
    "URL_COLUMNS",
    "MAX_DOWNLOADS",
    "RemoteImageError",
    "RemoteImageRefused",
    "remote_images_default",
    "private_hosts_default",
    "url_column",
    "check_url",
    "redact_url",
    "image_cache_dir",
    "fetch_image",
    "fetch_image_in_thread",
]

#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` turns remote photos off.
REMOTE_ENV = "AMUMO_REMOTE_IMAGES"
#: Environment variable: ``1`` / ``true`` / ``yes`` / ``on`` also fetches photos from loopback,
#: private and link-local addresses (a local image server); off by default.
PRIVATE_ENV = "AMUMO_REMOTE_PRIVATE_HOSTS"
#: Meta columns holding a pair's photo link, first match wins (``url``: LAION and
#: clip-retrieval metadata, see :mod:`amumo.embeddings.clip_retrieval`).
URL_COLUMNS = ("coco_url", "image_url", "photo_url", "url")
#: Seconds a fetch may take in all before the card says it could not load.
DEFAULT_TIMEOUT = 6.0
#: Larger downloads are refused (a photo, not a dataset).
MAX_BYTES = 20_000_000
#: Downloads running at once (threads), whatever the pointer hovers.
MAX_DOWNLOADS = 4
#: Redirects followed per photo.
MAX_REDIRECTS = 5
#: After a host failed, further requests to it fail at once for this many seconds
#: (hovering across an offline Explorer must not queue hundreds of doomed downloads).
RETRY_AFTER = 30.0

_FAILED: dict[str, tuple[float, str]] = {}
_LOCK = threading.Lock()
_USER_AGENT = "amumo (https://github.com/amumo-project/amumo) preview"
_TRUE = {"1", "true", "yes", "on"}


class RemoteImageError(OSError):
    """A photo could not be downloaded or is not an image (message says why, for the card)."""


class RemoteImageRefused(RemoteImageError):
    """A photo link was not followed: a non-public address, another scheme, credentials."""


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


def private_hosts_default() -> bool:
    """True when ``$AMUMO_REMOTE_PRIVATE_HOSTS`` is 1/true/yes/on (a local image server)."""
    return os.environ.get(PRIVATE_ENV, "").strip().lower() in _TRUE


def url_column(meta: pd.DataFrame) -> str | None:
    """The meta column holding photo links (one of :data:`URL_COLUMNS`), or None."""
    for name in URL_COLUMNS:
        if name in meta.columns:
            return name
    return None


def redact_url(url: object) -> str:
    """``url`` with any user name / password replaced by ``***`` (for messages and cards).

    >>> redact_url("http://user:s3cret@host:8080/a.jpg")
    'http://***@host:8080/a.jpg'
    """
    text = str(url)
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return "<a malformed link>"
    if "@" not in parts.netloc:
        return text
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def check_url(url: object) -> str:
    """``url`` as a str if it is an http(s) link; raises ``ValueError`` otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"photo URL {url!r} is empty; this pair has no photo link.")
    try:
        parsed = urllib.parse.urlsplit(url.strip())
        parsed.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as err:
        raise ValueError(f"photo URL {redact_url(url)!r} is malformed ({err}).") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            f"photo URL {redact_url(url)!r} is not http(s); only web links are fetched."
        )
    if "@" in parsed.netloc:
        raise ValueError(
            f"photo URL {redact_url(url)!r} carries a user name or password; amumo never "
            "sends (or shows) those: remove them from the link."
        )
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
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise RemoteImageError(
            f"{redact_url(url)} did not return an image ({len(data):,} bytes that PIL cannot "
            f"read: {err})."
        ) from None


# ----------------------------------------------------------------------------- addresses
def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a public one (None when it is)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (e.g. a cloud metadata service)"
    if ip.is_private:
        return "a private network address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def _refusal(host: str, address: str, problem: str) -> RemoteImageRefused:
    shown = host if host == address else f"{host} ({address})"
    return RemoteImageRefused(
        f"refused to fetch from {shown}: {problem}. amumo fetches photos only from public "
        f"addresses; for a local image server set {PRIVATE_ENV}=1 (or remote_private_hosts "
        "= True on the widget)."
    )


def _check_host(host: str, port: int) -> None:
    """Refuse ``host`` unless every address it resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise urllib.error.URLError(err) from None
    for info in infos:
        problem = _address_problem(str(info[4][0]))
        if problem is not None:
            raise _refusal(host, str(info[4][0]), problem)


class _PeerChecked(http.client.HTTPConnection):
    """Checks the address actually connected to (a name may resolve differently the second
    time: DNS rebinding), before anything is sent, TLS included."""

    check_peer = True

    def connect(self) -> None:
        super().connect()
        if self.check_peer and not self._tunnel_host:  # through a proxy: the proxy's address
            address = str(self.sock.getpeername()[0])
            problem = _address_problem(address)
            if problem is not None:
                self.sock.close()
                raise _refusal(self.host, address, problem)


class _CheckedHTTPS(http.client.HTTPSConnection, _PeerChecked):
    """HTTPS whose TCP connection is checked by :class:`_PeerChecked` before the handshake."""


def _connection(cls: type, req: urllib.request.Request, allow_private: bool) -> Callable:
    target = urllib.parse.urlsplit(req.full_url)
    if not allow_private:
        _check_host(target.hostname or "", target.port or (443 if target.scheme == "https"
                                                            else 80))

    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection = cls(host, **kwargs)
        connection.check_peer = not allow_private and not req.has_proxy()
        return connection

    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_connection(_PeerChecked, req, self.allow_private), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_connection(_CheckedHTTPS, req, self.allow_private), req,
                            context=self._context)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to another http(s) link without credentials; the new host
    is then checked like the first (:class:`_HTTPHandler`)."""

    max_redirections = MAX_REDIRECTS

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urllib.parse.urljoin(req.full_url, location)
            try:
                check_url(target)
            except ValueError as err:
                fp.close()
                source = urllib.parse.urlsplit(req.full_url)
                origin = f"{source.hostname}" + (f":{source.port}" if source.port else "")
                raise RemoteImageRefused(
                    f"{origin} redirects to a link amumo does not follow: {err}"
                ) from None
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(allow_private: bool) -> urllib.request.OpenerDirector:
    """http(s) and redirects only (no ftp:, file:, data: handlers), addresses checked."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(),
                    _HTTPHandler(allow_private), _HTTPSHandler(allow_private),
                    urllib.request.HTTPDefaultErrorHandler(), _RedirectHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _why(err: BaseException, host: str, timeout: float) -> tuple[str, bool]:
    """What failed, in words for the card, and whether the host counts as unreachable."""
    reason = getattr(err, "reason", err)
    if isinstance(reason, socket.gaierror):
        return (f"could not reach {host}: its name could not be resolved ({reason.strerror}); "
                f"is the kernel offline? ({REMOTE_ENV}=0 or remote_images=False stops "
                "trying)"), True
    if isinstance(reason, ConnectionRefusedError):
        return f"could not reach {host}: the connection was refused (nothing listens there).", \
            True
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"{host} did not answer within {timeout:g} s.", True
    if isinstance(reason, OSError) and reason.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
        return (f"could not reach {host}: {reason.strerror}; is the kernel offline? "
                f"({REMOTE_ENV}=0 or remote_images=False stops trying)"), True
    import ssl

    if isinstance(reason, ssl.SSLError):
        return f"the secure connection to {host} failed ({reason}).", False
    return f"could not load the photo from {host} ({type(reason).__name__}: {reason}).", True


# ----------------------------------------------------------------------------- fetching
def fetch_image(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cache_dir: str | os.PathLike[str] | None = None,
    allow_private: bool | None = None,
) -> bytes:
    """The photo at ``url`` (cached bytes if it was fetched before, else downloaded).

    Parameters
    ----------
    url : str
        An http(s) link, without user name or password.
    timeout : float
        Seconds for the whole download (connection, redirects and every read); a server
        that sends a byte now and then is cut off when they are up. One read already
        waiting may add up to ``timeout`` once more.
    cache_dir : path, optional
        amumo cache root (default ``$AMUMO_CACHE_DIR`` or the user cache folder).
    allow_private : bool, optional
        Also fetch from loopback, private and link-local addresses (a local image
        server). Default: ``$AMUMO_REMOTE_PRIVATE_HOSTS`` (off).

    Returns
    -------
    bytes
        The file as served (verified to be an image by PIL), also written atomically
        to ``<cache>/images/`` so later calls (and other sessions) read it from disk.

    Raises
    ------
    ValueError
        ``url`` is not an http(s) link, or carries credentials.
    RemoteImageRefused
        The host (or a redirect) leads to a non-public address or another scheme.
    RemoteImageError
        The name does not resolve, the connection is refused, an HTTP error, too slow,
        over 20 MB or not an image; the message says which, in words a card can show.
    """
    url = check_url(url)
    file = _cache_file(url, cache_dir)
    if file.is_file():
        return file.read_bytes()
    allow = private_hosts_default() if allow_private is None else bool(allow_private)
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc
    with _LOCK:
        failed = _FAILED.get(host)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise RemoteImageError(failed[1])
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with _opener(allow).open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_BYTES:
                if time.monotonic() > deadline:
                    raise RemoteImageError(
                        f"{host} sent the photo too slowly ({size:,} bytes in {timeout:g} s); "
                        "gave up."
                    )
                chunk = response.read1(min(1 << 16, MAX_BYTES + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
    except RemoteImageError:
        raise
    except urllib.error.HTTPError as err:
        raise RemoteImageError(
            f"{host} answered HTTP {err.code} ({err.reason}) for {redact_url(url)}."
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, RemoteImageRefused):  # raised inside urllib, wrapped by it
            raise RemoteImageRefused(str(reason)) from None
        message, unreachable = _why(err, parts.hostname or host, timeout)
        if unreachable:
            with _LOCK:
                _FAILED[host] = (time.monotonic(), message)
        raise RemoteImageError(message) from None
    if len(data) > MAX_BYTES:
        raise RemoteImageError(
            f"{redact_url(url)} is larger than {MAX_BYTES // 1_000_000} MB; not loaded."
        )
    _verify_image(data, url)
    with _LOCK:
        _FAILED.pop(host, None)
    try:
        atomic_write_bytes(file, data)
    except OSError:  # a read-only cache must not hide the photo
        pass
    return data


class Download:
    """One requested photo: ``done`` is called exactly once, by a download thread or, when
    ``timeout`` + 1 s pass first, by the deadline thread (see :func:`fetch_image_in_thread`).
    """

    def __init__(self, url: str, done: Callable[[bytes | None, str | None], None],
                 deadline: float) -> None:
        self.url, self.deadline = url, deadline
        self._done = done
        self._lock = threading.Lock()
        self.answered = threading.Event()

    def finish(self, data: bytes | None, message: str | None) -> None:
        with self._lock:
            if self.answered.is_set():
                return
            self.answered.set()
        self._done(data, message)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``done`` was called (True) or ``timeout`` passed (False)."""
        return self.answered.wait(timeout)


class _Downloads:
    """:data:`MAX_DOWNLOADS` daemon threads fetching queued photos, and one thread that
    answers the requests whose deadline passed. Threads: MAX_DOWNLOADS + 1, at most."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.deadlines: list[tuple[float, int, Download]] = []
        self.order = itertools.count()
        self.threads: list[threading.Thread] = []

    def submit(self, job: Download, fetch: Callable[[], bytes]) -> None:
        with self.lock:
            heapq.heappush(self.deadlines, (job.deadline, next(self.order), job))
            self.wake.notify()
            self.threads = [t for t in self.threads if t.is_alive()]
            if not any(t.name == "amumo-photo-deadline" for t in self.threads):
                self._start(self._expire, "amumo-photo-deadline")
            if sum(t.name == "amumo-photo" for t in self.threads) < MAX_DOWNLOADS:
                self._start(self._work, "amumo-photo")
        self.jobs.put((job, fetch))

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            job, fetch = self.jobs.get()
            if job.answered.is_set():  # the card already says it did not arrive: skip it
                continue
            try:
                job.finish(fetch(), None)
            except (RemoteImageError, ValueError) as err:
                job.finish(None, str(err))
            except Exception as err:  # noqa: BLE001 - reported in the card, never raised
                job.finish(None, f"could not load {redact_url(job.url)}: "
                                 f"{type(err).__name__}: {err}")

    def _expire(self) -> None:
        while True:
            with self.lock:
                while not self.deadlines or self.deadlines[0][0] > time.monotonic():
                    wait = self.deadlines[0][0] - time.monotonic() if self.deadlines else None
                    self.wake.wait(wait)
                _, _, job = heapq.heappop(self.deadlines)
            job.finish(None, f"the photo did not arrive in time ({redact_url(job.url)}); "
                             "try again later.")


_DOWNLOADS = _Downloads()


def fetch_image_in_thread(
    url: str,
    done: Callable[[bytes | None, str | None], None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cache_dir: str | os.PathLike[str] | None = None,
    allow_private: bool | None = None,
) -> Download:
    """Fetch ``url`` in a download thread and call ``done(data, None)`` or
    ``done(None, message)``.

    ``done`` is called exactly once, at the latest ``timeout`` + 1 seconds later, even
    when name resolution hangs (``urlopen``'s timeout does not cover DNS) or all
    :data:`MAX_DOWNLOADS` threads are busy: a request still queued when its requester
    was answered is dropped; a download still running goes on in the background and
    only fills the cache. No thread is started per request.
    """
    job = Download(url, done, time.monotonic() + timeout + 1.0)
    _DOWNLOADS.submit(job, lambda: fetch_image(url, timeout=timeout, cache_dir=cache_dir,
                                               allow_private=allow_private))
    return job
