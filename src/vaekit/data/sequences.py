"""Variable-length sequences (sentences, audio frames, video frames): a data set of items of different
lengths, and the padded batch they are handed out as.

A `Padded` batch is what the loop, the objectives and the evaluation see of such data: it has
`len(batch)`, `batch.to(device)` and `batch[i:j]` as a tensor batch has, so none of them needs a case of
its own; the kind's networks and likelihood read `values` and `lengths` (or `mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch


@dataclass(frozen=True)
class Padded:
    values: torch.Tensor   # (B, T, *feature): item b's steps 0 .. lengths[b] - 1, then `pad`
    lengths: torch.Tensor  # (B,) int64, each in 1 .. T

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: slice) -> Padded:
        return Padded(self.values[index], self.lengths[index])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Padded:
        return Padded(self.values.to(device, non_blocking=non_blocking), self.lengths.to(device))

    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    @property
    def device(self) -> torch.device:
        return self.values.device

    @property
    def mask(self) -> torch.Tensor:
        """(B, T) True on the steps that exist."""
        steps = torch.arange(self.values.shape[1], device=self.values.device)
        return steps < self.lengths[:, None]  # (B, T)

    @staticmethod
    def of(items: Sequence[torch.Tensor], pad: float = 0.0) -> Padded:
        """Items (T_i, *feature) padded to the longest one."""
        lengths = torch.tensor([len(it) for it in items], dtype=torch.int64)
        values = torch.nn.utils.rnn.pad_sequence(list(items), batch_first=True, padding_value=pad)  # (B, T, *f)
        return Padded(values, lengths)


@dataclass
class SequenceData:
    """A data set of variable-length items (T_i, *feature), each with an optional label; `iterate_batches`
    hands it out as `Padded` batches through `collate`."""
    items: list[torch.Tensor]
    labels: torch.Tensor | None = None
    label_names: list[str] | None = None
    binarize: str = "none"
    stats: dict | None = None
    max_length: int = 0  # the longest item the kind accepts (its networks' T); 0: the longest present
    kind: str = ""       # the name of its kind of data (`vaekit.kinds`)

    def __post_init__(self) -> None:
        self.max_length = self.max_length or max((len(it) for it in self.items), default=0)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """(T_max, *feature): the padded shape of one item."""
        return (self.max_length, *self.items[0].shape[1:])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        return self.items[i], None if self.labels is None else self.labels[i]

    def take(self, n: int) -> SequenceData:
        return replace(self, items=self.items[:n], labels=None if self.labels is None else self.labels[:n])

    def select(self, idx: torch.Tensor) -> SequenceData:
        """The items at positions idx (M,) int64, in that order."""
        return replace(self, items=[self.items[i] for i in idx.tolist()],
                       labels=None if self.labels is None else self.labels[idx])

    def collate(self, batch: list[tuple[torch.Tensor, Any]]) -> tuple[Padded, torch.Tensor | None]:
        x = Padded.of([it for it, _ in batch])
        ys = [y for _, y in batch]
        return x, None if ys[0] is None else torch.as_tensor(ys)
