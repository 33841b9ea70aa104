"""Preview: the hovered (or selected) pair's items: thumbnail, caption, meta fields."""

from __future__ import annotations

from typing import Any

import traitlets

from amumo.embeddings.container import Embeddings
from amumo.widgets._base import STATIC, AmumoWidget
from amumo.widgets._items import ItemsMixin, check_embeddings_arg

__all__ = ["Preview"]


class Preview(ItemsMixin, AmumoWidget):
    """Cards for the items of the pair in ``hovered`` (or a list of ``selected`` pairs).

    Captions/labels of every pair are sent once as one UTF-8 buffer, so a card
    appears instantly; image thumbnails (PNG/JPEG) and full meta rows are fetched
    from the kernel on first hover and cached in the browser. Link it to other
    views in the browser with ``ipywidgets.jslink((scatter, "hovered"), (preview,
    "hovered"))``; inside :class:`amumo.Explorer` it is linked already.

    Parameters
    ----------
    emb : Embeddings
    dataset : amumo.data dataset, optional
        Aligned with ``emb``; supplies images (thumbnails) and captions.
    text_column : str, optional
        Meta column shown as the pair's text (default: caption/text/label...).

    Examples
    --------
    >>> import amumo as am
    >>> p = am.Preview(am.datasets.clip_coco500(), hovered=3)
    >>> p.text_field  # the shipped MSCOCO captions
    'caption'
    >>> p.media["image"] == p.remote_images  # photos from coco_url, fetched by the kernel
    True
    """

    _esm = STATIC / "preview.js"
    _extra_kwargs = ("dataset", "text_column")
    title = traitlets.Unicode("Preview", help="Panel title.").tag(sync=True)

    def __init__(
        self,
        emb: Embeddings,
        *,
        dataset: Any = None,
        text_column: str | None = None,
        **traits: Any,
    ) -> None:
        emb = check_embeddings_arg(emb)
        self._init_items(emb, dataset, text_column)
        super().__init__(**traits)
        self._set_items()
