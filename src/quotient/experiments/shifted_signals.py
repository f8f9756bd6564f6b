"""shifted-signals: the cyclic-shift group-invariant autoencoder on periodic 1-d signals.

Data (:func:`~quotient.data.signals.make_shifted_signals`): smooth random templates of a few
classes, each signal a template cyclically shifted by a uniformly random integer plus Gaussian
noise; train and test sets are drawn with different seeds from the same templates.

Model (``model="giae"``): circular convolutions (exactly invariant code ``z``, exactly
equivariant score map ``y`` under integer shifts), the shift read from the phase of the first
Fourier mode of ``y``, an MLP decoder to a canonical signal and ``x̂ = fourier_shift(s, δ(z))``.
Baselines: ``classical`` (MLP encoder, same decoder) and ``augmented`` (the same trained on
randomly re-shifted signals).

Metrics (``metrics.json``): ``rec_mse``, ``knn_acc``, ``linear_acc``, ``inv_err_exact`` (worst
relative change of ``z`` under integer shifts), ``inv_err_any`` (mean relative change under
real-valued Fourier shifts), ``pose_err_shift`` (worst error of ``s(k·x) − s(x) − k`` in cells,
integer ``k``), ``pose_err_shift_any`` (mean, real-valued shifts), ``train_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import roll_signal
from ..data.signals import ShiftedSignals, make_shifted_signals
from ..metrics import (
    apply_batched,
    invariance_error,
    pose_error,
    reconstruction_mse,
    shift_error,
)
from ..models.giae import GIAE
from ..models.image_giae import signal_baseline, signal_giae
from ..nn.pose_so2 import fourier_shift
from ..train import (
    RunDir,
    TensorDictDataset,
    TrainConfig,
    fit,
    load_model_state,
    mix_seed,
    saved_config,
    seeded,
)
from . import Experiment
from ._autoencoding import autoencoder_loss, code_metrics
from ._giae_common import budget_scheduler, use_threads

__all__ = ["EXPERIMENT", "ShiftedSignalsConfig", "build_model", "evaluate_model", "run"]


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


def load_data(cfg: ShiftedSignalsConfig) -> tuple[ShiftedSignals, ShiftedSignals]:
    """Train and test signals (same templates, independent draws)."""
    kw = dict(length=cfg.length, n_classes=cfg.n_classes,
              templates_per_class=cfg.templates_per_class, noise=cfg.noise,
              template_seed=cfg.template_seed)
    return (make_shifted_signals(cfg.n_train, seed=cfg.data_seed, **kw),
            make_shifted_signals(cfg.n_test, seed=cfg.data_seed + 1, **kw))


def random_shift(x: Tensor, generator: torch.Generator) -> Tensor:
    """Roll every signal by its own uniform integer shift (the augmented baseline)."""
    k = torch.randint(x.shape[-1], (x.shape[0],), generator=generator)
    return roll_signal(k.to(x.device), x)


def build_model(cfg: ShiftedSignalsConfig) -> nn.Module:
    """The configured model, initialised from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "shifted-signals-init", cfg.model)):
        if cfg.model == "giae":
            return signal_giae(length=cfg.length, latent_dim=cfg.latent_dim, widths=cfg.widths,
                               hidden=cfg.hidden)
        model = signal_baseline(length=cfg.length, latent_dim=cfg.latent_dim, hidden=cfg.hidden)
    if cfg.model == "augmented":
        model.augment = random_shift
    return model


@torch.no_grad()
def evaluate_model(model: nn.Module, train: ShiftedSignals, test: ShiftedSignals, *,
                   eval_seed: int = 1, batch_size: int = 500
                   ) -> tuple[dict[str, float], dict[str, Any]]:
    """All metrics on the test set and arrays for the plots (see the module docstring)."""
    model.eval()
    x, y = test.signals, test.labels
    n, length = x.shape[0], x.shape[-1]
    gen = torch.Generator().manual_seed(eval_seed)
    k = torch.randint(1, length, (n,), generator=gen)
    frac = torch.rand(n, generator=gen, dtype=torch.float64) * length
    metrics: dict[str, float] = {
        "rec_mse": reconstruction_mse(model.reconstruct, x, batch_size=batch_size)}
    codes = code_metrics(model, train.signals, train.labels, x, y, batch_size=batch_size)
    metrics["knn_acc"], metrics["linear_acc"] = codes["knn_acc"], codes["linear_acc"]
    metrics["inv_err_exact"] = invariance_error(model.embed, x, roll_signal, k, reduce="max",
                                                batch_size=batch_size)
    metrics["inv_err_any"] = invariance_error(model.embed, x, fourier_shift, frac.float(),
                                              batch_size=batch_size)
    extras: dict[str, Any] = {"z_test": codes["z_test"]}
    if isinstance(model, GIAE):
        def shift(t: Tensor) -> Tensor:
            return model.encode(t)[1].element

        def dist(a: Tensor, b: Tensor) -> Tensor:
            return shift_error(a, b, length)

        metrics["pose_err_shift"] = pose_error(shift, x, roll_signal, k, dist, reduce="max",
                                               batch_size=batch_size)
        metrics["pose_err_shift_any"] = pose_error(shift, x, fourier_shift, frac.float(), dist,
                                                   batch_size=batch_size)
        extras["shift_test"] = apply_batched(shift, x, batch_size)
    return metrics, extras


def _plots(model: nn.Module, test: ShiftedSignals, metrics: dict[str, float],
           extras: dict[str, Any], history: list[dict[str, Any]], run_dir: RunDir,
           cfg: ShiftedSignalsConfig) -> None:
    from ..metrics import embed_2d
    from ..plots import plot_angle_scatter, plot_embedding, plot_signals
    from ..train.plots import plot_learning_curve

    x = test.signals[:6]
    with torch.no_grad():
        rows = {"input": x, "reconstruction": model.reconstruct(x)}
        if isinstance(model, GIAE):
            rows["canonical"] = model(x).canonical
    name = f"shifted-signals ({cfg.model})"
    plot_signals(rows, run_dir.plot_path("signals"), title=name)
    pts, idx = embed_2d(extras["z_test"], method="pca", seed=cfg.eval_seed)
    plot_embedding(pts, test.labels[torch.as_tensor(idx)], run_dir.plot_path("embedding"),
                   title=f"{name}: test codes z (PCA), kNN acc {metrics['knn_acc']:.3f}")
    if "shift_test" in extras:
        plot_angle_scatter(test.shifts, extras["shift_test"], run_dir.plot_path("pose"),
                           labels=test.labels, period=float(cfg.length), unit="cells",
                           title=f"{name}: predicted vs true shift")
    plot_learning_curve(history, run_dir.plot_path("learning_curve"), train_keys=("loss",),
                        title=name)


def run(cfg: ShiftedSignalsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train (or resume), evaluate on the test set, plot, and return the metrics."""
    with use_threads(cfg.threads):
        train, test = load_data(cfg)
        model = build_model(cfg)
        train_set = TensorDictDataset(x=train.signals)
        steps = cfg.train.epochs * (len(train_set) // cfg.train.batch_size)
        if cfg.train.max_steps is not None:
            steps = min(steps, cfg.train.max_steps)
        schedule = budget_scheduler(steps, None, min(cfg.warmup_steps, max(1, steps // 5)))
        result = fit(model, autoencoder_loss, train_set, cfg.train, run_dir, resume=resume,
                     scheduler=schedule)
        model = result.model.cpu()
        metrics, extras = evaluate_model(model, train, test, eval_seed=cfg.eval_seed)
        metrics.update(train_seconds=result.train_seconds, steps=result.step,
                       n_params=sum(p.numel() for p in model.parameters()),
                       n_train=len(train), n_test=len(test))
        if cfg.plots and run_dir.is_writer:
            _plots(model, test, metrics, extras, result.history, run_dir, cfg)
    return metrics


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, ShiftedSignalsConfig)
    model = build_model(cfg)
    checkpoint = load_model_state(run_dir, model)
    train, test = load_data(cfg)
    metrics, _ = evaluate_model(model, train, test, eval_seed=cfg.eval_seed)
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="shifted-signals",
    description="cyclic-shift invariant autoencoder (circular CNN + Fourier-phase pose) on 1-d "
                "signals",
    config_cls=ShiftedSignalsConfig,
    run=run,
    evaluate=evaluate,
)
