"""Progress and cancellation hooks for long analysis jobs (widgets pass them in).

A job calls :meth:`Hook.step` between blocks of work: it reports the fraction
done to ``progress(fraction)`` and raises :class:`Cancelled` as soon as
``should_stop()`` returns True, so a newer request can supersede an older one
without waiting for it.
"""

from __future__ import annotations

import threading
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
        describe: Callable[[str], object] | None = None,
    ) -> None:
        for value, name in ((progress, "progress"), (should_stop, "should_stop"),
                            (describe, "describe")):
            if value is not None and not callable(value):
                raise TypeError(f"{name}={value!r} must be a callable or None.")
        self.progress = progress
        self.should_stop = should_stop
        self.describe = describe
        self.start = float(start)
        self.span = float(span)

    def sub(self, start: float, span: float) -> Hook:
        """A hook for a part of the job: its 0..1 maps to ``start .. start + span`` of this one."""
        return Hook(self.progress, self.should_stop, start=self.start + self.span * start,
                    span=self.span * span, describe=self.describe)

    def note(self, text: str) -> None:
        """Say what the job is doing now (e.g. ``"UMAP epoch 40 of 200"``) to ``describe``;
        raise Cancelled if asked to stop.

        >>> seen = []
        >>> Hook(describe=seen.append).note("UMAP epoch 1 of 200")
        >>> seen
        ['UMAP epoch 1 of 200']
        """
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped by should_stop() while: {text}")
        if self.describe is not None:
            self.describe(text)

    def split(self, count: int) -> list[Hook]:
        """``count`` hooks for parts of the job that run *at the same time* (threads): the
        progress reported is the mean of the parts' fractions, so it never jumps back.

        >>> seen = []
        >>> a, b = Hook(progress=seen.append).split(2)
        >>> a.step(1.0); b.step(0.5)
        >>> seen
        [0.5, 0.75]
        """
        fractions = [0.0] * int(count)
        lock = threading.Lock()
        parent = self

        def part(index: int) -> Hook:
            def report(fraction: float) -> None:
                with lock:
                    fractions[index] = fraction
                    mean = sum(fractions) / len(fractions)
                if parent.progress is not None:
                    parent.progress(parent.start + parent.span * mean)

            return Hook(report if self.progress is not None else None, self.should_stop,
                        describe=self.describe)

        return [part(i) for i in range(int(count))]

    def step(self, fraction: float) -> None:
        """Report ``fraction`` (0..1) of this part done; raise Cancelled if asked to stop."""
        done = self.start + self.span * min(1.0, max(0.0, float(fraction)))
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped by should_stop() at {done:.0%}")
        if self.progress is not None:
            self.progress(done)
