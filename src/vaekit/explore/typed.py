"""Items a person types (sentences) in the explorer: read as the run's training data were read
(`Kind.parse_input`), shown as the run's kind shows them (`Kind.html_grid`), and what the explorer answers
about one: its reconstruction, its nearest test items in latent space and, for a class-conditional model,
its conversion to every class (Sohn et al. 2015)."""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import VaekitError
from vaekit.explore.state import ExplorerState, RequestError

MAX_CHARS = 10_000  # a longer text is refused before it is read
MAX_NEIGHBOURS = 50


def item_json(state: ExplorerState, item: torch.Tensor, alt: str) -> dict[str, Any]:
    """One item as the page shows it (the kind's HTML) and as the model holds it (its raw values)."""
    return {"html": state.kind.html_grid(item[None], alt, None, state.stats), "item": item.tolist()}


def parse(state: ExplorerState, text: str) -> torch.Tensor:
    """The typed text as one item (*event), as the run's kind reads it; a 422 with the kind's reason."""
    if len(text) > MAX_CHARS:
        raise RequestError(f"the text is longer than {MAX_CHARS} characters", 413)
    try:
        return state.kind.parse_input(text, state.stats, state.data_config)[0]
    except VaekitError as e:
        raise RequestError(str(e)) from None


def check_label(state: ExplorerState, label: int | None) -> int | None:
    """The class a conditional model reads the item with (required there, refused elsewhere)."""
    return state.check_label(label)


def nearest(means: torch.Tensor, z: torch.Tensor, k: int) -> tuple[list[int], list[float]]:
    """The k rows of `means` (N, D) closest to z (D,) in Euclidean distance, closest first (ties: lower index)."""
    distances = (means.double() - z.double()).norm(dim=1)  # (N,)
    order = torch.sort(distances, stable=True).indices[:k]
    return order.tolist(), distances[order].tolist()


def typed_answer(state: ExplorerState, text: str, label: int | None = None, k: int = 5) -> dict[str, Any]:
    """What the page shows for a typed item: the item as the model reads it, its reconstruction
    decode(E[z|x]), E[z|x] and its place on the map, its k nearest test items by the distance between
    posterior means, and for a conditional model E[z|x, y] decoded with every class."""
    if not state.typed:
        if state.media:
            raise RequestError(f"this run's items are not typed: upload a file ({', '.join(state.kind.file_types)}; "
                               "POST /api/reconstruct)", 404)
        raise RequestError("this run's items are images: upload or draw one (POST /api/reconstruct)", 404)
    if not 1 <= k <= MAX_NEIGHBOURS:
        raise RequestError(f"k = {k} must be between 1 and {MAX_NEIGHBOURS}")
    y = check_label(state, label)
    x = parse(state, text)
    z = state.encode(x, y)
    indices, distances = nearest(state.means, z, min(k, len(state.images)))
    answer = {"input": item_json(state, x, "your input"),
              "reconstruction": item_json(state, state.decode_item(z, y), "reconstruction"),
              "z": z.tolist(), "point": state.point(z),
              "neighbours": [{"index": i, "distance": d, **item_json(state, state.images[i], f"test item {i}")}
                             for i, d in zip(indices, distances, strict=True)]}
    if state.n_classes:
        names = state.conditional_names
        answer["conversions"] = [{"label": c, "name": names[c],
                                  **item_json(state, state.decode_item(z, c), f"as {names[c]}")}
                                 for c in range(state.n_classes)]
    return answer
