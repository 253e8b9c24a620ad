"""Inductor graph passes and the options of vaekit's compiled graphs that draw their own ε.

It imports torch._inductor (private, ~1.4 s to load): only code that compiles imports this module, after
checking that this torch has the API (`vaekit.fast.functional.graph_passes_available`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch._inductor.custom_graph_pass import CustomGraphPass, get_hash_for_files


class UnfuseBiasAddmm:
    """An inductor post-grad pass: addmm(b, a, w) -> mm(a, w) + b for float32 on the CPU. ATen's addmm
    copies the bias into every row of its output before it multiplies; unfused, the addition happens
    inside the fused kernel that reads the product next (the activation, the likelihood). Inductor
    does this for GPUs only (`should_prefer_unfused_addmm`), and keeps bf16/fp16 fused for precision.
    Used by the evaluation's log-weights, where k samples per item make the products large."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        aten = torch.ops.aten
        for node in list(graph.nodes):
            val = node.meta.get("val")
            if (node.target is not aten.addmm.default or node.kwargs or len(node.args) != 3
                    or not isinstance(val, torch.Tensor) or val.dtype != torch.float32 or val.device.type != "cpu"):
                continue
            bias, a, w = node.args
            with graph.inserting_before(node):
                product = graph.call_function(aten.mm.default, (a, w))
                total = graph.call_function(aten.add.Tensor, (product, bias))
            total.meta.update(node.meta)
            node.replace_all_uses_with(total)
            graph.erase_node(node)


def _is_transpose(node: Any) -> bool:
    return (isinstance(node, torch.fx.Node) and node.target is torch.ops.aten.permute.default
            and list(node.args[1]) == [1, 0])


class CastBeforeTranspose:
    """An inductor post-grad pass for mixed precision: convert(transpose(t)) -> transpose(convert(t)),
    then transpose(transpose(y)) -> y. Under bf16 autocast the weight gradient of a linear layer
    comes out as transpose(convert(transpose(mm)), float32): the cast sits between two transposes,
    and inductor gives the cast's buffer its own row-major layout, so it transposed each weight
    gradient twice (the two 784 x 400 ones and their norms took one 0.34 ms kernel). A cast is
    elementwise, so it commutes with a transpose; afterwards the two transposes cancel and the
    cast reads and writes in one order. The forward's weight casts get the same treatment: the
    matmul takes the cast weight as a transposed view instead of a transposed copy."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        while self._casts_first(graph) + self._cancel_transposes(graph):  # until neither applies
            graph.eliminate_dead_code()

    @staticmethod
    def _casts_first(graph: torch.fx.Graph) -> int:
        convert = torch.ops.prims.convert_element_type.default
        done = 0
        for node in list(graph.nodes):
            if node.target is not convert or not _is_transpose(node.args[0]) or len(node.args[0].users) != 1:
                continue
            t = node.args[0]
            src = t.args[0]
            with graph.inserting_before(node):
                cast = graph.call_function(convert, (src, *node.args[1:]), dict(node.kwargs))
                turned = graph.call_function(torch.ops.aten.permute.default, (cast, [1, 0]))
            if "val" in src.meta:  # the shapes, strides and dtypes later passes and the lowering read
                cast.meta["val"] = src.meta["val"].to(node.meta["val"].dtype)
                turned.meta["val"] = cast.meta["val"].permute(1, 0)
            node.replace_all_uses_with(turned)
            graph.erase_node(node)
            graph.erase_node(t)
            done += 1
        return done

    @staticmethod
    def _cancel_transposes(graph: torch.fx.Graph) -> int:
        done = 0
        for node in list(graph.nodes):
            if _is_transpose(node) and _is_transpose(node.args[0]) and node.users:
                node.replace_all_uses_with(node.args[0].args[0])
                done += 1
        return done


class GraphPasses(CustomGraphPass):
    """The graph passes of this file, in order, in the one slot inductor gives
    (`post_grad_custom_post_pass`)."""

    def __init__(self, *passes: Callable[[torch.fx.Graph], None]) -> None:
        self.passes = passes

    def __call__(self, graph: torch.fx.Graph) -> None:
        for p in self.passes:
            p(graph)

    def uuid(self) -> bytes:  # part of the compiled-graph cache key: changes when this file does
        return get_hash_for_files((__file__,))
