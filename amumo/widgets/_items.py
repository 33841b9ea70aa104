"""Pair-level state shared by every view: which pairs are shown, their texts, hover,
selection, lazily fetched previews (meta rows and thumbnails)."""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import traitlets

from amumo.embeddings.container import Embeddings
from amumo.widgets import remote
from amumo.widgets._base import request
from amumo.widgets._encode import (
    MODALITY_COLORS,
    json_safe,
    pick_text_column,
    texts_blob,
    thumbnail,
)
from amumo.widgets._media import kind_by_name, media_kind, media_reply
from amumo.widgets._traits import Int32Array

__all__ = [
    "ItemsMixin", "check_embeddings_arg", "check_dataset", "TEXTS_LIMIT", "TEXTS_PER_REQUEST",
]

#: Pairs up to which every pair's text is sent up front (hover shows it at once); above,
#: the browser asks for the texts of the pairs it shows (hovered rows, listed selections)
#: with ``{"type": "texts", "pairs": [...]}`` requests and caches them.
TEXTS_LIMIT = 50_000
#: Most pairs one ``texts`` request may ask for (the browser asks for a handful at a time).
TEXTS_PER_REQUEST = 256
#: Answers to ``{"type": "item"}`` requests (thumbnails, meta rows) kept per widget, oldest
#: dropped first (audio clips are never kept: they can be large).
ITEM_CACHE_SIZE = 256


def check_embeddings_arg(emb: Any, argument: str = "emb") -> Embeddings:
    if not isinstance(emb, Embeddings):
        raise TypeError(
            f"{argument} is a {type(emb).__name__}; pass an amumo.Embeddings "
            "(am.Embeddings.from_arrays(...), am.datasets.clip_coco500(), am.embed(...))."
        )
    if len(emb) < 2:
        raise ValueError(f"{argument} has {len(emb)} pair; the views need at least 2 pairs.")
    return emb


def check_dataset(dataset: Any, emb: Embeddings) -> Any:
    """A dataset aligned with ``emb`` (same number of pairs), or None."""
    if dataset is None:
        return None
    for attr in ("item", "meta", "modalities"):
        if not hasattr(dataset, attr):
            raise TypeError(
                f"dataset is a {type(dataset).__name__} without .{attr}; pass an amumo.data "
                "dataset (e.g. amumo.data.SyntheticShapes) whose pair i matches row i of emb."
            )
    if len(dataset) != len(emb):
        raise ValueError(
            f"dataset has {len(dataset)} pairs but the embeddings have {len(emb)}; pass the "
            "dataset the embeddings were computed from (pair i must match row i)."
        )
    return dataset


def _text(value: Any) -> str:
    """A meta value as the text shown for its pair ("" for None / NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _kind_of(value: Any) -> str:
    try:
        from PIL import Image

        if isinstance(value, Image.Image):
            return "image"
    except ImportError:  # pragma: no cover - pillow is a dependency
        pass
    if isinstance(value, np.ndarray) and value.ndim in (2, 3):
        return "image"
    if isinstance(value, str):
        return "text"
    return "other"


class ItemsMixin(traitlets.HasTraits):
    """Traits describing the shown pairs, plus hover and selection."""

    modalities = traitlets.List(
        traitlets.Unicode(), help="Modality names in block order (read-only)."
    ).tag(sync=True)
    n_pairs = traitlets.Int(0, help="Number of pairs shown (read-only).").tag(sync=True)
    pair_ids = Int32Array(
        help="int32: original pair index of each shown pair; empty when all are shown."
    ).tag(sync=True)
    texts = traitlets.Bytes(
        b"", help="UTF-8 text of each shown pair (caption or label), U+001E separated."
    ).tag(sync=True)
    text_field = traitlets.Unicode(
        "", help="Meta column the texts come from ('' when there is none)."
    ).tag(sync=True)
    data_version = traitlets.Int(0, help="Bumped whenever the shown pairs change.").tag(sync=True)
    kinds = traitlets.Dict(
        help="Per modality: 'image', 'text' or 'other' (how previews show it)."
    ).tag(sync=True)
    media = traitlets.Dict(
        help="Per modality: True when thumbnails can be fetched (a dataset was given)."
    ).tag(sync=True)
    modality_colors = traitlets.List(
        traitlets.Unicode(), help="CSS colour of each modality."
    ).tag(sync=True)
    hovered = traitlets.Int(
        -1, help="Pair under the pointer (original index), -1 for none; set from the browser."
    ).tag(sync=True)
    hovered_cell = traitlets.Dict(
        help="Heatmap cell under the pointer: {'row': [modality, pair], 'col': [...]} or {}."
    ).tag(sync=True)
    selected = traitlets.List(
        traitlets.Int(), help="Selected pairs (original indices, sorted); debounced."
    ).tag(sync=True)
    error = traitlets.Unicode("", help="Last error of a background computation.").tag(sync=True)
    remote_images = traitlets.Bool(
        help="Show photos linked in the meta (coco_url / image_url), downloaded by the kernel "
        "when it is online (amumo.widgets.remote); default: True unless $AMUMO_REMOTE_IMAGES=0."
    ).tag(sync=True)

    @traitlets.default("remote_images")
    def _default_remote_images(self) -> bool:
        return remote.remote_images_default()

    thumbnail_size = 192
    #: Seconds a linked photo may take to download before the card says it did not load.
    remote_timeout = remote.DEFAULT_TIMEOUT
    #: Also fetch linked photos from loopback / private / link-local addresses (a local
    #: image server). None: ``$AMUMO_REMOTE_PRIVATE_HOSTS`` (off). Kernel-side only.
    remote_private_hosts: bool | None = None
    #: Synced settings the front end may not change (``update`` messages are ignored for
    #: them): switching remote photos on is the kernel's decision.
    _kernel_owned = ("remote_images",)
    _outputs = (
        "modalities", "n_pairs", "pair_ids", "texts", "text_field", "data_version", "kinds",
        "media", "modality_colors", "error",
    )

    # ------------------------------------------------------------------ setup
    def _init_items(
        self, emb: Embeddings, dataset: Any = None, text_column: str | None = None
    ) -> None:
        self._source = emb
        self._dataset = check_dataset(dataset, emb)
        self._table = self._meta_table(emb, self._dataset)
        self._text_column = pick_text_column(self._table, text_column)
        self._ids = np.arange(len(emb))
        self._base = emb
        self._emb = emb
        self._item_cache: OrderedDict[tuple[int, str | None], tuple[dict, list]] = OrderedDict()
        self._kinds, self._media = self._detect_kinds(emb, self._dataset)
        self._url_column = remote.url_column(self._table)

    @staticmethod
    def _meta_table(emb: Embeddings, dataset: Any) -> pd.DataFrame:
        table = emb.meta
        if dataset is not None:
            extra = dataset.meta
            if len(extra) == len(table):
                missing = [c for c in extra.columns if c not in table.columns]
                if missing:
                    table = pd.concat(
                        [table.reset_index(drop=True), extra[missing].reset_index(drop=True)],
                        axis=1,
                    )
        return table

    @staticmethod
    def _detect_kinds(emb: Embeddings, dataset: Any) -> tuple[dict, dict]:
        kinds: dict[str, str] = {}
        media: dict[str, bool] = {}
        for modality in emb.modalities:
            kind = "text" if modality.lower() in ("text", "caption", "captions") else (
                "image" if modality.lower() in ("image", "images", "photo") else "other"
            )
            kind = kind_by_name(modality) or kind
            has_media = False
            if dataset is not None and modality in tuple(dataset.modalities):
                try:
                    first = dataset.item(modality, 0)
                    kind = media_kind(modality, first) or _kind_of(first)
                except Exception:  # an unreadable first item must not stop the widget
                    pass
                has_media = kind in ("image", "audio", "molecule")
            kinds[modality] = kind
            media[modality] = has_media
        return kinds, media

    def _shown_meta(self) -> pd.DataFrame:
        """The meta rows of the shown pairs (the table itself when every pair is shown: no
        copy of ten million rows)."""
        ids = self._ids
        if len(ids) == len(self._table) and (len(ids) == 0 or (ids[0] == 0 and ids[-1] ==
                                                               len(ids) - 1)):
            return self._table.reset_index(drop=True) if not isinstance(
                self._table.index, pd.RangeIndex) else self._table
        return self._table.iloc[ids].reset_index(drop=True)

    def _pair_texts(self, ids: np.ndarray) -> list[Any]:
        if self._text_column is None:
            return [""] * len(ids)
        return self._table[self._text_column].iloc[ids].tolist()

    def _set_items(self) -> None:
        """Send the pair-level traits for the current shown subset (``self._ids``)."""
        ids = self._ids
        identity = len(ids) == len(self._source) and bool(np.all(ids == np.arange(len(ids))))
        self.modalities = list(self._base.modalities)
        self.n_pairs = len(ids)
        self.pair_ids = b"" if identity else ids
        # Captions of very many pairs would dominate what is sent (1M captions ~ 50 MB):
        # above TEXTS_LIMIT the browser asks for the hovered pair's text instead.
        self.texts = texts_blob(self._pair_texts(ids)) if len(ids) <= TEXTS_LIMIT else b""
        self.text_field = "" if self._text_column is None else str(self._text_column)
        self.kinds = dict(self._kinds)
        self.media = self._media_now()
        self.modality_colors = [
            MODALITY_COLORS[k % len(MODALITY_COLORS)] for k in range(len(self._base.modalities))
        ]
        self.data_version += 1

    def _remote_photo(self, modality: str) -> bool:
        """True when ``modality``'s previews come from photo links fetched by the kernel."""
        return (
            not self._media.get(modality, False)
            and self._kinds.get(modality) == "image"
            and getattr(self, "_url_column", None) is not None
            and bool(self.remote_images)
        )

    def _media_now(self) -> dict[str, bool]:
        return {m: bool(has or self._remote_photo(m)) for m, has in self._media.items()}

    @traitlets.observe("remote_images")
    def _on_remote_images(self, _change: dict) -> None:
        if hasattr(self, "_media"):
            self._item_cache.clear()
            self.media = self._media_now()

    # ------------------------------------------------------------------ validation
    @traitlets.validate("hovered")
    def _valid_hovered(self, proposal: dict) -> int:
        value = int(proposal["value"])
        n = len(self._source) if hasattr(self, "_source") else 0
        if value < -1 or (n and value >= n):
            raise traitlets.TraitError(f"hovered={value} must be -1 or a pair index below {n}.")
        return value

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict) -> list[int]:
        values = sorted({int(v) for v in proposal["value"]})
        n = len(self._source) if hasattr(self, "_source") else 0
        bad = [v for v in values if v < 0 or (n and v >= n)]
        if bad:
            raise traitlets.TraitError(
                f"selected holds {bad[:10]} outside 0..{n - 1}; pass pair indices."
            )
        return values

    # ------------------------------------------------------------------ public
    def selection(self) -> pd.DataFrame:
        """The selected pairs' meta rows as a DataFrame (column ``pair`` = pair index).

        Examples
        --------
        >>> import amumo as am
        >>> w = am.Scatter(am.datasets.clip_coco500())
        >>> w.selected = [3, 1]
        >>> w.selection()["pair"].tolist()
        [1, 3]
        """
        ids = list(self.selected)
        frame = self._table.iloc[ids].copy()
        if "pair" in frame.columns:
            if frame["pair"].tolist() == ids:
                frame = frame.drop(columns="pair")
            else:
                frame = frame.rename(columns={"pair": "pair_meta"})
        frame.insert(0, "pair", ids)
        return frame.reset_index(drop=True)

    # ------------------------------------------------------------------ messages
    @request("texts")
    def _request_texts(self, content: dict[str, Any]) -> tuple[dict, list]:
        """The texts (caption or label column) of a few pairs, for a browser that was not
        sent them all (more than :data:`TEXTS_LIMIT` pairs shown).

        ``content["pairs"]``: up to :data:`TEXTS_PER_REQUEST` original pair indices. Reply
        ``{"texts": [...]}`` in the same order ("" for a missing value or no text column).

        Examples
        --------
        >>> import amumo as am
        >>> w = am.Scatter(am.datasets.clip_coco500())
        >>> w._request_texts({"pairs": [0, 499]})[0]["texts"][1]
        'A green chair is next to a long bench.'
        """
        pairs = content.get("pairs")
        if not isinstance(pairs, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in pairs
        ):
            raise ValueError("texts request: 'pairs' must be a list of pair indices (integers).")
        if len(pairs) > TEXTS_PER_REQUEST:
            raise ValueError(
                f"texts request for {len(pairs)} pairs; ask for at most {TEXTS_PER_REQUEST} "
                "at a time."
            )
        n = len(self._source)
        bad = [p for p in pairs if not 0 <= p < n]
        if bad:
            raise ValueError(f"texts request: pairs {bad[:10]} are outside 0..{n - 1}.")
        texts = self._pair_texts(np.asarray(pairs, dtype=np.intp))
        return {"texts": [_text(t) for t in texts]}, []

    @request("item")
    def _request_item(self, content: dict[str, Any]) -> tuple[dict, list]:
        """Meta fields of a pair, or a modality's thumbnail (lazily, cached)."""
        pair = int(content["pair"])
        modality = content.get("modality")
        if not 0 <= pair < len(self._source):
            raise ValueError(f"pair {pair} is out of range.")
        key = (pair, modality)
        if key in self._item_cache:
            self._item_cache.move_to_end(key)
            return self._item_cache[key]
        if modality is None:
            row = self._table.iloc[pair]
            fields = self._shown_fields(row)
            result: tuple[dict, list] = ({"fields": fields}, [])
        elif self._remote_photo(modality):
            return self._remote_item(content, pair, modality)  # type: ignore[return-value]
        else:
            if modality not in self._media or not self._media[modality]:
                return {"error": f"no media for modality {modality!r}"}, []
            kind = self._kinds.get(modality)
            try:
                item = self._dataset.item(modality, pair)
                if kind in ("audio", "molecule"):  # WAV / SMILES (amumo.widgets._media)
                    media = media_reply(kind, item, getattr(self, "thumbnail_size", 192))
                    if kind == "audio":
                        return media  # not cached here: clips can be large; the browser keeps it
                    result = media
                else:
                    data, mime = thumbnail(item, getattr(self, "thumbnail_size", 192))
                    result = ({"mime": mime}, [data])
            except Exception as err:  # unreadable item: show the reason in the card
                return {"error": f"cannot read {modality} #{pair}: {err}"}, []
        self._item_cache[key] = result
        while len(self._item_cache) > ITEM_CACHE_SIZE:
            self._item_cache.popitem(last=False)
        return result

    # ------------------------------------------------------------------ save_html
    def _html_export_state(self) -> dict[str, Any]:
        """Extra state of a save_html page: precomputed states, meta rows, thumbnails
        (see :mod:`amumo.widgets._offline`)."""
        from amumo.widgets._offline import static_export

        return {"static_export": static_export(self)}

    # ------------------------------------------------------------------ remote photos
    def _shown_fields(self, row: pd.Series) -> dict[str, Any]:
        """A meta row as the card shows it; a photo link's user name / password hidden."""
        fields = {str(k): json_safe(v) for k, v in row.items()}
        column = getattr(self, "_url_column", None)
        if column is not None and isinstance(fields.get(str(column)), str):
            fields[str(column)] = remote.redact_url(fields[str(column)])
        return fields

    def _photo_credit(self, pair: int) -> dict[str, str]:
        """Licence line of a linked photo: {"text", "url", "source"} (empty strings if unknown)."""
        row = self._table.iloc[pair]

        def text(column: str) -> str:
            value = row.get(column) if column in row.index else None
            missing = value is None or (isinstance(value, float) and np.isnan(value))
            return "" if missing else str(value)

        return {
            "text": text("image_license"),
            "url": text("image_license_url"),
            # a link with a user name / password is refused, and never shown
            "source": remote.redact_url(text(self._url_column)) if self._url_column else "",
        }

    def _remote_item(self, content: dict[str, Any], pair: int, modality: str) -> None:
        """Answer an ``item`` request for a linked photo from a thread (returns None: the
        dispatcher sends nothing; the reply follows when the download ends or times out)."""
        request_id = content.get("id")
        credit = self._photo_credit(pair)
        try:
            url = remote.check_url(self._table[self._url_column].iloc[pair])
        except ValueError as err:
            self._reply(request_id, {"error": str(err), "credit": credit})
            return None
        size = getattr(self, "thumbnail_size", 192)
        timeout = float(getattr(self, "remote_timeout", remote.DEFAULT_TIMEOUT))

        def done(data: bytes | None, message: str | None) -> None:
            if data is None:
                self._reply(request_id, {"error": f"photo not loaded: {message}", "credit": credit})
                return
            try:
                thumb, mime = thumbnail(io.BytesIO(data), size)
            except Exception as err:  # noqa: BLE001 - shown in the card
                self._reply(request_id, {"error": f"photo not readable: {err}", "credit": credit})
                return
            # Not put in _item_cache from this thread (the photo is cached on disk; the
            # browser keeps the thumbnail): no race with the kernel thread's cache use.
            self._reply(request_id, {"mime": mime, "credit": credit}, [thumb])

        remote.fetch_image_in_thread(url, done, timeout=timeout,
                                     allow_private=getattr(self, "remote_private_hosts", None))
        return None
