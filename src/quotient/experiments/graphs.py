"""graphs: an S_n-invariant autoencoder for graphs (A ↦ P A Pᵀ) on every graph with ≤ 7 nodes.

Data (``data="atlas"``): the 1,253 isomorphism classes of the graph atlas, padded to 7 slots with
a node mask, each shown under uniformly random relabellings of all slots; the test set is the
same classes under *held-out* relabellings (another seed). ``data="sbm"``: stochastic-block-model
graphs (10 nodes, two blocks), train and test graphs drawn independently.

Model (:class:`~quotient.models.graph_giae.GraphGIAE`): a second-order (edge-level) equivariant
encoder gives the invariant code z and per-node scores; the pose is a node order found by
individualisation–refinement with SoftSort rows (exact permutation forward and at evaluation);
an MLP decodes z into canonical edge logits; reconstruction ``Sᵀ L̂ S``; loss BCE over real node
pairs + ``entropy_weight`` × row/column entropy of the relaxed permutation. The pose network μ
trains with ``pose_lr_scale`` × the learning rate (0 keeps its random initialisation, which is
already a canonical labelling: a drifting node order makes the decoder chase a moving target).

Metrics (held-out relabellings): ``edge_acc``, ``graph_acc`` (exact reconstructions),
``rec_bce``, ``rec_mse``, ``inv_err`` (max ‖z(σ·A) − z(A)‖ / spread of z, in the training dtype;
``inv_err_f64`` the same with the trained weights in float64),
``canonical_agreement`` (test and training copies of a class decode through the same canonical
adjacency), ``knn_acc`` (1-NN retrieval of the isomorphism class of a test graph among the
training codes) and the same for a classical order-dependent autoencoder (``baseline_*``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import permute_graph
from ..groups import SymmetricGroup
from ..metrics.graphs import (
    edge_accuracy,
    graph_accuracy,
    isomorphism_retrieval,
    pack_graphs,
    unpack_graphs,
)
from ..metrics.symmetry import invariance_error
from ..models.graph_giae import GraphGIAE, GraphMLPAutoencoder, edge_probabilities, upper_pairs
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
from ._giae_common import (
    EpochEval,
    budget_scheduler,
    finish_budget,
    giae_loss,
    n_params,
    quiet_training_log,
    use_threads,
)
from ._graph_plots import plot_code_embedding, plot_reconstructions

__all__ = ["EXPERIMENT", "GraphsConfig", "build_model", "evaluate_model", "load_graphs"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=100_000, batch_size=64, lr=2e-3, optimizer="adam", max_steps=8000,
                       time_limit_minutes=10.0, checkpoint_every=1000, log_every=50)


@dataclass
class GraphsConfig:
    """Settings of graphs.

    Attributes:
        train: training-loop settings; the learning rate follows a cosine over ``max_steps`` or
            ``time_limit_minutes`` (the time budget), whichever runs out first.
        data: ``"atlas"`` (all graphs with up to 7 nodes) or ``"sbm"`` (stochastic block model).
        max_nodes: atlas graphs with at most this many nodes (≤ 7), padded to that size.
        train_copies, test_copies: relabelled copies per atlas class in the training / test set.
        sbm_nodes, sbm_train, sbm_test: SBM graph size and number of graphs.
        latent_dim, channels, layers: code trunk; pose_channels, pose_layers: pose trunk.
        walks: input walk-count channels ``A^k``, k ≤ walks; batch_norm: normalise pooled codes.
        decoder_hidden, decoder_layers: decoder MLP.
        tau, perm_mode, pose_method, entropy_weight: pose relaxation and penalty.
        pose_lr_scale: learning-rate factor of the pose network μ (0: keep it fixed).
        eval_every: evaluate a probe of the test set every this many epochs.
        baseline_minutes: training time of the classical autoencoder (0: skip it).
        threads: CPU threads (0: torch's default); dtype: ``"float32"`` or ``"float64"``.
    """

    train: TrainConfig = field(default_factory=_default_train)
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
    baseline_minutes: float = 1.0
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"


def load_graphs(cfg: GraphsConfig) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Training and held-out graphs as dicts of ``adjacency``, ``mask``, ``graph_index`` (class),
    ``n_edges``; the test set holds relabellings never seen in training."""
    seed = mix_seed(cfg.train.seed, "graphs-data")
    if cfg.data == "atlas":
        from ..data.graph_atlas import make_atlas_graphs

        parts = [make_atlas_graphs(c, n_max=cfg.max_nodes, max_nodes=cfg.max_nodes,
                                   seed=seed + k).tensors()
                 for k, c in enumerate((cfg.train_copies, cfg.test_copies))]
    else:
        from ..data.graphs import make_sbm_graphs

        parts = []
        for k, count in enumerate((cfg.sbm_train, cfg.sbm_test)):
            g = make_sbm_graphs(count, cfg.sbm_nodes, seed=seed + k)
            parts.append({"adjacency": g.adjacency,
                          "mask": torch.ones(count, cfg.sbm_nodes, dtype=torch.bool),
                          "graph_index": torch.arange(count) + k * cfg.sbm_train,
                          "n_edges": g.adjacency.sum(dim=(1, 2)).long() // 2})
    dtype = getattr(torch, cfg.dtype)
    keep = ("adjacency", "mask", "graph_index", "n_edges")
    out = tuple({k: (v.to(dtype) if k == "adjacency" else v) for k, v in p.items() if k in keep}
                for p in parts)
    return out[0], out[1]


def _n_nodes(cfg: GraphsConfig) -> int:
    return cfg.max_nodes if cfg.data == "atlas" else cfg.sbm_nodes


def build_model(cfg: GraphsConfig) -> GraphGIAE:
    """The graph GIAE with weights from a generator seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "graphs-init")):
        model = GraphGIAE(_n_nodes(cfg), latent_dim=cfg.latent_dim, channels=cfg.channels,
                          layers=cfg.layers, pose_channels=cfg.pose_channels,
                          pose_layers=cfg.pose_layers, walks=cfg.walks,
                          batch_norm=cfg.batch_norm, decoder_hidden=cfg.decoder_hidden,
                          decoder_layers=cfg.decoder_layers, tau=cfg.tau, mode=cfg.perm_mode,
                          pose_method=cfg.pose_method, entropy_weight=cfg.entropy_weight)
    return model.to(getattr(torch, cfg.dtype))


def _optimizer(model: GraphGIAE, cfg: GraphsConfig) -> Any:
    """Adam/AdamW/SGD with the pose network μ in its own group at ``pose_lr_scale`` × lr."""
    from ..train import build_optimizer

    pose = {id(p) for p in model.encoder.pose_parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in pose]},
              {"params": [p for p in model.parameters() if id(p) in pose],
               "lr": cfg.train.lr * cfg.pose_lr_scale}]
    return lambda _params: build_optimizer(groups, cfg.train)  # type: ignore[arg-type]


def _chunks(data: dict[str, Tensor], size: int = 512) -> list[dict[str, Tensor]]:
    n = data["adjacency"].shape[0]
    return [{k: v[i:i + size] for k, v in data.items()} for i in range(0, n, size)]


@torch.no_grad()
def _forward(model: nn.Module, data: dict[str, Tensor]) -> dict[str, Tensor]:
    model.eval()
    outs = [model({"adjacency": b["adjacency"], "mask": b["mask"]}) for b in _chunks(data)]
    return {"z": torch.cat([o.z for o in outs]),
            "rec": torch.cat([o.reconstruction for o in outs]),
            "canonical": torch.cat([o.canonical for o in outs]),
            "order": torch.cat([o.pose.element for o in outs])}


def reconstruction_metrics(logits: Tensor, data: dict[str, Tensor]) -> dict[str, float]:
    """``edge_acc``, ``graph_acc``, ``rec_bce`` and ``rec_mse`` over real pairs ``i < j``."""
    adj, mask = data["adjacency"], data["mask"]
    probs = edge_probabilities(logits.double(), mask)
    sel = upper_pairs(mask)
    target = adj.double()[sel]
    bce = nn.functional.binary_cross_entropy_with_logits(logits.double()[sel], target)
    return {"edge_acc": edge_accuracy(probs, adj, mask),
            "graph_acc": graph_accuracy(probs, adj, mask),
            "rec_bce": float(bce), "rec_mse": float((probs[sel] - target).pow(2).mean())}


def _canonical_graphs(out: dict[str, Tensor], data: dict[str, Tensor]) -> Tensor:
    """The input put into canonical order, ``S A Sᵀ`` (N, n, n)."""
    adj, order = data["adjacency"], out["order"]
    n = adj.shape[1]
    rows = torch.gather(adj, 1, order[:, :, None].expand(-1, -1, n))
    return torch.gather(rows, 2, order[:, None, :].expand(-1, n, -1))


@torch.no_grad()
def evaluate_model(model: nn.Module, test: dict[str, Tensor], train: dict[str, Tensor] | None,
                   cfg: GraphsConfig, full: bool = True) -> dict[str, float]:
    """Reconstruction metrics on ``test``; with ``full`` also ``inv_err``, ``knn_acc`` (needs
    ``train``) and, for the GIAE, ``canonical_agreement``."""
    out = _forward(model, test)
    metrics = reconstruction_metrics(out["rec"], test)
    if not full:
        return metrics
    if train is not None:
        ref = _forward(model, train)
        metrics["knn_acc"] = isomorphism_retrieval(out["z"], test["graph_index"], ref["z"],
                                                   train["graph_index"])
        if isinstance(model, GraphGIAE) and cfg.data == "atlas":
            canon_test = _canonical_graphs(out, test)
            first = {int(c): i for i, c in reversed(list(enumerate(train["graph_index"])))}
            idx = torch.tensor([first[int(c)] for c in test["graph_index"]])
            canon_train = _canonical_graphs(ref, train)[idx]
            same = (canon_test == canon_train).flatten(1).all(dim=1)
            metrics["canonical_agreement"] = float(same.double().mean())
    metrics["inv_err"] = code_invariance_error(model, test, cfg)
    return metrics


def code_invariance_error(model: nn.Module, data: dict[str, Tensor], cfg: GraphsConfig) -> float:
    """``max_i ‖z(σ_i·A_i) − z(A_i)‖ / spread(z)`` over random relabellings ``σ_i`` (seeded),
    evaluated in the model's dtype."""
    gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "graphs-eval"))
    n = data["adjacency"].shape[1]
    sigma = SymmetricGroup(n).sample(data["adjacency"].shape[0], generator=gen)
    dtype = next(model.parameters()).dtype
    packed = pack_graphs(data["adjacency"].to(dtype), data["mask"])

    def embed(p: Tensor) -> Tensor:
        adj, mask = unpack_graphs(p)
        return model.embed({"adjacency": adj, "mask": mask})

    model.eval()
    return invariance_error(embed, packed, permute_graph, sigma, reduce="max", batch_size=512)


def _train_baseline(cfg: GraphsConfig, train: dict[str, Tensor],
                    test: dict[str, Tensor]) -> dict[str, float]:
    with seeded(mix_seed(cfg.train.seed, "graphs-baseline")):
        model = GraphMLPAutoencoder(_n_nodes(cfg), latent_dim=cfg.latent_dim,
                                    hidden=cfg.decoder_hidden, layers=cfg.decoder_layers)
    model = model.to(getattr(torch, cfg.dtype))
    tcfg = dataclasses.replace(cfg.train, max_steps=None, checkpoint_every=0,
                               time_limit_minutes=cfg.baseline_minutes, progress=False)
    schedule = budget_scheduler(None, cfg.baseline_minutes)
    data = TensorDictDataset(adjacency=train["adjacency"], mask=train["mask"])
    with quiet_training_log():  # its time limit is its budget, not an interruption
        result = fit(model, giae_loss, data, tcfg, scheduler=schedule)
    metrics = evaluate_model(result.model, test, train, cfg)
    seen = reconstruction_metrics(_forward(result.model, train)["rec"], train)
    out = {f"baseline_{k}": v for k, v in metrics.items()}
    out.update(baseline_train_graph_acc=seen["graph_acc"], baseline_steps=result.step,
               baseline_train_seconds=result.train_seconds)
    return out


def run(cfg: GraphsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train the GIAE (resumable), then the classical baseline; evaluate, plot, return metrics."""
    with use_threads(cfg.threads):
        return _run(cfg, run_dir, resume)


def _run(cfg: GraphsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    train, test = load_graphs(cfg)
    model = build_model(cfg)
    probe = {k: v[:1000] for k, v in test.items()}
    callback = EpochEval(lambda m: {f"test_{k}": v for k, v in
                                    evaluate_model(m, probe, None, cfg, full=False).items()
                                    if k in ("edge_acc", "graph_acc")}, every=cfg.eval_every)
    schedule = budget_scheduler(cfg.train.max_steps, cfg.train.time_limit_minutes)
    data = TensorDictDataset(adjacency=train["adjacency"], mask=train["mask"])
    result = fit(model, giae_loss, data, cfg.train, run_dir, resume=resume,
                 callbacks=[callback], scheduler=schedule, optimizer=_optimizer(model, cfg))
    result = run_dir.last_fit = finish_budget(result, schedule)
    started = time.perf_counter()
    metrics: dict[str, Any] = evaluate_model(result.model, test, train, cfg)
    model64 = build_model(cfg).double()
    model64.load_state_dict(result.model.state_dict())
    metrics["inv_err_f64"] = code_invariance_error(model64, test, cfg)
    seen = reconstruction_metrics(_forward(result.model, train)["rec"], train)
    metrics.update(train_graph_acc=seen["graph_acc"], train_seconds=result.train_seconds,
                   steps=result.step, ms_per_step=1000 * result.train_seconds / max(result.step, 1),
                   eval_seconds=time.perf_counter() - started, n_params=n_params(model),
                   n_train=len(data), n_test=int(test["adjacency"].shape[0]),
                   stop_reason=result.stop_reason)
    if cfg.baseline_minutes > 0:
        metrics.update(_train_baseline(cfg, train, test))
    if run_dir.is_writer:
        _plots(result, model, test, run_dir)
    return metrics


def _plots(result: Any, model: GraphGIAE, test: dict[str, Tensor], run_dir: RunDir) -> None:
    from ..plots import plot_learning_curves

    plot_learning_curves(result.history, run_dir.plot_path("learning_curve"),
                         keys=("rec", "perm_entropy"), title="graphs: training loss")
    epochs = [r for r in result.history if r.get("kind") == "epoch"]
    if epochs:
        plot_learning_curves(epochs, run_dir.plot_path("test_accuracy"),
                             keys=("test_edge_acc", "test_graph_acc"), log_y=False,
                             title="graphs: held-out relabellings")
    out = _forward(model, test)
    plot_reconstructions(test, out, run_dir.plot_path("reconstructions"))
    plot_code_embedding(out["z"], test["n_edges"], run_dir.plot_path("embedding"),
                        title="z (PCA), coloured by number of edges")


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the GIAE metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, GraphsConfig)
    train, test = load_graphs(cfg)
    model = build_model(cfg)
    checkpoint = load_model_state(run_dir, model)
    metrics: dict[str, Any] = evaluate_model(model, test, train, cfg)
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="graphs",
    description="S_n-invariant autoencoder for graphs (2nd-order encoder, individualised "
                "SoftSort pose) on all 1,253 graphs with up to 7 nodes",
    config_cls=GraphsConfig,
    run=run,
    evaluate=evaluate,
)
