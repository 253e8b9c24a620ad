"""What benchmarks/sounds.py hears of a trained sound VAE: its reconstructions, a conditional model's samples
and conversions, turned into waves by Griffin-Lim and judged by `vaekit.kinds.sounds.measures`.

Two judges, both trained on real clips of the training split only (`judges`):
- the content judge hears the digit (spoken-digits) or the pitch (tones); trained on every training clip, its
  reference is its accuracy on the real test clips (unseen speakers);
- the speaker judge (spoken-digits) hears who speaks. The test speakers never occur in training, so it is
  trained on the training speakers' renditions 0-2 and its reference is its accuracy on their rendition 3.
  A test speaker's voice is not one of its classes; whether a conversion kept it is read as agreement: the
  judge names the same training voice for the converted clip as for its source, beside how often it does so
  for two real clips of one test speaker (the source and the same speaker saying the target digit: what a
  perfect conversion would be) and for a real clip of another test speaker saying the target digit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import torch

CONTENT = {"tones": "pitch", "spoken-digits": "digit"}  # the factor the content judge hears
BATCH = 64  # items decoded at a time


def factor(clips: Any, name: str) -> torch.Tensor:
    """The (N,) int64 column `name` of a split's known factors."""
    return clips.factors[:, clips.factor_names.index(name)]


def renditions(files: list[str]) -> torch.Tensor:
    """spoken-digits' rendition of each clip, from its file name D/D_sSS_rR.flac: (N,) int64."""
    return torch.tensor([int(re.search(r"_r(\d+)\.", f).group(1)) for f in files])


def judges(data_cfg: Any) -> dict[str, Any]:
    """The content judge and, on spoken-digits, the speaker judge with its held-out rendition (module
    docstring); the seconds each took to train."""
    from vaekit.kinds.sounds.corpus import read_clips
    from vaekit.kinds.sounds.measures import Judge

    train = read_clips(data_cfg, "train")
    content = factor(train, CONTENT[data_cfg.dataset])
    start = time.perf_counter()
    out: dict[str, Any] = {"content": Judge.fit(train.waves, content, train.sample_rate, int(content.max()) + 1)}
    out["content_seconds"] = time.perf_counter() - start
    if data_cfg.dataset == "spoken-digits":
        speaker, rendition = factor(train, "speaker"), renditions(train.files)
        fit, held = rendition <= 2, rendition == 3
        start = time.perf_counter()
        out["speaker"] = Judge.fit(train.waves[fit], speaker[fit], train.sample_rate, int(speaker.max()) + 1)
        out["speaker_seconds"] = time.perf_counter() - start
        out["held_waves"], out["held_speakers"] = train.waves[held], speaker[held]
        out["held_digits"] = factor(train, "digit")[held]
        out["train_speakers"] = sorted(set(speaker.tolist()))
    return out


@torch.no_grad()
def decoded_waves(make: Callable[[slice], torch.Tensor], n: int, stats: dict) -> torch.Tensor:
    """Items made BATCH at a time by make(slice) -> (b, 1, bins, frames), as clips (n, clip_samples)."""
    from vaekit.kinds.sounds.features import items_to_waves

    return torch.cat([items_to_waves(make(slice(i, i + BATCH)), stats) for i in range(0, n, BATCH)])


def reconstructions(run: Any, test: Any, waves: torch.Tensor, content: torch.Tensor, judge: Any) -> dict:
    """Quality of the model's reconstructions (mean of p(x|z) at z = E q(z|x[, y])) against the true clips,
    and the content judge's accuracy on them."""
    from vaekit.kinds.sounds.features import spec_from_stats
    from vaekit.kinds.sounds.measures import judged_accuracy, reconstruction_measures

    model, stats = run.model, run.data_stats
    y = test.labels if model.n_classes else None
    made = decoded_waves(lambda s: model.reconstruct(test.x[s], None if y is None else y[s]), len(test), stats)
    quality = reconstruction_measures(waves, made, spec_from_stats(stats))
    return {"quality": quality, "judged": judged_accuracy(made, content, judge, waves, content)}


def samples(run: Any, per_class: int, waves: torch.Tensor, content: torch.Tensor, judge: Any, seed: int) -> dict:
    """The content judge on `per_class` samples of a conditional model given each label, z ~ p(z)."""
    from vaekit.kinds.sounds.measures import judged_accuracy

    model = run.model
    labels = torch.arange(model.n_classes).repeat_interleave(per_class)  # (K * per_class,)
    z = model.prior_sample(len(labels), torch.Generator().manual_seed(seed))  # (N, D)
    made = decoded_waves(lambda s: model.decode(z[s], labels[s]), len(labels), run.data_stats)
    return judged_accuracy(made, labels, judge, waves, content)


def other_class(labels: torch.Tensor, n_classes: int, seed: int) -> torch.Tensor:
    """A target for each label, drawn (seeded) uniformly among the other classes."""
    shift = torch.randint(1, n_classes, (len(labels),), generator=torch.Generator().manual_seed(seed))
    return (labels + shift) % n_classes


def digit_conversions(run: Any, test: Any, idx: torch.Tensor, clips: Any, judges_: dict, seed: int) -> dict:
    """The content-conditional model converts each test clip to another class; the content judge's target
    accuracy; on spoken-digits the speaker judge's agreement that the voice stayed (module docstring)."""
    from vaekit.kinds.sounds.measures import conversion_measures

    waves, content = clips.waves[idx], test.labels
    target = other_class(content, run.model.n_classes, seed)
    made = decoded_waves(lambda s: run.model.convert(test.x[s], content[s], target[s]), len(test), run.data_stats)
    out = conversion_measures(made, target, judges_["content"], waves, content)
    if "speaker" in judges_:
        out["voice"] = voice_agreement(made, idx, target, clips, judges_["speaker"])
    return out


def voice_agreement(made: torch.Tensor, idx: torch.Tensor, target: torch.Tensor, clips: Any, judge: Any) -> dict:
    """% of converted clips the speaker judge names as it names their source, beside the same figure for a
    real clip of the source's speaker saying the target digit and for one of the next test speaker."""
    speaker, digit = factor(clips, "speaker"), factor(clips, "digit")
    voices = sorted(set(speaker.tolist()))
    nxt = torch.tensor([voices[(voices.index(int(s)) + 1) % len(voices)] for s in speaker[idx]])

    def partner(who: torch.Tensor) -> torch.Tensor:  # the first test clip of each (speaker, target digit)
        pairs = zip(who, target, strict=True)
        return torch.stack([torch.nonzero((speaker == s) & (digit == d))[0, 0] for s, d in pairs])

    source = judge.predict(clips.waves[idx])
    same, other = judge.predict(clips.waves[partner(speaker[idx])]), judge.predict(clips.waves[partner(nxt)])
    return {"converted": _agreement(judge.predict(made), source), "same_speaker": _agreement(same, source),
            "other_speaker": _agreement(other, source)}


def _agreement(predicted: torch.Tensor, source: torch.Tensor) -> float:
    return 100.0 * float((predicted == source).double().mean())


def speaker_conversions(run: Any, judges_: dict, seed: int) -> dict:
    """The speaker-conditional model says each of the training speakers' held-out clips (rendition 3, which
    the speaker judge never heard) in another training speaker's voice (drawn, seeded): the speaker judge's
    target accuracy beside its accuracy on those clips as they are and as the model reconstructs them
    (decoded with their own speaker), and the content judge's accuracy that
    the digit stayed. Sources are training speakers' because q(z|x, y) reads the source's speaker: a test
    speaker's label is an input the model never trained."""
    from vaekit.kinds import kind_of
    from vaekit.kinds.sounds.measures import conversion_measures, judged_accuracy

    cfg = run.config.data
    train = kind_of(cfg.dataset).load_split(cfg, "train", run.data_stats)
    held = train.select(torch.nonzero(renditions(train.files) == 3)[:, 0])
    speaker, digit = factor(held, "speaker").contiguous(), factor(held, "digit")  # (M,) each
    voices = torch.tensor(judges_["train_speakers"])
    place = torch.searchsorted(voices, speaker)  # each source's position among the training voices
    target = voices[other_class(place, len(voices), seed)]  # another training voice for each clip
    made = decoded_waves(lambda s: run.model.convert(held.x[s], speaker[s], target[s]), len(held), run.data_stats)
    out = conversion_measures(made, target, judges_["speaker"], judges_["held_waves"], judges_["held_speakers"])
    out["chance"] = 100.0 / (len(voices) - 1)  # the target is one of the other training speakers
    # the model's ceiling: the same clips decoded with their own speaker, heard as that speaker
    own = decoded_waves(lambda s: run.model.convert(held.x[s], speaker[s], speaker[s]), len(held), run.data_stats)
    out["reconstructed"] = 100.0 * judges_["speaker"].accuracy(own, speaker)
    out["word"] = judged_accuracy(made, digit, judges_["content"], judges_["held_waves"], judges_["held_digits"])
    return out
