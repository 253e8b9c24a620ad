"""Picture commands on a non-image run, and bad options: exit code 2, a message naming the option."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.viz.conftest import grid_size
from vaekit.cli import main


@pytest.mark.parametrize("args, option", [
    (["interpolate", "--steps", "1"], "--steps"),
    (["interpolate", "--indices", "1,2,3"], "--indices"),
    (["interpolate", "--indices", "0,99999"], "--indices"),
    (["interpolate", "--indices", "a,b"], "--indices"),
    (["interpolate", "--pairs", "0"], "--pairs"),
    (["interpolate", "--source", "prior", "--indices", "0,1"], "--indices"),
    (["interpolate", "--out", "x.jpg"], "--out"),
    (["traverse", "--range", "2", "-2"], "--range"),
    (["traverse", "--dims", "0,7"], "--dims"),
    (["traverse", "--index", "99999"], "--index"),
    (["traverse", "--top", "0"], "--top"),
    (["traverse", "--split", "holdout"], "--split"),
    (["manifold", "--dims", "0"], "--dims"),
    (["manifold", "-n", "1"], "-n"),
    (["scatter", "--limit", "0"], "--limit"),
    (["report", "--out", "r.pdf"], "--out"),
])
def test_bad_options_exit_2_naming_the_option(run_dir, capsys, args, option):
    assert main([args[0], str(run_dir), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaekit: error: ") and option in err and "Traceback" not in err


@pytest.mark.parametrize("args, option", [
    (["interpolate", "--mode", "cubic"], "--mode"),
    (["scatter", "--method", "umap"], "--method"),
    (["interpolate", "--source", "noise"], "--source"),
    (["traverse", "--range", "1"], "--range"),
])
def test_bad_choices_are_argparse_errors_naming_the_option(run_dir, capsys, args, option):
    with pytest.raises(SystemExit) as e:
        main([args[0], str(run_dir), *args[1:]])
    assert e.value.code == 2 and option in capsys.readouterr().err


def test_missing_run_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["curves", str(tmp_path / "nope")]) == 2
    assert "metrics" in capsys.readouterr().err


def test_picture_commands_on_array_data_write_only_the_array(array_run_dir, tmp_path, capsys):
    out = tmp_path / "i.png"
    assert main(["interpolate", str(array_run_dir), "--pairs", "2", "--steps", "5", "--out", str(out)]) == 0
    assert not out.exists() and np.load(out.with_suffix(".npy")).shape == (2, 5, 6)
    assert "no picture or text to show" in capsys.readouterr().out
    out = tmp_path / "t.png"
    assert main(["traverse", str(array_run_dir), "--steps", "3", "--out", str(out)]) == 0
    assert not out.exists() and np.load(out.with_suffix(".npy")).shape == (3, 3, 6)
    out = tmp_path / "s.png"
    assert main(["scatter", str(array_run_dir), "--out", str(out)]) == 0
    assert out.exists() and np.load(out.with_suffix(".npy")).shape[1] == 2


def test_the_kind_writes_its_own_file_and_the_command_prints_it(run_dir, tmp_path, capsys):
    out = tmp_path / "i.txt"  # a .txt name: an image run still writes its PNG grid, beside the .npy
    assert main(["interpolate", str(run_dir), "--pairs", "1", "--steps", "3", "--out", str(out)]) == 0
    png = out.with_suffix(".png")
    assert not out.exists() and Image.open(png).size == grid_size(1, 3)
    assert f"wrote {png} and {out.with_suffix('.npy')} (1 rows x 3)" in capsys.readouterr().out
