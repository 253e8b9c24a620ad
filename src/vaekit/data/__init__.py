"""What every kind of data shares: in-memory data sets, batches of variable-length sequences,
binarization with counter-based draws, and the batch iterator. The data sets themselves are the kinds'
(`vaekit.kinds`)."""

from __future__ import annotations

from vaekit.data.base import TensorData, binarize, class_count, fixed_binarization, iterate_batches

__all__ = ["TensorData", "binarize", "class_count", "fixed_binarization", "iterate_batches"]
