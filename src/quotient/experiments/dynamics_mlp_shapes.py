"""mlp-shapes: C4 (rot90) on 14×14 triangle/pentagon segmentation.

The input image and the per-pixel target (background / triangle / pentagon, one-hot) rotate
together, so the task is equivariant. An MLP ``pixels → hidden → 3 scores per pixel`` with the
rot90 pixel permutation on input, ``hidden_copies`` copies in the hidden layer and three copies on
the output is trained with NOM, AUG (exact: the 4 rotations) and EQUI from the same ``A⁰ ∈ E``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..actions import rot90_image
from ..data.shapes import make_polygon_segmentation
from ..dynamics import (
    Objective,
    Symmetry,
    copies,
    grid_representation,
    identity_representation,
    subspace_mlp,
)
from ..errors import ConfigError
from ..groups import CyclicGroup, tensor
from ..train import RunDir, mix_seed
from . import Experiment
from .dynamics_common import MLPDynamicsConfig, mse, run_mlp_comparison


@dataclass
class MLPShapesConfig(MLPDynamicsConfig):
    """Settings of mlp-shapes (see :class:`MLPDynamicsConfig` for the shared ones).

    Attributes:
        size: image side (even or odd; rot90 permutes the pixels either way); the shapes'
            radii scale with it.
    """

    size: int = 14
    lr: float = 0.01


def build(cfg: MLPShapesConfig, seed: int) -> Objective:
    """Shapes, targets and the MLP for one seed."""
    try:  # shape radii scale with the image (2.5 to 4 pixels on 14x14, as the data default)
        data = make_polygon_segmentation(cfg.n_train, cfg.size,
                                         radius_range=(2.5 * cfg.size / 14, 4.0 * cfg.size / 14),
                                         seed=mix_seed(seed, "mlp-shapes-data"))
    except ValueError as exc:
        raise ConfigError(f"mlp-shapes: {exc}") from None
    group = CyclicGroup(4)
    grid = grid_representation(group, rot90_image, cfg.size)
    out = tensor(identity_representation(group, 3), grid)
    gen = torch.Generator().manual_seed(mix_seed(seed, "mlp-shapes-init"))
    mlp = subspace_mlp([grid, copies(grid, cfg.hidden_copies), out], bias=cfg.bias,
                       generator=gen)
    model = nn.Sequential(nn.Flatten(), mlp, nn.Unflatten(1, (3, cfg.size, cfg.size)))
    x = data.images.to(torch.float64)
    y = F.one_hot(data.targets, 3).permute(0, 3, 1, 2).to(torch.float64)
    return Objective(model, mse, x, y, Symmetry(group, rot90_image, rot90_image))


def run(cfg: MLPShapesConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train NOM, AUG and EQUI (a run takes seconds; ``--resume`` simply runs again)."""
    return run_mlp_comparison(cfg, lambda s: build(cfg, s), run_dir,
                              f"C4 on {cfg.size}x{cfg.size} shape segmentation")


EXPERIMENT = Experiment(
    name="mlp-shapes",
    description="C4 on triangle/pentagon segmentation: NOM vs AUG vs EQUI MLPs from one point "
                "of E",
    config_cls=MLPShapesConfig,
    run=run,
    kind="dynamics",
)
