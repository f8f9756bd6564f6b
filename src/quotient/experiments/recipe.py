"""One recipe for group-invariant autoencoder experiments: the run / evaluate / budget skeleton
exists once here, and an experiment file holds only what differs (its data, its model, extra
metrics and plots).

An experiment is ``giae_experiment(GIAERecipe(...))``. Its ``run``:

1. builds the data (:class:`Split`) and the model (``recipe.model(cfg, split)``);
2. trains with :func:`quotient.train.fit` (resumable; DDP under ``torchrun``) and a cosine
   learning rate over the step budget ``min(epochs × steps per epoch, train.max_steps)`` or the
   time budget ``train.time_limit_minutes``, whichever runs out first, logging the test
   reconstruction error every ``eval_every`` epochs (the recipe's ``optimizer`` may give
   parts of the model their own learning rates);
3. evaluates (:func:`evaluate_model`): reconstruction MSE (or the recipe's ``rec_metrics``),
   kNN and linear-probe accuracy of the codes (when the split has labels), the
   :func:`~quotient.metrics.symmetry_report` (exact and approximate symmetry, float32 and
   float64) and the recipe's own metrics;
4. trains the recipe's ``companions`` (e.g. a baseline) and ``downstream`` models (e.g.
   property heads on the trained encoder), which ``evaluate`` does not repeat;
5. plots the learning curve, the codes and the recipe's own figures; returns an
   :class:`~quotient.experiments.ExperimentResult`.

Settings the skeleton reads from the config (with defaults when a config lacks them):
``train`` (a :class:`~quotient.train.TrainConfig`), ``threads`` (0), ``warmup_steps`` (100),
``eval_every`` (1), ``eval_samples`` (1000), ``probe_samples`` (all), ``check_samples``
(1000), ``eval_seed`` (1), ``embedding`` (``"pca"``), ``plots`` (true), ``dtype``
(``"float32"``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..metrics import EmbeddingView, SymmetryReport, symmetry_report
from ..models.losses import autoencoder_loss, model_loss
from ..symmetry import Symmetry
from ..train import (
    EpochEval,
    FitResult,
    RunDir,
    StepContext,
    TrainConfig,
    batch_input,
    budget_scheduler,
    count_parameters,
    finish_budget,
    fit,
    input_dataset,
    load_model_state,
    quiet_training_log,
    saved_config,
    use_threads,
)
from . import Experiment, ExperimentResult

__all__ = ["INPUTS", "GIAERecipe", "Split", "evaluate_model", "giae_experiment", "input_spec",
           "input_stub", "train_companion"]

LossFn = Callable[..., tuple[Tensor, Mapping[str, float]]]


@dataclass
class Split:
    """The data of one experiment.

    Attributes:
        train, test: model inputs, a tensor with the samples first or a tuple of them (e.g.
            ``(points, mask)``).
        train_labels, test_labels: integer classes ``(N,)`` for the probes and plots, if any.
        name: what the data is (titles of reports and plots), e.g. the user's file name.
        extras: whatever the experiment's own metrics and plots need (angles, indices, ...).
    """

    train: Any
    test: Any
    train_labels: Tensor | None = None
    test_labels: Tensor | None = None
    name: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GIAERecipe:
    """What differs between GIAE experiments.

    Attributes:
        name, description, config_cls: as :class:`~quotient.experiments.Experiment`.
        data: ``cfg -> Split``.
        model: ``(cfg, split) -> module`` (a GIAE or a baseline with ``loss``, ``embed`` and
            ``reconstruct``), initialised from a seeded generator.
        loss: ``(cfg, model) -> loss_fn`` for :func:`~quotient.train.fit` (default:
            ``model.loss`` on the batch's input).
        metrics: ``(cfg, model, split, report) -> {name: value}``, computed after the common
            ones (e.g. accuracies, breakdowns of the report's per-sample errors).
        rec_metrics: ``(model, x) -> {name: float}``, the reconstruction figures of a model on
            inputs ``x`` (default ``{"rec_mse": ...}``, the mean squared error of
            ``reconstruct(x)`` against the input); evaluated on the test split, and logged
            every ``eval_every`` epochs as ``test_<name>`` (``rec_mse`` as ``test_rec``).
        epoch_metrics: ``(cfg, model, split) -> {name: float}``, logged with the test
            reconstruction every ``eval_every`` epochs.
        plots: ``(cfg, model, split, metrics, fit_result, run_dir) -> None``, after the
            common ones (learning curve, codes, and with ``examples`` = ``"images"`` or
            ``"signals"`` a few inputs with their reconstructions and canonical forms; the pose
            against ``split.extras["true_pose"] = {"values", "period", "unit", "scale"}``).
        companions: ``(cfg, split) -> {name: value}``: other models trained in the same run
            after the main one (e.g. a baseline with a time budget); run by ``run`` only, not
            by ``evaluate``.
        downstream: ``(cfg, model, split, run_dir) -> {name: value}``: models trained on top
            of the trained one (e.g. property heads on its encoder, writing their own plots
            into ``run_dir``); run by ``run`` only, after the companions.
        optimizer: ``(cfg, model) -> optimizer or (params -> optimizer)`` for
            :func:`~quotient.train.fit` (default: from ``cfg.train``), e.g. parameter groups
            with their own learning rates (the budget schedule scales each group's rate).
        symmetry: ``cfg -> (exact, approximate or None)``: what models without a declared
            symmetry (baselines) are measured against (their codes' invariance only).
        check_group: ``cfg -> group`` sampled by the symmetry report instead of the declared
            one (the same group on the data's scale, e.g. translations of the data's size).
        check: ``cfg -> None``, raising a one-line error before a run directory is made.
    """

    name: str
    description: str
    config_cls: type
    data: Callable[[Any], Split]
    model: Callable[[Any, Split], nn.Module]
    loss: Callable[[Any, nn.Module], LossFn] | None = None
    metrics: Callable[[Any, nn.Module, Split, SymmetryReport], dict[str, Any]] | None = None
    epoch_metrics: Callable[[Any, nn.Module, Split], dict[str, float]] | None = None
    plots: Callable[..., None] | None = None
    examples: Literal["images", "signals"] | None = None
    companions: Callable[[Any, Split], dict[str, Any]] | None = None
    rec_metrics: Callable[[nn.Module, Any], Mapping[str, float]] | None = None
    downstream: Callable[[Any, nn.Module, Split, RunDir], dict[str, Any]] | None = None
    optimizer: Callable[[Any, nn.Module], Any] | None = None
    symmetry: Callable[[Any], tuple[Symmetry, Symmetry | None]] | None = None
    check_group: Callable[[Any], Any] | None = None
    check: Callable[[Any], None] | None = None


INPUTS = "inputs.json"
"""File of a run directory recording the shape of one input (what a model is built for)."""


def input_spec(x: Any) -> list[dict[str, Any]]:
    """Shape (without the batch) and dtype of each part of a model input."""
    parts = x if isinstance(x, (tuple, list)) else (x,)
    return [{"shape": list(p.shape[1:]), "dtype": str(p.dtype).replace("torch.", "")}
            for p in parts]


def input_stub(spec: list[dict[str, Any]]) -> Any:
    """One zero input of the recorded shapes (enough for a model builder to read sizes from)."""
    parts = tuple(torch.zeros(1, *p["shape"], dtype=getattr(torch, p["dtype"])) for p in spec)
    return parts[0] if len(parts) == 1 else parts


def _setting(cfg: Any, name: str, default: Any) -> Any:
    value = getattr(cfg, name, default)
    return default if value is None else value


def _dtype(model: nn.Module) -> torch.dtype:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _cast(x: Any, dtype: torch.dtype) -> Any:
    if isinstance(x, (tuple, list)):
        return tuple(_cast(p, dtype) for p in x)
    return x.to(dtype) if isinstance(x, Tensor) and x.is_floating_point() else x


def _take(x: Any, n: int | None) -> Any:
    if n is None:
        return x
    return tuple(p[:n] for p in x) if isinstance(x, (tuple, list)) else x[:n]


def _size(x: Any) -> int:
    return int((x[0] if isinstance(x, (tuple, list)) else x).shape[0])


def _batched(fn: Callable[[Any], Any], x: Any, batch: int = 500) -> Any:
    outs = []
    with torch.no_grad():
        for start in range(0, _size(x), batch):
            part = (tuple(p[start:start + batch] for p in x) if isinstance(x, (tuple, list))
                    else x[start:start + batch])
            outs.append(fn(part))
    return torch.cat(outs)


def train_companion(model: nn.Module, x: Any, train: TrainConfig, minutes: float,
                    loss: LossFn | None = None) -> FitResult:
    """Train a companion model (e.g. a baseline, for :attr:`GIAERecipe.companions`) on inputs
    ``x`` for a time budget of ``minutes``: the settings of ``train`` without a step limit or
    checkpoints, a cosine learning rate over the time budget, the training log quiet (the
    time limit is the budget, not an interruption), ``loss`` by default
    :func:`~quotient.models.losses.autoencoder_loss`."""
    tcfg = dataclasses.replace(train, max_steps=None, checkpoint_every=0, progress=False,
                               time_limit_minutes=minutes)
    with quiet_training_log():
        return fit(model, loss or autoencoder_loss, input_dataset(x), tcfg,
                   scheduler=budget_scheduler(None, minutes))


def default_loss(cfg: Any, model: nn.Module) -> LossFn:
    """``model.loss`` on the batch's input, cast to the model's dtype."""
    dtype = _dtype(model)

    def loss_fn(net: nn.Module, batch: Mapping[str, Tensor],
                ctx: StepContext) -> tuple[Tensor, Mapping[str, float]]:
        return model_loss(net, _cast(batch_input(batch), dtype))

    return loss_fn


def _reconstruct(model: nn.Module, x: Any) -> Tensor:
    return model.reconstruct(x) if hasattr(model, "reconstruct") else model(x).reconstruction


def _embed(model: nn.Module, x: Any) -> Tensor:
    return model.embed(x) if hasattr(model, "embed") else model(x).z


def rec_mse(model: nn.Module, x: Any) -> float:
    """Mean squared error between reconstructions and inputs (the first part of a tuple)."""
    target = x[0] if isinstance(x, (tuple, list)) else x
    rec = _batched(lambda b: _reconstruct(model, b), x)
    return float((rec.double() - target.double()).pow(2).mean())


def reconstruction_metrics(recipe: GIAERecipe, model: nn.Module, x: Any) -> dict[str, float]:
    """The recipe's ``rec_metrics`` of a model on inputs ``x`` (``{"rec_mse": ...}`` by
    default)."""
    if recipe.rec_metrics is None:
        return {"rec_mse": rec_mse(model, x)}
    return dict(recipe.rec_metrics(model, x))


def evaluate_model(recipe: GIAERecipe, cfg: Any, model: nn.Module, split: Split
                   ) -> dict[str, Any]:
    """The common metrics of a trained model on the test split, then the recipe's own."""
    from ..metrics import knn_accuracy, linear_probe_accuracy

    model.eval()
    dtype = _dtype(model)
    test = _cast(split.test, dtype)
    metrics: dict[str, Any] = reconstruction_metrics(recipe, model, test)
    if split.train_labels is not None and split.test_labels is not None:
        probe = _setting(cfg, "probe_samples", None)
        z_train = _batched(lambda b: _embed(model, b), _cast(_take(split.train, probe), dtype))
        z_test = _batched(lambda b: _embed(model, b), test)
        y_train = split.train_labels[:z_train.shape[0]]
        metrics["knn_acc"] = knn_accuracy(z_train, y_train, z_test, split.test_labels, k=5)
        metrics["linear_acc"] = linear_probe_accuracy(z_train, y_train, z_test,
                                                      split.test_labels)
    checked = _take(test, _setting(cfg, "check_samples", 1000))
    view = model
    if not isinstance(getattr(model, "symmetry", None), Symmetry) and recipe.symmetry:
        view = EmbeddingView(model, *recipe.symmetry(cfg))
    report = SymmetryReport()
    if isinstance(getattr(view, "symmetry", None), Symmetry):
        gen = torch.Generator().manual_seed(_setting(cfg, "eval_seed", 1))
        group = recipe.check_group(cfg) if recipe.check_group is not None else None
        report = symmetry_report(view, checked, generator=gen, group=group)
        metrics.update(report.metrics)
    if recipe.metrics is not None:
        metrics.update(recipe.metrics(cfg, model, split, report))
    return metrics


def _epoch_eval(recipe: GIAERecipe, cfg: Any, split: Split) -> EpochEval:
    small = Split(split.train, _take(split.test, _setting(cfg, "eval_samples", 1000)),
                  name=split.name, extras=split.extras)

    def evaluate(model: nn.Module) -> dict[str, float]:
        rec = reconstruction_metrics(recipe, model, _cast(small.test, _dtype(model)))
        out = {("test_rec" if k == "rec_mse" else f"test_{k}"): v for k, v in rec.items()}
        if recipe.epoch_metrics is not None:
            out.update(recipe.epoch_metrics(cfg, model, small))
        return out

    return EpochEval(evaluate, _setting(cfg, "eval_every", 1))


def _schedule(cfg: Any, n_train: int) -> budget_scheduler:
    tc = cfg.train
    steps = tc.epochs * (n_train // tc.batch_size)
    if tc.max_steps is not None:
        steps = min(steps, tc.max_steps)
    warmup = min(_setting(cfg, "warmup_steps", 100), max(1, steps // 5))
    return budget_scheduler(steps, tc.time_limit_minutes, warmup)


def _plots(recipe: GIAERecipe, cfg: Any, model: nn.Module, split: Split,
           metrics: dict[str, Any], result: FitResult, run_dir: RunDir) -> None:
    from ..metrics import embed_2d
    from ..plots import plot_embedding
    from ..train.plots import plot_learning_curve

    title = split.name or recipe.name
    epoch_keys = sorted({k for r in result.history if r.get("kind") == "epoch" for k in r}
                        - {"kind", "step", "epoch"})
    plot_learning_curve(result.history, run_dir.plot_path("learning_curve"),
                        train_keys=("loss",), epoch_keys=tuple(epoch_keys), title=title)
    if split.test_labels is not None:
        model.eval()
        z = _batched(lambda b: _embed(model, b), _cast(_take(split.test, 2000),
                                                       _dtype(model)))
        method = _setting(cfg, "embedding", "pca") if z.shape[1] > 2 else "identity"
        pts, idx = (z.double().numpy(), torch.arange(z.shape[0])) if method == "identity" \
            else embed_2d(z, method=method, seed=_setting(cfg, "eval_seed", 1))
        knn = f", kNN acc {metrics['knn_acc']:.3f}" if "knn_acc" in metrics else ""
        plot_embedding(pts, split.test_labels[torch.as_tensor(idx)],
                       run_dir.plot_path("embedding"),
                       title=f"{title}: test codes z ({method}){knn}")
    _example_plots(recipe, model, split, run_dir, title)
    if recipe.plots is not None:
        recipe.plots(cfg, model, split, metrics, result, run_dir)


def _example_plots(recipe: GIAERecipe, model: nn.Module, split: Split, run_dir: RunDir,
                   title: str) -> None:
    """Inputs / reconstructions / canonical forms of a few test samples, and the predicted
    against the true pose when the data knows it (``split.extras["true_pose"]``)."""
    from ..models.giae import GIAE
    from ..plots import plot_angle_scatter, plot_image_grid, plot_signals

    if recipe.examples is not None:
        x = _cast(_take(split.test, 12 if recipe.examples == "images" else 6), _dtype(model))
        with torch.no_grad():
            rows = {"input": x, "reconstruction": _reconstruct(model, x)}
            if isinstance(model, GIAE):
                rows["canonical"] = model(x).canonical
        if recipe.examples == "images":
            plot_image_grid(rows, run_dir.plot_path("images"), n=12, title=title)
        else:
            plot_signals(rows, run_dir.plot_path("signals"), title=title)
    truth = split.extras.get("true_pose")
    if truth is not None and isinstance(model, GIAE):
        scale = truth.get("scale", 1.0)
        with torch.no_grad():
            pose = _batched(lambda b: model.encode(b)[1].element,
                            _cast(split.test, _dtype(model)))
        plot_angle_scatter(truth["values"] * scale, pose * scale, run_dir.plot_path("pose"),
                           labels=split.test_labels, period=truth["period"], unit=truth["unit"],
                           title=f"{title}: predicted vs true pose")


def run_recipe(recipe: GIAERecipe, cfg: Any, run_dir: RunDir, resume: bool
               ) -> ExperimentResult:
    """Train (or resume), evaluate, plot; the ``run`` of every GIAE experiment."""
    with use_threads(_setting(cfg, "threads", 0)):
        split = recipe.data(cfg)
        model = recipe.model(cfg, split)
        run_dir.write_json(INPUTS, input_spec(split.train))
        loss = (recipe.loss or default_loss)(cfg, model)
        schedule = _schedule(cfg, _size(split.train))
        optimizer = recipe.optimizer(cfg, model) if recipe.optimizer is not None else None
        result = fit(model, loss, input_dataset(split.train), cfg.train, run_dir,
                     resume=resume, scheduler=schedule, optimizer=optimizer,
                     callbacks=[_epoch_eval(recipe, cfg, split)])
        result = finish_budget(result, schedule)
        started = time.perf_counter()
        model = result.model.cpu()
        metrics = evaluate_model(recipe, cfg, model, split)
        metrics.update(train_seconds=result.train_seconds, steps=result.step,
                       ms_per_step=1000 * result.train_seconds / max(result.step, 1),
                       eval_seconds=time.perf_counter() - started,
                       n_params=count_parameters(model), n_train=_size(split.train),
                       n_test=_size(split.test), stop_reason=result.stop_reason)
        if recipe.companions is not None:
            metrics.update(recipe.companions(cfg, split))
        if recipe.downstream is not None:
            metrics.update(recipe.downstream(cfg, model, split, run_dir))
        if _setting(cfg, "plots", True) and run_dir.is_writer:
            _plots(recipe, cfg, model, split, metrics, result, run_dir)
    return ExperimentResult(metrics, result)


def evaluate_run(recipe: GIAERecipe, run_dir: RunDir) -> dict[str, Any]:
    """Recompute the metrics of a finished run from its ``config.json`` and latest checkpoint."""
    cfg = saved_config(run_dir, recipe.config_cls)
    with use_threads(_setting(cfg, "threads", 0)):
        split = recipe.data(cfg)
        model = recipe.model(cfg, split)
        checkpoint = load_model_state(run_dir, model)
        metrics = evaluate_model(recipe, cfg, model, split)
    metrics["steps"] = checkpoint["step"]
    return metrics


def giae_experiment(recipe: GIAERecipe) -> Experiment:
    """The :class:`~quotient.experiments.Experiment` of a recipe."""
    return Experiment(
        name=recipe.name, description=recipe.description, config_cls=recipe.config_cls,
        run=lambda cfg, run_dir, resume: run_recipe(recipe, cfg, run_dir, resume),
        evaluate=lambda run_dir: evaluate_run(recipe, run_dir), check=recipe.check,
        recipe=recipe)
