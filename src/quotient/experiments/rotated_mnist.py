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

from torch import nn

from ..actions import rot90_image, rotate_image
from ..data.rotated_mnist import rotated_split
from ..errors import ConfigError
from ..groups import SO2, CyclicGroup
from ..models.baselines import random_rotation
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
    """Settings of rotated-mnist (``--set KEY=VALUE``).

    ``model``: ``giae`` or a baseline (``classical``, ``augmented``, ``equivariant``);
    ``widths``: fields per stage of the C4 group CNN, ``cnn_widths`` the baselines' plain CNN,
    ``decoder_widths`` the shared decoder; ``pose``: how the encoder forms its 2-vector;
    ``refine``: 1 turns each input back by a first estimate of its angle before encoding it
    (:class:`~quotient.nn.image_encoder.C4Encoder`), 0 encodes it as it comes;
    ``invariance_weight``: weight of the penalty on ``‖z(x) − z(ρ(φ)x)‖²`` (in units of the
    codes' spread) for random angles on a share ``invariance_fraction`` of each batch, which
    teaches invariance beyond the exact quarter turns
    (:func:`~quotient.models.losses.consistency_loss`; 0 disables it); ``n_train``/``n_test``:
    by default 8,000 + 2,000 of the bundled sample, or 80 % / 20 % of your ``data`` file (an
    ``.npz`` with ``images`` and ``labels``, see ``docs/own_data.md``; ``rotate_data=false`` if
    they already come in random orientations); ``check_samples`` test digits go into the
    symmetry report; ``threads``: CPU threads (0: torch's default)."""

    train: TrainConfig = field(default_factory=_default_train)
    model: ModelKind = "giae"
    latent_dim: int = 32
    widths: tuple[int, ...] = (8, 16, 32)
    cnn_widths: tuple[int, ...] = (32, 64, 128)
    decoder_widths: tuple[int, ...] = (64, 32, 16)
    pose: Literal["profile", "dipole", "both"] = "dipole"
    refine: int = 0
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
        if self.refine not in (0, 1):
            raise ConfigError(f"refine must be 0 (encode the input as it comes) or 1 (turn it "
                              f"back by a first angle estimate first), got {self.refine!r}")
        if self.eval_every < 1:
            raise ConfigError(f"eval_every must be >= 1, got {self.eval_every}")


def load_data(cfg: RotatedMNISTConfig) -> Split:
    """The rotated split of the bundled sample, or of your images in ``cfg.data`` (checked:
    this is also the check run before a run directory is made)."""
    data = rotated_split(cfg.data, n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.data_seed,
                         rotate=cfg.rotate_data, side_factor=2 ** (len(cfg.decoder_widths) - 1),
                         batch_size=cfg.train.batch_size)
    name = f"{Path(cfg.data).name if cfg.data else 'rotated-mnist'} ({cfg.model})"
    return Split(data.train.images, data.test.images, data.train.labels, data.test.labels,
                 name=name, extras={"true_pose": {"values": data.test.angles, "period": 360.0,
                                                  "unit": "degrees", "scale": 180 / math.pi}})


def check_data(cfg: RotatedMNISTConfig) -> None:
    """Your images and the split sizes, checked before a run directory is made."""
    if cfg.data:
        load_data(cfg)


def build_model(cfg: RotatedMNISTConfig, split: Split) -> nn.Module:
    """The configured model for the split's ``(C, H, H)`` images, initialised from a generator
    seeded by ``cfg.train.seed``."""
    shape = {"in_channels": int(split.train.shape[1]), "image_size": int(split.train.shape[-1])}
    with seeded(mix_seed(cfg.train.seed, "rotated-mnist-init", cfg.model)):
        if cfg.model == "giae":
            model = image_giae(latent_dim=cfg.latent_dim, widths=cfg.widths,
                               decoder_widths=cfg.decoder_widths, pose=cfg.pose,
                               refine=cfg.refine, **shape)
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


EXPERIMENT = giae_experiment(GIAERecipe(
    name="rotated-mnist",
    description="SO(2)-invariant autoencoder (C4 group CNN + angle pose) on rotated MNIST",
    config_cls=RotatedMNISTConfig, data=load_data, model=build_model, loss=_loss,
    symmetry=_symmetry, examples="images", check=check_data))
"""The ``rotated-mnist`` experiment: the SO(2) GIAE on rotated MNIST."""
