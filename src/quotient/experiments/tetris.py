"""tetris: an SE(3) × S_4-invariant autoencoder with a 2-d code for the eight 3-d Tetris shapes.

Data: the eight four-point shapes (two of them mirror images), each randomly rotated, translated
by N(0, 5²) per coordinate, shuffled, with N(0, 0.01²) noise per coordinate.

Model (:mod:`quotient.nn.points`, :mod:`quotient.nn.pose_rigid`): the anchor frame ``(R₀, t)``
(proper, so mirror images stay apart), frame coordinates sorted by SoftSort scores, the code
``z = MLP(S·y) ∈ ℝ²`` blended over near-tie anchor choices (continuous and exactly invariant),
a plain MLP decoder to the canonical points and ``x̂ = Sᵀ(R ĉ + t)`` with the Procrustes ``R``.
Loss: coordinate MSE + 0.025 × entropy. Metrics: those of :mod:`quotient.experiments.recipe`,
the reconstruction per shape, the separation of the mirror images (``chiral_knn_acc``,
``chiral_gap``) and the rotation error on shapes with a defined frame. The noise floor (σ =
0.01, a 6-parameter pose, a 2-d code): ``rec_mse`` ≈ 3.3e-5 on held-out data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from ..data.tetris import TETRIS_NAMES, make_tetris
from ..errors import ConfigError
from ..groups import E3, SE3, SymmetricGroup, product
from ..metrics import SymmetryReport
from ..metrics.representation import knn_accuracy
from ..metrics.symmetry import apply_batched
from ..models import GIAE
from ..models.builders import point_giae
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "TetrisConfig", "build_model", "load_data"]

N_POINTS = 4


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=256, lr=3e-3, optimizer="adam", max_steps=15000,
                       time_limit_minutes=7.0, checkpoint_every=2000, log_every=100)


@dataclass
class TetrisConfig:
    """Settings of tetris: ``train`` (a cosine over ``max_steps`` or ``time_limit_minutes``,
    whichever runs out first), the data (``n_train``, ``n_test``, ``noise``,
    ``translation_std``), the model (:func:`~quotient.models.builders.point_giae`: ``group``
    SE3 keeps the mirror images apart, E3 identifies them; ``frame_blend`` blends the code over
    anchor choices within that relative tie margin, ``frame_second`` the second anchor's key,
    ``rotation`` procrustes or frame), the SoftSort head (``perm_mode``, ``tau``,
    ``entropy_weight``), and how much is evaluated (``eval_samples`` per epoch,
    ``probe_samples`` for the probes, ``check_samples`` for the symmetry report)."""

    train: TrainConfig = field(default_factory=_default_train)
    n_train: int = 100_000
    n_test: int = 10_000
    noise: float = 0.01
    translation_std: float = 5.0
    latent_dim: int = 2
    group: Literal["SE3", "E3"] = "SE3"
    z_from: Literal["sorted", "pooled"] = "sorted"
    egnn_layers: int = 0
    hidden: int = 64
    code_hidden: int = 256
    decoder_hidden: int = 256
    decoder_layers: int = 2
    rotation: Literal["procrustes", "frame"] = "procrustes"
    frame_blend: float = 0.1
    frame_blend_train: bool = True
    frame_second: Literal["axis", "axis_anchor"] = "axis_anchor"
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    tau: float = 1.0
    entropy_weight: float = 0.025
    eval_samples: int = 2000
    probe_samples: int = 10_000
    check_samples: int = 10_000
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_train", "n_test", "latent_dim", "hidden", "code_hidden",
                                     "decoder_hidden", "decoder_layers", "tau", "eval_samples",
                                     "probe_samples", "check_samples"),
                     non_negative=("noise", "translation_std", "egnn_layers", "entropy_weight",
                                   "threads", "frame_blend"))
        if not self.frame_blend < 1:
            raise ConfigError(f"frame_blend must be < 1, got {self.frame_blend!r}")


def build_model(cfg: TetrisConfig, split: Split | None = None) -> GIAE:
    """The point-cloud GIAE with weights from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "tetris-init")):
        model = point_giae(N_POINTS, dim=3, group="SE" if cfg.group == "SE3" else "E",
                           latent_dim=cfg.latent_dim, hidden=cfg.hidden,
                           code_hidden=cfg.code_hidden, egnn_layers=cfg.egnn_layers,
                           decoder_hidden=cfg.decoder_hidden, decoder_layers=cfg.decoder_layers,
                           rotation=cfg.rotation, frame_blend=cfg.frame_blend,
                           frame_blend_train=cfg.frame_blend_train, second_point=cfg.frame_second,
                           z_from=cfg.z_from, tau=cfg.tau, perm_mode=cfg.perm_mode,
                           entropy_weight=cfg.entropy_weight)
    return model.to(getattr(torch, cfg.dtype))


def load_data(cfg: TetrisConfig) -> Split:
    """Noisy, moved and shuffled Tetris shapes (training and held-out: other seeds)."""
    seed = mix_seed(cfg.train.seed, "tetris-data")
    kw = {"noise": cfg.noise, "translation_std": cfg.translation_std}
    train, test = make_tetris(cfg.n_train, seed=seed, **kw), make_tetris(cfg.n_test, seed=seed + 1,
                                                                          **kw)
    return Split(train.positions, test.positions, train.labels, test.labels, name="tetris")


def _check_group(cfg: TetrisConfig) -> Any:
    """SE(3) (or E(3)) × S_4 with translations on the data's scale."""
    rigid = SE3(scale=cfg.translation_std) if cfg.group == "SE3" else E3(
        scale=cfg.translation_std)
    return product(rigid, SymmetricGroup(N_POINTS))


def _metrics(cfg: TetrisConfig, model: GIAE, split: Split,
             report: SymmetryReport) -> dict[str, Any]:
    """Reconstruction per shape, the two mirror-image shapes apart, the pose on shapes whose
    frame is defined (the line's own axis is its stabiliser: any turn about it is a pose), and
    the share of exactly recovered orders."""
    x, labels = split.test.to(next(model.parameters()).dtype), split.test_labels
    with torch.no_grad():
        rec = apply_batched(lambda b: model(b).reconstruction, x, 1000)
        z = apply_batched(model.embed, x, 1000).double()
    per = (rec.double() - x.double()).pow(2).mean(dim=(1, 2))
    out: dict[str, Any] = {f"rec_mse_{name}": float(per[labels == k].mean())
                           for k, name in enumerate(TETRIS_NAMES)}
    chiral = labels < 2  # chiral_1, chiral_2: mirror images
    zc, yc = z[chiral], labels[chiral]
    half = zc.shape[0] // 2
    out["chiral_knn_acc"] = knn_accuracy(zc[:half], yc[:half], zc[half:], yc[half:])
    spread = 0.5 * (zc[yc == 0].std(0).norm() + zc[yc == 1].std(0).norm())
    out["chiral_gap"] = float((zc[yc == 0].mean(0) - zc[yc == 1].mean(0)).norm()
                              / spread.clamp_min(1e-12))
    line = TETRIS_NAMES.index("line")
    for setting, suffix in (("exact", ""), ("exact_f64", "_f64")):
        rot: Tensor = report.samples[setting]["pose_rotation"]
        keep = labels[:rot.shape[0]] != line
        out[f"pose_err_exact_rotation_framed{suffix}"] = float(rot[keep].max())
    out["perm_recovery"] = 1.0 - report.metrics["pose_err_exact_order_mean"]
    return out


EXPERIMENT = giae_experiment(GIAERecipe(
    name="tetris",
    description="SE(3) x S_4-invariant autoencoder with a 2-d code for the eight 3-d Tetris shapes",
    config_cls=TetrisConfig, data=load_data, model=build_model, metrics=_metrics,
    check_group=_check_group))
"""The registered experiment ``tetris`` (``quotient train tetris``): SE(3) x S_4-invariant
autoencoder with a 2-d code for the eight 3-d Tetris shapes."""
