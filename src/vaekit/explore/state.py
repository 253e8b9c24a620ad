"""What the explorer serves, computed once when it starts: the model, the test items, their posterior
means, the order of the latent dimensions and the 2-D latent map. No web code here, so it is testable
(and usable) without the server packages.

Three kinds of items: images (event shape (C, H, W)), drawn and uploaded as pictures (`images`); items a
person types (sentences), read and shown through the run's kind (`Kind.parse_input`, `Kind.html_grid`;
`typed`); and media (sounds), which the run's kind pictures and plays (`Kind.item_media`) and reads from an
uploaded file (`Kind.load_path`; `media`). A class-conditional model (Sohn et al. 2015) reads a class at
every call: test items are encoded with their own labels, and every decode takes the class a request names
(`check_label`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vaekit.distributions import StandardNormal
from vaekit.errors import VaekitError

SLIDER_HALF_RANGE = 3.0  # sliders span ±3 prior standard deviations: 99.7% of N(0, 1)


class RequestError(VaekitError):
    """A request the explorer refuses; `status` is the HTTP status it is answered with (4xx)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LatentMap:
    """A 2-D view of latent space: PCA of the test posterior means above 2 dimensions, the raw
    coordinates otherwise (so the map of a 2-D latent space is that space itself)."""

    center: torch.Tensor     # (D,) subtracted before projecting
    basis: torch.Tensor      # (2, D): rows are the axes (orthonormal for PCA)
    points: torch.Tensor     # (N, 2) the test set's posterior means on the map
    explained: list[float]   # fraction of the means' variance along each axis
    method: str              # "pca" or "identity"

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) latent vectors -> (..., 2) map coordinates."""
        return (z - self.center) @ self.basis.T


def fit_map(means: torch.Tensor) -> LatentMap:
    """The map of posterior means (N, D). PCA signs are fixed (largest loading of each axis positive)
    so the same run always gives the same picture."""
    means = means.double()
    d = means.shape[1]
    total = means.var(0, unbiased=False).sum().clamp_min(1e-12)
    if d <= 2:
        basis = torch.eye(2, d, dtype=means.dtype)  # D = 1: the second axis is all zeros (points on a line)
        center = torch.zeros(d, dtype=means.dtype)
        method = "identity"
    else:
        center = means.mean(0)
        _, _, vh = torch.linalg.svd(means - center, full_matrices=False)
        basis = vh[:2]
        idx = basis.abs().argmax(dim=1)
        basis = basis * torch.sign(basis[torch.arange(2), idx])[:, None]
        method = "pca"
    points = (means - center) @ basis.T
    explained = (points.var(0, unbiased=False) / total).tolist()
    return LatentMap(center.float(), basis.float(), points.float(), explained, method)


def dim_scores(model: Any, means: torch.Tensor, logvars: torch.Tensor) -> tuple[torch.Tensor, str]:
    """How much each latent dimension is used, averaged over the test data.

    With the standard-normal prior of a one-layer VAE: the average KL(q(z_d|x) || N(0, 1)) in nats
    (the paper's Appendix B, per dimension). Otherwise the prior of z is not a product of per-dimension
    Gaussians (mixture, VampPrior, hierarchy), so there is no per-dimension KL; the variance of the
    posterior means over the data is used instead (Burda et al. 2015's activity, which tracks it)."""
    from vaekit.distributions import DiagonalGaussian
    from vaekit.model import VAE

    if isinstance(model, VAE) and isinstance(model.prior, StandardNormal):
        kl = DiagonalGaussian(means, logvars).kl_per_dim(model.prior)  # (N, D)
        return kl.mean(0), "kl"
    return means.var(0, unbiased=False), "activity"


def slider_ranges(means: torch.Tensor, standard_prior: bool) -> torch.Tensor:
    """(D, 2) slider limits: ±3 around 0 for a N(0, I) prior (else ±3 standard deviations of the
    means around their average), widened to hold every test posterior mean, rounded out to 0.5."""
    if standard_prior:
        lo = torch.full((means.shape[1],), -SLIDER_HALF_RANGE)
        hi = -lo
    else:
        c, s = means.mean(0), means.std(0, unbiased=False).clamp_min(1e-3)
        lo, hi = c - SLIDER_HALF_RANGE * s, c + SLIDER_HALF_RANGE * s
    lo = torch.minimum(lo, means.min(0).values)
    hi = torch.maximum(hi, means.max(0).values)
    return torch.stack([torch.floor(lo * 2) / 2, torch.ceil(hi * 2) / 2], dim=1)


def to_pixels(x: torch.Tensor) -> np.ndarray:
    """One image (C, H, W) in [0, 1] -> uint8 (H, W) or (H, W, 3), rounded as the grid PNGs are."""
    a = np.clip(np.rint(x.detach().clamp(0, 1).float().cpu().numpy() * 255), 0, 255).astype(np.uint8)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def is_image_shape(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[0] in (1, 3)


def _column_labels(labels: torch.Tensor | None, names: list[str] | None) -> tuple[list[float] | None, str, bool]:
    """Colours for the map: the class, or the first factor of factor labels (e.g. shapes' `shape`)."""
    if labels is None or len(labels) == 0:
        return None, "", False
    if labels.ndim == 1:
        return labels.double().tolist(), "class", True
    col = labels[:, 0].double()
    categorical = bool(torch.all(col == col.round())) and len(torch.unique(col)) <= 20
    return col.tolist(), (names[0] if names else "label 0"), categorical


def _class_setup(model: Any, labels: torch.Tensor | None, names: list[str] | None
                 ) -> tuple[int, list[str] | None]:
    """A conditional model's class count and the names its classes are shown by (the data's label names where
    they cover every class, else the numbers); (0, None) for an unconditional model. Refused: a conditional
    model whose test items have no class labels (N,), since q(z|x, y) reads each item's own class."""
    n_classes = int(getattr(model, "n_classes", 0) or 0)
    if not n_classes:
        return 0, None
    if labels is None or labels.ndim != 1:
        raise VaekitError(f"this model is class-conditional ({n_classes} classes): vaekit explore encodes each test "
                          "item with its own class, and these test items have "
                          + ("no labels" if labels is None else f"labels of shape {tuple(labels.shape)}, not (N,)"))
    shown = names if names and len(names) >= n_classes else [str(c) for c in range(n_classes)]
    return n_classes, list(shown[:n_classes])


class ExplorerState:
    """The model and everything precomputed about the test data; answers the explorer's questions.

    Model calls hold a lock: requests come in on several server threads, and one decode at a time is
    both the fastest on a small CPU and safe for models that are not re-entrant."""

    def __init__(self, model: Any, images: torch.Tensor, labels: torch.Tensor | None = None,
                 label_names: list[str] | None = None, batch_size: int = 1000, *, kind: Any = None,
                 stats: dict | None = None, data_config: Any = None) -> None:
        shape = tuple(model.event_shape)
        shown = kind is not None and kind.shows(shape)
        # media: pictured and played by the run's kind (sounds: a spectrogram and its WAV)
        self.media: tuple[str, ...] = tuple(kind.media_keys) if shown else ()
        # items a person types: shown by the run's kind (`kind.shows`) and not pictures
        self.typed = shown and not self.media and not is_image_shape(shape)
        if not (self.typed or self.media or is_image_shape(shape)):
            raise VaekitError(f"vaekit explore needs an image model (event shape (C, H, W) with 1 or 3 channels), "
                              f"one of items a person types (sentences) or of sounds; this model's data has shape "
                              f"{shape}")
        if len(images) == 0:
            raise VaekitError("vaekit explore needs at least one test image for the latent map")
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.event_shape: tuple[int, ...] = shape
        self.kind, self.stats, self.data_config = kind, stats, data_config
        # the test items: images, or typed items (sentences' token ids, kept as they are)
        self.images = images.cpu() if self.typed else images.float().cpu()
        self.latent_dim = int(model.latent_dim)
        self.n_classes, self.conditional_names = _class_setup(model, labels, label_names)
        self.lock = threading.Lock()
        # q(z|x, y) of a conditional model reads each test item's own class
        self.item_labels = labels.cpu().long() if self.n_classes else None
        y = self.item_labels
        with torch.no_grad():
            parts = [model.encode(self.images[i:i + batch_size].to(self.device),
                                  None if y is None else y[i:i + batch_size].to(self.device))
                     for i in range(0, len(self.images), batch_size)]
        self.means = torch.cat([q.mean for q in parts]).float().cpu()      # (N, D)
        logvars = torch.cat([q.logvar for q in parts]).float().cpu()
        scores, self.order_by = dim_scores(model, self.means, logvars)
        self.scores = scores.tolist()
        self.order = sorted(range(self.latent_dim), key=lambda d: -self.scores[d])  # most used first
        standard = isinstance(getattr(model, "prior", None), StandardNormal) and model.prior.dim == self.latent_dim
        self.ranges = slider_ranges(self.means, standard)
        self.map = fit_map(self.means)
        self.labels, self.label_name, self.categorical = _column_labels(labels, label_names)
        self.class_names = label_names if labels is not None and labels.ndim == 1 else None

    @classmethod
    def from_run(cls, run: Any, limit: int = 10000) -> ExplorerState:
        """The state of a loaded run (`vaekit.runs.load_run`): its test split, the first `limit` items."""
        from vaekit.kinds import kind_of

        kind = kind_of(run.config.data.dataset)
        data = kind.load_split(run.config.data, "test", run.data_stats)
        if not kind.shows(tuple(run.event_shape), data):
            raise VaekitError(f"vaekit explore shows items a person can see; {run.dir} holds {kind.name} of shape "
                              f"{run.event_shape}")
        data = data.take(limit)
        return cls(run.model, data.x, data.labels, data.label_names, kind=kind, stats=run.data_stats,
                   data_config=run.config.data)

    # --- checks on request values -------------------------------------------------------------

    def check_index(self, i: int) -> int:
        if self.typed:
            raise RequestError("this run's items are typed, not images: POST /api/typed", 404)
        if not 0 <= i < len(self.images):
            raise RequestError(f"test image index {i} is out of range: there are {len(self.images)} "
                               f"(0 to {len(self.images) - 1})", 404)
        return i

    def check_z(self, values: Sequence[float]) -> torch.Tensor:
        """A latent vector from a request: the right length, finite, inside the slider ranges."""
        if len(values) != self.latent_dim:
            raise RequestError(f"z has {len(values)} values; this model has {self.latent_dim} latent dimensions")
        z = torch.tensor([float(v) for v in values], dtype=torch.float32)
        bad = [d for d in range(self.latent_dim) if not math.isfinite(float(values[d]))]
        if bad:
            raise RequestError(f"z[{bad[0]}] is not a finite number ({values[bad[0]]})")
        lo, hi = self.ranges[:, 0], self.ranges[:, 1]
        out = torch.nonzero((z < lo) | (z > hi)).flatten().tolist()
        if out:
            d = out[0]
            raise RequestError(f"z[{d}] = {float(values[d]):g} is outside its range "
                               f"[{lo[d].item():g}, {hi[d].item():g}] (see /api/info)")
        return z

    def check_label(self, label: int | None) -> int | None:
        """The class a conditional model decodes or reads an item with: required there, refused elsewhere
        (an unconditional model has no class input to give it to)."""
        if not self.n_classes:
            if label is not None:
                raise RequestError(f"label {label}: this model is not class-conditional; send no label")
            return None
        if label is None:
            raise RequestError(f"label is missing: this model is class-conditional; give the class, "
                               f"0 to {self.n_classes - 1}")
        if not 0 <= label < self.n_classes:
            raise RequestError(f"label {label}: this model is class-conditional; give the class, "
                               f"0 to {self.n_classes - 1}")
        return label

    def item_label(self, i: int) -> int | None:
        """Test item i's own class, which a conditional model encodes it with; None for other models."""
        return None if self.item_labels is None else int(self.item_labels[i])

    # --- model calls ----------------------------------------------------------------------------

    def decode_item(self, z: torch.Tensor, y: int | None = None) -> torch.Tensor:
        """model.decode(z) (with class y for a conditional model) for one latent vector (D,): one item."""
        label = None if y is None else torch.tensor([y], device=self.device)
        with self.lock, torch.no_grad():
            return self.model.decode(z[None].to(self.device), label)[0].cpu()

    def encode(self, x: torch.Tensor, y: int | None = None) -> torch.Tensor:
        """The posterior mean (D,) of one item (an image (C, H, W)), with class y for a conditional model."""
        label = None if y is None else torch.tensor([y], device=self.device)
        with self.lock, torch.no_grad():
            return self.model.encode(x[None].to(self.device), label).mean[0].float().cpu()

    def interpolate(self, i: int, j: int, t: float, y: int | None = None) -> tuple[torch.Tensor, np.ndarray]:
        """`interpolate_latent` and its decoding (with class y for a conditional model) as uint8 pixels."""
        z = self.interpolate_latent(i, j, t)
        return z, to_pixels(self.decode_item(z, y))

    def interpolate_latent(self, i: int, j: int, t: float) -> torch.Tensor:
        """z = (1 - t) m_i + t m_j between the posterior means of test items i and j.

        The endpoints are encoded one by one (not read from the batched means) so that t = 0 and t = 1
        give exactly `model.reconstruct` of the single item; a conditional model encodes each with its own
        class, q(z|x, y)."""
        if not (isinstance(t, int | float) and math.isfinite(t) and 0.0 <= t <= 1.0):
            raise RequestError(f"t = {t} must be a number in [0, 1]")
        a = self.encode_test(i)
        b = self.encode_test(j)
        return a if t == 0 else b if t == 1 else (1 - t) * a + t * b

    def encode_test(self, i: int) -> torch.Tensor:
        """Test item i's posterior mean (D,), encoded on its own (with its own class if conditional)."""
        i = self.check_index(i)
        return self.encode(self.images[i], self.item_label(i))

    def conversions(self, z: torch.Tensor) -> torch.Tensor:
        """z decoded with every class of a conditional model, (K, *event): the same code, each class
        (Sohn et al. 2015's conversion, as `model.convert` does for z = E[z|x, y])."""
        if not self.n_classes:
            raise RequestError("this model is not class-conditional: conversions need a run trained with "
                               "--conditional", 404)
        classes = torch.arange(self.n_classes, device=self.device)
        with self.lock, torch.no_grad():
            return self.model.decode(z[None].expand(self.n_classes, -1).to(self.device), classes).cpu()

    def prior_z(self, seed: int) -> torch.Tensor:
        """One draw z ~ p(z) of the code the decoder reads (seeded, so a draw can be had again), clamped into
        the sliders' ranges so the sliders can show it (for N(0, I): 0.27% of the values of a dimension)."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        with self.lock, torch.no_grad():
            z = self.model.prior_sample(1, generator)[0].float().cpu()
        return torch.minimum(torch.maximum(z, self.ranges[:, 0]), self.ranges[:, 1])

    def media_of(self, items: torch.Tensor, keys: Sequence[str] | None = None) -> list[dict[str, str]]:
        """Items (N, *event) as data URLs the page shows and plays, as the run's kind makes them
        (`Kind.item_media`: a sound's {"image": spectrogram PNG, "audio": WAV}); `keys`: some only."""
        return self.kind.item_media(items, self.stats, keys)

    def point(self, z: torch.Tensor) -> list[float]:
        return self.map.project(z.float()).tolist()

    # --- JSON views ---------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        found = {"latent_dim": self.latent_dim, "order": self.order, "scores": self.scores, "order_by": self.order_by,
                 "ranges": self.ranges.tolist(), "n_test": len(self.images), "map_method": self.map.method,
                 "input": "typed" if self.typed else "media" if self.media else "image"}
        if self.typed:
            return {**found, "item_shape": list(self.event_shape), "n_classes": self.n_classes,
                    "class_names": self.conditional_names}
        if self.n_classes:  # conditional pictures and sounds; unconditional ones answer as they always have
            found = {**found, "n_classes": self.n_classes, "class_names": self.conditional_names}
        if self.media:
            return {**found, "kind": self.kind.name, "item_shape": list(self.event_shape), "media": list(self.media),
                    "accept": list(self.kind.file_types)}
        return {**found, "image_shape": list(self.event_shape)}

    def map_json(self) -> dict[str, Any]:
        return {"points": self.map.points.tolist(), "labels": self.labels, "label_name": self.label_name,
                "categorical": self.categorical, "class_names": self.class_names, "method": self.map.method,
                "explained": self.map.explained, "center": self.map.center.tolist(),
                "basis": self.map.basis.tolist()}
