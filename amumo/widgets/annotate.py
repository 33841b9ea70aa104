"""Writing down what you found: labels for the selected pairs, as a meta column.

``ex.annotate("dogs")`` writes the label into a meta column (``"annotation"`` unless
another ``column`` is named) for the selected pairs. The column is an ordinary meta
column: the scatter can be coloured by it, the view filtered by it (``label_filter``),
``ex.selection()`` returns it, ``ex.annotations`` is it as a pandas Series, and it is
written into the ``meta`` of the shown :class:`~amumo.Embeddings` (the object passed to
the Explorer), so ``emb.save(...)`` keeps it, and ``save_html`` pages show it in every
pair's card. Each label can be undone (``ex.undo_annotation()``), last first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import traitlets

from amumo.widgets._base import request

__all__ = ["AnnotationMixin", "UNLABELLED", "DEFAULT_COLUMN"]

#: Default meta column of the labels.
DEFAULT_COLUMN = "annotation"
#: ``label_filter`` value that shows the pairs without a label.
UNLABELLED = "(unlabelled)"
#: Colour of the pairs without a label when the scatter is coloured by a label column.
UNLABELLED_COLOR = "#c8cad0"
#: Longest label.
LABEL_LIMIT = 80
#: Undo steps kept.
UNDO_LIMIT = 50


class AnnotationMixin(traitlets.HasTraits):
    """Traits, Python API and front-end requests of the labels."""

    annotation_column = traitlets.Unicode(
        DEFAULT_COLUMN, help="Meta column the label control writes and `label_filter` reads."
    ).tag(sync=True)
    annotation_labels = traitlets.List(
        traitlets.Dict(),
        help="Labels of `annotation_column` with their counts, [{'label', 'count'}], the "
        "unlabelled pairs last (read-only).",
    ).tag(sync=True)
    annotation_undo = traitlets.Unicode(
        "", help="What ex.undo_annotation() would undo ('' when nothing; read-only)."
    ).tag(sync=True)
    label_filter = traitlets.Unicode(
        "", help="Show only the pairs with this label in `annotation_column` ('' for all; "
        f"'{UNLABELLED}' for those without)."
    ).tag(sync=True)
    meta_version = traitlets.Int(
        0, help="Bumped when meta values change (the browser drops the meta rows it keeps)."
    ).tag(sync=True)

    _outputs = ("annotation_labels", "annotation_undo", "meta_version")

    @traitlets.validate("annotation_column")
    def _valid_annotation_column(self, proposal: dict) -> str:
        value = proposal["value"]
        if not value.strip():
            raise traitlets.TraitError("annotation_column must be a non-empty column name.")
        return value

    # ------------------------------------------------------------------ API
    @property
    def annotations(self) -> pd.Series:
        """The labels of ``annotation_column`` for every pair (index: pair), ``<NA>`` where
        a pair has none. A copy: change labels with :meth:`annotate`.

        Examples
        --------
        >>> import amumo as am
        >>> ex = am.Explorer(am.datasets.clip_coco500())
        >>> ex.selected = [3, 5]
        >>> ex.annotate("kitchens")
        2
        >>> ex.annotations.dropna().to_dict()
        {3: 'kitchens', 5: 'kitchens'}
        """
        column = self.annotation_column
        table = self._root_table()
        if column not in table.columns:
            return pd.Series(pd.NA, index=pd.RangeIndex(len(table), name="pair"),
                             name=column, dtype="string")
        series = table[column].astype("string").copy()
        series.index = pd.RangeIndex(len(series), name="pair")
        series.name = column
        return series

    def annotate(self, label: str, column: str = DEFAULT_COLUMN, pairs: Any = None) -> int:
        """Label the selected pairs (or ``pairs``) with ``label`` in meta column ``column``.

        Parameters
        ----------
        label : str
            The text to write (at most 80 characters).
        column : str, default "annotation"
            The meta column; created when missing. An existing column holding other data
            (not labels written here) is refused, so nothing is overwritten by accident.
        pairs : sequence of int, optional
            Pair indices (original); default the current selection.

        Returns
        -------
        int
            The number of pairs labelled.

        Raises
        ------
        ValueError
            An empty label, nothing selected, pairs out of range, a column that is
            not an annotation column.
        """
        label = _check_label(label)
        column = _check_column(column)
        ids = list(self.selected) if pairs is None else _check_pairs(pairs, len(self._source))
        if not ids:
            raise ValueError(
                "nothing to label: select pairs first (box or lasso in the projection, or "
                "ex.selected = [...]), or pass pairs=[...]."
            )
        table = self._root_table()
        created = column not in table.columns
        if not created:
            self._check_writable(column)
        index = np.asarray(ids, dtype=np.int64)
        before = None if created else table[column].to_numpy(dtype=object)[index].copy()
        self._write_labels(column, index, np.full(len(index), label, dtype=object), created)
        self._undo_stack().append({
            "column": column, "pairs": index, "before": before, "created": created,
            "label": label,
        })
        del self._undo_stack()[:-UNDO_LIMIT]
        with self.hold_sync():
            if self.annotation_column != column:
                self.annotation_column = column  # observed: refreshes the labels
            self._labels_changed(column)
        return len(index)

    def undo_annotation(self) -> str | None:
        """Undo the last :meth:`annotate`: its pairs get back what they had.

        Returns a description of what was undone, or None when there is nothing to undo.
        """
        stack = self._undo_stack()
        if not stack:
            return None
        step = stack.pop()
        column = step["column"]
        table = self._root_table()
        if column in table.columns:
            if step["created"]:
                self._drop_column(column)
            else:
                self._write_labels(column, step["pairs"], step["before"], False)
        with self.hold_sync():
            self._labels_changed(column)
        count = len(step["pairs"])
        return f"removed {step['label']!r} from {count:,} pair{'s' if count != 1 else ''}"

    # ------------------------------------------------------------------ storage
    def _root_table(self) -> pd.DataFrame:
        return self._table

    def _check_writable(self, column: str) -> None:
        """Refuse to write labels over the captions or a column of numbers / dates."""
        series = self._root_table()[column]
        if column == getattr(self, "_text_column", None):
            raise ValueError(
                f"column={column!r} holds the pairs' captions; write labels into another "
                f"column (the default is {DEFAULT_COLUMN!r})."
            )
        kind = series.dtype.kind
        if kind in "biufcmM" and column not in self._annotation_columns():
            raise ValueError(
                f"column={column!r} is a {series.dtype} meta column of the data; labels go "
                f"into a column of text (the default is {DEFAULT_COLUMN!r})."
            )

    def _annotation_columns(self) -> set[str]:
        if not hasattr(self, "_annotated"):
            self._annotated: set[str] = set()
        return self._annotated

    def _undo_stack(self) -> list[dict[str, Any]]:
        if not hasattr(self, "_undo"):
            self._undo: list[dict[str, Any]] = []
        return self._undo

    def _write_labels(
        self, column: str, index: np.ndarray, values: np.ndarray, created: bool
    ) -> None:
        """Write ``values`` at pairs ``index`` of ``column`` in the widget's table and in
        the shown embeddings' meta (so ``emb.save`` keeps them)."""
        frames = [self._table]
        meta = self._source.meta
        if meta is not self._table and len(meta) == len(self._table):
            frames.append(meta)
        # Missing labels are None (JSON null in saved files and exported pages, left off the
        # preview cards), never pd.NA (which would be written as the text "<NA>").
        cleaned = [None if _missing(v) else str(v) for v in values]
        for frame in frames:
            if created or column not in frame.columns:
                frame[column] = pd.Series(None, index=frame.index, dtype="object")
            positions = np.array([None if _missing(v) else v for v in frame[column]],
                                 dtype=object)
            positions[index] = cleaned
            frame[column] = pd.Series(positions, index=frame.index, dtype="object")
        self._annotation_columns().add(column)

    def _drop_column(self, column: str) -> None:
        for frame in (self._table, self._source.meta):
            if column in frame.columns:
                del frame[column]
        self._annotation_columns().discard(column)

    def _labels_changed(self, column: str) -> None:
        """After labels changed: the lists, the colour options, colours, the filter, the
        meta rows the browser keeps."""
        self._item_cache_drop_meta()
        self.meta_version += 1
        self._update_annotation_traits()
        refresh_options = getattr(self, "_refresh_color_options", None)
        if refresh_options is not None:
            refresh_options()
        if self.label_filter and column == self.annotation_column:
            self._apply_filter()
        elif self.color_by == column:
            self._update_colors()

    def _item_cache_drop_meta(self) -> None:
        cache = getattr(self, "_item_cache", None)
        if cache is None:
            return
        for key in [key for key in cache if key[1] is None]:
            del cache[key]

    def _update_annotation_traits(self) -> None:
        column = self.annotation_column
        stack = self._undo_stack()
        last = stack[-1] if stack else None
        self.annotation_undo = (
            "" if last is None else
            f"undo {last['label']!r} ({len(last['pairs']):,} pair"
            f"{'s' if len(last['pairs']) != 1 else ''})"
        )
        table = self._table
        if column not in table.columns:
            self.annotation_labels = []
            return
        values = table[column].astype("string")
        counts = values.value_counts(dropna=True, sort=False)
        labels = [{"label": str(lab), "count": int(n)} for lab, n in counts.items()]
        missing = int(values.isna().sum())
        if missing:
            labels.append({"label": UNLABELLED, "count": missing, "unlabelled": True})
        self.annotation_labels = labels

    def _label_mask(self) -> np.ndarray | None:
        """Pairs kept by ``label_filter`` (None: no label filter)."""
        label = self.label_filter
        if not label:
            return None
        column = self.annotation_column
        table = self._table
        if column not in table.columns:
            return np.zeros(len(table), dtype=bool) if label != UNLABELLED else None
        values = table[column].astype("string")
        if label == UNLABELLED:
            return values.isna().to_numpy()
        return (values == label).fillna(False).to_numpy(dtype=bool)

    def _init_items(self, emb: Any, dataset: Any = None, text_column: str | None = None) -> None:
        """Keep the labels written here when the same pairs are shown again (another model
        of the same dataset); otherwise they stay with the embeddings they were written to."""
        old_table = getattr(self, "_table", None)
        old_dataset = getattr(self, "_dataset", None)
        super()._init_items(emb, dataset, text_column)  # type: ignore[misc]
        same_pairs = (
            old_table is not None and len(old_table) == len(self._table)
            and old_dataset is self._dataset
            and getattr(self, "augmentation", "none") == "none"
        )
        if not same_pairs:
            self._undo_stack().clear()
            self._annotation_columns().clear()
            return
        for column in sorted(self._annotation_columns()):
            if column in old_table.columns and column not in self._table.columns:
                values = old_table[column].to_numpy(dtype=object)
                self._write_labels(column, np.arange(len(values)), values, True)

    def _update_colors(self) -> None:
        """Colour by a label column: the pairs without a label in grey, named so."""
        super()._update_colors()  # type: ignore[misc]
        if self.color_by not in self._annotation_columns():
            return
        legend = dict(self.legend)
        items = [dict(item) for item in legend.get("items", [])]
        palette = list(self.palette)
        for k, item in enumerate(items):
            if item.get("label") == "(missing)" and k < len(palette):
                palette[k] = UNLABELLED_COLOR
                items[k] = {**item, "label": "unlabelled", "color": UNLABELLED_COLOR}
        # the labels first, the pairs without one last (each item carries its own colour)
        items.sort(key=lambda item: item.get("label") == "unlabelled")
        with self.hold_sync():
            self.palette = palette
            self.legend = {**legend, "items": items}

    @traitlets.observe("annotation_column")
    def _on_annotation_column(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._update_annotation_traits()
            if self.label_filter:
                self._apply_filter()

    @traitlets.observe("label_filter")
    def _on_label_filter(self, _change: dict) -> None:
        if getattr(self, "_ready", False):
            self._apply_filter()

    # ------------------------------------------------------------------ requests
    @request("annotate")
    def _request_annotate(self, content: dict[str, Any]) -> tuple[dict, list]:
        """Browser request ``{"label": str, "pairs": [ids], "column": str (optional)}``."""
        label = content.get("label")
        pairs = content.get("pairs")
        column = content.get("column") or self.annotation_column
        if not isinstance(label, str) or not isinstance(column, str):
            raise ValueError("annotate request: 'label' and 'column' must be strings.")
        if not isinstance(pairs, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in pairs
        ):
            raise ValueError("annotate request: 'pairs' must be a list of pair indices.")
        count = self.annotate(label, column=column, pairs=pairs)
        return {"ok": True, "count": count}, []

    @request("undo_annotation")
    def _request_undo_annotation(self, _content: dict[str, Any]) -> tuple[dict, list]:
        return {"ok": True, "undone": self.undo_annotation()}, []


def _missing(value: Any) -> bool:
    """None, NaN or pd.NA (a pair without a label)."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and np.isnan(value)


def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"label={label!r} must be a non-empty string, e.g. 'dogs'.")
    label = label.strip()
    if len(label) > LABEL_LIMIT:
        raise ValueError(f"label is {len(label)} characters; keep it to {LABEL_LIMIT}.")
    if label == UNLABELLED:
        raise ValueError(f"label={UNLABELLED!r} is reserved (it filters the unlabelled pairs).")
    return label


def _check_column(column: Any) -> str:
    if not isinstance(column, str) or not column.strip():
        raise ValueError(f"column={column!r} must be a non-empty column name.")
    return column.strip()


def _check_pairs(pairs: Any, n: int) -> list[int]:
    values = np.asarray(list(pairs))
    if values.size and values.dtype.kind not in "iu":
        raise ValueError(f"pairs must be integer pair indices, got dtype {values.dtype}.")
    bad = values[(values < 0) | (values >= n)] if values.size else values
    if bad.size:
        raise ValueError(f"pairs {bad[:10].tolist()} are outside 0..{n - 1}.")
    return sorted({int(v) for v in values})
