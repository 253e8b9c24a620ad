"""Sentences from files through the text kind: the three layouts of `--data text`, yelp's counts, the exact
errors (file:line), new inputs with a run's vocabulary, the per-token unit and the --help of the flags."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

from vaekit.cli import build_parser
from vaekit.config import DataConfig
from vaekit.data.base import SPLITS
from vaekit.errors import ConfigError, DataError
from vaekit.kinds import kind_of, load_path, load_split
from vaekit.kinds.texts import read_split
from vaekit.kinds.texts.vocab import EOS, UNK, Vocabulary


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def text_cfg(path: Path, **kw) -> DataConfig:
    return DataConfig(dataset="text", data_dir=str(path), **kw)


def words(data, split_stats=None) -> list[list[str]]:
    v = Vocabulary.from_stats(split_stats or data.stats)
    return [v.decode(row) for row in data.x.tolist()]


def test_a_folder_of_txt_splits_reads_with_the_training_vocabulary(tmp_path):
    d = write(tmp_path / "c", {"train.txt": "the cat sat\n\nthe dog sat\n", "valid.txt": "the emu sat\n",
                               "test.txt": "a cat\n"})
    cfg = text_cfg(d, max_length=5)
    train = load_split(cfg, "train")
    assert train.stats == {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "sat", "the", "cat", "dog"]}
    assert train.x.tolist() == [[5, 6, 4, EOS, 0, 0], [5, 7, 4, EOS, 0, 0]]
    assert train.event_shape == (6,) and train.labels is None and train.kind == "texts" and not train.is_image
    assert train.lengths.tolist() == [4, 4]
    val = load_split(cfg, "val", stats=train.stats)  # never rebuilt: emu is unknown
    assert val.x.tolist() == [[5, UNK, 4, EOS, 0, 0]] and val.stats == train.stats
    assert load_split(cfg, "test", stats=train.stats).x.tolist() == [[UNK, 6, EOS, 0, 0, 0]]
    with pytest.raises(DataError, match="the val split of text needs the training split's vocabulary"):
        load_split(cfg, "val")


def test_class_suffixed_files_give_labels_in_numeric_order_of_their_suffixes(tmp_path):
    files = {f"{stem}.{k}": f"w{k} x\n" * (k + 1) for stem in ("train", "valid", "test") for k in (0, 2, 10)}
    d = write(tmp_path / "c", files)
    train = load_split(text_cfg(d), "train")
    assert train.label_names == ["0", "2", "10"]
    assert train.labels.tolist() == [0] + [1] * 3 + [2] * 11
    assert [w[0] for w in words(train)] == ["w0"] + ["w2"] * 3 + ["w10"] * 11
    (d / "valid.2").unlink()
    with pytest.raises(DataError, match=f"{d / 'valid.2'} is missing"):
        load_split(text_cfg(d), "val", stats=train.stats)


def test_one_file_is_split_90_5_5_by_the_data_seed(tmp_path):
    f = tmp_path / "all.txt"
    f.write_text("".join(f"s{i} end\n" for i in range(200)), encoding="utf-8")
    splits = {}
    for seed in (0, 1):
        splits[seed] = [[t[0] for t in read_split(text_cfg(f, data_seed=seed), s).tokens] for s in SPLITS]
        assert [len(p) for p in splits[seed]] == [180, 10, 10]
        ids = [w for part in splits[seed] for w in part]
        assert sorted(ids) == sorted(f"s{i}" for i in range(200))  # disjoint, and together every line
    assert splits[0][1] != splits[1][1]  # another seed, another split
    train = load_split(text_cfg(f), "train")
    assert len(train.stats["vocabulary"]) == 4 + 181  # the training lines' s_i and "end"
    val = load_split(text_cfg(f), "val", stats=train.stats)
    assert words(val, train.stats) == [["<unk>", "end"]] * 10  # held-out lines' words are not in it
    assert torch.equal(train.x, load_split(text_cfg(f), "train").x)


def test_lowercase_and_long_lines(tmp_path, caplog):
    d = write(tmp_path / "c", {"train.txt": "The CAT sat\na b c d e f\n\n\nx\n", "valid.txt": "x\n",
                               "test.txt": "x\n"})
    with caplog.at_level(logging.WARNING, logger="vaekit.kinds.texts"):
        train = load_split(text_cfg(d, max_length=4, lowercase=True), "train")
    assert words(train) == [["the", "cat", "sat"], ["a", "b", "c", "d"], ["x"]]
    assert train.event_shape == (5,)
    assert f"{d / 'train.txt'}: 3 sentences read; 2 empty lines skipped, 1 lines cut to --max-length 4" in caplog.text
    with pytest.raises(DataError, match=rf"^{d / 'train.txt'}:2: 6 tokens, more than --max-length 4 "):
        load_split(text_cfg(d, max_length=4, long_lines="refuse"), "train")


def test_unreadable_files_are_errors_that_name_the_file_and_line(tmp_path):
    d = write(tmp_path / "c", {"valid.txt": "x\n", "test.txt": "\n  \n"})
    (d / "train.txt").write_bytes("ok\nfine\nbad \xe9 here\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{d / 'train.txt'}:3: not UTF-8 text \(byte 0xe9 at offset 12\)$"):
        load_split(text_cfg(d), "train")
    stats = {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "x"]}
    with pytest.raises(DataError, match=rf"^{d / 'test.txt'}: no sentences \(the file holds 2 empty lines"):
        load_split(text_cfg(d), "test", stats=stats)
    (d / "valid.txt").unlink()
    with pytest.raises(DataError, match=rf"^{d / 'valid.txt'} is missing$"):
        load_split(text_cfg(d), "val", stats=stats)
    with pytest.raises(DataError, match=r"--data-dir .*nowhere does not exist"):
        load_split(text_cfg(tmp_path / "nowhere"), "train")
    with pytest.raises(DataError, match=r"found neither train\.txt nor train\.K"):
        load_split(text_cfg(write(tmp_path / "empty", {})), "train")
    with pytest.raises(ConfigError, match="--data text needs --data-dir"):
        load_split(DataConfig(dataset="text"), "train")


def test_new_inputs_read_with_the_runs_vocabulary(tmp_path):
    f = tmp_path / "new.txt"
    f.write_text("the cat\nthe zebra sat on\n", encoding="utf-8")
    stats = {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "the", "cat", "sat"]}
    data = load_path(f, DataConfig(dataset="text-shapes", max_length=3), stats=stats)
    assert data.x.tolist() == [[4, 5, EOS, 0], [4, UNK, 6, EOS]]  # cut to --max-length 3
    with pytest.raises(DataError, match=r"the run's data_stats\.json: expected a 'vocabulary' list"):
        load_path(f, DataConfig(dataset="text-shapes"))
    with pytest.raises(DataError, match="is a folder; give a text file"):
        load_path(tmp_path, DataConfig(dataset="text-shapes"), stats=stats)


def test_the_unit_is_nats_per_token_counting_eos():
    kind = kind_of("text-shapes")
    stats = {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c"]}
    from vaekit.kinds.texts import sentence_data

    data = sentence_data([["a", "b", "c"], ["a", "b"], ["c"]], Vocabulary.from_stats(stats), 5)
    unit = kind.unit(None, data)
    assert (unit.name, unit.key) == ("nats/token", "nats_per_token")
    assert unit.nats == pytest.approx((4 + 3 + 2) / 3)  # tokens + eos, averaged over items
    assert unit.of(-3.0 * unit.nats) == pytest.approx(3.0)  # 3 nats a token: perplexity e^3
    assert kind.unit(None, data.take(1)).nats == 4.0


def test_a_text_model_needs_a_vocabulary_and_the_kind_admits_only_its_own_models():
    kind = kind_of("yelp")
    with pytest.raises(ConfigError, match="a text model needs its training split's vocabulary"):
        kind.networks(None, (41,), 1, None)
    with pytest.raises(ConfigError, match="a text model needs its training split's vocabulary"):
        kind.likelihood(None, (41,), {"mean": [0.0]})
    assert (kind.name, kind.architectures, kind.likelihoods) == ("texts", ("lstm", "lm"), ("categorical",))
    assert kind.shows((41,)) and not kind.shows((1, 28, 28))


def test_the_flags_have_help_and_are_checked(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    helptext = capsys.readouterr().out
    for flag in ("--max-length", "--long-lines", "--min-count", "--max-vocab", "--lowercase", "--no-lowercase"):
        assert flag in helptext
    assert "text-shapes" in helptext
    with pytest.raises(ConfigError, match="long-lines='cut' is not one of truncate, refuse"):
        DataConfig(long_lines="cut")
    with pytest.raises(ConfigError, match="max-length=0 must be > 0"):
        DataConfig(max_length=0)
    with pytest.raises(ConfigError, match="min-count=0 must be > 0"):
        DataConfig(min_count=0)
    with pytest.raises(ConfigError, match="max-vocab=-1 must be >= 0"):
        DataConfig(max_vocab=-1)


YELP = Path(os.environ.get("VAEKIT_DATA", "/nonexistent")) / "yelp"


@pytest.mark.skipif(not (YELP / "train.0").is_file(), reason="yelp needs VAEKIT_DATA=DIR with DIR/yelp")
def test_yelp_counts_labels_and_vocabulary():
    cfg = DataConfig(dataset="yelp")
    train = load_split(cfg, "train")
    assert len(train) == 126_670 == 50_278 + 76_392
    assert int(train.labels.sum()) == 76_392 and train.label_names == ["negative", "positive"]
    assert int((train.labels[:50_278] == 0).sum()) == 50_278  # train.0 first
    assert len(train.stats["vocabulary"]) == 4 + 9_081  # the README's 9,378 tokens over all six files
    assert int(train.lengths.max()) == 16 and train.event_shape == (41,)  # at most 15 tokens + eos
    val, test = (load_split(cfg, s, stats=train.stats) for s in ("val", "test"))
    assert (len(val), len(test)) == (20_000, 15_278 + 28_205)
    assert int(test.labels.sum()) == 28_205


def test_yelp_without_its_files_names_vaekit_data(monkeypatch, tmp_path):
    monkeypatch.delenv("VAEKIT_DATA", raising=False)
    with pytest.raises(DataError, match=r"(?s)yelp files not found.*VAEKIT_DATA is not set"):
        load_split(DataConfig(dataset="yelp"), "train")
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    with pytest.raises(DataError, match=f"set VAEKIT_DATA=DIR, or give --data-dir; looked in:\n  {tmp_path / 'yelp'}"):
        load_split(DataConfig(dataset="yelp"), "train")
