"""AmumoWidget (amumo.widgets._base): front-end messages reach only the ``@request``
handlers and get brief replies; background jobs supersede instead of queueing."""

from __future__ import annotations

import json
import threading
import time

import pytest

import amumo as am
from amumo.widgets import Scatter
from amumo.widgets._base import JobCancelled


@pytest.fixture(scope="module")
def small():
    return am.datasets.clip_coco500().subset(range(6))


# ---------------------------------------------------------------- front-end requests


def test_only_listed_front_end_requests_are_dispatched(small):
    ex = am.Explorer(small)
    replies = []
    ex.send = lambda content, buffers=None: replies.append(content)
    calls = []
    ex.observe(lambda change: calls.append(change), names=["filter_text"])
    before = dict(ex.metrics)
    for kind in ("filter", "gap", "source", "cluster_traits", "scale_traits", "__class__"):
        ex._dispatch(ex, {"type": kind, "id": kind}, [])
    assert [r["id"] for r in replies] == ["filter", "gap", "source", "cluster_traits",
                                          "scale_traits", "__class__"]
    assert all(r["error"].startswith("unknown request") for r in replies)
    assert "'cell'" in replies[0]["error"] and "TypeError" not in replies[0]["error"]
    assert ex.metrics == before and not calls
    replies.clear()
    ex._dispatch(ex, {"type": "cell", "r": 0, "c": 0, "id": 1}, [])
    assert replies == [{"type": "reply", "id": 1, "value": 1.0}]
    comparer = am.Comparer({"a": small, "b": small})
    assert {"window", "cell", "item"} <= comparer._request_types()


@pytest.mark.parametrize(
    ("content", "reply"),
    [
        ({"type": ["item"], "id": 3}, r"^unknown request \('type' must be a short string "
                                      r"naming the request, got a list\); Explorer serves "),
        ({"type": {"a": 1}, "id": 3}, r"got a dict\)"),
        ({"id": 3, "pair": 1}, r"^unknown request \(the message has no 'type'\)"),
        ({"type": "x" * 50_000_000, "id": 3}, r"got a str of 50,000,000 characters\)"),
        ({"type": "item", "id": 3, "pair": 0, "modality": "m" * 10_000_000},
         r"^no media for modality 'mmm.*… \(cut\)$"),
        ({"type": "item", "id": 3, "pair": "9" * 1_000_000}, r"^ValueError: .*"),
    ],
    ids=["unhashable list", "unhashable dict", "no type", "50 MB type", "10 MB modality",
         "1 MB pair"],
)
def test_malformed_front_end_messages_get_a_brief_reply_and_change_nothing(small, content,
                                                                           reply):
    import re

    ex = am.Explorer(small)
    replies = []
    ex.send = lambda msg, buffers=None: replies.append(msg)
    before = (dict(ex.metrics), ex.hovered, list(ex.selected))
    ex._dispatch(ex, content, [])
    assert len(replies) == 1 and replies[0]["id"] == 3 and replies[0]["type"] == "reply"
    assert re.search(reply, replies[0]["error"]), replies[0]["error"]
    assert len(json.dumps(replies[0])) < 600  # brief: nothing echoed back whole
    assert (dict(ex.metrics), ex.hovered, list(ex.selected)) == before
    replies.clear()
    ex._dispatch(ex, {"type": "item", "id": "x" * 10_000, "pair": 0}, [])  # an id too long
    ex._dispatch(ex, {"type": ["item"]}, [])  # no id: nothing to answer
    assert replies == []


# ---------------------------------------------------------------- background jobs
def test_jobs_supersede_instead_of_queueing_and_show_busy():
    w = Scatter(am.datasets.clip_coco500())
    started: list[int] = []
    results: list[int] = []
    release = threading.Event()

    def job(k):
        def compute(cancelled):
            started.append(k)
            for _ in range(200):
                if cancelled():
                    raise JobCancelled
                if k > 0 or release.is_set():
                    return k
                time.sleep(0.005)
            return k

        return compute

    for k in range(6):  # six quick clicks while the first one runs
        w._run_job("work", job(k), results.append, status=("busy", {"scatter": "busy"}),
                   cancellable=True)
        assert w.busy == {"scatter": "busy"}
    release.set()
    w.wait()
    assert started == [0, 5]  # the running one (stopped early) and the newest, not six
    assert results == [5]
    assert w.busy == {}


def test_failed_newest_job_reports_and_clears_busy():
    w = Scatter(am.datasets.clip_coco500())
    errors: list[str] = []

    def boom():
        raise ValueError("no")

    w._run_job("work", boom, lambda r: None, status=("busy", {"scatter": "busy"}),
               error=lambda e: errors.append(str(e)))
    w.wait()
    assert errors == ["no"] and w.busy == {}


# ---------------------------------------------------------------- sharing the cores


def _blas_threads_now() -> int:
    import threadpoolctl

    infos = threadpoolctl.threadpool_info()
    blas = [info["num_threads"] for info in infos if info.get("user_api") == "blas"]
    if not blas:
        pytest.skip("no BLAS library that threadpoolctl can see")
    return max(blas)


def test_blas_limit_holds_until_the_last_overlapping_block_ends():
    """The Explorer's constructor leaves its one-thread block while the pass it started
    is still inside its own: the pass must keep one BLAS thread (it ran two-thread
    products in two threads on two cores, twice the CPU)."""
    import threadpoolctl

    from amumo.widgets._base import blas_threads

    original = _blas_threads_now()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if _blas_threads_now() != 2:
            pytest.skip("this BLAS does not take a thread limit of 2")
        inside, leave, seen = threading.Event(), threading.Event(), []

        def job():
            with blas_threads():
                inside.set()
                leave.wait(10)
                seen.append(_blas_threads_now())

        with blas_threads():
            assert _blas_threads_now() == 1
            worker = threading.Thread(target=job)
            worker.start()
            assert inside.wait(10)
        assert _blas_threads_now() == 1  # the constructor left; the job has not
        leave.set()
        worker.join(10)
        assert seen == [1]
        # OpenBLAS takes a raise from the main thread only: the next main block restores
        with blas_threads():
            assert _blas_threads_now() == 1
        assert _blas_threads_now() == 2  # the limit found before the first block
    assert _blas_threads_now() == original


@pytest.mark.skipif(not hasattr(__import__("os"), "getpriority"), reason="no getpriority")
def test_background_jobs_run_below_the_kernel_priority():
    import os
    import sys

    from amumo._util import JOB_NICE

    if not sys.platform.startswith("linux") or JOB_NICE <= 0:
        pytest.skip("thread priorities are lowered on Linux only (AMUMO_JOB_NICE > 0)")
    w = Scatter(am.datasets.clip_coco500())
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []
    w._run_job("work", lambda: seen.append(os.getpriority(os.PRIO_PROCESS,
                                                          threading.get_native_id())),
               lambda r: None)
    w.wait()
    assert seen == [min(19, main + JOB_NICE)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main
