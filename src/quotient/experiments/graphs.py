"""graphs: an S_n-invariant autoencoder for graphs (A ↦ P A Pᵀ) on every graph with ≤ 7 nodes.

Data (:func:`~quotient.data.graphs.graph_split`): the 1,253 atlas graphs padded to 7 slots,
under random relabellings of all slots, tested on held-out relabellings (``atlas``), or SBM
graphs. Model: :class:`~quotient.models.graph_giae.GraphGIAE` (``giae``; its pose network
trains at ``pose_lr_scale`` × the rate, 0 keeps its random initialisation, already a canonical
labelling) or the order-dependent ``classical`` autoencoder, also trained after the GIAE for
``baseline_minutes`` (``baseline_*``). Metrics (:mod:`quotient.metrics.graphs`): edge and graph
accuracy, isomorphism retrieval (``knn_acc``), ``canonical_agreement``, the symmetry report and
its pose and reconstruction errors on the graphs without automorphisms (``*_rigid``), the only
ones whose node order is unique (``docs/giae_graphs.md``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from ..data.graphs import graph_split, rigid_graphs
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
    """Settings of graphs.

    Attributes:
        train: training settings (cosine rate over ``max_steps`` or ``time_limit_minutes``).
        model: ``"giae"`` or ``"classical"``; data: ``"atlas"`` or ``"sbm"``.
        max_nodes: atlas graphs with at most this many nodes (≤ 7), padded to that size.
        train_copies, test_copies: relabelled copies per atlas class in the training / test set.
        sbm_nodes, sbm_train, sbm_test: SBM graph size and number of graphs.
        latent_dim, channels, layers: code trunk; pose_channels, pose_layers: pose trunk;
            walks: input channels ``A^k``, k ≤ walks; batch_norm: normalise pooled codes.
        decoder_hidden, decoder_layers: decoder MLP (and the classical encoder's).
        tau, perm_mode, pose_method, entropy_weight: pose relaxation and penalty;
            pose_lr_scale: learning-rate factor of the pose network μ (0: keep it fixed).
        eval_every: evaluate 1,000 test graphs every this many epochs; check_samples: test
            graphs in the symmetry report (all of the default test sets).
        baseline_minutes: training time of the classical autoencoder after the GIAE (0: none).
        threads: CPU threads (0: torch's default); dtype: ``"float32"`` or ``"float64"``.
    """

    train: TrainConfig = field(default_factory=_default_train)
    model: Literal["giae", "classical"] = "giae"
    data: Literal["atlas", "sbm"] = "atlas"
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


def load_data(cfg: GraphsConfig) -> Split:
    """``(adjacency, mask)`` of the training graphs and of the held-out relabellings; the
    :class:`~quotient.data.graphs.GraphSet` s and which test graphs are rigid in ``extras``."""
    train, test = graph_split(
        cfg.data, seed=mix_seed(cfg.train.seed, "graphs-data"), max_nodes=cfg.max_nodes,
        train_copies=cfg.train_copies, test_copies=cfg.test_copies, sbm_nodes=cfg.sbm_nodes,
        sbm_train=cfg.sbm_train, sbm_test=cfg.sbm_test, dtype=getattr(torch, cfg.dtype))
    return Split(train.inputs, test.inputs, name=f"graphs ({cfg.model})",
                 extras={"train": train, "test": test, "rigid": rigid_graphs(*test.inputs)})


def build_model(cfg: GraphsConfig, split: Split | None = None) -> nn.Module:
    """The configured model, initialised from a generator seeded by ``cfg.train.seed``."""
    n = cfg.max_nodes if cfg.data == "atlas" else cfg.sbm_nodes
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
    metrics: dict[str, Any] = {
        "knn_acc": gm.isomorphism_retrieval(out["z"], test.graph_index, ref["z"],
                                            train.graph_index),
        "train_graph_acc": gm.graph_reconstruction_metrics(ref["reconstruction"],
                                                           *train.inputs)["graph_acc"]}
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
    rec_metrics=lambda model, x: gm.graph_reconstruction_metrics(
        gm.graph_outputs(model, x)["reconstruction"], *x),
    optimizer=lambda cfg, model: pose_lr_optimizer(model, cfg.train, cfg.pose_lr_scale),
    companions=_baseline, plots=plot_graphs,
    symmetry=lambda cfg: (GraphEncoder.symmetry, None))  # what the classical code is checked on
EXPERIMENT = giae_experiment(RECIPE)
