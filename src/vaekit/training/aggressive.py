"""Aggressive inference-network training (He et al. 2019, "Lagging Inference Networks and Posterior Collapse in
Variational Autoencoders", Algorithm 1), `--aggressive`.

Early in training the encoder lags behind the true posterior p(z|x) of the current decoder, and the decoder
learns to ignore z before the encoder has caught up (posterior collapse). While aggressive mode is on, every
outer step first optimises the encoder alone, on fresh minibatches, until its loss stops improving (at most
MAX_INNER_STEPS steps; the test of `Plateau`), then updates the decoder alone once on the epoch's next
minibatch. The mode ends for good after the first epoch whose validation I_q(x; z) did not rise
(sec. 4: "stop when the mutual information stops climbing"); the loop state keeps it, so --resume goes on in
the same mode. Later epochs are ordinary training, on the fast step where --compile chose it.

A one-part update is the plain step (`vaekit.training.step.PlainStep`) with the other part's parameters
frozen: their gradients stay None, so Adam skips them (weights and moments untouched), and the step's
non-finite guard and --grad-clip act on the updated part alone. The compiled step computes every gradient
in one graph and cannot leave a part out, so aggressive epochs take the plain step.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from vaekit.errors import ConfigError
from vaekit.evaluation import validation_information
from vaekit.objectives import Terms
from vaekit.training import distributed
from vaekit.training.step import PlainStep

MAX_INNER_STEPS = 100  # encoder steps per outer step at most (He et al.'s code: 100)
CHECK_EVERY = 10       # the inner loop compares the mean loss of the last 10 steps with the 10 before
# the modules of q(z|x): the encoder network, and a hierarchy's bottom-up path `up` and top-down merges
# `merge` (vaekit.hierarchical); every other parameter (decoder, likelihood head, p(z_l|z_{l+1}), a
# learned prior) is the generative model's
INFERENCE_MODULES = ("encoder", "up", "merge")


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(encoder, decoder): the trainable parameters of q(z|x) (INFERENCE_MODULES), and all the others."""
    ids = {id(p) for name in INFERENCE_MODULES if isinstance(m := getattr(model, name, None), nn.Module)
           for p in m.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [p for p in trainable if id(p) in ids], [p for p in trainable if id(p) not in ids]


@contextlib.contextmanager
def frozen(params: list[nn.Parameter]) -> Iterator[None]:
    """`params` take no gradient inside the block (requires_grad off, then as they were)."""
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before, strict=True):
            p.requires_grad_(flag)


class Plateau:
    """The inner loop's stopping rule, from He et al.'s code: every `every` steps, the loss of the last `every`
    steps per element of their batches (theirs is per word: sentence batches differ in length) is compared
    with that of the `every` before; the loop stops when it did not fall, or after `cap` steps. So it takes
    between 2 `every` and `cap` steps."""

    def __init__(self, every: int, cap: int) -> None:
        self.every, self.cap = every, cap
        self.steps, self.total, self.elements, self.previous = 0, 0.0, 0.0, math.inf

    def more(self, total: float, elements: float) -> bool:
        """Count one step whose batch's summed loss is `total` over `elements`; whether to take another."""
        self.steps += 1
        self.total += total
        self.elements += elements
        if self.steps >= self.cap:
            return False
        if self.steps % self.every:
            return True
        current = self.total / self.elements
        self.total = self.elements = 0.0
        improved, self.previous = current < self.previous, current
        return improved


def elements(x: Any) -> float:
    """What a batch's loss is averaged over in `Plateau`: its padded sequences' steps, else its elements
    (pixels; the tokens and padding of a length-bucketed sentence batch, which holds about one length)."""
    lengths = getattr(x, "lengths", None)
    return float(lengths.sum()) if lengths is not None else float(x.numel())


def inner_seed(generator: torch.Generator) -> int:
    """The seed of the encoder's batch stream in an epoch whose data order `generator` draws: spawned child 3
    of numpy's SeedSequence of its seed, unrelated to the epoch's own order and to other epochs'."""
    return int(np.random.SeedSequence(generator.initial_seed(), spawn_key=(3,)).generate_state(1, np.uint64)[0] >> 1)


class AggressiveStep:
    """The training step of an aggressive epoch, with the contract of `vaekit.training.step`: `batches` yields
    the epoch's batches, each of which the call spends on one decoder-only update, after an inner loop of
    encoder-only updates on batches of a second, endless stream of the training data (shuffled anew each
    pass, seeded by `inner_seed`). Counts the epoch's encoder steps and their non-finite skips."""

    def __init__(self, plain: PlainStep, encoder: list[nn.Parameter], decoder: list[nn.Parameter],
                 conditional: bool) -> None:
        self.plain, self.encoder, self.decoder, self.conditional = plain, encoder, decoder, conditional
        self.inner: Iterator[tuple[Any, torch.Tensor | None]] = iter(())
        self.inner_steps = self.inner_skipped = 0

    def batches(self, data: Any, batch_size: int, generator: torch.Generator
                ) -> Iterator[tuple[Any, torch.Tensor | None]]:
        self.inner = self._endless(data, batch_size, torch.Generator().manual_seed(inner_seed(generator)))
        self.inner_steps = self.inner_skipped = 0
        yield from self.plain.batches(data, batch_size, generator)

    def _endless(self, data: Any, batch_size: int, generator: torch.Generator
                 ) -> Iterator[tuple[Any, torch.Tensor | None]]:
        while True:
            yield from self.plain.batches(data, batch_size, generator)

    def __call__(self, x: Any, y: torch.Tensor | None, beta: torch.Tensor) -> tuple[Terms, bool]:
        self.train_encoder(beta)
        return self.update(self.decoder, x, y, beta)

    def update(self, part: list[nn.Parameter], x: Any, y: torch.Tensor | None, beta: torch.Tensor
               ) -> tuple[Terms, bool]:
        """One plain step that changes `part` only (`part` is self.encoder or self.decoder)."""
        with frozen(self.decoder if part is self.encoder else self.encoder):
            return self.plain(x, y, beta)

    def train_encoder(self, beta: torch.Tensor) -> int:
        """The inner loop: encoder-only steps until `Plateau` stops them, or until one is not finite (it is
        skipped, as the plain step skips it, and the decoder's turn comes). Returns the steps taken."""
        plateau, taken = Plateau(CHECK_EVERY, MAX_INNER_STEPS), 0
        while True:
            x, labels = next(self.inner)
            terms, ok = self.update(self.encoder, x, labels if self.conditional else None, beta)
            taken += 1
            self.inner_steps += 1
            if not ok:
                self.inner_skipped += 1
                return taken
            if not plateau.more(float(terms.loss.detach()) * len(x), elements(x)):
                return taken


class AggressiveTraining:
    """What a Trainer with --aggressive holds: the aggressive epochs' step, and the end-of-epoch check
    that ends the mode. objective: the Trainer's ObjectiveModule; params, opt: its parameters and optimizer."""

    def __init__(self, objective: nn.Module, model: nn.Module, params: list[nn.Parameter],
                 opt: torch.optim.Optimizer, grad_clip: float, dist: distributed.DistEnv, device: torch.device,
                 conditional: bool) -> None:
        if dist.enabled:
            raise ConfigError("--aggressive trains on one process: its one-part updates freeze parameters, which "
                              "DistributedDataParallel's gradient reduction does not allow; run it without torchrun")
        encoder, decoder = split_parameters(model)
        if not encoder or not decoder:
            raise ConfigError("--aggressive alternates encoder and decoder updates; this model has no trainable "
                              f"{'encoder' if not encoder else 'decoder'} parameters (e.g. --model lm has no encoder)")
        plain = PlainStep(objective, params, opt, grad_clip, dist, device)
        self.step = AggressiveStep(plain, encoder, decoder, conditional)

    def epoch_record(self, on: bool) -> dict[str, Any]:
        """The epoch record's fields: whether the epoch was aggressive, its encoder steps and their skips."""
        return {"aggressive": on, "inner_steps": self.step.inner_steps if on else 0,
                "inner_skipped_steps": self.step.inner_skipped if on else 0}

    def end_epoch(self, state: Any, model: nn.Module, val_data: Any, seed: int, epoch: int, main: bool
                  ) -> dict[str, float]:
        """The validation I_q(x; z) of the epoch; ends aggressive mode in the loop `state` when it did not
        rise above the previous epoch's (state.val_mutual_information, -inf before the first)."""
        mi = validation_information(model, val_data, seed=seed)
        if state.aggressive and not mi > state.val_mutual_information:
            state.aggressive, state.aggressive_ended = False, epoch
            if main:
                tqdm.write(f"aggressive training ends after epoch {epoch}: validation I(x; z) {mi:.3f} nats, "
                           f"{state.val_mutual_information:.3f} after the epoch before")
        state.val_mutual_information = mi
        return {"val_mutual_information": mi}
