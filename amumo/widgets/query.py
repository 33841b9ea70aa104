"""Asking the Explorer a question: a typed text, an image or "more like this pair".

The query is encoded by the encoder the Explorer already holds (the one that made the
embeddings, see ``Explorer(..., encoder=)``), moved by the map the view applies to its
modality (closed gap, λ shift or a remedy, :mod:`amumo.analysis.row_map`), searched in
every modality (:mod:`amumo.analysis.search`: exact top-k, one blocked ``N × D`` product
per modality) and placed in the current projection with that projection's own
out-of-sample placement (:func:`amumo.analysis.projection.place_rows`). The result goes
to the browser as the small ``query_result`` dict (the marker, the nearest region of
each other modality, the top-k lists), never as arrays.

When the view changes (gap closed, λ, remedy, filter, projection, axes), the query is
searched and placed again, so its neighbours follow: a caption typed into CLIP's text
cone finds its images only as the gap closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import traitlets

from amumo.analysis.projection import place_rows
from amumo.analysis.row_map import RowMap
from amumo.analysis.search import check_query, search
from amumo.widgets._base import SYNC_LIMIT, JobCancelled, request

__all__ = ["QueryMixin", "QUERY_K_MAX", "NO_ENCODER"]

#: Most neighbours listed per modality.
QUERY_K_MAX = 100
#: What the query box says without an encoder.
NO_ENCODER = (
    "Typed questions need the model's encoder: am.Explorer(emb, dataset=ds, encoder=enc) "
    "(the encoder that made emb). ex.query(like=pair) works without one."
)
#: Longest query text shown in the marker's label.
LABEL_LIMIT = 60


class QueryMixin(traitlets.HasTraits):
    """Traits, Python API and front-end requests of the Explorer's query box."""

    query_k = traitlets.Int(10, help="Neighbours listed per modality for a query.").tag(
        sync=True
    )
    query_info = traitlets.Dict(
        help="What the query box may do: {'enabled', 'reason', 'text_modality', "
        "'image_modality'} (read-only)."
    ).tag(sync=True)
    query_result = traitlets.Dict(
        help="The last query: {'label', 'kind', 'modality', 'point', 'regions', 'results', "
        "'note', ...}; {} for none (read-only)."
    ).tag(sync=True)

    _outputs = ("query_info", "query_result")

    @traitlets.validate("query_k")
    def _valid_query_k(self, proposal: dict) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= QUERY_K_MAX:
            raise traitlets.TraitError(f"query_k={value} must be between 1 and {QUERY_K_MAX}.")
        return value

    # ------------------------------------------------------------------ encoder
    def _query_encoder(self) -> Any:
        """The encoder of the shown model (the one encoder of a one-model Explorer, whatever
        its name), or None."""
        encoders = getattr(self, "_encoders", {}) or {}
        found = encoders.get(getattr(self, "_current_model", None))
        if found is None and len(encoders) == 1 and len(getattr(self, "_models", {})) == 1:
            found = next(iter(encoders.values()))
        return found

    def _modality_of_kind(self, kind: str) -> str | None:
        """The first shown modality of ``kind`` ("text", "image") the encoder can encode."""
        encoder = self._query_encoder()
        can = tuple(getattr(encoder, "modalities", ())) if encoder is not None else ()
        for modality in self._base.modalities:
            if self._kinds.get(modality) == kind and (not can or modality in can):
                return modality
        return None

    def _update_query_info(self) -> None:
        encoder = self._query_encoder()
        text = self._modality_of_kind("text") if encoder is not None else None
        image = self._modality_of_kind("image") if encoder is not None else None
        if encoder is None:
            reason = NO_ENCODER
        elif text is None:
            reason = (f"the encoder {getattr(encoder, 'name', '')!r} encodes no text modality "
                      "of these pairs; ex.query(image=...) or ex.query(like=pair).")
        else:
            reason = ""
        self.query_info = {
            "enabled": text is not None,
            "reason": reason,
            "text_modality": text or "",
            "image_modality": image or "",
            "encoder": str(getattr(encoder, "name", "")) if encoder is not None else "",
        }

    def _encode_query(self, kind: str, value: Any, modality: str | None) -> tuple[str, np.ndarray]:
        """Encode a text or an image with the shown model's encoder: (modality, unit row)."""
        encoder = self._query_encoder()
        if encoder is None:
            raise ValueError(f"ex.query({kind}=...) cannot encode: {NO_ENCODER}")
        if modality is None:
            modality = self._modality_of_kind(kind)
            if modality is None:
                raise ValueError(
                    f"none of the modalities {list(self._base.modalities)} is a {kind} "
                    f"modality that {getattr(encoder, 'name', 'the encoder')!r} encodes; "
                    "pass modality= to say which one the query belongs to."
                )
        elif modality not in self._base.modalities:
            raise ValueError(
                f"modality={modality!r} is not one of {list(self._base.modalities)}."
            )
        if kind == "image":
            value = _load_image(value)
        rows = np.asarray(encoder.encode(modality, [value]))
        if rows.ndim != 2 or rows.shape[0] != 1:
            raise ValueError(
                f"{getattr(encoder, 'name', 'the encoder')!r} returned shape {rows.shape} for "
                "one query; an encoder returns one row per item."
            )
        try:
            row = check_query(rows[0], self._base.dim, f"the encoded {kind}")
        except ValueError as err:
            raise ValueError(
                f"{err} (the encoder gives {rows.shape[1]} dimensions, the shown embeddings "
                f"{self._base.dim}: is it the model that made them?)"
            ) from err
        return modality, row

    # ------------------------------------------------------------------ API
    def query(
        self,
        text: str | None = None,
        *,
        image: Any = None,
        like: int | None = None,
        k: int | None = None,
        modality: str | None = None,
    ) -> pd.DataFrame:
        """Search the shown pairs with a question; mark it in the projection.

        Give exactly one of ``text``, ``image`` or ``like``. The query is encoded by the
        Explorer's encoder, moved by the view's gap map (closed gap, λ shift or remedy
        applied to its modality), and its ``k`` nearest items of every modality are
        listed (exact top-k by cosine, equal cosines by pair index). The projection
        shows it as a star, with an arrow to where its nearest items of the other
        modality lie. It is searched again whenever the view changes, until
        :meth:`clear_query`.

        Parameters
        ----------
        text : str, optional
            A caption-like question, encoded as the text modality.
        image : PIL image, array or path, optional
            Encoded as the image modality.
        like : int, optional
            "More like this": the pair (original index) whose item is the query; its row
            as shown now (no encoder needed).
        k : int, optional
            Neighbours per modality (default ``query_k``, at most 100).
        modality : str, optional
            The modality the query belongs to (default: the text / image modality; for
            ``like``, the first modality).

        Returns
        -------
        DataFrame
            One row per neighbour: ``modality``, ``rank`` (1 = nearest), ``pair``,
            ``cosine``, ``text`` (the pair's caption); ``df.attrs["query"]`` says what was
            asked, in which modality, and how the view moved it.

        Raises
        ------
        ValueError
            No encoder for a text / image (``encoder=`` is missing), an empty text, a
            pair that is not shown, a query the encoder cannot encode.

        Examples
        --------
        >>> import amumo as am
        >>> from amumo.data import SyntheticShapes
        >>> shapes = SyntheticShapes(60, seed=0)
        >>> tiny = am.models.tiny_shapes()
        >>> ex = am.Explorer(am.embed(tiny, shapes, progress=False, cache=False),
        ...                  dataset=shapes, encoder=tiny)
        >>> hits = ex.query("a red circle", k=3)
        >>> hits.groupby("modality").size().to_dict()
        {'image': 3, 'text': 3}
        """
        given = [name for name, value in (("text", text), ("image", image), ("like", like))
                 if value is not None]
        if len(given) != 1:
            raise TypeError(
                "ex.query() takes exactly one of text='...', image=<PIL image or path> or "
                f"like=<pair index>; got {given or 'none'}."
            )
        k = self.query_k if k is None else int(k)
        if not 1 <= k <= QUERY_K_MAX:
            raise ValueError(f"k={k} must be between 1 and {QUERY_K_MAX}.")
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("text must be a non-empty string, e.g. 'a dog on a beach'.")
            value: Any = text.strip()
            label = f"“{_short(value)}”"
            kind = "text"
        elif image is not None:
            value = image
            label = f"image {Path(image).name}" if isinstance(image, (str, Path)) else "image"
            kind = "image"
        else:
            if isinstance(like, bool) or not isinstance(like, (int, np.integer)):
                raise TypeError(f"like={like!r} must be a pair index (an integer).")
            value = int(like)
            kind = "like"
            label = ""
        spec: dict[str, Any] = {"kind": kind, "value": value, "k": k, "label": label,
                                "modality": modality, "model": None, "row": None}
        self._prepare_query(spec)  # encodes now: errors reach the caller
        result, frame = self._compute_query(spec, self._emb, self._row_map_now())
        self._query = spec
        self.query_result = result
        return frame

    def clear_query(self) -> None:
        """Remove the query's marker and list."""
        self._query = None
        self.query_result = {}

    # ------------------------------------------------------------------ compute
    def _row_map_now(self) -> RowMap:
        return getattr(self, "_row_map", None) or RowMap()

    def _prepare_query(self, spec: dict[str, Any]) -> None:
        """Encode ``spec`` for the shown model (again when the model changed)."""
        model = getattr(self, "_current_model", None)
        if spec["kind"] == "like":
            if spec["modality"] is not None and spec["modality"] not in self._base.modalities:
                raise ValueError(
                    f"modality={spec['modality']!r} is not one of {list(self._base.modalities)}."
                )
            spec["model"] = model
            return
        if spec["row"] is not None and spec["model"] == model:
            return
        spec["modality_used"], spec["row"] = self._encode_query(
            spec["kind"], spec["value"], spec["modality"]
        )
        spec["model"] = model

    def _compute_query(
        self, spec: dict[str, Any], emb: Any, moves: RowMap, cancelled: Any = None,
    ) -> tuple[dict[str, Any], pd.DataFrame]:
        """Search and place ``spec`` in ``emb`` (the shown embeddings, moved by ``moves``)."""
        ids = self._ids
        note = ""
        if spec["kind"] == "like":
            pair = int(spec["value"])
            pos = int(np.searchsorted(ids, pair))
            if pos >= len(ids) or ids[pos] != pair:
                raise ValueError(f"like={pair}: pair {pair} is not among the shown pairs.")
            modality = spec["modality"] or emb.modalities[0]
            row = np.asarray(emb[modality][pos], dtype=np.float64)
            label = spec["label"] or f"like #{pair} ({modality})"
        else:
            modality = spec["modality_used"]
            row = moves.apply(spec["row"], modality)
            label = spec["label"]
            if modality in moves.modalities():
                note = f"moved with its {modality} rows: {self._mitigation_note()}"
        hits = search(emb, row, min(spec["k"], len(emb)),
                      should_stop=cancelled)
        point, regions = self._query_geometry(row, modality, hits)
        results: dict[str, list[dict[str, Any]]] = {}
        frames = []
        for m, (pos_m, cos_m) in hits.items():
            pairs = ids[pos_m]
            results[m] = [
                {"pair": int(p), "rank": r + 1, "cosine": float(c), "text": self._text_of(int(p))}
                for r, (p, c) in enumerate(zip(pairs, cos_m, strict=True))
            ]
            frames.append(pd.DataFrame({
                "modality": m, "rank": np.arange(1, len(pairs) + 1), "pair": pairs.astype(int),
                "cosine": cos_m,
                "text": [self._text_of(int(p)) for p in pairs],
            }))
        frame = pd.concat(frames, ignore_index=True)
        info = {"label": label, "kind": spec["kind"], "modality": modality,
                "k": int(spec["k"]), "moved": note or "not moved (the view is not shifted)"}
        frame.attrs["query"] = info
        self._query_serial = getattr(self, "_query_serial", 0) + 1
        result = {
            **info,
            "id": self._query_serial,
            "like": int(spec["value"]) if spec["kind"] == "like" else None,
            "note": note,
            "point": point,
            "regions": regions,
            "results": results,
            "modalities": list(hits),
            "n_pairs": len(emb),
        }
        return result, frame

    def _query_geometry(
        self, row: np.ndarray, modality: str, hits: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> tuple[list[float] | None, dict[str, Any]]:
        """The query's point in the shown axes, and per other modality where its nearest
        items lie (the mean of their points)."""
        coords = getattr(self, "_coords", None)
        if coords is None:
            return None, {}
        x, y = self.x_component, self.y_component
        placed = self._place_query(row)
        point = None if placed is None else [float(placed[x]), float(placed[y])]
        n = len(self._ids)
        names = list(self._base.modalities)
        regions = {}
        for m, (pos_m, _) in hits.items():
            if m == modality or not len(pos_m):
                continue
            rows = names.index(m) * n + np.asarray(pos_m)
            centre = np.asarray(coords[rows][:, [x, y]], dtype=np.float64).mean(axis=0)
            regions[m] = {"point": [float(centre[0]), float(centre[1])], "count": len(pos_m)}
        return point, regions

    def _place_query(self, row: np.ndarray) -> np.ndarray | None:
        """The query row's coordinates in the shown projection (all components)."""
        coords, method = self._coords, self._coords_method
        emb = self._emb
        try:
            if method in ("umap", "tsne"):
                placed = place_rows(row, emb, method, fit_on="all" if method == "tsne" else
                                    self.fit_on, n_components=coords.shape[1], seed=self.seed,
                                    coords=coords)
                return placed[0]
            if method == "gap":
                cached = getattr(self, "_gap_frame", None)
                if cached is None:
                    return None
                placed = place_rows(row, emb, "gap", n_components=coords.shape[1],
                                    frame=cached[2])
            else:
                reference = getattr(self, "_base", None)
                if reference is not None and (len(reference) != len(emb) or reference is emb):
                    reference = None
                placed = place_rows(row, emb, "pca", fit_on=self.fit_on,
                                    n_components=coords.shape[1], seed=self.seed,
                                    reference=reference, solver="auto")
        except (ValueError, TypeError):
            return None
        return placed[0] * self._coords_signs

    def _refresh_query(self) -> None:
        """Search and place the query again in the view as it is now (background at
        large N, superseding an older refresh)."""
        spec = getattr(self, "_query", None)
        if spec is None:
            return
        emb, moves = self._emb, self._row_map_now()

        def compute(cancelled: Any) -> tuple[dict[str, Any], pd.DataFrame]:
            self._prepare_query(spec)
            if cancelled():
                raise JobCancelled
            return self._compute_query(spec, emb, moves, cancelled)

        def done(result: tuple[dict[str, Any], pd.DataFrame]) -> None:
            if self._emb is emb and getattr(self, "_query", None) is spec:
                self.query_result = result[0]

        def fail(err: BaseException) -> None:
            if getattr(self, "_query", None) is spec:
                self.query_result = {**self.query_result, "error": str(err), "results": {},
                                     "point": None, "regions": {}}

        self._run_job("query", compute, done, background=len(emb) > SYNC_LIMIT, error=fail,
                      cancellable=True, status=("busy", {"query": "searching…"}))

    def _send_xy(self) -> None:
        super()._send_xy()  # type: ignore[misc]
        spec = getattr(self, "_query", None)
        if spec is None or not self.query_result or getattr(self, "_coords", None) is None:
            return
        # New axes or components: only the marker moves (the neighbours are the same).
        try:
            if spec["kind"] == "like":
                pos = int(np.searchsorted(self._ids, int(spec["value"])))
                row = np.asarray(self._emb[self.query_result["modality"]][pos], dtype=np.float64)
            else:
                row = self._row_map_now().apply(spec["row"], spec["modality_used"])
        except (ValueError, IndexError, KeyError):
            return
        modality = self.query_result["modality"]
        hits = {
            m: (np.searchsorted(self._ids, [r["pair"] for r in rows]), None)
            for m, rows in self.query_result.get("results", {}).items()
        }
        point, regions = self._query_geometry(row, modality, hits)  # type: ignore[arg-type]
        self.query_result = {**self.query_result, "point": point, "regions": regions}

    # ------------------------------------------------------------------ requests
    @request("query")
    def _request_query(self, content: dict[str, Any]) -> tuple[dict, list]:
        """Browser request ``{"text": str, "k": int}`` or ``{"like": pair, "modality": str}``."""
        k = content.get("k")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int)):
            raise ValueError("query request: 'k' must be an integer.")
        if "like" in content:
            like = content["like"]
            modality = content.get("modality")
            if modality is not None and not isinstance(modality, str):
                raise ValueError("query request: 'modality' must be a modality name.")
            frame = self.query(like=like, k=k, modality=modality)
        else:
            text = content.get("text")
            if not isinstance(text, str):
                raise ValueError("query request: 'text' must be a string.")
            frame = self.query(text, k=k)
        return {"ok": True, "rows": len(frame)}, []

    @request("clear_query")
    def _request_clear_query(self, _content: dict[str, Any]) -> tuple[dict, list]:
        self.clear_query()
        return {"ok": True}, []


def _short(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def _load_image(image: Any) -> Any:
    """A PIL image (RGB) from a PIL image, a uint8 array or a path."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        return image
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise ValueError(f"image={str(image)!r} is not a file; pass a path or a PIL image.")
        try:
            with Image.open(path) as opened:
                return opened.convert("RGB")
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"image={str(image)!r} is not a readable image: {err}") from err
    raise TypeError(
        f"image is a {type(image).__name__}; pass a PIL image, a uint8 (H, W, 3) array or a "
        "path to an image file."
    )
