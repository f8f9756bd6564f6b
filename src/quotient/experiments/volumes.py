"""volumes: the SO(3) group-invariant autoencoder on voxel grids of procedural solids (the
paper's ShapeNet experiment, with data that is generated offline).

Data (:mod:`quotient.data.volumes`): twelve classes of solids (box, cylinder, cone, ellipsoid,
torus, L, T, pyramid, capsule, jack and a chiral crank with its mirror twin), parameters drawn
per sample, voxelised on a ``size³`` grid (16³ by default) and turned by a Haar-random rotation
with trilinear resampling (``rotation="so3"``), by one of the 24 rotations of the cube
(``"cube"``, exact) or not at all (``"none"``).

Model (``model="giae"``, :func:`~quotient.models.volume_giae.volume_giae`): an O group CNN
(exactly invariant / equivariant under the 24 rotations of the cube), two equivariant
3-vectors (by default the principal axes of the volume's moments, signed by its third moments)
and their Gram–Schmidt frame as the pose, a plain 3-d CNN decoder to the canonical
volume, ``x̂ = R·δ(z)`` (trilinear; an exact permutation when ``R`` is one of the 24). A penalty
on ``‖z(x) − z(R·x)‖²`` for random rotations ``R`` (``invariance_weight``) teaches invariance
beyond the 24. Baseline in the same harness: ``model="classical"``, a plain 3-d CNN encoder with
the same decoder.

Metrics: those of :mod:`quotient.experiments.recipe` — among them ``inv_err_exact`` (worst over
the 24, float32) and ``_f64``, ``inv_err_any`` (mean error of ``z`` under random rotations of
SO(3), relative to the codes' spread), ``pose_err_exact_rotation`` / ``_f64`` and
``pose_err_any_angle_deg`` for the GIAE — plus ``chiral_knn_acc`` (kNN on ``z`` among the two
mirror-image classes only). Plots: input / canonical / reconstruction of a few test solids as
maximum-intensity projections along the three axes (``volumes.png``), besides the embedding of
the codes by class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions.volumes import cube_rotate_volume, rotate_volume
from ..data.volumes import CHIRAL_PAIRS, SOLID_NAMES, make_volumes
from ..errors import ConfigError
from ..groups import SO3, haar_rotations
from ..groups.cube import CubeRotations
from ..metrics import SymmetryReport, knn_accuracy
from ..models.losses import autoencoder_loss, consistency_loss
from ..models.volume_giae import volume_baseline, volume_giae
from ..symmetry import Symmetry
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "VolumesConfig", "build_model", "load_data", "max_projections",
           "random_volume_rotation"]

ModelKind = Literal["giae", "classical"]
MODELS = ("giae", "classical")


def _default_train() -> TrainConfig:
    # steps count; the time limit is only a safety net
    return TrainConfig(epochs=1000, batch_size=32, lr=2e-3, grad_clip=1.0, optimizer="adam",
                       max_steps=1200, time_limit_minutes=15.0, checkpoint_every=500,
                       log_every=50)


@dataclass
class VolumesConfig:
    """Settings of volumes (``--set KEY=VALUE``).

    ``model``: ``giae`` or ``classical``; ``size``: the grid (``size³`` voxels, divisible by
    4); ``rotation``: how the solids are presented (``so3``, ``cube``, ``none``);
    ``widths``: fields per stage of the O group CNN (24 channels each), ``cnn_widths`` the
    classical encoder's channels, ``decoder_widths`` the shared decoder's;
    ``invariance_weight``: weight of the penalty on ``‖z(x) − z(R·x)‖²`` (in units of the
    codes' spread) for random rotations on a share ``invariance_fraction`` of each batch (GIAE
    only; 0 disables it); ``pose``: the GIAE's pose vectors from the volume's moments
    (``moments``) or learned (``learned``, see :mod:`quotient.nn.volume_encoder`);
    ``check_samples`` test solids go into the symmetry report."""

    train: TrainConfig = field(default_factory=_default_train)
    model: ModelKind = "giae"
    size: int = 16
    rotation: Literal["so3", "cube", "none"] = "so3"
    n_train: int = 6000
    n_test: int = 1200
    latent_dim: int = 32
    widths: tuple[int, ...] = (4, 8, 8)
    cnn_widths: tuple[int, ...] = (16, 32)
    decoder_widths: tuple[int, ...] = (32, 16)
    hidden: int = 128
    pose: Literal["moments", "learned"] = "moments"
    invariance_weight: float = 0.1
    invariance_fraction: float = 0.25
    warmup_steps: int = 100
    data_seed: int = 0
    eval_seed: int = 1
    eval_every: int = 2
    eval_samples: int = 500
    check_samples: int = 100
    embedding: Literal["tsne", "pca"] = "tsne"
    plots: bool = True
    threads: int = 0

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_train", "n_test", "latent_dim", "widths", "cnn_widths",
                                     "decoder_widths", "hidden", "eval_every"),
                     non_negative=("invariance_weight", "warmup_steps", "threads"),
                     fraction=("invariance_fraction",))
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.size < 4 or self.size % 4:
            raise ConfigError(f"size must be a multiple of 4 (the encoders halve the grid "
                              f"twice), got {self.size}")


def load_data(cfg: VolumesConfig) -> Split:
    """Seeded train and test solids (independent draws) with their classes; the test
    rotations go into ``extras``."""
    seed = mix_seed(cfg.data_seed, "volumes-data")
    train = make_volumes(cfg.n_train, size=cfg.size, seed=seed, rotation=cfg.rotation)
    test = make_volumes(cfg.n_test, size=cfg.size, seed=seed + 1, rotation=cfg.rotation)
    return Split(train.volumes, test.volumes, train.labels, test.labels,
                 name=f"volumes {cfg.size}³ ({cfg.model})",
                 extras={"test_rotations": test.rotations})


def build_model(cfg: VolumesConfig, split: Split | None = None) -> nn.Module:
    """The configured model, initialised from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "volumes-init", cfg.model)):
        if cfg.model == "giae":
            return volume_giae(size=cfg.size, latent_dim=cfg.latent_dim, widths=cfg.widths,
                               decoder_widths=cfg.decoder_widths, hidden=cfg.hidden,
                               pose=cfg.pose)
        return volume_baseline(size=cfg.size, latent_dim=cfg.latent_dim,
                               cnn_widths=cfg.cnn_widths, decoder_widths=cfg.decoder_widths)


def random_volume_rotation(x: Tensor, generator: torch.Generator) -> Tensor:
    """Turn every volume by its own Haar-random rotation (trilinear resampling)."""
    rot = haar_rotations(x.shape[0], generator=generator)
    return rotate_volume(rot.to(device=x.device, dtype=x.dtype), x)


def _loss(cfg: VolumesConfig, model: nn.Module) -> Any:
    if cfg.model == "giae" and cfg.invariance_weight > 0:
        return consistency_loss(random_volume_rotation, cfg.invariance_weight,
                                cfg.invariance_fraction)
    return autoencoder_loss


def _symmetry(cfg: VolumesConfig) -> tuple[Symmetry, Symmetry]:
    """The 24 rotations of the cube (exact for the GIAE) and all of SO(3) (learned): what the
    classical encoder's codes are measured against."""
    return (Symmetry(CubeRotations(), cube_rotate_volume), Symmetry(SO3(), rotate_volume))


def _metrics(cfg: VolumesConfig, model: nn.Module, split: Split,
             report: SymmetryReport) -> dict[str, float]:
    """``chiral_knn_acc``: kNN on z among the mirror-image classes only (half of their test
    samples as the reference set, the other half queried)."""
    chiral = torch.tensor([SOLID_NAMES.index(s) for pair in CHIRAL_PAIRS for s in pair])
    keep = torch.isin(split.test_labels, chiral)
    if int(keep.sum()) < 12:  # kNN with k = 5 needs enough references
        return {}
    with torch.no_grad():
        z = model.embed(split.test[keep]).double()
    y, half = split.test_labels[keep], int(keep.sum()) // 2
    return {"chiral_knn_acc": knn_accuracy(z[:half], y[:half], z[half:], y[half:])}


def max_projections(v: Tensor) -> Tensor:
    """Volumes ``(N, 1, n, n, n)`` -> images ``(N, 1, n, 3n + 2)``: the maximum along each of
    the three axes side by side (a one-voxel grey gap between them)."""
    gap = torch.full((*v.shape[:2], v.shape[-1], 1), 0.5, dtype=v.dtype)
    parts = [v.amax(dim=2 + a) for a in range(3)]
    return torch.cat([parts[0], gap, parts[1], gap, parts[2]], dim=-1).clamp(0.0, 1.0)


def _plots(cfg: VolumesConfig, model: nn.Module, split: Split, metrics: dict[str, Any],
           result: Any, run_dir: Any) -> None:
    """Input / canonical / reconstruction of one test solid per class (up to 8) as
    maximum-intensity projections."""
    from ..models.giae import GIAE
    from ..plots import plot_image_grid

    labels = split.test_labels
    picks = [int((labels == c).nonzero()[0, 0]) for c in labels.unique().tolist()][:8]
    dtype = next(model.parameters()).dtype
    x = split.test[torch.tensor(picks)].to(dtype)
    model.eval()
    with torch.no_grad():
        rows = {"input": max_projections(x)}
        if isinstance(model, GIAE):
            out = model(x)
            rows["canonical"] = max_projections(out.canonical)
            rows["reconstruction"] = max_projections(out.reconstruction)
        else:
            rows["reconstruction"] = max_projections(model.reconstruct(x))
    names = ", ".join(SOLID_NAMES[int(labels[i])] for i in picks)
    plot_image_grid(rows, run_dir.plot_path("volumes"), n=len(picks),
                    title=f"{split.name}: max projections along the 3 axes\n({names})")


EXPERIMENT = giae_experiment(GIAERecipe(
    name="volumes",
    description="SO(3)-invariant autoencoder (O group CNN + Gram-Schmidt pose) on voxelised "
                "procedural solids",
    config_cls=VolumesConfig, data=load_data, model=build_model, loss=_loss, metrics=_metrics,
    plots=_plots, symmetry=_symmetry))
"""The ``volumes`` experiment: the cube-group GIAE on voxelised procedural solids."""
