"""Progress and cancellation hooks for long analysis jobs (widgets pass them in).

A job calls :meth:`Hook.step` between blocks of work: it reports the fraction
done to ``progress(fraction)`` and raises :class:`Cancelled` as soon as
``should_stop()`` returns True, so a newer request can supersede an older one
without waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Cancelled", "Hook"]


class Cancelled(RuntimeError):
    """Raised inside a job whose ``should_stop()`` returned True."""


class Hook:
    """Calls ``progress(fraction)`` and checks ``should_stop()`` between blocks of work.

    Examples
    --------
    >>> seen = []
    >>> hook = Hook(progress=seen.append)
    >>> hook.step(0.5)
    >>> hook.step(1.0)
    >>> seen
    [0.5, 1.0]
    >>> Hook(should_stop=lambda: True).step(0.1)
    Traceback (most recent call last):
    ...
    amumo.analysis._progress.Cancelled: stopped by should_stop() at 10%
    """

    def __init__(
        self,
        progress: Callable[[float], object] | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        start: float = 0.0,
        span: float = 1.0,
    ) -> None:
        for value, name in ((progress, "progress"), (should_stop, "should_stop")):
            if value is not None and not callable(value):
                raise TypeError(f"{name}={value!r} must be a callable or None.")
        self.progress = progress
        self.should_stop = should_stop
        self.start = float(start)
        self.span = float(span)

    def sub(self, start: float, span: float) -> Hook:
        """A hook for a part of the job: its 0..1 maps to ``start .. start + span`` of this one."""
        return Hook(self.progress, self.should_stop, start=self.start + self.span * start,
                    span=self.span * span)

    def step(self, fraction: float) -> None:
        """Report ``fraction`` (0..1) of this part done; raise Cancelled if asked to stop."""
        done = self.start + self.span * min(1.0, max(0.0, float(fraction)))
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped by should_stop() at {done:.0%}")
        if self.progress is not None:
            self.progress(done)
