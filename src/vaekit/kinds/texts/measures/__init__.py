"""How good a sentence conversion is: three numbers read together (Shen et al. 2017, "Style Transfer from
Non-Parallel Text by Cross-Alignment"; Hu et al. 2017, "Toward Controlled Generation of Text").

    transfer accuracy      the share of converted sentences that an independent classifier assigns to the
                           target class (`BagOfNgrams`, trained on the training split's sentences);
    content preservation   corpus BLEU-4 between each source sentence and its conversion (`bleu`);
    fluency                the perplexity of the converted sentences under a language model trained on the
                           same data (`perplexity`, a `--model lm` run).

Any one of them alone is easy to win: copying the input keeps BLEU at 100, and emitting one stock sentence
of the target class gives full transfer. `conversion_measures` reports them together, beside the same
measures of the unconverted sources. Sentences pass between models as tokens, so the classifier and the
language model need not share the converted model's vocabulary. docs/text_results.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.texts.measures.bleu import bleu
from vaekit.kinds.texts.measures.classifier import BagOfNgrams
from vaekit.kinds.texts.vocab import PAD, Vocabulary

__all__ = ["BagOfNgrams", "bleu", "conversion_measures", "convert_sentences", "perplexity", "sentences_of"]


def sentences_of(items: torch.Tensor, vocab: Vocabulary) -> list[list[str]]:
    """Items (N, T) of token ids -> their tokens, up to each item's <eos>."""
    return [vocab.decode(row) for row in items.tolist()]


@torch.no_grad()
def perplexity(lm_run: Any, sentences: Sequence[Sequence[str]], batch_size: int = 256) -> float:
    """exp(-Σ_s log p(s) / Σ_s (|s| + 1)): the per-token perplexity of tokenised sentences under a language
    model run (`--model lm`), each sentence's <eos> counted as a token, as He et al. (2019) count them.

    The language model has no latent (q(z|x) = p(z), KL = 0), so one importance sample gives its exact
    log p(s) (`log_likelihood(x, k=1)`). Sentences are read with the run's vocabulary (unknown words
    become <unk>) and cut to its --max-length."""
    model, cfg = lm_run.model, lm_run.config
    if cfg.model.arch != "lm":
        raise ConfigError(f"perplexity needs a language model run (--model lm); {lm_run.dir} is "
                          f"--model {cfg.model.arch}")
    if not sentences:
        raise DataError("perplexity of no sentences: give at least one")
    vocab = Vocabulary.from_stats(lm_run.data_stats, f"{lm_run.dir}/data_stats.json")
    x = vocab.items([list(s)[:cfg.data.max_length] for s in sentences], cfg.data.max_length)  # (N, T_max)
    lengths = (x != PAD).sum(-1)  # (N,) tokens incl. <eos>
    order = torch.argsort(lengths)  # batches of similar lengths, each cut to its longest
    device = next(model.parameters()).device
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        xb = x[idx, :int(lengths[idx].max())].to(device)  # (b, T_b)
        total += float(model.log_likelihood(xb, k=1).double().sum())
    return math.exp(-total / float(lengths.sum()))


def classes_of(vae_run: Any) -> int:
    """The classes of a conditional VAE run, or a clear error for any other run."""
    k = int(getattr(vae_run.model, "n_classes", 0))
    if not k:
        raise ConfigError(f"conversion needs a class-conditional model (--conditional); {vae_run.dir} is not one")
    return k


@torch.no_grad()
def convert_sentences(vae_run: Any, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor,
                      beam: int = 0, batch_size: int = 256) -> torch.Tensor:
    """Items x (N, T) of class y (N,) converted to class `target` (N,) by a conditional sentence VAE: z the
    mean of q(z|x, y), decoded with the target label greedily (beam = 0) or by beam search of that width.
    Returns ids (N, T_max) on the CPU."""
    model = vae_run.model
    classes_of(vae_run)
    device = next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(x), batch_size):
        xb, yb, tb = (t[start:start + batch_size].to(device) for t in (x, y, target))
        if beam:
            z = model.encode(xb, yb).mean  # (b, D)
            out.append(model.likelihood(z, tb).beam(beam).cpu())
        else:
            out.append(model.convert(xb, yb, tb).cpu())
    return torch.cat(out)


def conversion_measures(vae_run: Any, classifier: BagOfNgrams, lm_run: Any, data: Any,
                        target: int | torch.Tensor | None = None, beam: int = 0,
                        limit: int | None = None) -> dict[str, Any]:
    """Convert the labelled sentences `data` (e.g. the test split) with a conditional VAE run and measure
    the conversion: transfer accuracy (%), BLEU-4 against the sources, and the perplexity of the outputs
    under `lm_run`; beside them the classifier's accuracy on the sources (its own test accuracy) and the
    sources' perplexity, the scale the two figures are read on.

    target: one class for every sentence (sentences already of that class are left out), (N,) classes,
    or None: the next class, (y + 1) mod K, i.e. the other sentiment for two classes."""
    k = classes_of(vae_run)
    labels = getattr(data, "labels", None)
    if labels is None or labels.dim() != 1:
        raise DataError("conversion measures need sentences with class labels (N,), e.g. yelp's test split")
    x, y = data.x[:limit], labels[:limit]
    if target is None:
        target = (y + 1) % k
    elif isinstance(target, int):
        keep = y != target
        x, y, target = x[keep], y[keep], torch.full((int(keep.sum()),), target, dtype=torch.int64)
    if len(target) != len(y) or (k and ((target < 0) | (target >= k)).any()):
        raise ConfigError(f"conversion targets must be one class per sentence in 0..{k - 1}")
    vocab = Vocabulary.from_stats(vae_run.data_stats, f"{vae_run.dir}/data_stats.json")
    sources = sentences_of(x, vocab)
    outputs = sentences_of(convert_sentences(vae_run, x, y, target, beam), vocab)
    return {
        "transfer_accuracy": 100.0 * classifier.accuracy(outputs, target),
        "bleu": bleu(sources, outputs),
        "perplexity": perplexity(lm_run, outputs),
        "source_accuracy": 100.0 * classifier.accuracy(sources, y),
        "source_perplexity": perplexity(lm_run, sources),
        "n": len(sources),
        "examples": [(" ".join(s), " ".join(o)) for s, o in zip(sources[:5], outputs[:5], strict=True)],
    }
