"""Embeddings container, file formats and (with the models extra) the embed pipeline."""

from amumo.embeddings.container import Embeddings
from amumo.embeddings.io import load, save_npz

__all__ = ["Embeddings", "load", "save_npz"]
