"""The judge of generated and converted clips: a classifier of waveforms that owes nothing to the models it
judges, multinomial logistic regression on a fixed summary of each clip's log-mel spectrogram.

Features (`JudgeFeatures`, `clip_features`), the classic bag-of-frames summary of audio classification
(Aucouturier & Pachet 2004, "Improving timbre similarity"; Tzanetakis & Cook 2002, "Musical genre
classification of audio signals", who summarise frame features by their means and variances over a clip):
1. the log-mel spectrogram with the judge's own spec, 40 mel bins, 25 ms windows every 10 ms (the frame
   rate of speech recognisers' features; Davis & Mermelstein 1980), not the spec of the model's items;
2. the active span: from the first to the last frame whose energy (the sum of its mel amplitudes, squared)
   lies within `active_db` of the clip's loudest frame, so silence padding and a small onset delay drop out;
3. deltas over the span, the regression d_t = Σ_{n=1..2} n (c_{t+n} − c_{t−n}) / (2 Σ n²) with the edge
   frames repeated (Furui 1986, "Speaker-independent isolated word recognition using dynamic features of
   speech spectrum"; the HTK Book's eq. 5.16);
4. the mean and the standard deviation over the span of each mel bin and of each delta, and, with
   `segments` = K > 0 (4 by default), the means of each mel bin over K equal stretches of the span (adaptive average
   pooling), which keep the order of the sounds within the clip (a word's "s" before its vowel) that the
   plain statistics lose. All are the same for a clip and its padded or slightly shifted copy.
The features are standardised with the training features' mean and standard deviation.

The classifier is `vaekit.judging.LinearJudge`: softmax regression by full-batch L-BFGS from W = 0 in float64,
so the same data gives the same judge. A judge is saved as JSON (`to_dict` / `from_dict`: weights as lists of
numbers), never with pickle.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from vaekit.errors import ConfigError, DataError
from vaekit.judging import LinearJudge, check_labels
from vaekit.kinds.sounds.spectral import SpectrogramSpec, log_mel

DELTA_WIDTH = 2  # frames on each side of the delta regression (HTK's DELTAWINDOW = 2)
FORMAT = "vaekit-sound-judge-1"


@dataclass(frozen=True)
class JudgeFeatures:
    """How a clip becomes the judge's feature vector (module docstring). Times in seconds."""

    n_mels: int = 40
    window_seconds: float = 0.025
    hop_seconds: float = 0.010
    active_db: float = 60.0   # frames this far below the loudest one count as silence
    segments: int = 4         # 0: only the mean and std of each mel bin and delta; K > 0: also K segment means

    def __post_init__(self) -> None:
        if not (isinstance(self.n_mels, int) and self.n_mels >= 1):
            raise ConfigError(f"judge n_mels must be an integer >= 1, got {self.n_mels!r}")
        if not 0 < self.hop_seconds < self.window_seconds:
            raise ConfigError(f"judge needs 0 < hop_seconds < window_seconds, got {self.hop_seconds}, "
                              f"{self.window_seconds}")
        if not self.active_db > 0:
            raise ConfigError(f"judge active_db must be > 0 dB, got {self.active_db}")
        if not (isinstance(self.segments, int) and self.segments >= 0):
            raise ConfigError(f"judge segments must be an integer >= 0, got {self.segments!r}")

    def spec(self, sample_rate: int) -> SpectrogramSpec:
        """The log-mel spec at a sample rate: n_fft the power of two that holds the window."""
        win = max(2, round(self.window_seconds * sample_rate))
        hop = max(1, min(win - 1, round(self.hop_seconds * sample_rate)))
        return SpectrogramSpec(sample_rate=sample_rate, n_fft=1 << (win - 1).bit_length(), hop_length=hop,
                               win_length=win, n_mels=self.n_mels)

    def size(self) -> int:
        """Length of a clip's feature vector: mean and std of bins and deltas, plus the segment means."""
        return self.n_mels * (4 + self.segments)


def deltas(c: torch.Tensor, width: int = DELTA_WIDTH) -> torch.Tensor:
    """Regression deltas (Furui 1986; HTK Book eq. 5.16) of features (M, T) along time, edges repeated."""
    t = c.shape[-1]
    padded = F.pad(c[None], (width, width), mode="replicate")[0] if t > 1 else c.expand(-1, t + 2 * width)
    num = sum(n * (padded[:, width + n:width + n + t] - padded[:, width - n:width - n + t])
              for n in range(1, width + 1))
    return num / (2 * sum(n * n for n in range(1, width + 1)))  # (M, T)


def active_span(frames: torch.Tensor, active_db: float) -> tuple[int, int]:
    """[first, last + 1) of the frames (M, T) of log mel amplitudes within active_db of the loudest frame."""
    energy_db = 10 * torch.log10(frames.exp().square().sum(0).clamp_min(1e-30))  # (T,)
    idx = torch.nonzero(energy_db >= energy_db.max() - active_db).flatten()
    return int(idx[0]), int(idx[-1]) + 1


def summarise(frames: torch.Tensor, cfg: JudgeFeatures) -> torch.Tensor:
    """One clip's log-mel frames (M, T) -> its feature vector (cfg.size(),)."""
    lo, hi = active_span(frames, cfg.active_db)
    c = frames[:, lo:hi].double()  # (M, T_active)
    d = deltas(c)
    parts = [c.mean(1), c.std(1, correction=0), d.mean(1), d.std(1, correction=0)]
    if cfg.segments:
        parts.append(F.adaptive_avg_pool1d(c[None], cfg.segments)[0].T.flatten())  # (K, M) -> (K * M,)
    return torch.cat(parts)


def clip_features(waves: torch.Tensor, sample_rate: int, cfg: JudgeFeatures = JudgeFeatures(),
                  batch_size: int = 256) -> torch.Tensor:
    """Waves (N, S) -> float64 features (N, cfg.size()); raises DataError on non-finite or too short clips."""
    if waves.dim() != 2:
        raise DataError(f"the judge expects waves (N, samples), got shape {tuple(waves.shape)}")
    spec = cfg.spec(sample_rate)
    if waves.shape[1] <= spec.n_fft // 2:
        half = spec.n_fft // 2
        raise DataError(f"the judge needs clips longer than {half} samples ({half / sample_rate:.3f} s at "
                        f"{sample_rate} Hz), got {waves.shape[1]}")
    bad = torch.nonzero(~torch.isfinite(waves).all(1)).flatten()
    if len(bad):
        raise DataError(f"{len(bad)} clips hold non-finite samples (NaN or inf), the first is clip {int(bad[0])}")
    out = torch.empty(len(waves), cfg.size(), dtype=torch.float64)
    for start in range(0, len(waves), batch_size):
        frames = log_mel(waves[start:start + batch_size].float(), spec)  # (b, M, T)
        for i, f in enumerate(frames):
            out[start + i] = summarise(f, cfg)
    return out


class Judge:
    """A trained judge: `predict(waves)`, `accuracy(waves, labels)`; `fit` trains one, `to_dict` /
    `from_dict` save and restore it as JSON-able numbers. Waves must be at the judge's `sample_rate`. The
    classifier is `vaekit.judging.LinearJudge` on `clip_features`."""

    def __init__(self, sample_rate: int, features: JudgeFeatures, linear: LinearJudge) -> None:
        self.sample_rate, self.features, self.linear = int(sample_rate), features, linear

    @property
    def n_classes(self) -> int:
        return self.linear.n_classes

    @classmethod
    def fit(cls, waves: torch.Tensor, labels: torch.Tensor, sample_rate: int, n_classes: int, *,
            features: JudgeFeatures = JudgeFeatures(), l2: float = 1e-3, iters: int = 300) -> Judge:
        """Train on waves (N, S) at `sample_rate` and their classes (N,) in 0..n_classes-1. Classes without
        a training clip keep zero weights (their logit is the bias, pushed down by the other classes')."""
        labels = check_labels(labels, len(waves), n_classes, "clip")
        if l2 < 0 or iters < 1:
            raise ConfigError(f"the judge needs l2 >= 0 and iters >= 1, got l2={l2}, iters={iters}")
        x = clip_features(waves, sample_rate, features)                # (N, D)
        return cls(sample_rate, features, LinearJudge.fit(x, labels, n_classes, l2=l2, iters=iters))

    @torch.no_grad()
    def logits(self, waves: torch.Tensor) -> torch.Tensor:
        """(N, C) class scores of waves (N, S)."""
        return self.linear.logits(clip_features(waves, self.sample_rate, self.features))

    def predict(self, waves: torch.Tensor) -> torch.Tensor:
        """(N,) the most likely class of each clip."""
        return self.logits(waves).argmax(-1)

    def accuracy(self, waves: torch.Tensor, labels: torch.Tensor) -> float:
        """The share (in [0, 1]) of clips classified as their label."""
        if len(waves) != len(torch.as_tensor(labels)):
            raise DataError(f"{len(waves)} clips but {len(torch.as_tensor(labels))} labels")
        return self.linear.accuracy(clip_features(waves, self.sample_rate, self.features), labels)

    def to_dict(self) -> dict[str, Any]:
        """Everything the judge is, as JSON-able numbers and lists (float64 values survive JSON exactly)."""
        return {"format": FORMAT, "sample_rate": self.sample_rate, "features": dataclasses.asdict(self.features),
                **self.linear.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Judge:
        """The judge `to_dict` wrote; anything else raises DataError saying what is wrong."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"not a saved sound judge (expected format {FORMAT!r})")
        try:
            features = JudgeFeatures(**d["features"])
            sample_rate = int(d["sample_rate"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"a saved sound judge with a missing or malformed field: {e}") from None
        linear = LinearJudge.from_dict(d)
        size = features.size()
        if linear.mean.shape != (size,):
            raise DataError(f"a saved sound judge's arrays do not fit its {size} features: mean "
                            f"{tuple(linear.mean.shape)}, weight {tuple(linear.weight.shape)}")
        return cls(sample_rate, features, linear)
