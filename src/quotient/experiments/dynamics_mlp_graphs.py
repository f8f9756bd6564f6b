"""mlp-graphs: S_10 acting on 10×10 adjacency matrices of stochastic-block-model graphs.

The label (is the graph connected?) is invariant under relabelling the nodes. An MLP
``vec(A) → hidden → score`` whose input representation is ``P_σ ⊗ P_σ`` (``A ↦ P A Pᵀ``), hidden
layer ``hidden_copies`` copies of it, tanh, and an invariant output is trained with NOM, AUG and
EQUI from the same ``A⁰ ∈ E`` (``L`` = all weights, so compatibility holds). ``S_10`` has 3.6
million elements, so augmentation is stochastic: ``draws`` random relabellings per graph and step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..actions import permute_graph
from ..data.graphs import make_sbm_graphs
from ..dynamics import Objective, Symmetry, identity_representation, subspace_mlp
from ..groups import SymmetricGroup, tensor
from ..train import RunDir, mix_seed
from . import Experiment
from .dynamics_common import MLPDynamicsConfig, mse, run_mlp_comparison


@dataclass
class MLPGraphsConfig(MLPDynamicsConfig):
    """Settings of mlp-graphs (see :class:`MLPDynamicsConfig` for the shared ones).

    Attributes:
        n_nodes: nodes per graph (the group is ``S_n_nodes``).
        p_in, p_out: edge probabilities within and between the two blocks.
    """

    augment: Literal["exact", "stochastic"] = "stochastic"
    n_nodes: int = 10
    p_in: float = 0.5
    p_out: float = 0.08
    lr: float = 0.02


def build(cfg: MLPGraphsConfig, seed: int) -> Objective:
    """Graphs, labels and the MLP for one seed."""
    data = make_sbm_graphs(cfg.n_train, cfg.n_nodes, 2, cfg.p_in, cfg.p_out,
                           seed=mix_seed(seed, "mlp-graphs-data"))
    group = SymmetricGroup(cfg.n_nodes)
    perm = group.rep("permutation")
    edges = tensor(perm, perm)
    gen = torch.Generator().manual_seed(mix_seed(seed, "mlp-graphs-init"))
    hidden = tensor(identity_representation(group, cfg.hidden_copies), edges)
    mlp = subspace_mlp([edges, hidden, identity_representation(group, 1)], bias=cfg.bias,
                       generator=gen)
    model = nn.Sequential(nn.Flatten(), mlp, nn.Flatten(0))
    x = data.adjacency.to(torch.float64)
    y = data.connected.to(torch.float64)
    return Objective(model, mse, x, y, Symmetry(group, permute_graph))


def run(cfg: MLPGraphsConfig, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Train NOM, AUG and EQUI (a run takes seconds, so ``--resume`` simply runs again)."""
    return run_mlp_comparison(cfg, lambda s: build(cfg, s), run_dir,
                              f"S{cfg.n_nodes} on SBM adjacency")


EXPERIMENT = Experiment(
    name="mlp-graphs",
    description="S_10 on SBM adjacency matrices: NOM vs AUG vs EQUI MLPs from one point of E",
    config_cls=MLPGraphsConfig,
    run=run,
    kind="dynamics",
)
