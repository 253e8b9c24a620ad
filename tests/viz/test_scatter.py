"""Latent scatter: PCA against numpy's SVD, label colours, t-SNE only with scikit-learn."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli import main
from vaekit.errors import VaekitError
from vaekit.viz.scatter import embed_2d, label_colours, legend_of, pca_2d


def numpy_pca(z: np.ndarray) -> np.ndarray:
    zc = z - z.mean(0)
    u, s, _ = np.linalg.svd(zc, full_matrices=False)
    return (u * s)[:, :2]


def same_up_to_sign(a: np.ndarray, b: np.ndarray) -> bool:
    return all(np.allclose(a[:, j], b[:, j], atol=1e-8) or np.allclose(a[:, j], -b[:, j], atol=1e-8)
               for j in range(a.shape[1]))


def test_pca_matches_numpy_svd_up_to_sign():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(300, 5, generator=g, dtype=torch.float64) * torch.tensor([5.0, 0.1, 2.0, 0.5, 1.0],
                                                                          dtype=torch.float64)
    coords = pca_2d(z)
    ref = numpy_pca(z.numpy())
    assert coords.shape == (300, 2) and same_up_to_sign(coords, ref)
    assert np.var(coords[:, 0]) > np.var(coords[:, 1])  # the first axis has the most variance
    assert abs(np.std(coords[:, 0], ddof=1) - 5.0) < 0.6
    assert np.allclose(embed_2d(z[:, :2]).coords, z[:, :2].numpy())  # 2-D latents are drawn as they are


def test_label_colours():
    assert label_colours(torch.tensor([3, 1, 4])).tolist() == [3, 1, 4]
    factors = torch.tensor([[2.0, 0.5, 1.0], [0.0, 1.0, 0.3], [1.0, 0.7, 6.0]])  # shapes: column 0 is the class
    assert label_colours(factors).tolist() == [2, 0, 1]
    assert label_colours(None) is None
    assert label_colours(torch.tensor([0.3, 1.7])) is None  # a continuous label does not make classes
    assert legend_of(factors, ["shape", "scale", "rotation"]) == ("shape", None)
    assert legend_of(torch.tensor([1, 0]), ["cat", "dog"]) == ("class", ["cat", "dog"])


def test_tsne_without_scikit_learn_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ImportError
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(VaekitError, match="scikit-learn"):
        embed_2d(torch.randn(20, 3), "tsne")


def test_tsne_with_scikit_learn():
    pytest.importorskip("sklearn")
    assert embed_2d(torch.randn(40, 3, generator=torch.Generator().manual_seed(0)), "tsne").coords.shape == (40, 2)


def test_scatter_command_projects_the_posterior_means(run, run_dir, items, tmp_path):
    out = tmp_path / "s.png"
    assert main(["scatter", str(run_dir), "--limit", "100", "--out", str(out)]) == 0
    assert Image.open(out).size == (600, 600)
    coords = np.load(out.with_suffix(".npy"))
    means = run.model.encode(items.x[:100]).mean.double().numpy()
    assert coords.shape == (100, 2) and same_up_to_sign(coords, numpy_pca(means))
