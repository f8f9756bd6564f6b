"""shifted-signals: the cyclic-shift group-invariant autoencoder on periodic 1-d signals.

Data (:func:`~quotient.data.signals.make_shifted_signals`): smooth random templates of a few
classes, each signal a template cyclically shifted by a uniformly random integer plus Gaussian
noise; train and test sets are drawn with different seeds from the same templates.

Model (``model="giae"``): circular convolutions (exactly invariant code ``z``, exactly
equivariant score map ``y`` under integer shifts), the shift read from the phase of the first
Fourier mode of ``y``, an MLP decoder to a canonical signal and ``x̂ = fourier_shift(s, δ(z))``.
Baselines: ``classical`` (MLP encoder, same decoder) and ``augmented`` (the same trained on
randomly re-shifted signals). Metrics: those of :mod:`quotient.experiments.recipe`, with
integer shifts as the exact group and real-valued (Fourier) shifts as the approximate one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from ..actions import roll_signal
from ..data.signals import make_shifted_signals
from ..groups import SO2, CyclicShifts
from ..models.image_giae import signal_baseline, signal_giae
from ..models.losses import autoencoder_loss
from ..nn.pose_so2 import shift_by_angle
from ..symmetry import Symmetry
from ..train import TrainConfig, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "ShiftedSignalsConfig", "build_model", "load_data"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=30, batch_size=64, lr=2e-3, grad_clip=1.0, optimizer="adam",
                       checkpoint_every=500, log_every=25)


@dataclass
class ShiftedSignalsConfig:
    """Settings of shifted-signals.

    Attributes:
        train: training-loop settings.
        model: ``giae`` or a baseline: ``classical``, ``augmented``.
        length: samples per signal (the group is ℤ_length).
        n_classes, templates_per_class, noise: the data generator's settings.
        n_train, n_test: set sizes (drawn with seeds ``data_seed`` and ``data_seed + 1``).
        data_seed: seed of the signals; the templates use ``template_seed``.
        template_seed: seed of the class templates.
        latent_dim: size of ``z``.
        widths: channels of the circular conv layers (GIAE encoder).
        hidden: width of the MLP layers (decoder, baseline encoder).
        warmup_steps: linear learning-rate warm-up, then cosine decay.
        eval_seed: seed of the random shifts used by the metrics.
        plots: write the PNG figures.
        threads: intra-op CPU threads while training and evaluating (0: torch's default).
            One thread is faster when other processes share the cores.
    """

    train: TrainConfig = field(default_factory=_default_train)
    model: Literal["giae", "classical", "augmented"] = "giae"
    length: int = 64
    n_classes: int = 4
    templates_per_class: int = 3
    noise: float = 0.1
    n_train: int = 4000
    n_test: int = 1000
    data_seed: int = 0
    template_seed: int = 0
    latent_dim: int = 16
    widths: tuple[int, ...] = (32, 32, 32)
    hidden: int = 256
    warmup_steps: int = 100
    eval_seed: int = 1
    plots: bool = True
    threads: int = 0
    check_samples: int = 1000
    embedding: Literal["pca", "tsne"] = "pca"


def load_data(cfg: ShiftedSignalsConfig) -> Split:
    """Train and test signals (same templates, independent draws)."""
    kw = dict(length=cfg.length, n_classes=cfg.n_classes,
              templates_per_class=cfg.templates_per_class, noise=cfg.noise,
              template_seed=cfg.template_seed)
    train = make_shifted_signals(cfg.n_train, seed=cfg.data_seed, **kw)
    test = make_shifted_signals(cfg.n_test, seed=cfg.data_seed + 1, **kw)
    return Split(train.signals, test.signals, train.labels, test.labels,
                 name=f"shifted-signals ({cfg.model})",
                 extras={"true_pose": {"values": test.shifts, "period": float(cfg.length),
                                       "unit": "cells"}})


def random_shift(x: Tensor, generator: torch.Generator) -> Tensor:
    """Roll every signal by its own uniform integer shift (the augmented baseline)."""
    k = torch.randint(x.shape[-1], (x.shape[0],), generator=generator)
    return roll_signal(k.to(x.device), x)


def build_model(cfg: ShiftedSignalsConfig, split: Split | None = None) -> nn.Module:
    """The configured model, initialised from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "shifted-signals-init", cfg.model)):
        if cfg.model == "giae":
            return signal_giae(length=cfg.length, latent_dim=cfg.latent_dim, widths=cfg.widths,
                               hidden=cfg.hidden)
        model = signal_baseline(length=cfg.length, latent_dim=cfg.latent_dim, hidden=cfg.hidden)
    if cfg.model == "augmented":
        model.augment = random_shift
    return model


def _symmetry(cfg: ShiftedSignalsConfig) -> tuple[Symmetry, Symmetry]:
    return (Symmetry(CyclicShifts(cfg.length), roll_signal),
            Symmetry(SO2(), shift_by_angle(cfg.length)))


EXPERIMENT = giae_experiment(GIAERecipe(
    name="shifted-signals",
    description="cyclic-shift invariant autoencoder (circular CNN + Fourier-phase pose) on 1-d "
                "signals",
    config_cls=ShiftedSignalsConfig, data=load_data, model=build_model,
    loss=lambda cfg, model: autoencoder_loss, symmetry=_symmetry, examples="signals"))
"""The registered experiment ``shifted-signals`` (``quotient train shifted-signals``):
cyclic-shift invariant autoencoder (circular CNN + Fourier-phase pose) on 1-d signals."""
