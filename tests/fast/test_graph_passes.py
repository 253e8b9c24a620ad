"""The inductor graph passes of vaekit.fast.graph_passes, on small traced graphs."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_unfuse_bias_addmm_gives_mm_plus_bias_in_float32_only(dtype):
    from torch.fx.experimental.proxy_tensor import make_fx

    from vaekit.fast.graph_passes import UnfuseBiasAddmm

    def f(b: torch.Tensor, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(torch.addmm(b, a, w))

    g = torch.Generator().manual_seed(0)
    args = tuple(torch.randn(s, generator=g).to(dtype) for s in ((5,), (3, 4), (4, 5)))
    gm = make_fx(f)(*args)
    UnfuseBiasAddmm()(gm.graph)
    gm.recompile()
    targets = {n.target for n in gm.graph.nodes}
    aten = torch.ops.aten
    if dtype == torch.float32:
        assert aten.addmm.default not in targets and {aten.mm.default, aten.add.Tensor} <= targets
    else:  # bf16 keeps one rounding of the product-plus-bias
        assert aten.addmm.default in targets and aten.mm.default not in targets
    torch.testing.assert_close(gm(*args), f(*args))


def test_cast_before_transpose_cancels_the_transposes_around_a_cast():
    from torch.fx.experimental.proxy_tensor import make_fx

    from vaekit.fast.graph_passes import CastBeforeTranspose

    prims, aten = torch.ops.prims, torch.ops.aten

    def f(w: torch.Tensor, a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # what bf16 autocast leaves in the post-grad graph of a linear layer: the weight cast through a
        # transpose for the forward, the weight gradient cast between two transposes
        y = aten.mm(a, prims.convert_element_type(aten.permute(w, [1, 0]), torch.bfloat16))  # (B, out)
        dw_t = aten.permute(aten.mm(aten.permute(a, [1, 0]), g), [1, 0])  # (out, in), a transposed view
        return y, aten.permute(prims.convert_element_type(aten.permute(dw_t, [1, 0]), torch.float32), [1, 0])

    gen = torch.Generator().manual_seed(0)
    args = (torch.randn(4, 3, generator=gen), torch.randn(5, 3, generator=gen).bfloat16(),
            torch.randn(5, 4, generator=gen).bfloat16())
    gm = make_fx(f)(*args)
    CastBeforeTranspose()(gm.graph)
    gm.recompile()
    is_t = [n for n in gm.graph.nodes if n.target is aten.permute.default]
    casts = [n for n in gm.graph.nodes if n.target is prims.convert_element_type.default]
    assert len(casts) == 2 and not any(c.args[0] in is_t for c in casts)  # every cast reads in place
    assert not any(t.args[0] in is_t for t in is_t)  # no transpose of a transpose is left
    assert any(c.args[0].op == "placeholder" for c in casts)  # the weight is cast as it is stored
    for got, want in zip(gm(*args), f(*args), strict=True):
        assert got.dtype == want.dtype and torch.equal(got, want)
