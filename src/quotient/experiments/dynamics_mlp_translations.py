"""mlp-translations: cyclic translations of 14×14 digits (2-d: ℤ₁₄ × ℤ₁₄; 1-d: the image read
as a cyclic signal of 196 pixels, ℤ₁₉₆).

An MLP ``pixels → hidden → class scores`` with the translation (permutation) representation on
the input, ``hidden_copies`` copies of it in the hidden layer (circulant layers in ``E``), tanh,
and invariant class scores, trained with NOM, AUG and EQUI from the same ``A⁰ ∈ E``. Exact
augmentation evaluates all 196 translates of every digit per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..actions import roll_image, roll_signal
from ..data.mnist import load_mnist_sample
from ..dynamics import (
    Objective,
    Symmetry,
    copies,
    grid_representation,
    identity_representation,
    subspace_mlp,
)
from ..errors import ConfigError
from ..groups import CyclicShifts, CyclicShifts2d
from ..train import RunDir, mix_seed
from . import Experiment
from .dynamics_common import MLPDynamicsConfig, mse, run_mlp_comparison


@dataclass
class MLPTranslationsConfig(MLPDynamicsConfig):
    """Settings of mlp-translations (see :class:`MLPDynamicsConfig` for the shared ones).

    Attributes:
        dims: ``"2d"`` (shifts of the 14×14 grid) or ``"1d"`` (shifts of the 196-pixel signal).
    """

    dims: Literal["1d", "2d"] = "2d"
    n_train: int = 100
    lr: float = 0.1
    seeds: int = 3


def _digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_mnist_sample()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(
        mix_seed(seed, "mlp-translations-data")))[:n]
    x = F.avg_pool2d(data.images[order].to(torch.float64), 2)  # 28×28 -> 14×14
    return x, F.one_hot(data.labels[order], 10).to(torch.float64)


def build(cfg: MLPTranslationsConfig, seed: int) -> Objective:
    """Digits, targets and the MLP for one seed."""
    if cfg.n_train > 10_000:
        raise ConfigError("the bundled sample has 10,000 digits; lower n_train")
    x, y = _digits(cfg.n_train, seed)
    if cfg.dims == "2d":
        group = CyclicShifts2d(14, 14)
        rep = grid_representation(group, roll_image, 14)
        act = roll_image
    else:
        group = CyclicShifts(196)
        rep = group.rep("standard")
        act = roll_signal
        x = x.reshape(x.shape[0], 1, 196)
    gen = torch.Generator().manual_seed(mix_seed(seed, "mlp-translations-init"))
    mlp = subspace_mlp([rep, copies(rep, cfg.hidden_copies), identity_representation(group, 10)],
                       bias=cfg.bias, generator=gen)
    return Objective(nn.Sequential(nn.Flatten(), mlp), mse, x, y, Symmetry(group, act))


def run(cfg: MLPTranslationsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train NOM, AUG and EQUI (a run takes seconds to minutes; ``--resume`` runs again)."""
    title = "Z14xZ14 shifts" if cfg.dims == "2d" else "Z196 shifts"
    return run_mlp_comparison(cfg, lambda s: build(cfg, s), run_dir, f"{title} of digits")


EXPERIMENT = Experiment(
    name="mlp-translations",
    description="cyclic shifts of 14x14 digits: NOM vs AUG vs EQUI MLPs from one point of E",
    config_cls=MLPTranslationsConfig,
    run=run,
    kind="dynamics",
)
