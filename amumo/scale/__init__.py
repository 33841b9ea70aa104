"""Embedding past one machine on Ray Data (extra ``scale``: ``pip install 'amumo[scale]'``).

:func:`embed_dataset` embeds a Parquet dataset, an image folder or webdataset
tar shards in a pool of Ray actors (one GPU each where there are GPUs), writes
the shard folder that :meth:`amumo.Embeddings.open` memory-maps, resumes
after interruptions, and returns the exact aggregate gap metrics from merged
:class:`amumo.GapStats` -- without gathering the embeddings on the driver.
Ray is imported only when :func:`embed_dataset` runs. See ``docs/scale.md``.

Examples
--------
>>> from amumo.scale import as_source, embed_dataset
>>> callable(embed_dataset)
True
"""

from amumo.scale.job import JOBS_FOLDER, ScaleResult, embed_dataset, embed_shard
from amumo.scale.sources import (
    FolderSource,
    ParquetSource,
    ShardSpec,
    WebDatasetSource,
    as_source,
)

__all__ = [
    "embed_dataset",
    "embed_shard",
    "ScaleResult",
    "as_source",
    "ParquetSource",
    "FolderSource",
    "WebDatasetSource",
    "ShardSpec",
    "JOBS_FOLDER",
]
