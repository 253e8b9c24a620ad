"""The three measures of a sentence conversion: BLEU against hand-computed values and Papineni et al.'s own
examples, the bag-of-n-grams classifier (accurate on a separable label, at chance on shuffled ones, its
hand-written gradient equal to autograd's), the language model's perplexity against a token-by-token
reference, and a conditional sentence VAE that converts text-shapes sentences to a target object."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.errors import ConfigError, DataError
from vaekit.kinds import kind_of
from vaekit.kinds.texts import read_split
from vaekit.kinds.texts.measures import BagOfNgrams, bleu, conversion_measures, perplexity, sentences_of
from vaekit.kinds.texts.measures.classifier import objective
from vaekit.kinds.texts.vocab import PAD, Vocabulary

DATA = DataConfig(dataset="text-shapes", subset=2000)


def words(text: str) -> list[str]:
    return text.split()


# --- BLEU ---------------------------------------------------------------------------------------------
def test_bleu_of_identical_sentences_is_100():
    refs = [words("a big red square moves left ."), words("there is a star")]
    assert bleu(refs, refs) == pytest.approx(100.0)


def test_bleu_without_a_matching_4_gram_is_0_without_smoothing():
    # every unigram, bigram and trigram of the hypothesis matches; no 4-gram does
    assert bleu([words("the cat is on the mat")], [words("the cat sat on the mat")]) == 0.0
    assert bleu([words("a b c d")], [words("a b c e")]) == 0.0
    assert bleu([words("a b c")], [words("a b c")]) == 0.0  # too short to hold a 4-gram at all
    assert bleu([words("a b")], [[]]) == 0.0


def test_bleu_counts_over_the_corpus_by_hand():
    refs = [words("the cat is on the mat"), words("a b c d e")]
    hyps = [words("the cat sat on the mat"), words("a b c d e")]
    # clipped matches / hypothesis n-grams, both sentences summed: 1-grams (5 + 5) / (6 + 5), 2-grams
    # (3 + 4) / (5 + 4), 3-grams (1 + 3) / (4 + 3), 4-grams (0 + 2) / (3 + 2); c = r = 11, so no penalty
    expected = 100 * (10 / 11 * 7 / 9 * 4 / 7 * 2 / 5) ** 0.25  # = 100 (16/99)^(1/4) = 63.40
    assert bleu(refs, hyps) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(63.40, abs=0.01)


def test_bleu_clips_repeated_words_as_papineni_et_al():
    # their section 2.1: "the the the the the the the" against a reference with two "the": 2/7
    refs, hyps = [words("the cat is on the mat")], [words("the the the the the the the")]
    assert bleu(refs, hyps, max_n=1) == pytest.approx(100 * 2 / 7, rel=1e-12)


def test_bleu_brevity_penalty_is_exp_of_1_minus_r_over_c():
    ref = words("a small red square moves left slowly .")  # r = 8
    hyp = ref[:6]  # c = 6, every n-gram matches: BLEU = 100 BP
    assert bleu([ref], [hyp]) == pytest.approx(100 * math.exp(1 - 8 / 6), rel=1e-12)
    longer = [*ref, "indeed"]  # c > r: no penalty; 8 of 9 unigrams, ..., 5 of 6 4-grams match
    assert bleu([ref], [longer]) == pytest.approx(100 * (8 / 9 * 7 / 8 * 6 / 7 * 5 / 6) ** 0.25, rel=1e-12)


def test_bleu_agrees_with_sacrebleu_where_it_is_installed():
    sacrebleu = pytest.importorskip("sacrebleu")
    g = torch.Generator().manual_seed(0)
    vocab = words("the a cat dog sat on mat is was good bad food")
    lengths = torch.randint(3, 16, (200,), generator=g).tolist()
    refs = [[vocab[i] for i in torch.randint(0, 12, (n,), generator=g).tolist()] for n in lengths]
    hyps = [[w if torch.rand(1, generator=g) < 0.7 else vocab[0] for w in r][:len(r) - 1] for r in refs]
    theirs = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]], tokenize="none",
                                   smooth_method="none", force=True).score
    assert bleu(refs, hyps) == pytest.approx(theirs, rel=1e-9)


def test_bleu_refuses_unpaired_sentences():
    with pytest.raises(DataError, match="one reference per hypothesis: 2 references, 1 hypotheses"):
        bleu([["a"], ["b"]], [["a"]])


# --- the classifier -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def splits():
    train, test = read_split(DATA, "train"), read_split(DATA, "test")
    return train.tokens, torch.tensor(train.labels), test.tokens, torch.tensor(test.labels)


def test_the_classifier_reads_the_object_of_a_sentence(splits):
    train_x, train_y, test_x, test_y = splits
    clf = BagOfNgrams.fit(train_x, train_y)
    assert clf.classes == 5
    assert clf.accuracy(test_x, test_y) >= 0.95  # the object word is in every sentence
    assert clf.predict([words("a tiny blue heart spins around .")]).tolist() == [4]  # OBJECTS[4] = heart


def test_the_classifier_is_at_chance_on_shuffled_labels(splits):
    train_x, train_y, test_x, test_y = splits
    shuffled = train_y[torch.randperm(len(train_y), generator=torch.Generator().manual_seed(0))]
    clf = BagOfNgrams.fit(train_x, shuffled)
    assert clf.accuracy(train_x, shuffled) > 0.3  # it fits some of the noise it was given...
    assert abs(clf.accuracy(test_x, test_y) - 0.2) < 0.1  # ...which says nothing of the test set (chance 1/5)


def test_the_written_out_gradient_is_autograds():
    g = torch.Generator().manual_seed(0)
    dense = torch.rand(30, 7, generator=g) * (torch.rand(30, 7, generator=g) < 0.4)  # (N, F)
    labels = torch.randint(0, 3, (30,), generator=g)
    w, b = torch.randn(7, 3, generator=g, requires_grad=True), torch.randn(3, generator=g, requires_grad=True)
    loss, dw, db = objective(dense.to_sparse().coalesce(), labels, 0.3)(w.detach(), b.detach())
    reference = F.cross_entropy(dense @ w + b, labels) + 0.15 * w.pow(2).sum()
    reference.backward()
    assert float(loss) == pytest.approx(float(reference.detach()), rel=1e-6)
    torch.testing.assert_close(dw, w.grad)
    torch.testing.assert_close(db, b.grad)


def test_a_saved_classifier_predicts_as_before(splits, tmp_path):
    train_x, train_y, test_x, _ = splits
    clf = BagOfNgrams.fit(train_x[:200], train_y[:200], iters=20)
    clf.save(tmp_path / "clf.pt")
    again = BagOfNgrams.load(tmp_path / "clf.pt")
    torch.testing.assert_close(again.logits(test_x), clf.logits(test_x))
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=r"bad\.pt: not a saved sentence classifier"):
        BagOfNgrams.load(tmp_path / "bad.pt")


def test_the_classifier_refuses_labels_that_do_not_match():
    with pytest.raises(DataError, match="one integer class per sentence: 2 sentences"):
        BagOfNgrams.fit([["a"], ["b"]], torch.tensor([0, 1, 1]))


# --- perplexity and conversion --------------------------------------------------------------------------
def train_run(path, epochs: int, **model) -> object:
    from vaekit.api import train

    cfg = Config(data=DATA, model=ModelConfig(**model),
                 train=TrainConfig(epochs=epochs, batch_size=32, progress=False, report=False))
    return train(cfg, out=path, callbacks=[])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("conversion")
    lm = train_run(root / "lm", 1, arch="lm", embed_dim=8, rnn_hidden=16, latent_dim=4)
    # measured: 8 epochs convert 100 % of the test sentences to the target object (seeds 0, 1, 2; chance is
    # 20 %), ~3 s of training on one core
    cvae = train_run(root / "cvae", 8, embed_dim=32, rnn_hidden=64, latent_dim=8, conditional=True)
    return lm, cvae


@torch.no_grad()
def reference_log_probs(lm_run, sentences: list[list[str]]) -> tuple[float, int]:
    """Σ log p(s) and Σ (|s| + 1), one sentence and one token at a time through the LSTM cell."""
    model, vocab = lm_run.model, Vocabulary.from_stats(lm_run.data_stats)
    head, total, tokens = model.likelihood_head, 0.0, 0
    for s in sentences:
        ids = [*vocab.encode(s), 3]  # the sentence and its <eos>
        state, _ = head.initial_state(model.decoder(torch.zeros(1, model.latent_dim)))
        previous = 2  # <bos>
        for token in ids:
            out, state = head.rnn(head.embed(torch.tensor([[previous]])), state)  # (1, 1, H)
            total += float(torch.log_softmax(head.logits(out[0, 0]).double(), -1)[token])
            previous = token
        tokens += len(ids)
    return total, tokens


def test_perplexity_is_the_language_models_exact_per_token_likelihood(runs, splits):
    lm, _ = runs
    sentences = splits[0][:150]  # training sentences of many lengths: batches cut to different widths
    total, tokens = reference_log_probs(lm, sentences)
    assert perplexity(lm, sentences, batch_size=40) == pytest.approx(math.exp(-total / tokens), rel=1e-5)
    assert tokens == sum(len(s) + 1 for s in sentences)


def test_perplexity_needs_a_language_model(runs, splits):
    lm, cvae = runs
    with pytest.raises(ConfigError, match="needs a language model run"):
        perplexity(cvae, splits[0][:3])
    with pytest.raises(DataError, match="no sentences"):
        perplexity(lm, [])


def test_a_conditional_sentence_vae_converts_to_the_target_object(runs, splits):
    lm, cvae = runs
    clf = BagOfNgrams.fit(splits[0], splits[1])
    test = kind_of("text-shapes").load_split(DATA, "test", cvae.data_stats)
    m = conversion_measures(cvae, clf, lm, test)  # each sentence to the next object, (y + 1) mod 5
    assert m["n"] == len(test) == 200 and m["source_accuracy"] >= 95.0
    assert m["transfer_accuracy"] >= 60.0  # chance is 20 %; measured 100 %
    assert 0.0 <= m["bleu"] <= 100.0 and 1.0 < m["perplexity"] < 200.0
    outputs = [o.split() for _, o in m["examples"]]
    assert all(o for o in outputs)  # sentences, not empty lines
    heart = conversion_measures(cvae, clf, lm, test, target=4, beam=2)  # everything to hearts, by beam search
    assert heart["n"] == int((test.labels != 4).sum()) and heart["transfer_accuracy"] >= 60.0


def test_conversion_needs_a_conditional_model(runs):
    lm, _ = runs
    test = kind_of("text-shapes").load_split(DATA, "test", lm.data_stats)
    with pytest.raises(ConfigError, match="needs a class-conditional model"):
        conversion_measures(lm, None, lm, test)


def test_sentences_of_stops_at_eos():
    vocab = Vocabulary(("<pad>", "<unk>", "<bos>", "<eos>", "red", "star"))
    items = torch.tensor([[4, 5, 3, PAD], [5, 3, 4, 4]])
    assert sentences_of(items, vocab) == [["red", "star"], ["star"]]
