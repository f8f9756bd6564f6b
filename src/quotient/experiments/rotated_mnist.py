"""rotated-mnist: the SO(2) group-invariant autoencoder on rotated MNIST digits.

Data: the bundled 10,000-digit MNIST sample, a fixed seeded 8,000/2,000 split, every digit turned
by a uniformly random angle (:func:`~quotient.data.rotated_mnist.load_rotated_mnist_sample`).

Model (``model="giae"``, :func:`~quotient.models.image_giae.image_giae`): a C4 group-CNN encoder —
exactly invariant (code ``z``) and equivariant (2-vector ``v``, angle ``θ = atan2(v₁, v₀)``)
under quarter turns by construction, approximately under other angles by learning, helped by a
penalty on ``‖z(x) − z(ρ(φ)x)‖²`` for random angles (``invariance_weight``) — a plain CNN decoder
to a canonical image, and ``x̂ = ρ(θ)·δ(z)`` (bilinear resampling). Baselines in the same harness
(``model=...``): ``classical`` (plain CNN encoder, same decoder), ``augmented`` (the same trained
on randomly re-rotated digits) and ``equivariant`` (C4 vector code, made invariant afterwards by
its norms). See ``docs/giae.md`` for the design and the measured figures.

Metrics (``metrics.json``): ``rec_mse`` (test), ``knn_acc`` / ``linear_acc`` (probes fitted on
training codes, scored on test codes), ``inv_err_exact`` (worst relative change of ``z`` under
quarter turns), ``inv_err_any`` (mean relative change under uniformly random angles),
``pose_err_deg`` (worst error of ``θ(rot90ᵏx) − θ(x) − 90°k``), ``pose_err_deg_any`` (mean
error for random angles), ``canon_err_any``, ``train_seconds``; see :func:`evaluate_model`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import rot90_image, rotate_image
from ..data.mnist import ImageData
from ..data.rotated_mnist import RotatedMNIST, load_rotated_mnist_sample, make_rotated_mnist
from ..data.user import load_image_file
from ..errors import ConfigError, DataError
from ..metrics import (
    angle_error_deg,
    apply_batched,
    canonicalisation_error,
    invariance_error,
    pose_error,
    reconstruction_mse,
)
from ..models.baselines import random_rotation
from ..models.giae import GIAE
from ..models.image_giae import image_baseline, image_giae
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
from ._autoencoding import (
    autoencoder_loss,
    code_metrics,
    consistency_loss,
    test_reconstruction,
)
from ._giae_common import budget_scheduler, use_threads

__all__ = ["EXPERIMENT", "RotatedMNISTConfig", "build_model", "check_data", "evaluate_model",
           "load_data", "run"]

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
        n_train, n_test: split sizes (at most 8,000 + 2,000 from the bundled sample).
        data_seed: seed of the split and the rotation angles.
        eval_seed: seed of the random angles used by the invariance metrics.
        embedding: 2-d view of the test codes in the plot, ``tsne`` or ``pca``.
        plots: write the PNG figures.
        eval_every: log the reconstruction error of 1,000 test digits every this many epochs.
        threads: intra-op CPU threads while training and evaluating (0: torch's default).
            One thread is faster when other processes share the cores.
        data: your own images instead of the bundled sample: an ``.npz`` file with ``images``
            (uint8 or [0, 1] floats, ``(N, H, W)`` or ``(N, C, H, W)``, square, side divisible
            by 4 with the default decoder) and integer ``labels`` ``(N,)``
            (:func:`~quotient.data.user.load_image_file`); ``n_train + n_test <= N``.
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
    n_train: int = 8000
    n_test: int = 2000
    data_seed: int = 0
    eval_seed: int = 1
    embedding: Literal["tsne", "pca"] = "tsne"
    plots: bool = True
    threads: int = 0
    eval_every: int = 4
    data: str = ""
    rotate_data: bool = True

    def __post_init__(self) -> None:
        check_ranges(self, positive=("latent_dim", "widths", "cnn_widths", "decoder_widths",
                                     "n_train", "n_test"),
                     non_negative=("invariance_weight", "warmup_steps", "threads"),
                     fraction=("invariance_fraction",))
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
    if cfg.n_train + cfg.n_test > len(own):
        train = max(1, len(own) * 4 // 5)
        raise ConfigError(f"n_train + n_test = {cfg.n_train} + {cfg.n_test} exceeds the "
                          f"{len(own)} images of {cfg.data}; pass e.g. --set n_train={train} "
                          f"n_test={len(own) - train}")
    return own


def load_data(cfg: RotatedMNISTConfig) -> RotatedMNIST:
    """The rotated split of the bundled sample, or of the images in ``cfg.data``."""
    own = check_data(cfg)
    if own is None:
        return load_rotated_mnist_sample(n_train=cfg.n_train, n_test=cfg.n_test,
                                         seed=cfg.data_seed)
    return make_rotated_mnist(own.images, own.labels, n_train=cfg.n_train, n_test=cfg.n_test,
                              seed=cfg.data_seed, rotate_train=cfg.rotate_data,
                              rotate_test=cfg.rotate_data)


def build_model(cfg: RotatedMNISTConfig, *, in_channels: int = 1,
                image_size: int = 28) -> nn.Module:
    """The configured model for ``(C, H, H)`` images, initialised from a generator seeded by
    ``cfg.train.seed``."""
    shape = {"in_channels": in_channels, "image_size": image_size}
    with seeded(mix_seed(cfg.train.seed, "rotated-mnist-init", cfg.model)):
        if cfg.model == "giae":
            model = image_giae(latent_dim=cfg.latent_dim, widths=cfg.widths,
                               decoder_widths=cfg.decoder_widths, pose=cfg.pose, **shape)
        else:
            model = image_baseline(cfg.model, latent_dim=cfg.latent_dim, widths=cfg.widths,
                                   cnn_widths=cfg.cnn_widths, decoder_widths=cfg.decoder_widths,
                                   **shape)
    return model


def _image_shape(data: RotatedMNIST) -> dict[str, int]:
    return {"in_channels": int(data.train.images.shape[1]),
            "image_size": int(data.train.images.shape[-1])}


@torch.no_grad()
def evaluate_model(model: nn.Module, data: RotatedMNIST, *, eval_seed: int = 1,
                   batch_size: int = 500) -> tuple[dict[str, float], dict[str, Any]]:
    """All metrics of a trained model on the test split, and arrays for the plots.

    Invariance errors are ``‖z(g·x) − z(x)‖`` divided by the spread of the test codes
    (:func:`~quotient.metrics.invariance_error`): ``inv_err_exact`` is the worst over test
    digits and the three quarter turns, ``inv_err_any`` the mean over test digits each turned
    by its own uniformly random angle (bilinear resampling, so even a perfectly invariant
    model on continuous images shows the resampling error here). ``inv_err_exact_f64`` repeats
    the quarter-turn check in float64 on a copy of the model (500 test digits).
    """
    model.eval()
    x, y = data.test.images, data.test.labels
    n = x.shape[0]
    gen = torch.Generator().manual_seed(eval_seed)
    angles = torch.rand(n, generator=gen, dtype=torch.float64) * (2 * math.pi)
    angles32 = angles.float()
    metrics: dict[str, float] = {
        "rec_mse": reconstruction_mse(model.reconstruct, x, batch_size=batch_size)}
    codes = code_metrics(model, data.train.images, data.train.labels, x, y,
                         batch_size=batch_size)
    metrics["knn_acc"], metrics["linear_acc"] = codes["knn_acc"], codes["linear_acc"]
    metrics["inv_err_exact"] = max(
        invariance_error(model.embed, x, rot90_image, torch.full((n,), k), reduce="max",
                         batch_size=batch_size) for k in (1, 2, 3))
    metrics["inv_err_any"] = invariance_error(model.embed, x, rotate_image, angles32,
                                              batch_size=batch_size)
    # the same check in float64, on a copy of the model (500 test digits)
    x64 = x[:500].double()
    model64 = copy.deepcopy(model).double()
    metrics["inv_err_exact_f64"] = max(
        invariance_error(model64.embed, x64, rot90_image, torch.full((x64.shape[0],), k),
                         reduce="max", batch_size=batch_size) for k in (1, 2, 3))
    extras: dict[str, Any] = {"z_test": codes["z_test"]}
    if isinstance(model, GIAE):
        def theta(t: Tensor) -> Tensor:
            return model.encode(t)[1].element

        metrics["pose_err_deg"] = max(
            pose_error(theta, x, rot90_image, torch.full((n,), k), angle_error_deg,
                       coordinate=torch.full((n,), k * math.pi / 2, dtype=torch.float64),
                       reduce="max",
                       batch_size=batch_size) for k in (1, 2, 3))
        metrics["pose_err_deg_any"] = float(pose_error(
            theta, x, rotate_image, angles32, angle_error_deg, batch_size=batch_size))
        metrics["canon_err_any"] = canonicalisation_error(
            lambda t: model.decoder(model.embed(t)), x, rotate_image, angles32,
            batch_size=batch_size)
        extras["theta_test"] = apply_batched(theta, x, batch_size)
    return metrics, extras


def _plots(model: nn.Module, data: RotatedMNIST, metrics: dict[str, float],
           extras: dict[str, Any], history: list[dict[str, Any]], run_dir: RunDir,
           cfg: RotatedMNISTConfig) -> None:
    from ..metrics import embed_2d
    from ..plots import plot_angle_scatter, plot_embedding, plot_image_grid
    from ..train.plots import plot_learning_curve

    x, y = data.test.images[:12], data.test.labels
    with torch.no_grad():
        rows = {"input": x, "reconstruction": model.reconstruct(x)}
        if isinstance(model, GIAE):
            rows["canonical"] = model(x).canonical
    name = f"rotated-mnist ({cfg.model})"
    plot_image_grid(rows, run_dir.plot_path("images"), n=12, title=name)
    pts, idx = embed_2d(extras["z_test"], method=cfg.embedding, seed=cfg.eval_seed,
                        max_points=2000)
    plot_embedding(pts, y[torch.as_tensor(idx)], run_dir.plot_path("embedding"),
                   title=f"{name}: test codes z ({cfg.embedding}), kNN acc "
                         f"{metrics['knn_acc']:.3f}")
    if "theta_test" in extras:
        plot_angle_scatter(data.test.angles * (180 / math.pi),
                           extras["theta_test"] * (180 / math.pi),
                           run_dir.plot_path("pose"), labels=y,
                           title=f"{name}: predicted vs true angle")
    plot_learning_curve(history, run_dir.plot_path("learning_curve"),
                        train_keys=("loss",), epoch_keys=("test_rec",), title=name)


def run(cfg: RotatedMNISTConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train (or resume), evaluate on the test split, plot, and return the metrics."""
    with use_threads(cfg.threads):
        data = load_data(cfg)
        model = build_model(cfg, **_image_shape(data))
        train_set = TensorDictDataset(x=data.train.images)
        steps = cfg.train.epochs * (len(train_set) // cfg.train.batch_size)
        if cfg.train.max_steps is not None:
            steps = min(steps, cfg.train.max_steps)
        schedule = budget_scheduler(steps, None, min(cfg.warmup_steps, max(1, steps // 5)))
        loss_fn = autoencoder_loss
        if cfg.model == "giae" and cfg.invariance_weight > 0:
            loss_fn = consistency_loss(random_rotation, cfg.invariance_weight,
                                       cfg.invariance_fraction)
        result = fit(model, loss_fn, train_set, cfg.train, run_dir, resume=resume,
                     scheduler=schedule,
                     callbacks=[test_reconstruction(data.test.images[:1000], cfg.eval_every)])
        model = result.model.cpu()
        metrics, extras = evaluate_model(model, data, eval_seed=cfg.eval_seed)
        metrics.update(train_seconds=result.train_seconds, steps=result.step,
                       n_params=sum(p.numel() for p in model.parameters()),
                       n_train=len(train_set), n_test=len(data.test))
        if cfg.plots and run_dir.is_writer:
            _plots(model, data, metrics, extras, result.history, run_dir, cfg)
    return metrics


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, RotatedMNISTConfig)
    data = load_data(cfg)
    model = build_model(cfg, **_image_shape(data))
    checkpoint = load_model_state(run_dir, model)
    metrics, _ = evaluate_model(model, data, eval_seed=cfg.eval_seed)
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="rotated-mnist",
    description="SO(2)-invariant autoencoder (C4 group CNN + angle pose) on rotated MNIST",
    config_cls=RotatedMNISTConfig,
    run=run,
    evaluate=evaluate,
    check=check_data,
)
