"""Shared machinery of amumo's anywidgets: strict keyword arguments, custom-message
dispatch, background jobs and the size of what is sent to the browser.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from amumo._util import lower_thread_priority
from amumo.widgets.export import HTMLExportMixin

__all__ = [
    "AmumoWidget", "JobCancelled", "STATIC", "state_size", "blas_threads", "one_blas_thread",
    "request",
]

STATIC = Path(__file__).resolve().parent.parent / "static"

#: Below this many pairs, background jobs run synchronously (results are instant anyway,
#: and tests and notebooks see final values without waiting).
SYNC_LIMIT = 1000


class JobCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a cancellable job's ``compute(cancelled)`` once ``cancelled()`` is True."""


#: BLAS threads used by widget computations. One: the updates are small matrix products
#: run while a browser, a Jupyter server and the kernel share the cores, where OpenBLAS's
#: spinning threads made a 200 x 512 SVD take 3 s instead of 30 ms (2-core machine).
BLAS_THREADS = 1
_CONTROLLER: Any = None
_BLAS_LOCK = threading.Lock()
#: [blocks inside blas_threads() now, the limits to restore when the last one ends]
_BLAS_HELD: list[Any] = [0, None]


@contextlib.contextmanager
def blas_threads(limit: int | None = None) -> Iterator[None]:
    """Limit BLAS threads (default :data:`BLAS_THREADS`) while any thread is in such a block.

    The limit is process-wide (OpenBLAS has one pool), so blocks are counted across
    threads: the first one to enter sets it, and it is restored once none is left. A
    plain nested ``threadpoolctl`` limit restored the original as soon as *its* block
    ended: the Explorer's constructor left its block while the ten-million-pair pass it
    had started was running, and the pass's two threads then ran two-thread BLAS
    products each on two cores, spinning (twice the CPU: 58 s instead of 30 s).

    OpenBLAS ignores a raise of its thread count asked from any thread but the main
    one, so when a background job's block is the last to end, the original limit comes
    back when a block of the main thread (the next widget update) ends.
    """
    global _CONTROLLER
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        yield
        return
    with _BLAS_LOCK:
        if _CONTROLLER is None:
            _CONTROLLER = threadpoolctl.ThreadpoolController()
        if _BLAS_HELD[0] == 0:
            main = threading.current_thread() is threading.main_thread()
            if _BLAS_HELD[1] is not None and main:  # a restore left to the main thread
                _BLAS_HELD[1].restore_original_limits()
                _BLAS_HELD[1] = None
            limiter = _CONTROLLER.limit(limits=limit or BLAS_THREADS, user_api="blas")
            if _BLAS_HELD[1] is None:  # else the pending one knows the original limits
                _BLAS_HELD[1] = limiter
        _BLAS_HELD[0] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_HELD[0] -= 1
            main = threading.current_thread() is threading.main_thread()
            if _BLAS_HELD[0] == 0 and main and _BLAS_HELD[1] is not None:
                _BLAS_HELD[1].restore_original_limits()
                _BLAS_HELD[1] = None


def one_blas_thread(fn: Callable) -> Callable:
    """Decorator: run ``fn`` under :func:`blas_threads`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with blas_threads():
            return fn(*args, **kwargs)

    return wrapper


def request(kind: str) -> Callable[[Callable], Callable]:
    """Mark a method as the handler of front-end requests ``{"type": kind, ...}``.

    Handlers are named ``_request_<kind>`` by convention (trait observers are
    ``_on_<trait>``), take the message ``content`` and return ``(reply, buffers)``
    or None when they reply later themselves. Only marked methods are reachable
    from the front end: a message can never call an observer or any other method.

    Examples
    --------
    >>> class W(AmumoWidget):
    ...     @request("ping")
    ...     def _request_ping(self, content):
    ...         return {"pong": content.get("n", 0)}, []
    >>> sorted(W._request_types())
    ['ping']
    """
    if not isinstance(kind, str) or not kind.isidentifier():
        raise ValueError(f"request kind {kind!r} must be an identifier such as 'item'.")

    def mark(method: Callable) -> Callable:
        method._amumo_request = kind  # type: ignore[attr-defined]
        return method

    return mark


@functools.cache
def _handlers_of(cls: type) -> tuple[tuple[str, str], ...]:
    """The marked request handlers of ``cls`` and its bases, found once per class."""
    handlers: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for name, member in vars(klass).items():
            kind = getattr(member, "_amumo_request", None)
            if isinstance(kind, str):
                handlers[kind] = name
    return tuple(handlers.items())


def _json_size(value: Any) -> int:
    return len(json.dumps(value, default=str, separators=(",", ":")).encode())


def _split_buffers(value: Any) -> tuple[int, int]:
    """(binary bytes, json bytes) of one trait value, looking inside lists and dicts."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value) if not isinstance(value, memoryview) else value.nbytes, 0
    if isinstance(value, (list, tuple)):
        parts = [_split_buffers(v) for v in value]
        return sum(p[0] for p in parts), sum(p[1] for p in parts) + 2
    if isinstance(value, dict):
        parts = [_split_buffers(v) for v in value.values()]
        keys = sum(len(str(k)) + 4 for k in value)
        return sum(p[0] for p in parts), sum(p[1] for p in parts) + keys
    return 0, _json_size(value)


def state_size(widget: anywidget.AnyWidget) -> dict[str, int]:
    """Bytes of the widget's full state as sent to the browser when it is displayed.

    Returns a dict with ``binary`` (buffers), ``json`` (the rest, including the
    ``_esm``/``_css`` source), ``total`` and ``per_trait`` (largest first).

    Examples
    --------
    >>> import amumo as am
    >>> w = am.Heatmap(am.datasets.clip_coco500())
    >>> state_size(w)["total"] < 2_000_000
    True
    """
    state = widget.get_state()
    per: dict[str, int] = {}
    binary = text = 0
    for name, value in state.items():
        b, j = _split_buffers(value)
        binary += b
        text += j
        per[name] = b + j
    return {
        "binary": binary,
        "json": text,
        "total": binary + text,
        "per_trait": dict(sorted(per.items(), key=lambda kv: -kv[1])),
    }


#: Longest request ``type`` / ``id`` string accepted from the front end, and longest error
#: text sent back (a reply never echoes a 50 MB message).
MAX_REQUEST_NAME = 64
MAX_ERROR_TEXT = 300


def _brief(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "… (cut)"


def _answerable(request_id: Any) -> bool:
    """Whether ``request_id`` is an id the page could have sent (an int or a short str)."""
    if isinstance(request_id, bool) or request_id is None:
        return False
    return isinstance(request_id, int) or (
        isinstance(request_id, str) and len(request_id) <= MAX_REQUEST_NAME
    )


def malformed_request(content: dict[str, Any]) -> str | None:
    """Why a front-end custom message cannot be a request (None when it can).

    >>> malformed_request({"type": ["item"], "id": 1})
    "'type' must be a short string naming the request, got a list"
    >>> malformed_request({"type": "item", "id": 1}) is None
    True
    """
    if "type" not in content:
        return "the message has no 'type'"
    kind = content["type"]
    if not isinstance(kind, str) or not kind or len(kind) > MAX_REQUEST_NAME:
        got = (f"a str of {len(kind):,} characters" if isinstance(kind, str)
               else f"a {type(kind).__name__}")
        return f"'type' must be a short string naming the request, got {got}"
    return None


class AmumoWidget(HTMLExportMixin, anywidget.AnyWidget):
    """Base class: rejects misspelled keyword arguments, routes custom messages by
    ``type`` to the methods marked :func:`request` (``_request_<type>``), and runs slow
    work in background jobs.

    Subclasses set ``_esm`` to a file in :data:`STATIC`.
    """

    _css = STATIC / "amumo.css"

    #: Set by subclasses: extra constructor keywords that are not traits.
    _extra_kwargs: tuple[str, ...] = ()
    busy = traitlets.Dict(
        help="What each view waits for while a background job runs, e.g. "
        "{'metrics': 'computing…'}; empty when idle (read-only)."
    ).tag(sync=True)
    _outputs = ("busy",)

    def __init__(self, **kwargs: Any) -> None:
        self._check_kwargs(kwargs)
        self._jobs: dict[str, threading.Thread] = {}
        self._job_generation: dict[str, int] = {}
        self._job_lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._running: set[str] = set()
        self._pending: dict[str, Callable[[], None]] = {}
        self._job_status: dict[str, tuple[str, Any]] = {}
        self.threaded = True
        super().__init__(**kwargs)
        self.on_msg(self._dispatch)

    # ------------------------------------------------------------------ kwargs
    @classmethod
    def _public_traits(cls) -> list[str]:
        return sorted(
            name
            for name, trait in cls.class_traits().items()
            if not name.startswith("_") and trait.metadata.get("sync")
        )

    @classmethod
    def _output_traits(cls) -> set[str]:
        names: set[str] = set()
        for klass in cls.__mro__:
            names |= set(getattr(klass, "_outputs", ()))
        return names

    @classmethod
    def _kernel_traits(cls) -> set[str]:
        """Synced traits only the kernel sets: the outputs and the ``_kernel_owned`` settings."""
        names = cls._output_traits()
        for klass in cls.__mro__:
            names |= set(getattr(klass, "_kernel_owned", ()))
        return names

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state ``update`` from the front end, except for kernel-owned traits.

        The browser may set inputs (hover, selection, sliders); it may not write what the
        kernel computes (``n_pairs``, ``texts``, ``error``...) nor switch on what the
        kernel switched off (``remote_images``): such keys are dropped and the kernel's
        values sent back, so the page shows the truth again.
        """
        refused = self._kernel_traits() & set(sync_data)
        if refused:
            sync_data = {k: v for k, v in sync_data.items() if k not in refused}
        if sync_data:
            super().set_state(sync_data)
        if refused and getattr(self, "comm", None) is not None:
            self.send_state(sorted(refused))

    def _check_kwargs(self, kwargs: dict[str, Any]) -> None:
        allowed = set(self._public_traits()) - self._output_traits()
        allowed |= set(self._extra_kwargs) | {"layout"}
        allowed -= {"tabbable", "tooltip", "comm", "keys", "log"}
        for key in kwargs:
            if key in self._output_traits():
                raise TypeError(
                    f"{type(self).__name__}() got {key!r}, which is computed by the widget "
                    "(read-only); leave it out."
                )
        for key in kwargs:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{type(self).__name__}() got an unexpected keyword argument {key!r}.{hint} "
                    f"Valid options: {', '.join(sorted(allowed - {'layout'}))}."
                )

    # ------------------------------------------------------------------ messages
    @classmethod
    def _request_handlers(cls) -> dict[str, str]:
        """``{kind: method name}`` of every method marked :func:`request` (subclass wins)."""
        return dict(_handlers_of(cls))

    @classmethod
    def _request_types(cls) -> set[str]:
        """The request kinds this widget serves."""
        return set(cls._request_handlers())

    def _dispatch(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            return
        handlers = self._request_handlers()
        allowed = set(handlers)
        problem = malformed_request(content)
        if problem is not None:  # answered briefly, nothing changed, nothing echoed whole
            self._reply(content.get("id"), {"error": f"unknown request ({problem}); "
                                                     f"{type(self).__name__} serves "
                                                     f"{sorted(allowed)}"})
            return
        kind = content["type"]
        request_id = content.get("id")
        # Only methods marked @request, never getattr on any name: {"type": "filter"} must
        # not run the `_on_filter` trait observer.
        name = handlers.get(kind) if isinstance(kind, str) else None
        handler = getattr(self, name, None) if name is not None else None
        if handler is None:
            self._reply(
                request_id,
                {"error": f"unknown request {kind!r}; {type(self).__name__} serves "
                          f"{sorted(allowed)}"},
            )
            return
        try:
            with blas_threads():
                answer = handler(content)
        except Exception as err:  # a bad request must not kill the comm; report it (briefly)
            self._reply(request_id, {"error": f"{type(err).__name__}: {err}"})
            return
        if answer is None:  # the handler replies later itself (e.g. a download in a thread)
            return
        reply, out_buffers = answer
        self._reply(request_id, reply, out_buffers)

    def _reply(
        self, request_id: Any, content: dict[str, Any], buffers: list[bytes] | None = None
    ) -> None:
        if not _answerable(request_id):  # no id, or one the page never sends (huge, a list...)
            return
        if isinstance(content.get("error"), str):  # may quote the request: never whole
            content = {**content, "error": _brief(content["error"])}
        self.send({"type": "reply", "id": request_id, **content}, buffers or None)

    # ------------------------------------------------------------------ jobs
    def _run_job(
        self,
        name: str,
        compute: Callable[..., Any],
        done: Callable[[Any], None],
        *,
        status: tuple[str, Any] | None = None,
        background: bool = True,
        error: Callable[[BaseException], None] | None = None,
        cancellable: bool = False,
    ) -> None:
        """Run ``compute()`` (in a thread when ``background``), then ``done(result)``.

        A newer job of the same ``name`` supersedes an older one: the older result is
        dropped, and at most one job per name runs at a time. A request made while one
        runs waits as the *pending* one, replacing any earlier pending request, so ten
        quick clicks cost at most two computations, never ten. With ``cancellable``,
        ``compute(cancelled)`` receives a function returning True once the job is
        superseded; it may stop early (raise :class:`JobCancelled`).

        ``status=(trait, text)`` shows ``text`` in that trait while the job is queued or
        runs (cleared when the newest job has finished, after ``done``). For a Dict
        trait such as ``busy``, ``text`` is a dict of keys to set and later remove.
        """
        with self._job_lock:
            generation = self._job_generation.get(name, 0) + 1
            self._job_generation[name] = generation

        def current() -> bool:
            return self._job_generation.get(name) == generation

        def cancelled() -> bool:
            return not current()

        def finish(result: Any = None, exc: BaseException | None = None) -> None:
            if not current():
                return
            try:
                if exc is not None:
                    if error is None:
                        raise exc
                    error(exc)
                else:
                    done(result)
            finally:
                if status and current():
                    self._set_status(status, False)
                    self._job_status.pop(name, None)

        call = one_blas_thread((lambda: compute(cancelled)) if cancellable else compute)
        if not (background and self.threaded):
            try:
                result = call()
            except JobCancelled:
                return
            except Exception as exc:
                if error is None:
                    raise
                finish(exc=exc)  # shown in the widget (e.g. the `error` trait)
                return
            finish(result)
            return
        if status:
            self._set_status(status, True)
            self._job_status[name] = status

        def target() -> None:
            lower_thread_priority()  # the message loop and the browser first (_util)
            try:
                if current():  # a superseded pending job never starts
                    try:
                        result = call()
                    except JobCancelled:
                        pass
                    except Exception as exc:  # reported through `error` (a trait)
                        if current():  # else superseded: e.g. analysis' own Cancelled
                            traceback.print_exc()
                            finish(exc=exc)
                    else:
                        finish(result)
            finally:
                self._next_job(name)

        with self._job_lock:
            if name in self._running:
                self._pending[name] = target  # replaces an older request still waiting
                return
            self._running.add(name)
            self._start_thread(name, target)

    def _cancel_job(self, name: str) -> bool:
        """Supersede the running or waiting job ``name`` without starting another.

        A cancellable job stops at its next check (:class:`JobCancelled`), any job's
        result is dropped, and its busy sign goes away now. Returns True when a job of
        that name was running or waiting.
        """
        with self._job_lock:
            active = name in self._running or name in self._pending
            self._job_generation[name] = self._job_generation.get(name, 0) + 1
            self._pending.pop(name, None)
            status = self._job_status.pop(name, None)
        if status is not None:
            self._set_status(status, False)
        return active

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"amumo-{name}", daemon=True)
        self._jobs[name] = thread
        thread.start()

    def _next_job(self, name: str) -> None:
        """A job of ``name`` ended: start the pending one, if any."""
        with self._job_lock:
            target = self._pending.pop(name, None)
            if target is None:
                self._running.discard(name)
            else:
                self._start_thread(name, target)

    def _set_status(self, status: tuple[str, Any], on: bool) -> None:
        trait, text = status
        with self._status_lock:
            value = getattr(self, trait)
            if isinstance(value, dict):
                keys = dict(text)
                new = {**value, **keys} if on else {
                    k: v for k, v in value.items() if k not in keys
                }
                setattr(self, trait, new)
            else:
                setattr(self, trait, text if on else "")

    def wait(self, timeout: float | None = 120.0) -> None:
        """Block until background computations (UMAP, t-SNE, clustering, metrics) finish.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for each running job (``None``: forever).

        Raises
        ------
        TimeoutError
            If a job is still running after ``timeout``.
        """
        while True:
            with self._job_lock:
                running = [(n, self._jobs[n]) for n in self._running if n in self._jobs]
            if not running:
                return
            for name, thread in running:
                thread.join(timeout)
                if thread.is_alive():
                    raise TimeoutError(
                        f"background job {name!r} still running after {timeout} s."
                    )
            with self._job_lock:  # a pending job may have started when one ended
                if all(self._jobs.get(n) is t for n, t in running) and not any(
                    self._jobs[n].is_alive() for n, _ in running
                ):
                    self._running.difference_update(n for n, _ in running)

    def state_size(self) -> dict[str, int]:
        """Bytes sent to the browser for the current state (see :func:`state_size`)."""
        return state_size(self)

