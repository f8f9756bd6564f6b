"""graphs: an S_n-invariant autoencoder for graphs (A ↦ P A Pᵀ) on every graph with ≤ 7 nodes.

Data (:func:`~quotient.data.graphs.graph_split`): the 1,253 atlas graphs padded to 7 slots, under
random relabellings of all slots, tested on held-out relabellings (``atlas``), or SBM graphs, or
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

from ..data.graphs import graph_split, own_graph_split, rigid_graphs
from ..errors import ConfigError
from ..metrics import SymmetryReport
from ..metrics import graphs as gm
from ..models.graph_giae import GraphGIAE, GraphMLPAutoencoder
from ..models.pose_lr import pose_lr_optimizer
from ..nn.graphs import GraphEncoder
from ..train import TrainConfig, mix_seed, seeded
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
    ``max_nodes`` (atlas graphs up to this size, or your graphs' most nodes: the model's
    slots); relabelled ``train_copies``/``test_copies`` per atlas class; the SBM sizes; the
    encoder and decoder widths (:class:`~quotient.models.graph_giae.GraphGIAE`); the pose's
    relaxation, entropy and ``pose_lr_scale`` (0: the pose network stays fixed);
    ``baseline_minutes`` for the classical autoencoder trained after the GIAE (0: none)."""

    train: TrainConfig = field(default_factory=_default_train)
    model: Literal["giae", "classical"] = "giae"
    data: str = "atlas"
    max_nodes: int = 7
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
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"


BUILT_IN = ("atlas", "sbm")


def load_data(cfg: GraphsConfig) -> Split:
    """``(adjacency, mask)`` of the training graphs and of the held-out relabellings (or of
    your file's split, titled by its name); the :class:`~quotient.data.graphs.GraphSet` s and
    which test graphs are rigid in ``extras``."""
    labels: tuple[Any, Any] = (None, None)
    seed, dtype, name = mix_seed(cfg.train.seed, "graphs-data"), getattr(torch, cfg.dtype), "graphs"
    if cfg.data in BUILT_IN:
        train, test = graph_split(
            cfg.data, seed=seed, max_nodes=cfg.max_nodes, train_copies=cfg.train_copies,
            test_copies=cfg.test_copies, sbm_nodes=cfg.sbm_nodes, sbm_train=cfg.sbm_train,
            sbm_test=cfg.sbm_test, dtype=dtype)
    elif cfg.data.endswith(".npz") or Path(cfg.data).exists():
        train, test, labels, name = own_graph_split(cfg.data, max_nodes=cfg.max_nodes, seed=seed,
                                                    batch_size=cfg.train.batch_size, dtype=dtype)
    else:
        raise ConfigError(f"data must be 'atlas', 'sbm' or the path of an .npz file of your "
                          f"graphs, got {cfg.data!r}")
    return Split(train.inputs, test.inputs, *labels, name=f"{name} ({cfg.model})",
                 extras={"train": train, "test": test, "rigid": rigid_graphs(*test.inputs)})


def check_data(cfg: GraphsConfig) -> None:
    """Your graphs, checked before a run directory is made."""
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
    ref, out = gm.graph_outputs(model, train.inputs), gm.graph_outputs(model, test.inputs)
    metrics: dict[str, Any] = {}
    if cfg.data in BUILT_IN:  # your graphs have no isomorphism classes (labels: knn_acc)
        metrics["knn_acc"] = gm.isomorphism_retrieval(out["z"], test.graph_index, ref["z"],
                                                      train.graph_index)
    metrics["train_graph_acc"] = gm.graph_reconstruction_metrics(ref["reconstruction"],
                                                                 *train.inputs)["graph_acc"]
    if isinstance(model, GraphGIAE):
        if cfg.data == "atlas":  # every class has a training copy to agree with
            metrics["canonical_agreement"] = gm.canonical_agreement(
                gm.canonical_graphs(test.adjacency, out["order"]), test.graph_index,
                gm.canonical_graphs(train.adjacency, ref["order"]), train.graph_index)
        metrics.update(gm.rigid_breakdown(report, split.extras["rigid"]))
    return metrics


def _baseline(cfg: GraphsConfig, split: Split) -> dict[str, Any]:
    """The classical autoencoder trained for ``baseline_minutes`` and evaluated as a
    ``model="classical"`` run would be (``baseline_*``)."""
    if cfg.model != "giae" or cfg.baseline_minutes <= 0:
        return {}
    base = dataclasses.replace(cfg, model="classical")
    result = train_companion(build_model(base), split.train, cfg.train, cfg.baseline_minutes)
    metrics = evaluate_model(RECIPE, base, result.model.cpu(), split)
    metrics.update(steps=result.step, train_seconds=result.train_seconds)
    return {f"baseline_{k}": v for k, v in metrics.items()}


RECIPE = GIAERecipe(
    name="graphs",
    description="S_n-invariant autoencoder for graphs (2nd-order encoder, individualised "
                "SoftSort pose) on all 1,253 graphs with up to 7 nodes",
    config_cls=GraphsConfig, data=load_data, model=build_model, metrics=_metrics,
    check=check_data,
    rec_metrics=lambda model, x: gm.graph_reconstruction_metrics(
        gm.graph_outputs(model, x)["reconstruction"], *x),
    optimizer=lambda cfg, model: pose_lr_optimizer(model, cfg.train, cfg.pose_lr_scale),
    companions=_baseline, plots=plot_graphs,
    symmetry=lambda cfg: (GraphEncoder.symmetry, None))  # what the classical code is checked on
EXPERIMENT = giae_experiment(RECIPE)
