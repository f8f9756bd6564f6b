"""graphs: an S_n-invariant autoencoder for graphs (A ↦ P A Pᵀ) on every graph with ≤ 7 (or 8)
nodes.

Data (:func:`~quotient.data.graphs.graph_split`): every isomorphism class with at most
``max_nodes`` nodes (``atlas``: the 1,253 atlas graphs up to 7 nodes, with ``max_nodes=8`` also
the 12,346 bundled graphs on 8 nodes), padded to ``max_nodes`` slots, under random relabellings
of all slots. ``split="class"`` (the default) trains on 80 % of the isomorphism classes and tests
on the other ``test_fraction`` = 20 %, never seen under any labelling; ``split="relabel"`` tests
on held-out relabellings of the training graphs (the earlier protocol). Or SBM graphs, or
your own graphs (``data=FILE.npz``: ``adjacency (N, n, n)``, optional ``mask`` and ``labels``,
:func:`~quotient.data.user_files.load_graph_file`; checked before the run directory is made, padded
to ``max_nodes``, split 80 % / 20 % at random). Model:
:class:`~quotient.models.graph_giae.GraphGIAE` (``giae``; its pose network trains at
``pose_lr_scale`` × the rate, 0 keeps its random initialisation, already a canonical labelling) or
the order-dependent ``classical`` autoencoder, also trained after the GIAE for ``baseline_minutes``
(``baseline_*``). Metrics (:mod:`quotient.metrics.graphs`): edge and graph accuracy, isomorphism
retrieval (``knn_acc``; with your file, kNN on its labels), ``canonical_agreement``, the symmetry
report and its pose and reconstruction errors on the graphs without automorphisms (``*_rigid``),
the only ones whose node order is unique (``docs/giae_graphs.md``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..data.graphs import graph_split, own_graph_split, relabel_set, rigid_graphs
from ..errors import ConfigError
from ..metrics import SymmetryReport
from ..metrics import graphs as gm
from ..models.graph_giae import GraphGIAE, GraphMLPAutoencoder
from ..models.losses import autoencoder_loss
from ..models.pose_lr import pose_lr_optimizer
from ..nn.graphs import GraphEncoder
from ..train import (
    TrainConfig,
    budget_scheduler,
    fit,
    input_dataset,
    mix_seed,
    quiet_training_log,
    seeded,
)
from ._graph_plots import plot_graphs
from .recipe import GIAERecipe, Split, evaluate_model, giae_experiment, train_companion

__all__ = ["EXPERIMENT", "GraphsConfig", "build_model", "load_data"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=100_000, batch_size=64, lr=2e-3, optimizer="adam", max_steps=8000,
                       time_limit_minutes=10.0, checkpoint_every=1000, log_every=50)


@dataclass
class GraphsConfig:
    """Settings of graphs: ``model`` (``giae`` or ``classical``); ``data`` (``atlas``, ``sbm``
    or your ``.npz`` of ``adjacency``, optional ``mask`` and ``labels``, split 80 % / 20 %);
    ``max_nodes`` (every graph up to this size, 0 to 8, or your graphs' most nodes: the model's
    slots); ``split`` (``class``: a seeded ``test_fraction`` of the isomorphism classes is
    only tested on; ``relabel``: every class in both, the test set new relabellings);
    relabelled ``train_copies``/``test_copies`` per class; the SBM sizes; the
    encoder and decoder widths (:class:`~quotient.models.graph_giae.GraphGIAE`); the pose's
    relaxation, entropy and ``pose_lr_scale`` (0: the pose network stays fixed);
    ``baseline_minutes`` for the classical autoencoder trained after the GIAE (0: none), or
    ``baseline_steps`` > 0 to train it for that many steps (``baseline_minutes`` then only a
    safety limit), so that its figures do not depend on the machine's load."""

    train: TrainConfig = field(default_factory=_default_train)
    model: Literal["giae", "classical"] = "giae"
    data: str = "atlas"
    max_nodes: int = 7
    split: Literal["class", "relabel"] = "class"
    test_fraction: float = 0.2
    train_copies: int = 1
    test_copies: int = 1
    sbm_nodes: int = 10
    sbm_train: int = 4000
    sbm_test: int = 1000
    latent_dim: int = 32
    channels: int = 32
    layers: int = 3
    pose_channels: int = 16
    pose_layers: int = 2
    walks: int = 1
    batch_norm: bool = True
    decoder_hidden: int = 256
    decoder_layers: int = 2
    tau: float = 1.0
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    pose_method: Literal["individualize", "sort"] = "individualize"
    entropy_weight: float = 0.01
    pose_lr_scale: float = 0.0
    eval_every: int = 20
    check_samples: int = 10_000
    baseline_minutes: float = 1.0
    baseline_steps: int = 0
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"


BUILT_IN = ("atlas", "sbm")


def _check_settings(cfg: GraphsConfig) -> None:
    """The split's settings, raised as one-line :class:`~quotient.errors.ConfigError` s."""
    from ..data.graph_classes import MAX_CLASS_NODES

    if cfg.split not in ("class", "relabel"):
        raise ConfigError(f"split must be 'class' (test on unseen isomorphism classes) or "
                          f"'relabel' (test on new labellings of the training graphs), got "
                          f"{cfg.split!r}")
    if isinstance(cfg.test_fraction, bool) or not isinstance(cfg.test_fraction, (int, float)) \
            or not 0.0 < cfg.test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be strictly between 0 and 1 (the share of "
                          f"isomorphism classes held out), got {cfg.test_fraction!r}")
    if cfg.data == "atlas" and not 0 <= cfg.max_nodes <= MAX_CLASS_NODES:
        raise ConfigError(f"max_nodes={cfg.max_nodes}: the built-in graphs go up to "
                          f"{MAX_CLASS_NODES} nodes (all 1,253 graphs up to 7 nodes and the "
                          f"12,346 on 8); set max_nodes <= {MAX_CLASS_NODES} or pass your own "
                          "graphs (data=FILE.npz)")
    if cfg.baseline_steps < 0:
        raise ConfigError(f"baseline_steps must be >= 0 (0: train the baseline for "
                          f"baseline_minutes), got {cfg.baseline_steps!r}")


def load_data(cfg: GraphsConfig) -> Split:
    """``(adjacency, mask)`` of the training and the test graphs (or of your file's split,
    titled by its name); the :class:`~quotient.data.graphs.GraphSet` s, which test graphs are
    rigid and, with the class split, a second relabelling of the test graphs (``reference``,
    the retrieval set of the unseen classes) in ``extras``."""
    _check_settings(cfg)
    labels: tuple[Any, Any] = (None, None)
    seed, dtype, name = mix_seed(cfg.train.seed, "graphs-data"), getattr(torch, cfg.dtype), "graphs"
    if cfg.data in BUILT_IN:
        train, test = graph_split(
            cfg.data, seed=seed, max_nodes=cfg.max_nodes, train_copies=cfg.train_copies,
            test_copies=cfg.test_copies, sbm_nodes=cfg.sbm_nodes, sbm_train=cfg.sbm_train,
            sbm_test=cfg.sbm_test, split=cfg.split, test_fraction=cfg.test_fraction,
            dtype=dtype)
    elif cfg.data.endswith(".npz") or Path(cfg.data).exists():
        train, test, labels, name = own_graph_split(cfg.data, max_nodes=cfg.max_nodes, seed=seed,
                                                    batch_size=cfg.train.batch_size, dtype=dtype)
    else:
        raise ConfigError(f"data must be 'atlas', 'sbm' or the path of an .npz file of your "
                          f"graphs, got {cfg.data!r}")
    extras = {"train": train, "test": test, "rigid": rigid_graphs(*test.inputs)}
    if _unseen_classes(cfg):
        # the training set holds none of the test classes: retrieve and compare them among
        # another labelling of themselves
        extras["reference"] = relabel_set(test, seed + 2)
    return Split(train.inputs, test.inputs, *labels, name=f"{name} ({cfg.model})", extras=extras)


def _unseen_classes(cfg: GraphsConfig) -> bool:
    """Whether the test graphs' classes are absent from training: the class split, and SBM
    draws (new graphs, almost surely non-isomorphic to every training graph)."""
    return cfg.data == "sbm" or (cfg.data == "atlas" and cfg.split == "class")


def check_data(cfg: GraphsConfig) -> None:
    """The settings and your graphs, checked before a run directory is made."""
    _check_settings(cfg)
    if cfg.data not in BUILT_IN:
        load_data(cfg)


def build_model(cfg: GraphsConfig, split: Split | None = None) -> nn.Module:
    """The configured model, initialised from a generator seeded by ``cfg.train.seed``."""
    n = cfg.sbm_nodes if cfg.data == "sbm" else cfg.max_nodes  # atlas and your graphs: padded
    classical = cfg.model == "classical"
    with seeded(mix_seed(cfg.train.seed, "graphs-baseline" if classical else "graphs-init")):
        if classical:
            model: nn.Module = GraphMLPAutoencoder(
                n, latent_dim=cfg.latent_dim, hidden=cfg.decoder_hidden, layers=cfg.decoder_layers)
        else:
            model = GraphGIAE(n, mode=cfg.perm_mode, **{k: getattr(cfg, k) for k in (
                "latent_dim", "channels", "layers", "pose_channels", "pose_layers", "walks",
                "batch_norm", "decoder_hidden", "decoder_layers", "tau", "pose_method",
                "entropy_weight")})
    return model.to(getattr(torch, cfg.dtype))


def _metrics(cfg: GraphsConfig, model: nn.Module, split: Split,
             report: SymmetryReport) -> dict[str, Any]:
    train, test = split.extras["train"], split.extras["test"]
    # retrieval and canonical agreement need every test class among the references: the
    # training graphs (relabel split) or another labelling of the unseen test graphs
    reference = split.extras.get("reference", train)
    ref, out = gm.graph_outputs(model, reference.inputs), gm.graph_outputs(model, test.inputs)
    fit_out = ref if reference is train else gm.graph_outputs(model, train.inputs)
    metrics: dict[str, Any] = {}
    if cfg.data in BUILT_IN:  # your graphs have no isomorphism classes (labels: knn_acc)
        metrics["knn_acc"] = gm.isomorphism_retrieval(out["z"], test.graph_index, ref["z"],
                                                      reference.graph_index)
    if cfg.data == "atlas":
        train_classes = set(train.graph_index.tolist())
        test_classes = set(test.graph_index.tolist())
        metrics.update(train_classes=len(train_classes), test_classes=len(test_classes),
                       shared_classes=len(train_classes & test_classes))
    metrics["train_graph_acc"] = gm.graph_reconstruction_metrics(fit_out["reconstruction"],
                                                                 *train.inputs)["graph_acc"]
    if isinstance(model, GraphGIAE):
        if cfg.data in BUILT_IN:  # every test class has a reference copy to agree with
            metrics["canonical_agreement"] = gm.canonical_agreement(
                gm.canonical_graphs(test.adjacency, out["order"]), test.graph_index,
                gm.canonical_graphs(reference.adjacency, ref["order"]), reference.graph_index)
        metrics.update(gm.rigid_breakdown(report, split.extras["rigid"]))
    return metrics


def _baseline(cfg: GraphsConfig, split: Split) -> dict[str, Any]:
    """The classical autoencoder trained for ``baseline_steps`` steps (or, with 0, for
    ``baseline_minutes``) and evaluated as a ``model="classical"`` run would be
    (``baseline_*``)."""
    if cfg.model != "giae" or (cfg.baseline_minutes <= 0 and cfg.baseline_steps <= 0):
        return {}
    base = dataclasses.replace(cfg, model="classical")
    if cfg.baseline_steps > 0:
        # a step budget with a cosine over the steps; the minutes only stop a runaway run
        minutes = cfg.baseline_minutes if cfg.baseline_minutes > 0 else None
        tcfg = dataclasses.replace(cfg.train, max_steps=cfg.baseline_steps, checkpoint_every=0,
                                   progress=False, time_limit_minutes=minutes)
        warmup = min(100, max(1, cfg.baseline_steps // 5))
        with quiet_training_log():
            result = fit(build_model(base), autoencoder_loss, input_dataset(split.train), tcfg,
                         scheduler=budget_scheduler(cfg.baseline_steps, minutes, warmup))
    else:
        result = train_companion(build_model(base), split.train, cfg.train,
                                 cfg.baseline_minutes)
    metrics = evaluate_model(RECIPE, base, result.model.cpu(), split)
    metrics.update(steps=result.step, train_seconds=result.train_seconds,
                   stop_reason=result.stop_reason)
    return {f"baseline_{k}": v for k, v in metrics.items()}


RECIPE = GIAERecipe(
    name="graphs",
    description="S_n-invariant autoencoder for graphs (2nd-order encoder, individualised "
                "SoftSort pose) on all graphs with up to 7 (or 8) nodes, tested on unseen "
                "isomorphism classes",
    config_cls=GraphsConfig, data=load_data, model=build_model, metrics=_metrics,
    check=check_data,
    rec_metrics=lambda model, x: gm.graph_reconstruction_metrics(
        gm.graph_outputs(model, x)["reconstruction"], *x),
    optimizer=lambda cfg, model: pose_lr_optimizer(model, cfg.train, cfg.pose_lr_scale),
    companions=_baseline, plots=plot_graphs,
    symmetry=lambda cfg: (GraphEncoder.symmetry, None))  # what the classical code is checked on
EXPERIMENT = giae_experiment(RECIPE)
"""The ``graphs`` experiment: the S_n GIAE on graphs, tested on unseen isomorphism classes."""
