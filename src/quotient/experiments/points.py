"""points: a rigid-motion × S_n-invariant autoencoder for your own point clouds (2-d or 3-d).

Data: your file (``--set data=FILE.npz``, :func:`~quotient.data.user_files.
load_point_cloud_file`): ``points (N, n, 2)`` or ``(N, n, 3)``; clouds of different sizes padded
to ``n`` and marked by ``mask (N, n)`` (True = real point) or by rows of NaN; optional integer
``types (N, n)`` (atom or part types, −1 = padding: the model then reconstructs each point's type
too, as for molecules) and ``labels (N,)`` (probes and the code plot). It is checked before the
run directory is made and split at random (``data_seed``) into ``n_train`` / ``n_test`` clouds
(default 80 % / 20 %).

Model: :func:`~quotient.models.builders.point_giae` in the file's dimension, ``group="SE"``
(rotations and translations; mirror images stay apart) or ``"E"`` (reflections too), with
``max_points`` slots (default: the file's ``n``): the anchor frame of the cloud, SoftSort order,
an invariant code ``z``, an MLP decoder to the canonical cloud moved and reordered back. Metrics:
those of :mod:`quotient.experiments.recipe` (``rec_mse`` over real points, ``type_acc`` with
types). Limit: clouds in 3-d whose real points lie on one line (two points, say) have a
continuous stabiliser, and their code is not exactly invariant (about 1e-4 in float64 on random
ones); clouds in the plane and non-collinear ones in space are. Format and examples:
``docs/own_data.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from ..data.user_files import PaddedData, load_point_cloud_file, split_data, split_sizes
from ..errors import ConfigError
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment
from .sets import check_sizes, padded_rec_mse, require_data

__all__ = ["EXPERIMENT", "PointsConfig", "build_model", "check_data", "load_data"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=200, batch_size=64, lr=2e-3, optimizer="adam", max_steps=5000,
                       time_limit_minutes=10.0, checkpoint_every=1000, log_every=50)


@dataclass
class PointsConfig:
    """Settings of points.

    Attributes:
        train: training settings (a cosine over ``max_steps`` or ``time_limit_minutes``).
        data: your ``.npz`` file (required; format in the module docstring).
        group: ``SE`` (rotations, translations and point order) or ``E`` (reflections too).
        max_points: the most real points a cloud may have, and the model's slots (none: the
            file's ``n``).
        n_types: number of point types (none: one more than the largest type in the file);
            set it to make a run with types independent of the file when loaded.
        n_train, n_test: split sizes (none: 80 % / 20 % of the file, or what the other leaves).
        data_seed: seed of the random split.
        latent_dim, hidden, code_hidden, egnn_layers, decoder_hidden, decoder_layers: the code
            and the widths and depths of :func:`~quotient.models.builders.point_giae`.
        rotation: the reconstruction's rotation, ``procrustes`` (refined) or ``frame``.
        frame_blend: relative margin within which near-tie anchor choices are blended.
        tau, perm_mode, entropy_weight: the SoftSort order and its entropy penalty;
            type_weight: weight of the types' cross-entropy.
        eval_every: log the test reconstruction every this many epochs; check_samples: test
            clouds in the symmetry report; embedding: 2-d view of the codes; plots: write the
            PNG figures.
        threads: CPU threads (0: torch's default); dtype: ``float32`` or ``float64``.
    """

    train: TrainConfig = field(default_factory=_default_train)
    data: str = ""
    group: Literal["SE", "E"] = "SE"
    max_points: int | None = None
    n_types: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    data_seed: int = 0
    latent_dim: int = 16
    hidden: int = 64
    code_hidden: int = 128
    egnn_layers: int = 0
    decoder_hidden: int = 128
    decoder_layers: int = 2
    rotation: Literal["procrustes", "frame"] = "procrustes"
    frame_blend: float = 0.1
    tau: float = 1.0
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    entropy_weight: float = 0.025
    type_weight: float = 1.0
    eval_every: int = 10
    check_samples: int = 1000
    embedding: Literal["pca", "tsne"] = "pca"
    plots: bool = True
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"

    def __post_init__(self) -> None:
        check_ranges(self, positive=("latent_dim", "hidden", "code_hidden", "decoder_hidden",
                                     "decoder_layers", "tau", "eval_every", "check_samples"),
                     non_negative=("egnn_layers", "frame_blend", "entropy_weight",
                                   "type_weight", "threads"))
        check_sizes(self, ("max_points", "n_types", "n_train", "n_test"))
        if not self.frame_blend < 1:
            raise ConfigError(f"frame_blend must be < 1, got {self.frame_blend!r}")


def check_data(cfg: PointsConfig) -> PaddedData:
    """Your point clouds (``cfg.data``), checked against the settings before a run directory
    is made.

    Raises:
        DataError, ConfigError: naming the problem and the fix.
    """
    require_data(cfg, "points", "points (N, n, 2) or (N, n, 3)")
    data = load_point_cloud_file(cfg.data, max_points=cfg.max_points, n_types=cfg.n_types)
    split_sizes(len(data), cfg.n_train, cfg.n_test, what="point clouds", source=cfg.data,
                batch_size=cfg.train.batch_size)
    return data


def _n_types(data: PaddedData) -> int:
    return 0 if data.types is None else int(data.types.max()) + 1


def load_data(cfg: PointsConfig) -> Split:
    """``(points, mask)`` (or ``(points, types)``) of the training and test clouds, titled by
    the file's name; the number of types in ``extras``."""
    data = check_data(cfg)
    sizes = split_sizes(len(data), cfg.n_train, cfg.n_test, what="point clouds",
                        source=cfg.data)
    train, test = split_data(data, *sizes, seed=cfg.data_seed)
    dtype = getattr(torch, cfg.dtype)
    return Split(train.inputs(dtype), test.inputs(dtype), train.labels, test.labels,
                 name=data.name, extras={"n_types": cfg.n_types or _n_types(data)})


def build_model(cfg: PointsConfig, split: Split) -> nn.Module:
    """The point GIAE for the split's ``(points (N, n, d), mask or types)``, initialised from a
    generator seeded by ``cfg.train.seed``. With types and ``n_types`` unset, the number of
    types comes from the split (or, for a stand-in input of the right shape, from the file)."""
    from ..models.builders import point_giae

    x, extra = split.train
    n_types = 0
    if extra.dtype != torch.bool:
        n_types = cfg.n_types or split.extras.get("n_types") or _n_types(
            load_point_cloud_file(cfg.data, max_points=cfg.max_points))
    with seeded(mix_seed(cfg.train.seed, "points-init")):
        model = point_giae(int(x.shape[1]), dim=int(x.shape[-1]), group=cfg.group,
                           latent_dim=cfg.latent_dim, n_types=n_types, hidden=cfg.hidden,
                           code_hidden=cfg.code_hidden, egnn_layers=cfg.egnn_layers,
                           decoder_hidden=cfg.decoder_hidden, decoder_layers=cfg.decoder_layers,
                           rotation=cfg.rotation, frame_blend=cfg.frame_blend, tau=cfg.tau,
                           perm_mode=cfg.perm_mode, entropy_weight=cfg.entropy_weight,
                           type_weight=cfg.type_weight)
    return model.to(getattr(torch, cfg.dtype))


def _rec_metrics(model: nn.Module, x: tuple[Tensor, Tensor]) -> dict[str, float]:
    """``rec_mse`` over real points and, with types, ``type_acc``: the share of real points
    whose most likely reconstructed type is theirs."""
    out = padded_rec_mse(model, x)
    if x[1].dtype != torch.bool:
        right = real = 0
        with torch.no_grad():
            for i in range(0, x[0].shape[0], 500):
                part = (x[0][i:i + 500], x[1][i:i + 500])
                rec = model.reconstruct(part)[..., x[0].shape[-1]:]
                mask = part[1] >= 0
                right += int(((rec.argmax(-1) == part[1]) & mask).sum())
                real += int(mask.sum())
        out["type_acc"] = right / max(real, 1)
    return out


EXPERIMENT = giae_experiment(GIAERecipe(
    name="points",
    description="SE(d)/E(d) x S_n-invariant autoencoder for your own point clouds in 2-d or "
                "3-d, with masks or types (--set data=FILE.npz)",
    config_cls=PointsConfig, data=load_data, model=build_model, rec_metrics=_rec_metrics,
    check=check_data))
"""The registered experiment ``points`` (``quotient train points``): SE(d)/E(d) x S_n-invariant
autoencoder for your own point clouds in 2-d or 3-d, with masks or types (--set data=FILE.npz)."""
