"""The networks of the sequential VAE (`model`): per-frame convolutions, an LSTM unrolled over the frames, the
encoder of q(f, z_1:T | x_1:T), the learned prior p(z_t | z_<t) and the per-frame decoder (Li & Mandt 2018,
"Disentangled Sequential Autoencoder", sec. 3 and appendix).

Every LSTM here is `UnrolledLSTM`: torch.compile (2.13) refuses `nn.LSTM` ("Dynamo does not support RNN,
GRU, or LSTM"), and vaekit's fast training step traces the whole step as one graph. A video holds few
frames (8-20), so a Python loop over them unrolls into a small graph.
"""

from __future__ import annotations

import torch
from torch import nn

from vaekit.distributions import DiagonalGaussian
from vaekit.generative import full_precision
from vaekit.nets.conv import ConvDecoder, ConvEncoder


class UnrolledLSTM(nn.Module):
    """An LSTM (Hochreiter & Schmidhuber 1997) written step by step: the four gates from one Linear of
    [x_t, h_{t-1}] (input, forget, cell, output, in that order), c_t = σ(f) c_{t-1} + σ(i) tanh(g),
    h_t = σ(o) tanh(c_t). The forget gate's bias starts at 1 (Jozefowicz et al. 2015), so the cell keeps
    what it read at first."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Linear(input_size + hidden, 4 * hidden)
        with torch.no_grad():
            self.gates.bias[hidden:2 * hidden].fill_(1.0)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One step: x (N, I), state (h, c) each (N, H) or None (zeros) -> h_t (N, H), (h_t, c_t)."""
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden)
            state = (zeros, zeros)
        h, c = state
        i, f, g, o = self.gates(torch.cat([x, h], -1)).chunk(4, -1)  # (N, H) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x (N, T, I) from zero states -> the outputs h_1..h_T (N, T, H) and the final (h_T, c_T)."""
        state, outs = None, []
        for t in range(x.shape[1]):
            h, state = self.step(x[:, t], state)
            outs.append(h)
        return torch.stack(outs, 1), state


def flat_head(f: torch.Tensor | None, zs: torch.Tensor) -> torch.Tensor:
    """Gaussian parameters of f (B, 2 S) (or None: no f) and of z_1..z_T (B, T, 2 D), each (mean, log-variance),
    laid out as one head (B, 2 (S + T D)) over the flat latent [f, z_1, ..., z_T]: all means, then all
    log-variances, as `DiagonalGaussian.from_head` reads a head."""
    z_mean, z_logvar = zs.chunk(2, -1)  # (B, T, D) each
    means, logvars = [z_mean.flatten(1)], [z_logvar.flatten(1)]  # (B, T D)
    if f is not None:
        f_mean, f_logvar = f.chunk(2, -1)  # (B, S) each
        means.insert(0, f_mean)
        logvars.insert(0, f_logvar)
    return torch.cat(means + logvars, -1)


class VideoEncoder(nn.Module):
    """x (B, T, C, H, W) -> (B, 2 (S + T D)), the head of q(f, z_1:T | x_1:T) = q(f | x_1:T) Π_t q(z_t | x_1:T)
    (the factorised posterior of Li & Mandt 2018, eq. 4, z_t reading the whole video through a bidirectional
    LSTM as in their appendix). Each frame goes through the same convolutions (`ConvEncoder`) to `features`
    values; then
    - sequence=True: a bidirectional LSTM over the T frames' features; q(z_t | x_1:T) from its outputs at t,
      q(f | x_1:T) (static_dim > 0) from its two final states, each of which has read every frame;
    - sequence=False (the frame-by-frame baseline): q(z_t | x_t) from frame t's features alone."""

    def __init__(self, frame_shape: tuple[int, int, int], channels_base: int, hidden: int, activation: str,
                 static_dim: int, frame_dim: int, rnn_hidden: int, sequence: bool) -> None:
        super().__init__()
        features = rnn_hidden if sequence else 2 * frame_dim
        self.frame_net = ConvEncoder(frame_shape, channels_base, hidden, features, activation)
        self.sequence = sequence
        if sequence:
            self.forward_rnn = UnrolledLSTM(features, rnn_hidden)
            self.backward_rnn = UnrolledLSTM(features, rnn_hidden)
            self.z_head = nn.Linear(2 * rnn_hidden, 2 * frame_dim)
        self.f_head = nn.Linear(2 * rnn_hidden, 2 * static_dim) if sequence and static_dim else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        h = self.frame_net(x.flatten(0, 1)).view(b, t, -1)  # (B T, C, H, W) -> (B, T, F)
        if not self.sequence:
            return flat_head(None, h)  # h is already (B, T, 2 D)
        fwd, (h_fwd, _) = self.forward_rnn(h)  # (B, T, R), final (B, R) after x_T
        bwd, (h_bwd, _) = self.backward_rnn(h.flip(1))  # read from x_T back to x_1
        out = torch.cat([fwd, bwd.flip(1)], -1)  # (B, T, 2R): step t has seen x_1..x_t and x_t..x_T
        f = None if self.f_head is None else self.f_head(torch.cat([h_fwd, h_bwd], -1))  # (B, 2S)
        return flat_head(f, self.z_head(out))


class SequencePrior(nn.Module):
    """p(z_t | z_<t) = N(μ_t, diag σ_t²), (μ_t, log σ_t²) = Linear(h_t), h_t = LSTM(z_0, ..., z_{t-1}) with
    z_0 = 0 (Li & Mandt 2018, eq. 2). The output layer starts at zero: the prior starts as N(0, I)."""

    def __init__(self, frame_dim: int, hidden: int) -> None:
        super().__init__()
        self.frame_dim = frame_dim
        self.rnn = UnrolledLSTM(frame_dim, hidden)
        self.head = nn.Linear(hidden, 2 * frame_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, zs: torch.Tensor) -> DiagonalGaussian:
        """zs (N, T, D) -> p(z_t | z_<t) for every t at once, batch (N, T): the LSTM reads z shifted one step."""
        inputs = torch.cat([zs.new_zeros(zs.shape[0], 1, zs.shape[2]), zs[:, :-1]], 1)  # (N, T, D): z_0..z_{T-1}
        out, _ = self.rnn(inputs)  # (N, T, H): h_t has read z_<t
        return DiagonalGaussian.from_head(full_precision(self.head(out)))  # (N, T, D) mean and log-variance

    def sample(self, n: int, frames: int, generator: torch.Generator | None = None,
               like: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral draws z_t ~ p(z_t | z_<t), t = 1..T: (n, T, D), on the device and dtype of `like`
        (default: the prior's weights)."""
        like = self.head.weight if like is None else like
        z = like.new_zeros(n, self.frame_dim)  # z_0
        state, draws = None, []
        for _ in range(frames):
            h, state = self.rnn.step(z, state)
            z = DiagonalGaussian.from_head(full_precision(self.head(h))).rsample(generator=generator).to(like.dtype)
            draws.append(z)
        return torch.stack(draws, 1)


class VideoDecoder(nn.Module):
    """The flat latent z (N, S + T D) -> the likelihood head's parameters for every frame (N, T, P C, H, W):
    frame t is decoded from [f, z_t] alone by the same transposed convolutions (`ConvDecoder`), so f carries
    what all frames share and z_t what is particular to frame t (Li & Mandt 2018, eq. 1: p(x_t | z_t, f))."""

    def __init__(self, frame_shape: tuple[int, int, int], channels_base: int, hidden: int, activation: str,
                 static_dim: int, frame_dim: int, frames: int, params_per_dim: int) -> None:
        super().__init__()
        self.static_dim, self.frame_dim, self.frames = static_dim, frame_dim, frames
        self.frame_net = ConvDecoder(static_dim + frame_dim, channels_base, hidden, frame_shape, activation,
                                     params_per_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n, s, t = z.shape[0], self.static_dim, self.frames
        f, zs = z[:, :s], z[:, s:].reshape(n, t, self.frame_dim)  # (N, S), (N, T, D)
        per_frame = torch.cat([f[:, None].expand(n, t, s), zs], -1)  # (N, T, S + D)
        h = self.frame_net(per_frame.flatten(0, 1))  # (N T, P C, H, W)
        return h.view(n, t, *h.shape[1:])  # (N, T, P C, H, W)

    @torch.no_grad()
    def set_output_bias(self, params: torch.Tensor) -> None:
        """params (T, C, H, W), the head's parameters of the mean video: the bias of every frame starts at
        their mean over frames (one bias per channel, shared by the frames)."""
        self.frame_net.set_output_bias(params.mean(0))
