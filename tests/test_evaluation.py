"""evaluate(): reproducible for a seed, the compiled path agrees with the eager one, metrics add up, memory is
bounded per pass, ε is independent of the binarization, bits/dim only where defined, active units per layer."""

from __future__ import annotations

import math

import pytest
import torch

import vaekit.evaluation as evaluation
from vaekit.config import ModelConfig
from vaekit.data import TensorData, fixed_binarization
from vaekit.evaluation import active_units, evaluate
from vaekit.fast.compiling import CompiledOrEager
from vaekit.model import build_model


def test_compiled_and_eager_evaluation_agree_and_are_reproducible(monkeypatch):
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[32], latent_dim=4), (1, 6, 6))
    data = TensorData(torch.rand(40, 1, 6, 6), binarize="dynamic")
    a = evaluate(model, data, k=400, seed=1, progress=False, compile=False)
    b = evaluate(model, data, k=400, seed=1, progress=False, compile=False)
    wrappers = []
    monkeypatch.setattr(evaluation, "CompiledOrEager", lambda *a, **kw: wrappers.append(CompiledOrEager(*a, **kw))
                        or wrappers[-1])
    counters.clear()
    c = evaluate(model, data, k=400, seed=1, progress=True, compile=True)
    # the comparison below is of two paths only if compilation happened: CompiledOrEager drops its compiled
    # function when compiling fails, and a graph compiled for this new model shows in dynamo's counters
    assert len(wrappers) == 1 and wrappers[0].fn is not None
    assert counters["stats"]["unique_graphs"] >= 1
    assert a == b  # the same seed, the same numbers
    # the compiled graph draws ε with torch's randn in the eager order (fallback_random): the same draws,
    # so the two differ by the rounding of fused kernels only. Measured: 1e-7 nats; with ε drawn by
    # inductor's own Philox the compiled path was 0.0037 nats off (log-likelihood) and 0.0029 (ELBO).
    assert abs(a["log_likelihood"] - c["log_likelihood"]) < 1e-4
    assert abs(a["elbo"] - c["elbo"]) < 1e-4
    for r in (a, c):
        assert r["log_likelihood"] >= r["elbo"] - 0.05
        assert r["bits_per_dim"] == -r["log_likelihood"] / (36 * math.log(2))
        assert len(r["kl_per_dim"]) == 4 and (r["k"], r["n"]) == (400, 40)
    state = torch.random.get_rng_state()
    evaluate(model, data, k=5, seed=3, progress=False, compile=False)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is left as it was


def test_active_units_counts_dimensions_whose_posterior_mean_varies():
    g = torch.Generator().manual_seed(0)
    means = torch.cat([torch.randn(500, 3, generator=g), 0.05 * torch.randn(500, 2, generator=g)], 1)
    count, var = active_units(means)
    assert count == 3 and (var[:3] > 0.5).all() and (var[3:] < 0.01).all()


def test_a_second_evaluation_reuses_the_compiled_graph():
    # sampling_options is one dict for the process: with a new pass object each call, torch.compile saw
    # a different backend and compiled again at every evaluate (measured: +100-450 MB of peak RSS)
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[16], latent_dim=3), (1, 5, 5))
    data = TensorData(torch.rand(20, 1, 5, 5), binarize="dynamic")
    evaluate(model, data, k=30, seed=1, progress=False)
    counters.clear()
    evaluate(model, data, k=30, seed=2, progress=False)
    assert counters["stats"]["unique_graphs"] == 0  # nothing traced or compiled the second time


def test_evaluate_keeps_each_pass_of_a_big_decoder_under_the_byte_bound(monkeypatch):
    from vaekit.objectives import MAX_PASS_BYTES

    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="conv", likelihood="logistic_mixture", n_mix=5), (3, 32, 32))
    data = TensorData(torch.randint(0, 256, (4, 3, 32, 32)).float() / 255)
    passes = []

    def stub(model, x, k, generator=None, context=None, y=None):
        passes.append((k, len(x)))
        zero = torch.zeros(k, len(x))
        return zero, zero, zero

    monkeypatch.setattr(evaluation, "log_weights", stub)
    evaluate(model, data, k=200, progress=False, compile=False)
    row = (3 * 32 * 32 * 15 + 20) * 4  # bytes of one (sample, image) row: 15 parameters a sub-pixel, and z
    assert sum(n for n, _ in passes) == 200
    assert max(n * b for n, b in passes) * row <= MAX_PASS_BYTES  # 10k rows of it would be 1.8 GB
    assert len({n for n, _ in passes}) == 1  # a divisor of k: every pass the same shape


def first_weights_call(monkeypatch) -> dict:
    """Record the global RNG state and the data at evaluate's first log-weights pass."""
    seen = {}
    weights = evaluation.log_weights

    def spy(model, x, k, generator=None, context=None, y=None):
        seen.setdefault("state", torch.random.get_rng_state())
        seen.setdefault("x", x.clone())
        return weights(model, x, k, generator, context, y)

    monkeypatch.setattr(evaluation, "log_weights", spy)
    return seen


def test_evaluation_draws_epsilon_from_a_stream_independent_of_the_binarization(monkeypatch):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[16], latent_dim=3), (1, 5, 5))
    data = TensorData(torch.full((10, 1, 5, 5), 0.5), binarize="dynamic")
    seen = first_weights_call(monkeypatch)
    evaluate(model, data, k=4, seed=7, progress=False, compile=False)
    binarization = torch.Generator().manual_seed(7)
    assert torch.equal(seen["x"], fixed_binarization(data, 7).x)  # the test set is the seed's one draw, as before
    u_binarize = torch.rand(250, generator=binarization)  # the uniforms the pixels were drawn with
    u_eps = torch.rand(250, generator=torch.Generator().set_state(seen["state"]))  # where the ε stream starts
    assert not torch.equal(u_binarize, u_eps)
    assert abs(torch.corrcoef(torch.stack([u_binarize, u_eps]))[0, 1]) < 0.3


def test_validation_elbo_draws_epsilon_from_a_stream_independent_of_the_binarization(monkeypatch):
    import vaekit.objectives as objectives
    from vaekit.evaluation import validation_elbo

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[16], latent_dim=3), (1, 5, 5))
    data = TensorData(torch.full((10, 1, 5, 5), 0.5), binarize="dynamic")
    seen = {}
    elbo = objectives.elbo

    def spy(model, x, *, generator=None, **kw):
        seen.setdefault("state", generator.get_state())
        seen.setdefault("x", x.clone())
        return elbo(model, x, generator=generator, **kw)

    monkeypatch.setattr(objectives, "elbo", spy)
    validation_elbo(model, data, seed=7)
    assert torch.equal(seen["x"], fixed_binarization(data, 7).x)
    u_binarize = torch.rand(250, generator=torch.Generator().manual_seed(7))
    u_eps = torch.rand(250, generator=torch.Generator().set_state(seen["state"]))
    assert not torch.equal(u_binarize, u_eps)


def test_bits_per_dim_only_where_p_x_given_z_is_a_probability_mass_on_the_data():
    from vaekit.kinds.images import bits_per_dim_defined

    g = torch.Generator().manual_seed(0)
    binary = TensorData((torch.rand(20, 1, 4, 4, generator=g) < 0.5).float())
    gray = TensorData(torch.rand(20, 1, 4, 4, generator=g))  # intensities in [0, 1], not on a grid
    eight_bit = TensorData(torch.randint(0, 256, (20, 1, 4, 4), generator=g).float() / 255)
    standardised = TensorData(torch.randn(20, 16, generator=g), is_image=False)
    dynamic = TensorData(torch.rand(20, 1, 4, 4, generator=g), binarize="dynamic")

    def model(likelihood, shape=(1, 4, 4)):
        return build_model(ModelConfig(hidden=[8], latent_dim=2, likelihood=likelihood), shape)

    for lik in ("bernoulli", "bernoulli_ar"):
        assert bits_per_dim_defined(model(lik), binary) and bits_per_dim_defined(model(lik), dynamic)
        assert not bits_per_dim_defined(model(lik), gray) and not bits_per_dim_defined(model(lik), eight_bit)
    for lik in ("logistic", "logistic_mixture"):
        assert bits_per_dim_defined(model(lik), eight_bit) and bits_per_dim_defined(model(lik), binary)
        assert not bits_per_dim_defined(model(lik), gray)
        assert not bits_per_dim_defined(model(lik, (16,)), standardised)
    for data in (binary, gray, eight_bit):  # a density, not a probability: its bits/dim have no meaning
        assert not bits_per_dim_defined(model("gaussian"), data)
    assert not bits_per_dim_defined(model("gaussian", (16,)), standardised)


def test_evaluation_reports_bits_per_dim_for_binary_data_and_omits_them_for_a_density():
    from vaekit.evaluation import validation_elbo

    torch.manual_seed(0)
    x = torch.rand(20, 1, 4, 4)
    for likelihood, binarize in (("bernoulli", "dynamic"), ("gaussian", "none")):
        model = build_model(ModelConfig(hidden=[8], latent_dim=2, likelihood=likelihood), (1, 4, 4))
        data = TensorData(x, binarize=binarize)
        res, val = evaluate(model, data, k=3, progress=False, compile=False), validation_elbo(model, data)
        if likelihood == "bernoulli":
            assert res["bits_per_dim"] == -res["log_likelihood"] / (16 * math.log(2))
            assert res["elbo_bits_per_dim"] == -res["elbo"] / (16 * math.log(2))
            assert val["bits_per_dim"] == -val["elbo"] / (16 * math.log(2))
        else:
            assert "bits_per_dim" not in res and "elbo_bits_per_dim" not in res and "bits_per_dim" not in val
            assert math.isfinite(res["log_likelihood"])


@pytest.mark.parametrize("inference", ["bottom_up", "top_down"])
def test_active_units_are_counted_per_stochastic_layer(inference):
    from vaekit.hierarchical import gaussian

    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[16], latent_dim=6, latent_layers=[4, 3], layer_hidden=[8],
                                    inference=inference), (1, 5, 5)).double()
    with torch.no_grad():
        for p in model.parameters():  # larger weights: posterior means that vary from image to image
            p.mul_(1.8)
    data = TensorData((torch.rand(60, 1, 5, 5) < 0.4).double())
    res = evaluate(model, data, k=2, progress=False, compile=False)
    with torch.no_grad():  # E_q[z_l|x] with the layers each one conditions on at their posterior means
        d = model.bottom_up(data.x)
        if inference == "bottom_up":
            means = [gaussian(d[0]).mean]
            for up in model.up:
                means.append(gaussian(up(means[-1])).mean)
        else:
            means = [gaussian(d[-1]).mean]  # top first
            for l in reversed(range(len(model.down))):
                p_params = model.down[l](means[0])
                means.insert(0, gaussian(model.merge[l](torch.cat([d[l], p_params], -1))).mean)
    var = [m.var(0) for m in means]
    counts = [int((v > 0.01).sum()) for v in var]
    assert res["active_units_per_layer"] == counts and res["active_units"] == sum(counts)
    assert torch.allclose(torch.tensor(res["posterior_mean_variance"], dtype=torch.float64), torch.cat(var))
    assert res["latent_dims"] == [6, 4, 3] and res["latent_dim"] == 13
    assert 0 < sum(counts) < 13  # some units active, some not: the threshold is exercised
