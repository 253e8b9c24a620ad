"""A tiny stand-in for the sequential VAE of videos with a latent a person can read: each video's frame
brightness v_t (its mean value) is its code, f = the mean over frames of v_t (content: how bright) and z_t =
v_t - f (motion: how the brightness changes), laid out [f, z_1 .. z_T] as the real model's; decode paints
frame t all over with f + z_t. A video whose frames are each one value is reconstructed exactly, and a swap's
frames are known in closed form: f of one video plus z_t of the other."""

from __future__ import annotations

import torch
from torch import nn

from vaekit.distributions import DiagonalGaussian


class FakeSequentialVAE(nn.Module):
    def __init__(self, frames: int = 4, channels: int = 1, side: int = 8, static_dim: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))  # a parameter: callers find the device through it
        self.frames, self.static_dim, self.frame_dim = frames, static_dim, 1
        self.event_shape = (frames, channels, side, side)
        self.latent_dim = static_dim + frames  # the generic tools' flat latent: [f, z_1 .. z_T]
        self.n_classes = 0

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        v = x.float().mean(dim=(2, 3, 4))                  # (N, T): each frame's brightness
        f = v.mean(1, keepdim=True).expand(-1, self.static_dim)  # (N, static_dim)
        mean = torch.cat([f, v - v.mean(1, keepdim=True)], dim=1)  # (N, static_dim + T)
        return DiagonalGaussian(mean, torch.full_like(mean, -4.0))

    def split_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, zs = z[..., :self.static_dim], z[..., self.static_dim:]
        return f, zs.reshape(*z.shape[:-1], self.frames, 1)  # (..., static_dim), (..., T, 1)

    def join_latent(self, f: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
        return torch.cat([f, zs.flatten(-2)], dim=-1)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        f, zs = self.split_latent(z)
        v = f[..., :1] + zs[..., 0] + self.weight           # (N, T)
        return v[:, :, None, None, None].expand(-1, -1, *self.event_shape[1:]).clone()  # (N, T, C, H, W)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x).mean)

    def swap(self, x_content: torch.Tensor, x_motion: torch.Tensor) -> torch.Tensor:
        z = self.encode(x_motion).mean.clone()
        z[:, :self.static_dim] = self.encode(x_content).mean[:, :self.static_dim]
        return self.decode(z)

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def sample_motion(self, f: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        zs = torch.randn(len(f), self.frames, 1, generator=generator)
        return self.join_latent(f, zs)

    def sample_content(self, zs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.join_latent(torch.randn(len(zs), self.static_dim, generator=generator), zs)


def flat_videos(values: list[list[float]], channels: int = 1, side: int = 8) -> torch.Tensor:
    """Videos (N, T, C, side, side) whose frame t of video i is values[i][t] everywhere."""
    v = torch.tensor(values, dtype=torch.float32)  # (N, T)
    return v[:, :, None, None, None].expand(-1, -1, channels, side, side).clone()
