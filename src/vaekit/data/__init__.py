"""What every kind of data shares: in-memory data sets, batches of variable-length sequences,
binarization with counter-based draws, and the batch iterator. The data sets themselves are the kinds'
(`vaekit.kinds`)."""

from __future__ import annotations

from vaekit.data.base import TensorData, binarize, class_count, fixed_binarization, iterate_batches, random_items
from vaekit.data.sequences import Padded, SequenceData

__all__ = ["Padded", "SequenceData", "TensorData", "binarize", "class_count", "fixed_binarization", "iterate_batches",
           "random_items"]
