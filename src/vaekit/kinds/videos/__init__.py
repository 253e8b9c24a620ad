"""Videos: sequences of frames. Data sets: the built-in `moving-shapes` (sprites of the `shapes` images moving
and bouncing, with known content and motion factors; `moving`), `moving-mnist` (MNIST digits bouncing in a
frame, generated from the MNIST files and cached; `moving_mnist`) and a user's `video` folder of GIF/MP4
files or a .npy array (`files`). Every loader returns `loading.VideoData`: x (N, T, C, H, W) float32 in
[0, 1], a fixed number of frames T, with labels (the content class) and the known factors.

The model is the disentangled sequential autoencoder (Li & Mandt 2018; `model`): one static latent f for what
a video shows and one z_t per frame for how it moves, under p(f) = N(0, I) and a learned prior
p(z_t | z_<t); swapping f between two videos converts one's content into the other's motion. `--model
frames` is the baseline that models each frame alone (an image VAE applied frame by frame), and
`--static-dim 0` the sequence model without the static latent. Videos are written for a person as animated
GIFs with a frame-strip PNG beside each (`show`). docs/videos.md.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import torch

from vaekit.kinds.base import Kind, Unit

EXTENSIONS = (".gif", ".mp4", ".npy")  # what `load_path` reads one video (or a .npy of several) from


class VideoKind(Kind):
    name = "videos"
    datasets = ("moving-shapes", "moving-mnist", "video")
    architectures = ("dsae", "frames")
    # masses on binary frames (moving shapes and binarized moving MNIST are binary), or a density on [0, 1]
    likelihoods = ("bernoulli", "gaussian")
    needs_data_dir = ("video",)
    model_defaults: ClassVar[dict[str, Any]] = {"arch": "dsae", "latent_dim": 8, "rnn_hidden": 128}
    # a video is T frames: 4,000 videos of 8 frames 3 x 32 x 32 hold 390 MB as float32
    data_defaults: ClassVar[dict[str, Any]] = {"subset": 4000}
    # a step of 32 videos is 256 frames: four times the steps of 128 videos for the same work, and a model
    # needs several hundred steps before it tells the sprites' colours apart (docs/videos.md)
    train_defaults: ClassVar[dict[str, Any]] = {"batch_size": 32}
    # a sample of a video costs T frames' decoding: k = 500, as for sentences (He et al. 2019); --k sets more
    eval_k = 500
    # the compiled step measured within noise of eager (0.93-1.07x): convolutions are ~70 % of a step and run
    # through the same oneDNN kernels either way; auto compiles only for a run many hours long
    compile_speedup = 1.05
    media_keys = ("image", "video")  # the explorer shows each video's frame strip and plays its animation
    file_types = EXTENSIONS

    # --- data -----------------------------------------------------------------------------------
    def load_split(self, cfg: Any, split: str, stats: dict | None = None) -> Any:
        """A split as `loading.VideoData`: x (N, T, C, H, W) in [0, 1], labels (N,) int64 (the content class:
        moving-shapes the shape, moving-mnist the first digit, a video folder its class subfolder) and the
        known factors with which of them are content and which motion."""
        from vaekit.kinds.videos.loading import load_video_split

        return load_video_split(cfg, split, stats)

    def load_path(self, path: Path, cfg: Any, stats: dict | None = None) -> Any:
        """A GIF/MP4 file, a folder of them, or a .npy (N, T, C, H, W), read and resized as the run's data."""
        from vaekit.kinds.videos.loading import load_video_path

        return load_video_path(path, cfg, stats)

    # --- model ----------------------------------------------------------------------------------
    def model(self, cfg: Any, event_shape: tuple[int, ...], likelihood: torch.nn.Module,
              stats: dict | None = None) -> torch.nn.Module:
        """The sequential VAE (`--model dsae`) or the frame-by-frame baseline (`--model frames`)."""
        from vaekit.kinds.videos.model import build_sequential

        return build_sequential(cfg, event_shape, likelihood)

    def unit(self, model: Any, data: Any) -> Unit | None:
        """nats per frame: -log p(x) of a video over its T frames."""
        return Unit("nats/frame", "nats_per_frame", float(data.event_shape[0]))

    # --- for a person ---------------------------------------------------------------------------
    def shows(self, event_shape: tuple[int, ...], data: Any = None) -> bool:
        """(T, C, H, W) items with C = 1 or 3."""
        shape = tuple(event_shape)
        return len(shape) == 4 and shape[1] in (1, 3)

    def write_grid(self, items: torch.Tensor, out: Path, per_row: int | None = None,
                   stats: dict | None = None) -> list[Path]:
        """OUT.gif (the videos side by side, playing) and OUT.png (each video's frames in a strip)."""
        from vaekit.kinds.videos.show import write_videos

        return write_videos(items, out, per_row)

    def html_grid(self, items: torch.Tensor, alt: str, per_row: int | None = None, stats: dict | None = None) -> str:
        """The videos as animated GIFs (base64) in a table."""
        from vaekit.kinds.videos.show import videos_html

        return videos_html(items, alt, per_row)

    def item_media(self, items: torch.Tensor, stats: dict | None = None,
                   keys: Collection[str] | None = None) -> list[dict[str, str]]:
        """Each video as {"image": its frame strip PNG, "video": its animated GIF}, data URLs."""
        from vaekit.kinds.videos.show import video_media

        return video_media(items, keys)
