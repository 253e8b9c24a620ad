"""Typed, validated configuration: data, model, training.

Each field's `help` metadata is its documentation and its `--help` text (see `vaekit.cli`);
`flag` overrides the derived flag name where the CLI's name differs from the field's.
Configs are read from and written to JSON, TOML or YAML; never pickled.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from vaekit.errors import ConfigError

BINARIZE = ("none", "dynamic", "static")
LONG_LINES = ("truncate", "refuse")
LOUDNESS = ("none", "peak", "rms")
AUDIO_LABELS = ("digit", "speaker")
ARCHS = ("mlp", "conv", "resnet", "resmlp", "lstm", "lm", "dsae", "frames")
FRAME_SAMPLING = ("first", "spread")
ACTIVATIONS = ("relu", "tanh", "elu", "gelu", "silu", "softplus")
LIKELIHOODS = ("bernoulli", "bernoulli_ar", "gaussian", "logistic", "logistic_mixture", "categorical")
PRIORS = ("standard", "mog", "vamp")
VARIANCES = ("fixed", "global", "per_dim")
KL_ESTIMATORS = ("analytic", "mc")
OBJECTIVES = ("elbo", "iwae")
INFERENCE = ("bottom_up", "top_down")
SCHEDULES = ("constant", "cosine")
COMPILE = ("auto", "on", "off")


def _f(default: Any, help: str, flag: str | None = None, switch: bool = False, **kw: Any) -> Any:
    """A dataclass field carrying its --help text (and optionally its CLI flag name). switch: a choice of
    on/off/... whose flag alone means on and whose --no- form means off (`vaekit.cli.common`)."""
    meta: dict[str, Any] = {"help": help}
    if flag:
        meta["flag"] = flag
    if switch:
        meta["switch"] = True
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


def _choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(map(str, choices))}")


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        raise ConfigError(f"{name}={value!r} must be {'>= 0' if allow_zero else '> 0'}")


SEED_LIMIT = 2**62  # torch seeds are 64-bit; mnist derives data_seed * 3 + split, which must still fit


def _seed(name: str, value: int) -> None:
    if not 0 <= value < SEED_LIMIT:
        raise ConfigError(f"{name}={value!r} must lie in [0, 2**62)")


def _finite_floats(obj: Any) -> None:
    """inf or NaN in a float field (lr=inf, min_log_scale=nan) would only surface as NaN losses later."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if str(f.type) == "float" and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{f.name.replace('_', '-')}={value!r} must be a finite number")


@dataclass
class DataConfig:
    dataset: str = _f("shapes", "dataset: shapes (built in), mnist, folder (images), array (.npy/.npz), "
                                "text-shapes (built-in sentences), yelp, text (sentences), tones (built-in notes), "
                                "spoken-digits, audio (sound files), moving-shapes (built-in videos), "
                                "moving-mnist, video (GIF/MP4 files or a .npy)", flag="data")
    data_dir: str | None = _f(None, "mnist: folder with the four IDX .gz files; folder: image folder; "
                                    "array: the .npy/.npz file; text: a folder with train.txt/valid.txt/test.txt "
                                    "or train.0/train.1/... (label = suffix), or one file split 90/5/5; audio: a "
                                    "folder of class subfolders of .wav/.flac/.ogg files, or with a metadata.csv; "
                                    "spoken-digits: its folder (default: $VAEKIT_DATA/spoken-digits); video: a "
                                    "folder of GIF/MP4 files (class subfolders give labels) or a .npy (N, T, C, H, W); "
                                    "moving-mnist: the MNIST folder (default: $VAEKIT_DATA/mnist)")
    image_size: int | None = _f(None, "image side in pixels (shapes: 32 by default; folder: 64; mnist: 28); "
                                      "videos: the frame side (moving-shapes, moving-mnist: 32; video files: 64)")
    channels: int | None = _f(None, "folder images and video files: 1 (grayscale) or 3 (RGB, the default)")
    binarize: str = _f("none", "none (grayscale in [0,1]), dynamic (a fresh Bernoulli draw of every batch), "
                               "static (one fixed draw for the data seed)")
    subset: int = _f(20000, "shapes: how many images are drawn from the 737,280-image factor grid; text-shapes: "
                            "how many sentences from its 25,920-sentence grid; tones: how many notes from its "
                            "384-note grid (2000 unless given); moving-shapes, moving-mnist: how many videos "
                            "(4000 unless given)")
    val_fraction: float = _f(0.1, "shapes/folder/array: fraction held out for validation (and as much for test)")
    data_seed: int = _f(0, "seed of the data itself (shapes subset, static binarization, splits)")
    in_memory: bool = _f(True, "hold the data as one tensor; false: folder images are decoded lazily by "
                               "DataLoader workers")
    workers: int = _f(0, "DataLoader worker processes when --in-memory is false")
    # sentences (text-shapes, yelp, text): docs/texts.md
    max_length: int = _f(40, "sentences: the most tokens an item holds (its <eos> comes on top)")
    long_lines: str = _f("truncate", "sentences longer than --max-length: truncate (cut them, and log how many) or "
                                     "refuse (an error naming the file and line)")
    min_count: int = _f(1, "sentences: a token enters the vocabulary when the training split holds it this often; "
                           "rarer ones read as <unk>")
    max_vocab: int = _f(0, "sentences: keep at most this many of the most frequent tokens (ties in alphabetical "
                           "order; the 4 special tokens come on top; 0 = no cap)")
    lowercase: bool = _f(False, "sentences: lower-case the text before splitting it into tokens at whitespace")
    # sounds (tones, spoken-digits, audio)
    sample_rate: int = _f(16000, "sounds: clips are resampled to this rate in hertz (1000-192000)")
    clip_seconds: float | None = _f(None, "sounds: every clip is cropped (centred) or padded with silence (at the "
                                          "end) to this many seconds (default: tones 0.5, spoken-digits 0.8, "
                                          "audio 1.0)")
    loudness: str = _f("none", "sounds: none (as recorded), peak (each clip's peak to -1 dBFS) or rms (each clip's "
                               "RMS to -20 dBFS, clipped to [-1, 1])")
    audio_label: str = _f("digit", "spoken-digits: the label is the digit or the speaker (audio folders: "
                                   "ignored, the label is the class subfolder or metadata.csv's label column)")
    n_mels: int = _f(128, "sounds: mel bands of the log-mel spectrogram items (0 = linear-frequency magnitudes, "
                         "n-fft/2+1 bins)")
    n_fft: int = _f(1024, "sounds: FFT size of the spectrogram (samples)")
    hop_length: int = _f(200, "sounds: samples between spectrogram frames (12.5 ms at 16 kHz)")
    win_length: int = _f(800, "sounds: Hann window length of the spectrogram, at most --n-fft (50 ms at 16 kHz)")
    # videos (moving-shapes, moving-mnist, video): docs/videos.md
    frames: int = _f(0, "videos: frames per video, T (0 = the data set's default: moving-shapes 8, moving-mnist 10, "
                        "video files 8)")
    frame_sampling: str = _f("first", "videos longer than --frames: first (the first T frames) or spread (T frames "
                                      "evenly spaced over the whole video)")
    digits: int = _f(1, "moving-mnist: digits bouncing in each video (1 or 2)")

    def __post_init__(self) -> None:
        _finite_floats(self)
        if not isinstance(self.dataset, str) or not self.dataset:  # its kind checks the name (vaekit.kinds)
            raise ConfigError(f"data={self.dataset!r} must name a data set")
        _choice("binarize", self.binarize, BINARIZE)
        if self.image_size is not None:
            _positive("image-size", self.image_size)
            if self.image_size < 8:
                raise ConfigError(f"image-size={self.image_size} is too small (need >= 8)")
        if self.channels is not None:
            _choice("channels", self.channels, (1, 3))
        _positive("subset", self.subset)
        _positive("workers", self.workers, allow_zero=True)
        _positive("max-length", self.max_length)
        _choice("long-lines", self.long_lines, LONG_LINES)
        _positive("min-count", self.min_count)
        _positive("max-vocab", self.max_vocab, allow_zero=True)
        if not 0.0 < self.val_fraction < 0.5:
            raise ConfigError(f"val-fraction={self.val_fraction} must lie in (0, 0.5)")
        _seed("data-seed", self.data_seed)
        self._check_sound()
        _positive("frames", self.frames, allow_zero=True)
        _choice("frame-sampling", self.frame_sampling, FRAME_SAMPLING)
        _choice("digits", self.digits, (1, 2))
        if self.data_dir is not None and "\0" in self.data_dir:  # os.stat raises ValueError, not OSError, on it
            raise ConfigError(f"data-dir={self.data_dir!r} contains a NUL character")


    def _check_sound(self) -> None:
        if isinstance(self.sample_rate, bool) or not 1000 <= self.sample_rate <= 192000:
            raise ConfigError(f"sample-rate={self.sample_rate!r} must lie in [1000, 192000] Hz")
        if self.clip_seconds is not None and not (math.isfinite(self.clip_seconds) and 0 < self.clip_seconds <= 60):
            raise ConfigError(f"clip-seconds={self.clip_seconds!r} must lie in (0, 60]")
        _choice("loudness", self.loudness, LOUDNESS)
        _choice("audio-label", self.audio_label, AUDIO_LABELS)
        if not 16 <= self.n_fft <= 65536:
            raise ConfigError(f"n-fft={self.n_fft!r} must lie in [16, 65536]")
        if not 0 < self.win_length <= self.n_fft:
            raise ConfigError(f"win-length={self.win_length!r} must lie in [1, n-fft={self.n_fft}]")
        if not 0 < self.hop_length < self.win_length:  # overlapping windows: the inverse STFT exists
            raise ConfigError(f"hop-length={self.hop_length!r} must lie in [1, win-length - 1 = {self.win_length - 1}]")
        if not 0 <= self.n_mels <= self.n_fft // 2 + 1:
            raise ConfigError(f"n-mels={self.n_mels!r} must lie in [0, n-fft/2 + 1 = {self.n_fft // 2 + 1}]")


@dataclass
class ModelConfig:
    arch: str = _f("mlp", "networks: mlp, conv, resnet (residual conv blocks; Kingma et al. 2016, vdvae) or "
                          "resmlp (a residual MLP: one block per --hidden size after the first, all equal); "
                          "sentences: lstm (their default: the sentence VAE of Bowman et al. 2016) or lm (the "
                          "same decoder without z: a language model)", flag="model")
    hidden: list[int] = _f([400], "hidden layer sizes of the MLP (repeat the flag or give a comma list); "
                                  "conv, resnet: the first is the width of the linear layer between the feature "
                                  "map and z; resmlp: all sizes equal")
    # gelu: the reference MNIST model reaches a test ELBO ~3 nats better after one epoch than with relu.
    activation: str = _f("gelu", "activation of the hidden layers: " + ", ".join(ACTIVATIONS))
    channels_base: int = _f(32, "conv: channels of the first conv layer (doubled at each downsampling)")
    res_blocks: int = _f(1, "resnet: pre-activation residual blocks per resolution level (each starts as the "
                            "identity)")
    latent_dim: int = _f(20, "size of the latent z")
    latent_layers: list[int] = _f([], "sizes of further stochastic layers above z, bottom to top (a hierarchical "
                                      "VAE; e.g. --latent-dim 100 --latent-layers 50: the IWAE paper's 2 layers)")
    layer_hidden: list[int] = _f([100, 100], "hierarchical VAE: hidden sizes of the MLPs between stochastic layers")
    inference: str = _f("bottom_up", "hierarchical VAE inference: bottom_up (Burda et al. 2015) or top_down "
                                     "(Ladder VAE, Sønderby et al. 2016)")
    likelihood: str = _f("bernoulli", "p(x|z): bernoulli (binary or [0,1] data, from logits), bernoulli_ar (the same "
                                      "with an autoregressive term over the preceding pixels), gaussian, or for "
                                      "8-bit images logistic / logistic_mixture (discretized, Salimans et al. 2017); "
                                      "sentences: categorical (their default: an LSTM's softmax over the vocabulary)")
    ar_context: int = _f(56, "bernoulli_ar: pixels before each pixel, in raster order, that its logit reads "
                             "(56: two rows of a 28x28 image)")
    n_mix: int = _f(5, "logistic_mixture: logistic components per sub-pixel")
    min_log_scale: float = _f(-8.0, "logistic likelihoods: lower clamp of the log-scale (PixelCNN++'s -7 on [-1, 1] "
                                    "data is -7.69 on our [0, 1] scale); gaussian with a learned variance: floor of "
                                    "log sigma, so a constant data dimension is worth at most -min-log-scale - 0.92 "
                                    "nats instead of sending log p(x) to +inf (a fixed --sigma is not clamped)")
    prior: str = _f("standard", "p(z) (of the top layer of a hierarchy): standard (N(0, I)), mog (a learned "
                                "mixture of Gaussians) or vamp (VampPrior, Tomczak & Welling 2018)")
    prior_components: int = _f(500, "mog / vamp prior: mixture components (vamp: pseudo-inputs; the paper uses 500)")
    variance: str = _f("global", "gaussian p(x|z) variance: fixed (--sigma), global (one learned), "
                                 "per_dim (one learned per data dimension)")
    sigma: float = _f(1.0, "gaussian p(x|z): the fixed standard deviation, or the initial one")
    dropout: float = _f(0.0, "mlp: dropout rate after each hidden layer of the generative networks, p(x|z) and "
                             "a hierarchy's p(z_l|z_{l+1}), in training only (0 = off): a regulariser of the "
                             "decoder, which overfits before the encoder does")
    conditional: bool = _f(False, "class-conditional VAE (Sohn et al. 2015): encoder and decoder also see the "
                                  "one-hot class label; needs data with integer class labels")
    n_classes: int = _f(0, "conditional VAE: number of classes (0 = from the training labels)")
    # sentences (--model lstm / lm): docs/texts.md
    embed_dim: int = _f(128, "lstm/lm: width of the token embeddings")
    rnn_hidden: int = _f(256, "lstm/lm: width of the encoder's and the decoder's LSTM state")
    bidirectional: bool = _f(False, "lstm: the encoder reads the sentence in both directions")
    word_dropout: float = _f(0.0, "lstm/lm: in training, replace each decoder input token by <unk> with this "
                                  "probability, so the decoder must use z (Bowman et al. 2016, sec. 3.3)")
    tie_embeddings: bool = _f(False, "lstm/lm: the output layer reuses the input embedding (Press & Wolf 2017)")
    # videos (--model dsae / frames): docs/videos.md; --latent-dim is then the size of each frame's z_t
    static_dim: int = _f(16, "dsae: size of the static latent f, what a whole video shows (Li & Mandt 2018); 0 = none "
                             "(a sequence model with the per-frame z_t only)")

    def __post_init__(self) -> None:
        _finite_floats(self)
        _choice("model", self.arch, ARCHS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("likelihood", self.likelihood, LIKELIHOODS)
        _choice("variance", self.variance, VARIANCES)
        _choice("inference", self.inference, INFERENCE)
        _choice("prior", self.prior, PRIORS)
        _positive("n-mix", self.n_mix)
        _positive("ar-context", self.ar_context)
        _positive("prior-components", self.prior_components)
        if self.prior == "vamp" and self.latent_layers and self.inference != "top_down":
            raise ConfigError("--prior vamp with --latent-layers needs --inference top_down: its components are "
                              "the top posterior q(z_L|u), a Gaussian of the input only in top-down inference")
        for name in ("latent_layers", "layer_hidden"):
            for h in getattr(self, name):
                _positive(name.replace("_", "-"), h)
        if not self.hidden:
            raise ConfigError("hidden needs at least one layer size")
        for h in self.hidden:
            _positive("hidden", h)
        _positive("channels-base", self.channels_base)
        _positive("res-blocks", self.res_blocks)
        if self.arch == "resmlp" and len(set(self.hidden)) > 1:
            raise ConfigError(f"--model resmlp needs equal --hidden sizes (a residual block h + f(h) keeps its "
                              f"width); got --hidden {','.join(map(str, self.hidden))}")
        _positive("latent-dim", self.latent_dim)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout={self.dropout} must lie in [0, 1)")
        if self.dropout > 0 and self.arch != "mlp":
            raise ConfigError(f"--dropout applies to --model mlp networks only, not --model {self.arch}")
        _positive("sigma", self.sigma)
        _positive("embed-dim", self.embed_dim)
        _positive("rnn-hidden", self.rnn_hidden)
        _positive("static-dim", self.static_dim, allow_zero=True)
        if not 0.0 <= self.word_dropout < 1.0:
            raise ConfigError(f"word-dropout={self.word_dropout} must lie in [0, 1)")
        if self.arch in ("lstm", "lm") and (self.latent_layers or self.prior == "vamp"):
            raise ConfigError(f"--model {self.arch} has one stochastic layer and no pseudo-inputs: it takes neither "
                              "--latent-layers nor --prior vamp")
        if self.arch == "lm" and self.prior != "standard":
            raise ConfigError("--model lm sets q(z|x) = p(z) = N(0, I), which needs --prior standard")
        if self.likelihood == "gaussian" and self.variance != "fixed" and math.log(self.sigma) < self.min_log_scale:
            raise ConfigError(f"--sigma {self.sigma} starts the learned variance below its floor "
                              f"exp(min-log-scale) = {math.exp(self.min_log_scale):.3g}")
        _positive("n-classes", self.n_classes, allow_zero=True)
        if self.conditional and (self.latent_layers or self.prior == "vamp"):
            raise ConfigError("--conditional works with one stochastic layer and the standard or mog prior "
                              "(not with --latent-layers or --prior vamp)")


@dataclass
class TrainConfig:
    epochs: int = _f(30, "passes over the training data")
    batch_size: int = _f(128, "items (images, sentences, clips, videos) per optimizer step; videos: 32 unless "
                              "given")
    max_minutes: float = _f(0.0, "wall-clock budget of training and validation, in minutes (0 = none; counted across "
                                 "--resume). The schedules then run over the share of the budget spent, or of the "
                                 "epochs' steps when that is further along, so they end with the run on any host: "
                                 "the cosine reaches lr * lr-min-ratio and the warm-ups finish. Training stops after "
                                 "the epoch whose last step reached the budget's end (it ends at the final lr and "
                                 "beta); --epochs stays an upper bound")
    lr: float = _f(1e-3, "Adam learning rate")
    schedule: str = _f("constant", "learning-rate schedule: constant or cosine (decay to lr * lr-min-ratio over the "
                                   "steps after the warm-up, or over a --max-minutes budget)")
    lr_warmup_steps: int = _f(0, "linear learning-rate warm-up, in steps; a warm-up longer than the run (its "
                                 "epochs, or its --max-minutes budget) ends with it")
    lr_min_ratio: float = _f(0.1, "cosine schedule: final lr as a fraction of --lr, at the last step or the end of "
                                  "the --max-minutes budget")
    weight_decay: float = _f(0.0, "AdamW's decoupled weight decay (Loshchilov & Hutter 2019) of the layers' weight "
                                  "matrices; biases and the priors' parameters are not decayed (0 = plain Adam)")
    grad_clip: float = _f(0.0, "clip the gradient norm at this value (0 = off)")
    objective: str = _f("elbo", "training objective: elbo, or iwae (Burda et al. 2015) with --iwae-k samples")
    iwae_k: int = _f(5, "iwae objective: importance samples per data point")
    kl: str = _f("analytic", "KL estimator: analytic (SGVB estimator B) or mc (estimator A)")
    samples: int = _f(1, "L: latent samples per data point in the ELBO")
    beta: float = _f(1.0, "weight of the KL term (beta-VAE; 1 = the ELBO); the best checkpoint is then the one of the "
                              "best validation -(distortion + beta * rate)")
    warmup_steps: int = _f(0, "linear KL warm-up from 0 to beta over this many steps (0 = off); a warm-up longer "
                              "than the run (its epochs, or its --max-minutes budget) ends with it")
    free_bits: float = _f(0.0, "free bits per latent dimension, in nats (Kingma et al. 2016; 0 = off): the loss "
                               "takes max(free-bits, minibatch-mean KL) of each dimension. A layer whose prior does "
                               "not factorise over dimensions (the top layer under --prior mog or vamp) has one "
                               "Monte-Carlo KL for all its dimensions, floored once: max(free-bits, its mean total "
                               "KL), not free-bits per dimension")
    aggressive: bool = _f(False, "aggressive inference-network training (He et al. 2019, Algorithm 1): before each "
                                 "decoder update, encoder-only updates until the encoder's loss stops falling; ends "
                                 "after the first epoch whose validation mutual information I(x; z) did not rise "
                                 "(docs/maths.md). Aggressive epochs take the plain step, not --compile's")
    ema: float = _f(0.0, "decay of an exponential moving average of the weights used for evaluation (0 = off)")
    max_nonfinite: int = _f(20, "stop after this many non-finite steps in a row (each one is skipped)")
    eval_k: int = _f(0, "importance samples for the validation log-likelihood each epoch, which then also "
                        "chooses the best checkpoint (0 = ELBO only, and the ELBO chooses)")
    init_from: str | None = _f(None, "fine-tune: start from the evaluation weights of this run folder's best "
                                     "checkpoint (same model config; a fresh optimizer and schedules from step 0)")
    seed: int = _f(0, "seed of initialisation, data order, binarization and sampling")
    device: str = _f("cpu", "torch device: cpu, cuda, cuda:1, mps")
    threads: int = _f(0, "torch intra-op threads (0 = torch's default)")
    precision: str = _f("fp32", "fp32, or bf16: bfloat16 autocast of the networks' matmuls (densities stay "
                                "float32); see docs/benchmarks.md for its speed and its test NLL")
    flush_denormals: bool = _f(True, "flush subnormal floats to zero on every CPU thread while training (FTZ/DAZ): "
                                     "a long run fills Adam's state with them, and each costs ~100x a normal operation "
                                     "on x86 (docs/benchmarks.md); off: IEEE gradual underflow")
    compile: str | bool = _f("auto", "auto, on or off: torch.compile the training step (forward, backward and "
                                     "the gradient check in one graph, Adam's fused kernel called directly; "
                                     "docs/benchmarks.md). auto: time the first eager steps and compile only when "
                                     "the run ahead (its epochs, or its --max-minutes budget) saves more than the "
                                     "compilation costs (~20 s the first time on a machine, ~5 s once cached in "
                                     "~/.cache/vaekit/compiled; VAEKIT_COMPILE_CACHE=DIR or off). --compile alone "
                                     "forces it on, --no-compile off; config files may say true or false",
                             switch=True)
    grid: int = _f(64, "images in the per-epoch sample and reconstruction grids")
    log_every: int = _f(50, "write a step line to metrics.jsonl every this many steps")
    progress: bool = _f(True, "show a progress bar")
    tensorboard: bool = _f(False, "also write TensorBoard events (needs the tensorboard package)")
    report: bool = _f(True, "write the HTML run report (report.html) at the end of training")

    def __post_init__(self) -> None:
        _finite_floats(self)
        _seed("seed", self.seed)
        for name in ("epochs", "batch_size", "lr", "iwae_k", "samples", "max_nonfinite", "grid", "log_every"):
            _positive(name.replace("_", "-"), getattr(self, name))
        for name in ("max_minutes", "lr_warmup_steps", "weight_decay", "grad_clip", "beta", "warmup_steps", "free_bits",
                     "eval_k", "threads"):
            _positive(name.replace("_", "-"), getattr(self, name), allow_zero=True)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("objective", self.objective, OBJECTIVES)
        _choice("kl", self.kl, KL_ESTIMATORS)
        _choice("precision", self.precision, ("fp32", "bf16"))
        if isinstance(self.compile, bool):  # config files and code from before auto: true forces it on
            self.compile = "on" if self.compile else "off"
        _choice("compile", self.compile, COMPILE)
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema={self.ema} must lie in [0, 1)")
        if not 0.0 <= self.lr_min_ratio <= 1.0:
            raise ConfigError(f"lr-min-ratio={self.lr_min_ratio} must lie in [0, 1]")
        ignored = [flag for flag, off in (("--beta", self.beta == 1.0), ("--warmup-steps", self.warmup_steps == 0),
                                          ("--free-bits", self.free_bits == 0.0)) if not off]
        if self.objective == "iwae" and ignored:
            raise ConfigError(f"--objective iwae does not take {', '.join(ignored)}: the IWAE bound "
                              "log (1/k) Σ_i p(x, z_i) / q(z_i|x) (Burda et al. 2015) has no KL term to weight, "
                              "warm up or floor; leave them at 1, 0 and 0, or use --objective elbo")
        if self.aggressive and self.objective == "iwae":
            raise ConfigError("--aggressive trains the encoder on the ELBO (He et al. 2019); it does not take "
                              "--objective iwae")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.model.likelihood.startswith("logistic") and self.data.binarize != "none":
            raise ConfigError(f"--likelihood {self.model.likelihood} models 8-bit pixel values; it needs "
                              f"--binarize none (got {self.data.binarize})")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> Config:
        """Build a config from nested dicts; unknown sections or keys are errors, not ignored."""
        check_sections(d, source)
        parts = {}
        for name, typ in (("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)):
            parts[name] = make_section(typ, d.get(name, {}), f"{source}: [{name}]")
        return cls(**parts)


def check_sections(d: Any, source: str) -> None:
    """A mapping of known sections (values are checked by make_section)."""
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: expected a mapping with sections data/model/train, got {type(d).__name__}")
    unknown = set(d) - {"data", "model", "train"}
    if unknown:  # sorted by str: YAML keys may be ints, None or dates, which do not compare with str
        raise ConfigError(f"{source}: unknown section(s) {sorted(unknown, key=str)}; expected data, model, train")


def make_section(typ: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate one config dataclass, checking names and types of the values."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(typ)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown, key=str)}; known: {', '.join(fields)}")
    clean = {k: _coerce(k, v, fields[k].type, where) for k, v in values.items()}
    try:
        return typ(**clean)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _coerce(name: str, value: Any, annotation: str, where: str) -> Any:
    """Check a value against a field's annotation (a string under `from __future__ import annotations`)."""
    ann = str(annotation).replace(" ", "")
    if value is None:
        if "None" in ann:
            return None
        raise ConfigError(f"{where}: {name} must not be null")
    base = ann.replace("|None", "")
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "list[int]": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                                     for v in value),
    }.get(base, True)
    if not ok:
        raise ConfigError(f"{where}: {name}={_short(value)} should be of type {base}")
    ints = [value] if base == "int" else value if base == "list[int]" else []
    if any(abs(v) >= 2**63 for v in ints):  # torch and numpy take 64-bit integers
        raise ConfigError(f"{where}: {name}={_short(value)} does not fit in a 64-bit integer")
    if base == "float":
        try:
            return float(value)
        except OverflowError:  # an int literal beyond float range (lr = 1e400 written out in digits)
            raise ConfigError(f"{where}: {name}={_short(value)} is too large for a float") from None
    return value


def _short(value: Any, limit: int = 60) -> str:
    """repr of a value, cut: a fuzzed or mistyped value can be a megabyte long."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits has no repr
        return f"<an integer of {value.bit_length()} bits>"
    return text if len(text) <= limit else text[:limit] + "..."
