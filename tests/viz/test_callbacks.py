"""The training callbacks' files: a run's latest pictures are copies of the last epoch's, renamed."""

from __future__ import annotations

import pytest


def test_a_written_file_is_copied_to_the_latest_name(tmp_path):
    from vaekit.viz.callbacks import copy_renamed

    out, latest = tmp_path / "samples" / "epoch_0003.png", tmp_path / "samples.png"
    (out.parent / "epoch_0003").mkdir(parents=True)
    written = [out, out.parent / "epoch_0003" / "07.wav", out.parent / "epoch_0003_row_01.wav"]
    for i, path in enumerate(written):
        path.write_bytes(bytes([i]) * 5)
    copies = [copy_renamed(path, out, latest) for path in written]
    assert copies == [latest, tmp_path / "samples" / "07.wav", tmp_path / "samples_row_01.wav"]
    assert [c.read_bytes() for c in copies] == [bytes([i]) * 5 for i in range(3)]
    with pytest.raises(ValueError, match="not named after epoch_0003"):
        copy_renamed(out.parent / "other.png", out, latest)
