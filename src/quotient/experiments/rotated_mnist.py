"""rotated-mnist: the SO(2) group-invariant autoencoder on rotated MNIST digits.

Data: the bundled 10,000-digit MNIST sample, a fixed seeded 8,000/2,000 split, every digit turned
by a uniformly random angle (:func:`~quotient.data.rotated_mnist.load_rotated_mnist_sample`), or
your own images (``data=FILE.npz``).

Model (``model="giae"``, :func:`~quotient.models.image_giae.image_giae`): a C4 group-CNN encoder —
exactly invariant (code ``z``) and equivariant (2-vector ``v``, angle ``θ = atan2(v₁, v₀)``)
under quarter turns by construction, approximately under other angles by learning, helped by a
penalty on ``‖z(x) − z(ρ(φ)x)‖²`` for random angles (``invariance_weight``) — a plain CNN decoder
to a canonical image, and ``x̂ = ρ(θ)·δ(z)`` (bilinear resampling). Baselines in the same harness
(``model=...``): ``classical`` (plain CNN encoder, same decoder), ``augmented`` (the same trained
on randomly re-rotated digits) and ``equivariant`` (C4 vector code, made invariant afterwards by
its norms). See ``docs/giae.md``; the metrics are those of :mod:`quotient.experiments.recipe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..actions import rot90_image, rotate_image
from ..data.mnist import ImageData
from ..data.rotated_mnist import RotatedMNIST, load_rotated_mnist_sample, make_rotated_mnist
from ..data.user import load_image_file
from ..data.user_files import split_sizes
from ..errors import ConfigError, DataError
from ..groups import SO2, CyclicGroup
from ..models.baselines import random_rotation
from ..models.giae import GIAE
from ..models.image_giae import image_baseline, image_giae
from ..models.losses import autoencoder_loss, consistency_loss
from ..symmetry import Symmetry
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "RotatedMNISTConfig", "build_model", "check_data", "load_data"]

ModelKind = Literal["giae", "classical", "augmented", "equivariant"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=12, batch_size=64, lr=2e-3, grad_clip=1.0, optimizer="adam",
                       checkpoint_every=500, log_every=25)


@dataclass
class RotatedMNISTConfig:
    """Settings of rotated-mnist.

    Attributes:
        train: training-loop settings.
        model: ``giae`` or a baseline: ``classical``, ``augmented``, ``equivariant``.
        latent_dim: size of the invariant code ``z``.
        widths: fields per stage of the C4 group CNN (each field is 4 channels).
        cnn_widths: channels per stage of the plain CNN encoder of the baselines.
        decoder_widths: channels per stage of the decoder (shared by all models).
        pose: how the GIAE encoder forms its 2-vector: ``profile``, ``dipole`` or ``both``.
        invariance_weight: GIAE only: weight of the penalty on ``‖z(x) − z(ρ(φ)x)‖²`` (in units
            of the codes' spread) for a random angle ``φ``, which teaches invariance beyond the
            exact quarter turns (:func:`~._autoencoding.consistency_loss`); 0 disables it.
        invariance_fraction: share of each batch that gets a turned copy for that penalty.
        warmup_steps: linear learning-rate warm-up, then cosine decay to the end.
        n_train, n_test: split sizes (none: 8,000 + 2,000 of the bundled sample, its most; or
            80 % / 20 % of your file, or what the other size leaves of it).
        data_seed: seed of the split and the rotation angles.
        eval_seed: seed of the random angles used by the invariance metrics.
        embedding: 2-d view of the test codes in the plot, ``tsne`` or ``pca``.
        plots: write the PNG figures.
        eval_every: log the reconstruction error of 1,000 test digits every this many epochs.
        check_samples: test digits for the symmetry report (the first 500 again in float64).
        threads: intra-op CPU threads while training and evaluating (0: torch's default).
            One thread is faster when other processes share the cores.
        data: your own images instead of the bundled sample: an ``.npz`` file with ``images``
            (uint8 or [0, 1] floats, ``(N, H, W)`` or ``(N, C, H, W)``, square, side divisible
            by 4 with the default decoder) and integer ``labels`` ``(N,)``
            (:func:`~quotient.data.user.load_image_file`); ``n_train + n_test <= N``. Plots
            are titled by its name.
        rotate_data: turn every image of ``data`` by a random angle (as the bundled sample);
            false if your images already come in random orientations.
    """

    train: TrainConfig = field(default_factory=_default_train)
    model: ModelKind = "giae"
    latent_dim: int = 32
    widths: tuple[int, ...] = (8, 16, 32)
    cnn_widths: tuple[int, ...] = (32, 64, 128)
    decoder_widths: tuple[int, ...] = (64, 32, 16)
    pose: Literal["profile", "dipole", "both"] = "dipole"
    invariance_weight: float = 0.1
    invariance_fraction: float = 0.25
    warmup_steps: int = 200
    n_train: int | None = None
    n_test: int | None = None
    data_seed: int = 0
    eval_seed: int = 1
    embedding: Literal["tsne", "pca"] = "tsne"
    plots: bool = True
    threads: int = 0
    eval_every: int = 4
    check_samples: int = 2000
    data: str = ""
    rotate_data: bool = True

    def __post_init__(self) -> None:
        check_ranges(self, positive=("latent_dim", "widths", "cnn_widths", "decoder_widths"),
                     non_negative=("invariance_weight", "warmup_steps", "threads"),
                     fraction=("invariance_fraction",))
        for name in ("n_train", "n_test"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.eval_every < 1:
            raise ConfigError(f"eval_every must be >= 1, got {self.eval_every}")


def check_data(cfg: RotatedMNISTConfig) -> ImageData | None:
    """Your images (``cfg.data``), checked against the settings; ``None`` for the bundled
    sample. Raises :class:`~quotient.errors.DataError` / :class:`~quotient.errors.ConfigError`
    naming the problem and the fix."""
    if not cfg.data:
        return None
    own = load_image_file(cfg.data)
    size, factor = own.images.shape[-1], 2 ** (len(cfg.decoder_widths) - 1)
    if size % factor:
        raise DataError(f"data file {cfg.data}: image side {size} must be divisible by "
                        f"{factor} (the decoder doubles the size {factor.bit_length() - 1} "
                        "times); pad or crop the images")
    split_sizes(len(own), cfg.n_train, cfg.n_test, what="images", source=cfg.data,
                batch_size=cfg.train.batch_size)
    return own


def load_data(cfg: RotatedMNISTConfig) -> Split:
    """The rotated split of the bundled sample, or of the images in ``cfg.data``."""
    own = check_data(cfg)
    if own is None:
        data: RotatedMNIST = load_rotated_mnist_sample(
            n_train=8000 if cfg.n_train is None else cfg.n_train,
            n_test=2000 if cfg.n_test is None else cfg.n_test, seed=cfg.data_seed)
    else:
        n_train, n_test = split_sizes(len(own), cfg.n_train, cfg.n_test, what="images",
                                      source=cfg.data)
        data = make_rotated_mnist(own.images, own.labels, n_train=n_train, n_test=n_test,
                                  seed=cfg.data_seed, rotate_train=cfg.rotate_data,
                                  rotate_test=cfg.rotate_data)
    name = f"{Path(cfg.data).name if cfg.data else 'rotated-mnist'} ({cfg.model})"
    return Split(data.train.images, data.test.images, data.train.labels, data.test.labels,
                 name=name, extras={"angles": data.test.angles})


def build_model(cfg: RotatedMNISTConfig, split: Split) -> nn.Module:
    """The configured model for the split's ``(C, H, H)`` images, initialised from a generator
    seeded by ``cfg.train.seed``."""
    shape = {"in_channels": int(split.train.shape[1]), "image_size": int(split.train.shape[-1])}
    with seeded(mix_seed(cfg.train.seed, "rotated-mnist-init", cfg.model)):
        if cfg.model == "giae":
            model = image_giae(latent_dim=cfg.latent_dim, widths=cfg.widths,
                               decoder_widths=cfg.decoder_widths, pose=cfg.pose, **shape)
        else:
            model = image_baseline(cfg.model, latent_dim=cfg.latent_dim, widths=cfg.widths,
                                   cnn_widths=cfg.cnn_widths, decoder_widths=cfg.decoder_widths,
                                   **shape)
    return model


def _loss(cfg: RotatedMNISTConfig, model: nn.Module) -> Any:
    if cfg.model == "giae" and cfg.invariance_weight > 0:
        return consistency_loss(random_rotation, cfg.invariance_weight, cfg.invariance_fraction)
    return autoencoder_loss


def _symmetry(cfg: RotatedMNISTConfig) -> tuple[Symmetry, Symmetry]:
    """Quarter turns (exact for the GIAE) and any angle (learned): what baselines' codes are
    measured against."""
    return Symmetry(CyclicGroup(4), rot90_image), Symmetry(SO2(), rotate_image)


def _plots(cfg: RotatedMNISTConfig, model: nn.Module, split: Split, metrics: dict[str, Any],
           result: Any, run_dir: Any) -> None:
    from ..plots import plot_angle_scatter, plot_image_grid

    x = split.test[:12]
    with torch.no_grad():
        rows = {"input": x, "reconstruction": model.reconstruct(x)}
        if isinstance(model, GIAE):
            rows["canonical"] = model(x).canonical
    plot_image_grid(rows, run_dir.plot_path("images"), n=12, title=split.name)
    if isinstance(model, GIAE):
        with torch.no_grad():
            theta = torch.cat([model.encode(b)[1].element for b in split.test.split(500)])
        plot_angle_scatter(split.extras["angles"] * (180 / math.pi), theta * (180 / math.pi),
                           run_dir.plot_path("pose"), labels=split.test_labels,
                           title=f"{split.name}: predicted vs true angle")


EXPERIMENT = giae_experiment(GIAERecipe(
    name="rotated-mnist",
    description="SO(2)-invariant autoencoder (C4 group CNN + angle pose) on rotated MNIST",
    config_cls=RotatedMNISTConfig, data=load_data, model=build_model, loss=_loss,
    symmetry=_symmetry, plots=_plots, check=check_data))
