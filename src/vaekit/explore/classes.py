"""The class of a class-conditional picture or sound model in the explorer (Sohn et al. 2015): every decode
takes the class the page has selected, a test item or an upload is read with its own class, q(z|x, y), and
its code is shown decoded with every class (a conversion row: the same z, each class). Also the sliders'
"random": a draw from the prior, decoded with the selected class (with none on an unconditional model)."""

from __future__ import annotations

from typing import Any

import torch

from vaekit.explore.images import data_url
from vaekit.explore.state import ExplorerState, to_pixels
from vaekit.explore.typed import item_json


def shown(state: ExplorerState, item: torch.Tensor) -> dict[str, Any]:
    """One item as the page shows it: the kind's media (a sound's picture and WAV), the kind's HTML and
    values (a sentence), or an image's PNG."""
    if state.media:
        return state.media_of(item[None])[0]
    if state.typed:
        return item_json(state, item, "decode(z)")
    return {"image": data_url(to_pixels(item))}


def conversion_row(state: ExplorerState, z: torch.Tensor) -> list[dict[str, Any]]:
    """z decoded with every class (`ExplorerState.conversions`), each as the page shows it, with its class.
    A sound is made one call per item (Griffin-Lim draws its starting phases per call), so each sounds
    exactly as the sliders' decode of z with that class."""
    names = state.conditional_names or []
    return [{"label": c, "name": names[c], **shown(state, item)} for c, item in enumerate(state.conversions(z))]


def convert_answer(state: ExplorerState, i: int) -> dict[str, Any]:
    """Test item i encoded with its own class, E[z|x_i, y_i], its place on the map, and that code decoded
    with every class."""
    z = state.encode_test(i)
    y = state.item_label(i)
    row = conversion_row(state, z)  # refuses an unconditional model (404) before anything else is shown
    return {"index": i, "label": y, "name": row[y]["name"], "z": z.tolist(), "point": state.point(z),
            "conversions": row}


def prior_answer(state: ExplorerState, seed: int, label: int | None) -> dict[str, Any]:
    """A draw z ~ p(z) (`ExplorerState.prior_z`: seeded, within the sliders' ranges) decoded with class
    `label` (a conditional model's; none otherwise), as the page shows it, with z and its place."""
    y = state.check_label(label)
    z = state.prior_z(seed)
    return {"seed": seed, **shown(state, state.decode_item(z, y)), "z": z.tolist(), "point": state.point(z)}
