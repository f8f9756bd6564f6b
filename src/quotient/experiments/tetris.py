"""tetris: an SE(3) × S_4-invariant autoencoder with a 2-d code for the eight 3-d Tetris shapes.

Data: the eight four-point shapes (two of them mirror images), each randomly rotated, translated
by N(0, 5²) per coordinate, shuffled, with N(0, 0.01²) noise per coordinate.

Model (see :mod:`quotient.nn.points` and :mod:`quotient.nn.pose_rigid`): the anchor frame
``(R₀, t)`` (centroid, farthest point, a second point far from that axis and from the first,
preferring one handedness; proper rotations, so mirror images stay apart), frame coordinates
``y_i = R₀ᵀ(x_i − t)``, per-point scores from ``y_i`` sorted by SoftSort (straight-through hard
permutation in training, exact sort at evaluation), the code ``z = MLP(S·y) ∈ ℝ²``, blended
over the anchor choices within 10% of a tie (``z = Σ_k w_k z_k``: seven of the eight shapes
are symmetric, so their noisy copies sit near ties of symmetric points, where a single choice
flips under float32 rounding), a plain MLP decoder to the canonical four points (centred), and
the reconstruction ``x̂ = Sᵀ(R ĉ + t)`` with ``R`` the Procrustes rotation aligning ``S·ĉ`` to
``S(x − t)`` (``rotation="frame"`` uses ``R₀`` instead). Loss: coordinate MSE + 0.025 × entropy.

The noise floor: with σ = 0.01, a 6-parameter pose and a 2-d code, about 4 of the 12 coordinates'
noise cannot be explained, so ``rec_mse`` ≈ 3.3e-5 is the best possible on held-out data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import permute_points, rigid_motion_and_permute_points
from ..data.tetris import TETRIS_NAMES, make_tetris
from ..errors import ConfigError
from ..groups import E3, SE3, SymmetricGroup, product
from ..metrics.representation import knn_accuracy, linear_probe_accuracy
from ..metrics.sets import permutation_recovery, rigid_pose_errors
from ..metrics.symmetry import apply_batched, invariance_error
from ..models import GIAE
from ..nn.points import PointCloudEncoder
from ..nn.pose_perm import PermutationPose
from ..nn.pose_rigid import RigidPermutationPose
from ..nn.sets import SetDecoder
from ..plots import plot_embedding, plot_learning_curves
from ..train import (
    RunDir,
    TensorDictDataset,
    TrainConfig,
    check_ranges,
    fit,
    load_model_state,
    mix_seed,
    saved_config,
    seeded,
)
from . import Experiment
from ._giae_common import (
    EpochEval,
    budget_scheduler,
    finish_budget,
    giae_loss,
    n_params,
    use_threads,
)

__all__ = ["EXPERIMENT", "TetrisConfig", "build_model", "evaluate_model"]

N_POINTS = 4


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=256, lr=3e-3, optimizer="adam", max_steps=15000,
                       time_limit_minutes=7.0, checkpoint_every=2000, log_every=100)


@dataclass
class TetrisConfig:
    """Settings of tetris.

    Attributes:
        train: training-loop settings; the learning rate follows a cosine over ``max_steps`` or
            ``time_limit_minutes``, whichever runs out first.
        n_train, n_test: training and held-out samples (different seeds).
        noise, translation_std: data noise σ and translation scale.
        latent_dim: size of z (2 in the paper).
        group: ``"SE3"`` (mirror images apart) or ``"E3"`` (mirror images identified).
        z_from: ``"sorted"`` (MLP on the sorted frame coordinates) or ``"pooled"``.
        egnn_layers: EGNN layers adding invariant per-point features (0: none).
        hidden: width of the score (and EGNN) networks.
        code_hidden: width of the code network; decoder_hidden, decoder_layers: the decoder.
        rotation: ``"procrustes"`` (refined, optimal) or ``"frame"`` (Gram–Schmidt frame only).
        frame_blend: relative tie margin of the anchor frame, in ``[0, 1)``: the code is
            blended over the anchor choices within this margin, so it stays continuous (and
            float32-invariant) at near-ties of the farthest point and of the point farthest from
            the axis; 0 uses the single argmax frame (see :func:`~quotient.nn.pose_rigid.
            anchor_candidates`). Costs one code evaluation per candidate frame (2.7 per shape
            on average: ~1.9x the training step time).
        frame_blend_train: blend in training too; ``False`` blends only at evaluation (training
            as fast as the single frame, a slightly worse ``rec_mse``).
        frame_second: the second anchor point: ``"axis_anchor"`` (far from the axis and from
            the first point, handed) leaves only ties between symmetric points; ``"axis"``
            (farthest from the axis) also ties mirror-image points of the corner shape and
            the two middle points of the zigzag, whose blended codes cannot match.
        perm_mode, tau, entropy_weight: the SoftSort permutation head.
        eval_samples: held-out samples evaluated after every epoch.
        probe_samples: training samples whose codes fit the kNN and linear probes.
        check_samples: held-out samples for the invariance and equivariance checks (float32
            and float64).
        threads: CPU threads per process (0: torch's default).
        dtype: ``"float32"`` or ``"float64"``.
    """

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


def build_model(cfg: TetrisConfig) -> GIAE:
    """The point-cloud GIAE with weights from a generator seeded by ``cfg.train.seed``."""
    proper = cfg.group == "SE3"
    with seeded(mix_seed(cfg.train.seed, "tetris-init")):
        perm = PermutationPose(tau=cfg.tau, mode=cfg.perm_mode)
        encoder = PointCloudEncoder(cfg.latent_dim, N_POINTS, hidden=cfg.hidden,
                                    egnn_layers=cfg.egnn_layers, z_from=cfg.z_from,
                                    z_hidden=cfg.code_hidden, proper=proper, perm=perm,
                                    frame_blend=cfg.frame_blend,
                                    blend_train=cfg.frame_blend_train,
                                    second_point=cfg.frame_second)
        decoder = SetDecoder(cfg.latent_dim, N_POINTS, 3, hidden=cfg.decoder_hidden,
                             layers=cfg.decoder_layers)
        model = GIAE(encoder, RigidPermutationPose(perm, rotation=cfg.rotation, proper=proper),
                     decoder, penalty_weights={"perm_entropy": cfg.entropy_weight})
    return model.to(getattr(torch, cfg.dtype))


def _data(cfg: TetrisConfig) -> tuple[Any, Any]:
    seed = mix_seed(cfg.train.seed, "tetris-data")
    kw = {"noise": cfg.noise, "translation_std": cfg.translation_std}
    return make_tetris(cfg.n_train, seed=seed, **kw), make_tetris(cfg.n_test, seed=seed + 1, **kw)


def _group(cfg: TetrisConfig, scale: float) -> Any:
    rigid = SE3(scale=scale) if cfg.group == "SE3" else E3(scale=scale)
    return product(rigid, SymmetricGroup(N_POINTS))


def _symmetry_checks(model: GIAE, x: Tensor, labels: Tensor, cfg: TetrisConfig,
                     suffix: str) -> dict[str, float]:
    """Invariance of z and equivariance of (R, t, order) under random rigid motions and
    permutations, in the dtype of ``x`` (the model must have the same dtype).

    ``inv_err_exact`` is the worst sample. A single canonical frame is discontinuous at ties
    (two symmetric points at almost the same distance), so in float32 the rounding of a moved
    input that lands within ~1e-6 of a tie can flip it (``frame_blend=0``); the blended code is
    continuous there. ``inv_err_p999`` and ``inv_frac_above_1e-5`` show the tail."""
    gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "tetris-checks", suffix))
    g = _group(cfg, cfg.translation_std).sample(x.shape[0], generator=gen, dtype=torch.float64)
    act = rigid_motion_and_permute_points
    err = invariance_error(lambda b: model(b).z, x, act, g, reduce="none")
    out: dict[str, float] = {
        f"inv_err_exact{suffix}": float(err.max()),
        f"inv_err_p999{suffix}": float(err.quantile(0.999)),
        f"inv_frac_above_1e-5{suffix}": float((err > 1e-5).double().mean()),
    }
    moved = act(g, x.double()).to(x.dtype)
    errs = rigid_pose_errors(lambda b: apply_batched(lambda c: model(c).pose.element, b), x,
                             moved, g)
    line = labels == TETRIS_NAMES.index("line")
    out[f"rot_err{suffix}"] = float(errs["rotation"][~line].max())
    if line.any():
        out[f"rot_err_line{suffix}"] = float(errs["rotation"][line].max())
    out[f"trans_err{suffix}"] = float(errs["translation"].max())
    out[f"order_err{suffix}"] = float(errs["order"].mean())
    return out


def _rec_and_code(model: GIAE, x: Tensor) -> tuple[Tensor, Tensor]:
    out = model(x)
    return out.reconstruction, out.z


def _subset(data: Any, n: int) -> SimpleNamespace:
    return SimpleNamespace(positions=data.positions[:n], labels=data.labels[:n])


@torch.no_grad()
def evaluate_model(model: GIAE, data: Any, cfg: TetrisConfig, probe: Any | None = None,
                   full: bool = True) -> dict[str, float]:
    """Reconstruction MSE (overall and per shape); with ``full`` also the probes on z (fitted on
    the codes of ``probe``), chirality separation and the symmetry checks (float32 and float64)."""
    model.eval()
    dtype = next(model.parameters()).dtype
    x, labels = data.positions.to(dtype), data.labels
    rec, z = apply_batched(lambda b: _rec_and_code(model, b), x, 1000)
    per = (rec.double() - x.double()).pow(2).mean(dim=(1, 2))
    metrics = {"rec_mse": float(per.mean())}
    for k, name in enumerate(TETRIS_NAMES):
        metrics[f"rec_mse_{name}"] = float(per[labels == k].mean())
    if not full:
        return metrics
    if probe is not None:
        zp = apply_batched(lambda b: model(b).z, probe.positions.to(dtype), 1000)
        metrics["knn_acc"] = knn_accuracy(zp, probe.labels, z, labels)
        metrics["linear_acc"] = linear_probe_accuracy(zp, probe.labels, z, labels)
    chiral = labels < 2  # chiral_1, chiral_2
    zc, yc = z[chiral].double(), labels[chiral]
    half = zc.shape[0] // 2
    metrics["chiral_knn_acc"] = knn_accuracy(zc[:half], yc[:half], zc[half:], yc[half:])
    gap = (zc[yc == 0].mean(0) - zc[yc == 1].mean(0)).norm()
    spread = 0.5 * (zc[yc == 0].std(0).norm() + zc[yc == 1].std(0).norm())
    metrics["chiral_gap"] = float(gap / spread.clamp_min(1e-12))
    n = min(cfg.check_samples, x.shape[0])
    metrics.update(_symmetry_checks(model, x[:n], labels[:n], cfg, ""))
    gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "tetris-recovery"))
    sigma = SymmetricGroup(N_POINTS).sample(x.shape[0], generator=gen)
    metrics["perm_recovery"] = permutation_recovery(
        lambda b: apply_batched(lambda c: model(c).pose.element[1], b), x, sigma, permute_points)
    model64 = build_model(cfg).double()
    model64.load_state_dict(model.state_dict())
    metrics.update(_symmetry_checks(model64.eval(), x[:n].double(), labels[:n], cfg, "_f64"))
    return metrics


def run(cfg: TetrisConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train (or resume), evaluate, plot the 2-d code; return the metrics."""
    with use_threads(cfg.threads):
        return _run(cfg, run_dir, resume)


def _run(cfg: TetrisConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    train, test = _data(cfg)
    model = build_model(cfg)
    dtype = getattr(torch, cfg.dtype)
    small = _subset(test, cfg.eval_samples)
    callback = EpochEval(lambda m: {"test_rec_mse": evaluate_model(m, small, cfg,
                                                                   full=False)["rec_mse"]})

    def loss_fn(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return giae_loss(m, batch["x"].to(dtype))

    schedule = budget_scheduler(cfg.train.max_steps, cfg.train.time_limit_minutes)
    result = fit(model, loss_fn, TensorDictDataset(x=train.positions), cfg.train, run_dir,
                 resume=resume, callbacks=[callback], scheduler=schedule)
    result = run_dir.last_fit = finish_budget(result, schedule)
    started = time.perf_counter()
    metrics: dict[str, Any] = evaluate_model(result.model, test, cfg,
                                             _subset(train, cfg.probe_samples))
    metrics.update(train_seconds=result.train_seconds, steps=result.step,
                   ms_per_step=1000 * result.train_seconds / max(result.step, 1),
                   eval_seconds=time.perf_counter() - started, n_params=n_params(model),
                   n_train=cfg.n_train, n_test=cfg.n_test, stop_reason=result.stop_reason)
    if run_dir.is_writer:
        _plots(result, test, cfg, run_dir)
    return metrics


def _plots(result: Any, test: Any, cfg: TetrisConfig, run_dir: RunDir) -> None:
    model = result.model.eval()
    n = min(4000, test.positions.shape[0])
    z = apply_batched(lambda b: model(b).z, test.positions[:n].to(getattr(torch, cfg.dtype)))
    if z.shape[1] == 2:
        pts = z.double()
        title = "tetris: the 2-d invariant code z (held-out, by shape)"
    else:
        from ..metrics.representation import embed_2d

        pts, _ = embed_2d(z)
        title = "tetris: PCA of z (held-out, by shape)"
    plot_embedding(pts, test.labels[:n], run_dir.plot_path("latent"),
                   title=title + "; " + ", ".join(f"{k}={s}" for k, s in enumerate(TETRIS_NAMES)))
    plot_learning_curves(result.history, run_dir.plot_path("learning_curve"),
                         keys=("rec", "test_rec_mse"), title="tetris: reconstruction MSE")


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, TetrisConfig)
    train, test = _data(cfg)
    model = build_model(cfg)
    checkpoint = load_model_state(run_dir, model)
    metrics: dict[str, Any] = evaluate_model(model, test, cfg, _subset(train, cfg.probe_samples))
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="tetris",
    description="SE(3) x S_4-invariant autoencoder with a 2-d code for the eight 3-d Tetris shapes",
    config_cls=TetrisConfig,
    run=run,
    evaluate=evaluate,
)
