"""Pair-level requests of every view (amumo.widgets._items): the ``item`` and ``texts``
requests serve the captions the browser was not sent (above ``TEXTS_LIMIT``)."""

from __future__ import annotations

import numpy as np
import pytest
from _pairs import synthetic

import amumo as am
from amumo.widgets import Scatter
from amumo.widgets._items import TEXTS_LIMIT, TEXTS_PER_REQUEST


def test_item_request_serves_the_caption_the_browser_did_not_get():
    w = Scatter(synthetic(TEXTS_LIMIT + 1, d=8))
    reply, buffers = w._request_item({"pair": 12345})
    assert reply["fields"]["caption"] == "scene 12345" and buffers == []


def test_texts_request_serves_a_few_captions_and_rejects_bad_requests():
    """Issue 21 item 2: above TEXTS_LIMIT the browser asks for the texts it shows."""
    w = Scatter(synthetic(TEXTS_LIMIT + 1, d=8))
    reply, buffers = w._request_texts({"pairs": [TEXTS_LIMIT, 7, 7]})
    assert reply == {"texts": [f"scene {TEXTS_LIMIT}", "scene 7", "scene 7"]} and buffers == []
    assert w._request_texts({"pairs": []})[0] == {"texts": []}
    with pytest.raises(ValueError, match="at most 256"):
        w._request_texts({"pairs": list(range(TEXTS_PER_REQUEST + 1))})
    with pytest.raises(ValueError, match=r"outside 0\.\.50000"):
        w._request_texts({"pairs": [TEXTS_LIMIT + 1]})
    for bad in ("3", [1.5], [True], None):
        with pytest.raises(ValueError, match="list of pair indices"):
            w._request_texts({"pairs": bad})
    # Through the message dispatcher, as the browser sends it: a reply with the texts, or
    # the error (the comm survives).
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._dispatch(w, {"type": "texts", "pairs": [3], "id": "a"}, [])
    w._dispatch(w, {"type": "texts", "pairs": [-1], "id": "b"}, [])
    assert sent[0] == {"type": "reply", "id": "a", "texts": ["scene 3"]}
    assert "outside" in sent[1]["error"]


def test_texts_request_without_a_text_column_gives_empty_texts():
    rng = np.random.default_rng(0)
    emb = am.Embeddings.from_arrays(
        {"image": rng.normal(size=(5, 4)), "text": rng.normal(size=(5, 4))},
        meta={"score": np.arange(5.0)},
    )
    w = Scatter(emb)
    assert w.text_field == "" and w._request_texts({"pairs": [0, 4]})[0] == {"texts": ["", ""]}
