"""What a kind of data provides to the rest of vaekit: one small base class, one subclass per kind.

The training loop, the objectives, the evaluation, the run folder, the report and the explorer never ask
which kind they hold; they call these methods. A batch is whatever the kind's data sets yield and its
networks read: a tensor of fixed-size items (images, arrays, spectrograms) or a `vaekit.data.Padded`
batch of variable-length sequences with their lengths; the loop needs only `len(batch)`,
`batch.to(device)` and `batch[i:j]`. docs/kinds.md shows how to add a kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vaekit.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from vaekit.config import DataConfig, ModelConfig, TrainConfig


@dataclass(frozen=True)
class Unit:
    """The per-item unit of the log-likelihood reported beside nats: `name` (e.g. "bits/dim"), the key of
    metrics in it (`bits_per_dim`) and how many nats make one of it for one item (`nats`: D ln 2 for bits
    per dimension of D dimensions). `exp_key`: also report exp of the unit under this key (the perplexity
    of nats per token)."""
    name: str
    key: str
    nats: float
    exp_key: str | None = None

    def of(self, nats: float) -> float:
        """-log p in this unit, from log p in nats."""
        return -nats / self.nats


class Kind:
    """A kind of data. Subclasses set the class attributes and implement the loaders; the defaults of the
    other methods fit any kind whose networks are vaekit's generic ones (`vaekit.nets.NETWORKS`)."""

    name: ClassVar[str]                      # e.g. "images"
    datasets: ClassVar[tuple[str, ...]]      # the --data names this kind loads
    architectures: ClassVar[tuple[str, ...]]  # the --model networks that fit its items
    likelihoods: ClassVar[tuple[str, ...]]   # the --likelihood choices that fit its items
    needs_data_dir: ClassVar[tuple[str, ...]] = ()  # the data sets that read files a user names (--data-dir)
    # model config fields that take another value for this kind when left at vaekit's default (--model ...)
    model_defaults: ClassVar[dict[str, Any]] = {}
    # data config fields likewise (--subset ...): sounds hold their clips' waves in memory, so fewer tones
    data_defaults: ClassVar[dict[str, Any]] = {}
    # and of the training config (--batch-size ...): a video is T frames, so fewer of them make a step
    train_defaults: ClassVar[dict[str, Any]] = {}
    # the compiled training step and evaluation (vaekit.fast) trace one graph per batch shape: kinds whose
    # batches change shape every step (sentences cut to their longest item) run eagerly
    compiles: ClassVar[bool] = True
    # eager over compiled step time that `--compile auto` expects before it has measured one on this machine
    # (vaekit.fast.auto): the MLPs of images measured 1.6x; convolution-bound models less
    compile_speedup: ClassVar[float] = 1.5
    # importance samples of `vaekit evaluate` by default: 5000 for images (Burda et al. 2015)
    eval_k: ClassVar[int] = 5000
    # what a web page shows and plays of one item (the keys of `item_media`, e.g. ("image", "audio")); empty:
    # the explorer shows items as pictures (images) or through `html_grid` (items a person types)
    media_keys: ClassVar[tuple[str, ...]] = ()
    # the file name endings (lower case) `load_path` reads one item from: what the explorer's upload accepts
    file_types: ClassVar[tuple[str, ...]] = ()

    # --- data -----------------------------------------------------------------------------------
    def load_split(self, cfg: DataConfig, split: str, stats: dict | None = None) -> Any:
        """The train, val or test split of the data set `cfg.dataset` (with `__len__`, `event_shape`,
        `labels`, `take(n)`, `select(idx)`; `vaekit.data.iterate_batches` batches it)."""
        raise NotImplementedError

    def load_path(self, path: Path, cfg: DataConfig, stats: dict | None = None) -> Any:
        """New inputs for a trained model from a file or folder a user gives."""
        raise NotImplementedError

    def check_data(self, cfg: DataConfig) -> None:
        """Refuse a data config this kind cannot load, before anything runs."""
        if cfg.dataset in self.needs_data_dir and not cfg.data_dir:
            raise ConfigError(f"--data {cfg.dataset} needs --data-dir (the file or folder to read)")

    # --- model ----------------------------------------------------------------------------------
    def fill_defaults(self, model: ModelConfig, given: Collection[str] = ()) -> None:
        """Give the fields of `model` that hold vaekit's defaults this kind's own (`model_defaults`), then
        check the result again; fields named in `given` (set by the user, e.g. `--model mlp`) stay. The CLI,
        `vaekit.train` and the Trainer call it (`with_kind_defaults`)."""
        _fill(model, self.model_defaults, given)

    def fill_data_defaults(self, data: DataConfig, given: Collection[str] = ()) -> None:
        """The same for the fields of a data config (`data_defaults`), called beside `fill_defaults`."""
        _fill(data, self.data_defaults, given)

    def fill_train_defaults(self, train: TrainConfig, given: Collection[str] = ()) -> None:
        """The same for the fields of a training config (`train_defaults`)."""
        _fill(train, self.train_defaults, given)

    def init_model(self, model: nn.Module, data: Any) -> None:
        """Start the new model's p(x|z) near the training data's marginal (`GenerativeAPI.init_output_bias`:
        the decoder's output bias at the data's mean), where the data are one in-memory tensor."""
        from vaekit.data import TensorData

        if isinstance(data, TensorData):
            model.init_output_bias(data.x.mean(0))

    def check(self, model: ModelConfig) -> None:
        """Refuse, before anything runs, a network or likelihood that does not fit this kind's items."""
        if model.arch not in self.architectures:
            raise ConfigError(f"--model {model.arch} does not fit {self.name} data; use one of "
                              f"{', '.join(self.architectures)}")
        if model.likelihood not in self.likelihoods:
            raise ConfigError(f"--likelihood {model.likelihood} does not fit {self.name} data; use one of "
                              f"{', '.join(self.likelihoods)}")

    def networks(self, cfg: ModelConfig, event_shape: tuple[int, ...], params_per_dim: int,
                 stats: dict | None = None) -> tuple[nn.Module, nn.Module]:
        """The encoder (items -> 2 x latent) and decoder (latent -> likelihood parameters) for `cfg.arch`.
        `stats`: what the training split's data set measured of itself (`data.stats`, saved in the run
        folder as data_stats.json), e.g. a vocabulary whose size sets a network's width."""
        from vaekit.nets.builders import NETWORKS

        return NETWORKS[cfg.arch](cfg, event_shape, params_per_dim)

    def model(self, cfg: ModelConfig, event_shape: tuple[int, ...], likelihood: nn.Module,
              stats: dict | None = None) -> nn.Module | None:
        """A model of this kind's own for `cfg.arch`, where vaekit's VAE (one encoder, one decoder, one z, a
        prior from `--prior`) does not fit: videos' sequential VAE with a static latent and one per frame
        under a learned prior. `likelihood`: the head `likelihood` built. None (the default): `build_model`
        wires the generic VAE from `networks`."""
        return None

    def likelihood(self, cfg: ModelConfig, event_shape: tuple[int, ...], stats: dict | None = None) -> nn.Module:
        """The head that turns the decoder's output into p(x|z) for `cfg.likelihood` (`stats` as for
        `networks`)."""
        from vaekit.distributions.heads import LIKELIHOODS

        return LIKELIHOODS[cfg.likelihood](cfg, event_shape)

    def unit(self, model: Any, data: Any) -> Unit | None:
        """The per-item unit of log p(x) beside nats, or None where none has a meaning."""
        return None

    # --- for a person ---------------------------------------------------------------------------
    def shows(self, event_shape: tuple[int, ...], data: Any = None) -> bool:
        """Whether `write_grid` and `html_grid` can show items of this shape (of `data`, when given) to a
        person."""
        return False

    def write_grid(self, items: torch.Tensor, out: Path, per_row: int | None = None,
                   stats: dict | None = None) -> list[Path]:
        """Items (N, *event) — samples, reconstruction pairs, rows of interpolations or traversals — written
        for a person at `out`, `per_row` to a row; the files written (none where the kind shows nothing:
        callers save the raw values as .npy themselves). Every file is named after out's stem (out.png,
        out/03.wav, out_row_00.wav: a run's latest pictures are copies renamed so). `stats`: the run's
        `data.stats` (e.g. the vocabulary that turns token ids into words)."""
        return []

    def html_grid(self, items: torch.Tensor, alt: str, per_row: int | None = None, stats: dict | None = None) -> str:
        """The same items as a piece of a self-contained HTML page (the report, the explorer)."""
        return f'<p class="note">{alt}: {tuple(items.shape)} values, not shown</p>'

    def item_media(self, items: torch.Tensor, stats: dict | None = None,
                   keys: Collection[str] | None = None) -> list[dict[str, str]]:
        """Each item (N, *event) as data URLs a web page shows or plays, one dict per item keyed by
        `media_keys` (a sound: {"image": its spectrogram PNG, "audio": its WAV}); `keys` asks for some of them
        only (a picture costs less than a sound). Kinds without media refuse."""
        raise ConfigError(f"{self.name} items have no media to show or play")

    def parse_input(self, text: str, stats: dict | None, cfg: DataConfig) -> torch.Tensor:
        """One item (1, *event) from what a person types (the explorer's text box), read as the training data
        were read (`cfg`, the run's data config; `stats`, e.g. its vocabulary). Kinds whose items are not
        typed refuse."""
        raise ConfigError(f"{self.name} items cannot be typed in")


def _fill(config: Any, values: dict[str, Any], given: Collection[str] = ()) -> None:
    """Set the fields of a config dataclass that hold their declared defaults and are not in `given` to
    `values`, then check it again."""
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    changed = False
    for name, value in values.items():
        if name not in given and getattr(config, name) == defaults[name]:
            setattr(config, name, value)
            changed = True
    if changed:
        config.__post_init__()
