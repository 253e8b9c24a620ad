"""Corpus BLEU (Papineni et al. 2002, "BLEU: a Method for Automatic Evaluation of Machine Translation"),
written out so that every step of the formula can be checked: clipped n-gram counts summed over the corpus,
their geometric mean, the brevity penalty."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from vaekit.errors import ConfigError, DataError


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    """The n-grams of a sentence and how often each occurs."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(references: Sequence[Sequence[str]], hypotheses: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """Corpus BLEU in [0, 100] of tokenised hypotheses against one reference each (Papineni et al. 2002):

        BLEU = BP · exp(Σ_n (1/N) log p_n),   p_n = Σ_s Σ_g min(count_hyp(g), count_ref(g)) / Σ_s Σ_g count_hyp(g)
        BP   = 1 if c > r else exp(1 - r / c)

    with n-grams g up to N = `max_n` summed over the whole corpus (not averaged per sentence), c the total
    hypothesis length and r the total reference length. No smoothing: a corpus without any matching
    N-gram scores 0, as in the paper and in the style-transfer papers that report it."""
    if len(references) != len(hypotheses):
        raise DataError(f"BLEU needs one reference per hypothesis: {len(references)} references, "
                        f"{len(hypotheses)} hypotheses")
    if max_n < 1:
        raise ConfigError(f"BLEU's max_n={max_n} must be >= 1")
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        c, r = c + len(hyp), r + len(ref)
        for n in range(1, max_n + 1):
            h, g = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(k, g[gram]) for gram, k in h.items())  # clipped counts
            totals[n - 1] += sum(h.values())
    if c == 0 or min(matches) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / max_n
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return 100.0 * brevity * math.exp(log_p)
