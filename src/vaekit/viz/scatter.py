"""The latent scatter: posterior means E_q[z|x] of a data split in 2-D, coloured by label.

A 2-D latent space is drawn as it is (as in Kingma & Welling 2013, whose Fig. 4 models have 2-D
latents). Above 2-D the means are projected on their first two principal components (an exact,
deterministic SVD of the centred means), or, optionally, embedded with t-SNE (van der Maaten & Hinton
2008), which keeps neighbourhoods but not distances and needs scikit-learn.

Labels: integer classes (N,) colour by class; factor labels (N, F) (e.g. the built-in `shapes` data,
whose column 0 is the shape class) colour by their first column; anything else is left uncoloured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from vaekit.errors import ConfigError, VaekitError

METHODS = ("pca", "tsne")


@dataclass
class Embedding:
    coords: np.ndarray  # (N, 2)
    axes: tuple[str, str]


def pca_2d(z: torch.Tensor) -> np.ndarray:
    """Scores on the first two principal components of z (N, D): (N, 2) = U[:, :2] S[:2] of the centred z.

    Each column's sign is arbitrary (as for any SVD). D = 1 gives a zero second column."""
    zc = z.double() - z.double().mean(0, keepdim=True)  # (N, D)
    u, s, _ = torch.linalg.svd(zc, full_matrices=False)  # u (N, min(N, D)), s (min(N, D),)
    scores = (u * s).numpy()  # (N, min(N, D))
    if scores.shape[1] < 2:
        scores = np.concatenate([scores, np.zeros((len(scores), 2 - scores.shape[1]))], axis=1)
    return scores[:, :2]


def tsne_2d(z: torch.Tensor, seed: int = 0) -> np.ndarray:
    """A t-SNE embedding (N, 2) of z (N, D), with scikit-learn (an optional dependency)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise VaekitError("--method tsne needs scikit-learn (pip install scikit-learn); --method pca does not")\
            from None
    perplexity = min(30.0, max(1.0, (len(z) - 1) / 3))  # sklearn requires perplexity < N
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        z.double().numpy())


def embed_2d(z: torch.Tensor, method: str = "pca", seed: int = 0) -> Embedding:
    """2-D coordinates of the codes z (N, D): z itself when D = 2, else PCA or t-SNE."""
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} must be one of {', '.join(METHODS)}")
    z = z.detach().cpu()
    if len(z) < 2:
        raise ConfigError(f"a latent scatter needs at least 2 items, got {len(z)}")
    if z.shape[1] == 2:
        return Embedding(z.double().numpy(), ("z0", "z1"))
    if method == "tsne":
        return Embedding(tsne_2d(z, seed), ("t-SNE 1", "t-SNE 2"))
    return Embedding(pca_2d(z), ("PC 1", "PC 2"))


def label_colours(labels: torch.Tensor | np.ndarray | None) -> np.ndarray | None:
    """The value to colour each point by: integer classes (N,) as they are, the first column of factor
    labels (N, F) rounded to an integer class; None when there are no usable labels."""
    if labels is None:
        return None
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] >= 1:
        y = y[:, 0]  # (N,): the first factor, a class id stored as float
    if y.ndim != 1:
        return None
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return y.astype(np.int64)
    return y if np.issubdtype(y.dtype, np.integer) else None


def legend_of(labels: torch.Tensor | np.ndarray | None, label_names: list[str] | None) -> tuple[str, list[str] | None]:
    """The legend's title and, for class labels (N,), the class names (folder data names its classes;
    factor labels (N, F) name their factors, and the first names the colour)."""
    if labels is None or not label_names:
        return "label", None
    if np.asarray(labels).ndim == 2:
        return label_names[0], None
    return "class", list(label_names)


def plot_scatter(emb: Embedding, colours: np.ndarray | None, out: str | Path | BinaryIO, title: str = "",
                 legend_title: str = "label", names: list[str] | None = None) -> None:
    """Draw the embedding with matplotlib (Agg backend) to a 6x6 in, 100 dpi PNG (600 x 600 pixels):
    a path or a binary file object. `names[c]` labels class c in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(out, str | Path):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    try:
        _draw_points(ax, emb.coords, colours, legend_title, names)
        ax.set_xlabel(emb.axes[0])
        ax.set_ylabel(emb.axes[1])
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(out, dpi=100, format="png")
    finally:
        plt.close(fig)


def _draw_points(ax: Any, xy: np.ndarray, colours: np.ndarray | None, legend_title: str,
                 names: list[str] | None, max_legend: int = 20) -> None:
    size = max(2.0, min(20.0, 4000 / max(len(xy), 1)))
    if colours is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.6)
        return
    classes = np.unique(colours)
    if len(classes) > max_legend:  # too many classes for a legend: a colour bar instead
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=size, alpha=0.6, cmap="viridis")
        ax.figure.colorbar(sc, ax=ax, label=legend_title)
        return
    cmap = _categorical_cmap(len(classes))
    for i, c in enumerate(classes):
        sel = colours == c
        name = names[c] if names is not None and 0 <= c < len(names) else str(c)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, alpha=0.6, color=cmap(i), label=name)
    ax.legend(title=legend_title, markerscale=max(1.0, 20 / size) ** 0.5, fontsize="small")


def _categorical_cmap(n: int) -> Any:
    import matplotlib

    return matplotlib.colormaps["tab10" if n <= 10 else "tab20"]


def latent_scatter(model: Any, data: Any, method: str = "pca", seed: int = 0) -> tuple[Embedding, np.ndarray | None]:
    """The 2-D embedding of the posterior means of `data` (a resident TensorData) and each point's colour."""
    from vaekit.viz.common import posterior_means

    means = posterior_means(model, data.x, y=data.labels)  # the labels matter to a conditional model only
    return embed_2d(means.cpu(), method, seed), label_colours(data.labels)
