"""Fuzzing config parsing: Config.from_dict, read_config_file and the train flags of the CLI.

Every malformed input must end in a ConfigError naming the option (or the file) - never another
exception type. Bad values are generated per field from its annotation and its documented range.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.helpers import case, fuzz
from vaekit import config as C
from vaekit.cli import main
from vaekit.config import Config
from vaekit.config_files import read_config_file
from vaekit.errors import ConfigError

SECTIONS = {"data": C.DataConfig, "model": C.ModelConfig, "train": C.TrainConfig}
FIELDS = {(s, f.name): f for s, t in SECTIONS.items() for f in dataclasses.fields(t)}
CHOICES = {"binarize": C.BINARIZE, "arch": C.ARCHS, "activation": C.ACTIVATIONS,
           "likelihood": C.LIKELIHOODS, "prior": C.PRIORS, "variance": C.VARIANCES, "kl": C.KL_ESTIMATORS,
           "objective": C.OBJECTIVES, "inference": C.INFERENCE, "schedule": C.SCHEDULES, "precision": ("fp32", "bf16"),
           "compile": C.COMPILE}
NON_POSITIVE = st.integers(-(2**63) + 1, 0)
NEGATIVE_INT, NEGATIVE_FLOAT = st.integers(-(2**63) + 1, -1), st.floats(max_value=-1e-300, allow_infinity=False)
BAD_SEED = st.integers(-(2**63) + 1, -1) | st.integers(2**62, 2**63 - 1)
# Values of the right type outside the documented range of each constrained field.
OUT_OF_RANGE = {
    "image_size": st.integers(-(2**63) + 1, 7), "channels": st.integers(-(2**63) + 1, 2**63 - 1).filter(
        lambda v: v not in (1, 3)), "subset": NON_POSITIVE, "workers": NEGATIVE_INT, "data_seed": BAD_SEED,
    "val_fraction": st.floats(max_value=0.0, allow_infinity=False) | st.floats(min_value=0.5, allow_infinity=False),
    "hidden": st.lists(st.integers(1, 5)).map(lambda v: [*v, 0]) | st.just([]),
    "latent_layers": st.lists(NON_POSITIVE, min_size=1, max_size=3),
    "layer_hidden": st.lists(NON_POSITIVE, min_size=1, max_size=3),
    "channels_base": NON_POSITIVE, "latent_dim": NON_POSITIVE, "n_mix": NON_POSITIVE, "prior_components": NON_POSITIVE,
    "res_blocks": NON_POSITIVE,
    "sigma": st.floats(max_value=0.0, allow_infinity=False), "lr": st.floats(max_value=0.0, allow_infinity=False),
    "ema": NEGATIVE_FLOAT | st.floats(min_value=1.0, allow_infinity=False),
    "lr_min_ratio": NEGATIVE_FLOAT | st.floats(min_value=1.0, exclude_min=True, allow_infinity=False),
    "seed": BAD_SEED, "data_dir": st.text(max_size=5).map(lambda t: t + "\0"),
    **{n: NON_POSITIVE for n in ("epochs", "batch_size", "iwae_k", "samples", "max_nonfinite", "grid", "log_every")},
    **{n: NEGATIVE_INT for n in ("lr_warmup_steps", "warmup_steps", "eval_k", "threads")},
    **{n: NEGATIVE_FLOAT for n in ("max_minutes", "weight_decay", "grad_clip", "beta", "free_bits")},
}
ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=8)
    | st.sampled_from([c for cs in CHOICES.values() for c in cs]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


def wrong_type(annotation: str) -> st.SearchStrategy:
    """Values a field of this annotation must refuse whatever its range."""
    base = annotation.replace(" ", "").replace("|None", "")
    huge = st.integers(2**63, 2**200) | st.integers(-(2**200), -(2**63))
    other = st.text(max_size=6) | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.none())
    if base == "int":
        return other | st.booleans() | st.floats() | huge
    if base == "float":
        return other | st.booleans() | st.sampled_from([math.inf, -math.inf, math.nan]) | st.integers(2**1024, 2**1100)
    if base == "bool":
        return other | st.integers() | st.floats()
    if base == "list[int]":
        return st.integers() | st.text(max_size=4) | st.lists(st.booleans() | st.floats() | st.text(), min_size=1,
                                                             max_size=3) | st.lists(huge, min_size=1, max_size=2)
    if base == "str|bool":  # a choice that old files may give as a bool (--compile: true/false = on/off)
        return st.integers() | st.floats() | st.lists(st.text(max_size=2), max_size=2)
    return st.integers() | st.booleans() | st.lists(st.text(max_size=2), max_size=2)  # str fields


@st.composite
def one_bad_field(draw: st.DrawFn) -> tuple[str, str, object]:
    section, name = draw(st.sampled_from(sorted(FIELDS)))
    f = FIELDS[(section, name)]
    options = [wrong_type(str(f.type))]
    if name in OUT_OF_RANGE:
        options.append(OUT_OF_RANGE[name])
    if name in CHOICES:
        options.append(st.text(max_size=10).filter(lambda v: v not in CHOICES[name]))
    return section, name, draw(st.one_of(options))


def option_names(section: str, name: str) -> set[str]:
    flag = FIELDS[(section, name)].metadata.get("flag")
    return {name, name.replace("_", "-")} | ({flag} if flag else set())


@fuzz(max_examples=400)
@given(one_bad_field())
@example(("train", "lr", 10**400))  # was OverflowError: int too large to convert to float
@example(("train", "lr", math.inf))  # was accepted: every step would be NaN
@example(("train", "beta", math.inf))  # was accepted
@example(("model", "min_log_scale", math.nan))  # was accepted (no range check)
@example(("train", "seed", 2**70))  # was accepted; torch.manual_seed then raised RuntimeError mid-run
@example(("data", "data_seed", -1))  # was accepted; numpy's default_rng(-1) raised ValueError
@example(("model", "hidden", [10**30]))  # was accepted; torch raised on building the layer
@example(("data", "data_dir", "a\0b"))  # was accepted; os.stat raised ValueError (not OSError)
def test_a_bad_value_is_a_config_error_naming_the_option(bad):
    section, name, value = bad
    with case(), pytest.raises(ConfigError) as e:
        Config.from_dict({section: {name: value}}, source="fuzz.json")
    msg = str(e.value)
    assert "fuzz.json" in msg and f"[{section}]" in msg
    assert any(n in msg for n in option_names(section, name)), msg


@fuzz(max_examples=300)
@given(st.dictionaries(st.sampled_from(list(SECTIONS)) | st.text(max_size=5) | st.integers() | st.none(),
                       st.dictionaries(st.sampled_from(sorted({n for _, n in FIELDS})) | st.text(max_size=5)
                                       | st.integers(), ANY_VALUE, max_size=4) | ANY_VALUE, max_size=4))
@example({1: {}, "x": {}})  # was TypeError: '<' not supported between 'str' and 'int' (sorting unknown keys)
@example({"data": {1: 2, "a": 3}})  # the same inside a section
def test_random_dicts_give_a_config_or_a_config_error(d):
    with case():
        try:
            cfg = Config.from_dict(d, source="fuzz.yaml")
        except ConfigError as e:
            assert str(e).startswith("fuzz.yaml")
            return
        assert Config.from_dict(cfg.to_dict()) == cfg  # what is accepted round-trips


def _toml(d: dict) -> str:
    """A tiny TOML writer for flat sections (json.dumps writes TOML's strings, numbers, arrays)."""
    lines = []
    for section, values in d.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]  # TOML has no null
    return "\n".join(lines) + "\n"


VALID_TEXT = {".json": json.dumps(Config().to_dict(), indent=1), ".toml": _toml(Config().to_dict()),
              ".yaml": "data:\n  dataset: shapes\n  subset: 100\nmodel:\n  hidden: [64, 32]\ntrain:\n  lr: 0.001\n"}


@st.composite
def config_text(draw: st.DrawFn) -> tuple[str, bytes]:
    """Random bytes, random text, or a valid config with a few bytes inserted, deleted or flipped."""
    suffix = draw(st.sampled_from([".json", ".toml", ".yaml", ".yml"]))
    kind = draw(st.sampled_from(["bytes", "text", "mutated"]))
    if kind == "bytes":
        return suffix, draw(st.binary(max_size=200))
    if kind == "text":
        return suffix, draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    raw = bytearray(VALID_TEXT[".yaml" if suffix == ".yml" else suffix].encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip":
            raw[at] = draw(st.integers(0, 255))
        elif op == "insert":
            raw[at:at] = draw(st.sampled_from([b"[", b"{", b"\"", b"=", b":", b"\n", b"- ", b"\xff", b"1e999"]))
        else:
            del raw[at]
    return suffix, bytes(raw)


@fuzz(max_examples=300)
@given(config_text())
@example((".json", b"[" * 100_000))  # was RecursionError from the json decoder
@example((".json", b"\xff\xfe{}"))  # was UnicodeDecodeError (not a ConfigError)
@example((".yaml", b"a: [1, 2"))  # was yaml.ScannerError/ParserError (not a ValueError, so not caught)
@example((".yaml", b"[" * 10_000))  # was RecursionError from the yaml composer
@example((".yaml", b"false"))  # was silently an empty config (`or {}`)
def test_config_files_parse_or_fail_with_a_config_error_naming_the_file(tmp_path_factory, text):
    suffix, raw = text
    path = tmp_path_factory.mktemp("cfg") / f"run{suffix}"
    path.write_bytes(raw)
    with case():
        try:
            Config.from_dict(read_config_file(path), source=str(path))
        except ConfigError as e:  # without PyYAML, .yaml files end here too: "PATH: YAML configs need PyYAML"
            assert str(path) in str(e)


def test_yaml_false_is_not_an_empty_config(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "c.yaml").write_text("false\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        Config.from_dict(read_config_file(tmp_path / "c.yaml"), source="c.yaml")
    (tmp_path / "e.yaml").write_text("")
    assert Config.from_dict(read_config_file(tmp_path / "e.yaml")) == Config()  # empty: all defaults


def test_missing_pyyaml_is_said_plainly(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "yaml" else real_import(name, *a, **k))
    (tmp_path / "c.yaml").write_text("data: {}\n")
    with pytest.raises(ConfigError) as e:
        read_config_file(tmp_path / "c.yaml")
    # was "config file c.yaml is not valid YAML: c.yaml: YAML configs need PyYAML": the ImportError's
    # ConfigError (a ValueError) was caught again by the parse-error clause
    assert str(e.value) == f"{tmp_path / 'c.yaml'}: YAML configs need PyYAML (pip install PyYAML)"


# --- the CLI -------------------------------------------------------------------------------------------------------

class Accepted(Exception):
    """Raised by the stubbed trainer: the command line parsed into this config."""


@pytest.fixture
def no_training(monkeypatch):
    import vaekit.api as api

    def fake_train(cfg, **kw):
        raise Accepted(cfg)

    monkeypatch.setattr(api, "train", fake_train)


# --compile takes an optional value (alone it means on), so argparse reads a value that starts with "-" as
# another flag; its values are checked by test_compile_flag_takes_auto_on_off
VALUE_FLAGS = sorted({"--" + f.metadata.get("flag", f.name.replace("_", "-")) for f in FIELDS.values()
                      if str(f.type) not in ("bool", "str | bool")})


@fuzz(max_examples=200)
@given(flag=st.sampled_from(VALUE_FLAGS),
       value=st.sampled_from(["0", "-1", "-0", "1e999", "nan", "inf", "-inf", "1.5", "true", "", " ", "1,2", "1,,-3",
                              "99999999999999999999999", "0x10", "abc", "none"]) | st.text(max_size=6))
@example(flag="--iwae-k", value="0")
@example(flag="--lr", value="inf")  # was accepted
@example(flag="--seed", value="99999999999999999999999")  # was accepted; training raised a RuntimeError
@example(flag="--hidden", value="99999999999999999999999")
def test_train_flags_are_parsed_or_refused_naming_the_flag(no_training, capsys, flag, value):
    with case():
        try:
            code = main(["train", flag, value, "--out", "/nonexistent/never-written"])
        except Accepted as ok:  # a valid value: it reached the config unchanged in kind
            assert isinstance(ok.args[0], Config)
            return
        except SystemExit as exit:  # argparse: a value that is not an int / float
            code = exit.code
            assert flag in capsys.readouterr().err
            assert code == 2
            return
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("vaekit: error: command line: ") and "Traceback" not in err
        names = {flag[2:], flag[2:].replace("-", "_")}
        assert any(n in err for n in names), err


def test_iwae_k_zero_is_refused_with_the_option_named(no_training, capsys):
    assert main(["train", "--objective", "iwae", "--iwae-k", "0"]) == 2
    assert capsys.readouterr().err == "vaekit: error: command line: [train]: iwae-k=0 must be > 0\n"


def test_evaluate_k_zero_is_refused_before_the_run_folder_is_read(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "no-such-run"), "--k", "0"]) == 2
    assert capsys.readouterr().err == "vaekit: error: --k 0 must be >= 1\n"


@pytest.mark.parametrize("text, needle", [
    ('{"train": {"lr": "fast"}}', "lr='fast' should be of type float"),
    ('{"train": {"epochs": true}}', "epochs=True should be of type int"),
    ('{"model": {"hidden": [400, "a"]}}', "hidden=[400, 'a'] should be of type list[int]"),
    ('{"model": {"prior": "laplace"}}', "prior='laplace' is not one of standard, mog, vamp"),
    ('{"model": {"likelihood": "poisson"}}', "likelihood='poisson' is not one of"),
    ('{"train": {"objective": "vimco"}}', "objective='vimco' is not one of elbo, iwae"),
    ('{"train": {"lr": 1e999}}', "lr=inf must be a finite number"),
    # the CLI merges the file's known sections with the flags: these three were dropped silently, or
    # crashed while merging (AttributeError: 'list' object has no attribute 'get'; TypeError: 'int' object
    # is not iterable), until read_config_file checked the sections itself
    ('{"optim": {}}', "c.json: unknown section(s) ['optim']"),
    ('[1, 2]', "c.json: expected a mapping with sections data/model/train, got list"),
    ('{"train": 5}', "c.json: [train]: expected a mapping, got int"),
])
def test_config_file_errors_through_the_cli(tmp_path, capsys, no_training, text, needle):
    (tmp_path / "c.json").write_text(text)
    assert main(["train", "--config", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and needle in err and err.count("\n") == 1, err


@fuzz(max_examples=150)
@given(config_text())
@example((".json", b'{"data": 1}'))  # was TypeError in the CLI's merge
@example((".toml", b"train = 3"))  # the same from TOML
def test_config_files_through_the_cli(tmp_path_factory, capsys, no_training, text):
    suffix, raw = text
    path = tmp_path_factory.mktemp("cli") / f"run{suffix}"
    path.write_bytes(raw)
    with case():
        try:
            code = main(["train", "--config", str(path), "--out", "/nonexistent/never-written"])
        except Accepted:
            return
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("vaekit: error: ") and "Traceback" not in err
        assert str(path) in err or err.startswith("vaekit: error: command line: "), err


def test_non_utf8_config_through_the_cli(tmp_path, capsys):
    (tmp_path / "c.toml").write_bytes(b"[train]\nlr = \xff\n")
    assert main(["train", "--config", str(tmp_path / "c.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vaekit: error: config file {tmp_path / 'c.toml'} is not UTF-8 text")


def test_unknown_key_sorting_survives_mixed_key_types():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \[1, None, 'a'\]"):
        Config.from_dict({"data": {1: 2, None: 3, "a": 4}})


def test_valid_text_fixtures_are_valid(tmp_path):
    for suffix, text in VALID_TEXT.items():
        if suffix == ".yaml" and not _has_yaml():
            continue
        (tmp_path / f"c{suffix}").write_text(text)
        assert isinstance(Config.from_dict(read_config_file(tmp_path / f"c{suffix}")), Config)


def _has_yaml() -> bool:
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("value", ["maybe", "1", "true", ""])
def test_compile_flag_takes_auto_on_off(no_training, capsys, value):
    with case(), pytest.raises(SystemExit) as exit:
        main(["train", "--compile", value, "--out", "/nonexistent/never-written"])
    assert exit.value.code == 2 and "--compile" in capsys.readouterr().err
