"""Run several strategies from the same starting point ``A⁰ ∈ E`` over several seeds.

:func:`compare_strategies` builds one problem per seed, projects its model onto ``E``, and
trains a copy of that same ``A⁰`` with every strategy; :class:`Comparison` holds the
trajectories and summarises them (medians and ranges over seeds) for reports and plots.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .layers import project_to_E
from .training import Objective, Strategy, Trajectory, train


@dataclass
class Comparison:
    """Trajectories per label (strategy, or space + strategy), one per seed.

    Attributes:
        runs: ``label -> [trajectory of seed 0, seed 1, ...]``.
        seeds: the seeds, in order.
    """

    runs: dict[str, list[Trajectory]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)

    def add(self, label: str, trajectory: Trajectory) -> None:
        """Append one seed's trajectory under ``label``."""
        self.runs.setdefault(label, []).append(trajectory)

    @property
    def steps(self) -> list[int]:
        """Recorded step numbers (of the first run)."""
        first = next(iter(self.runs.values()))
        return first[0].steps

    def curves(self, key: str = "distance") -> dict[str, list[list[float]]]:
        """``label -> (seeds × steps)`` values of a trajectory field."""
        return {label: [getattr(t, key) for t in runs] for label, runs in self.runs.items()}

    def drift_vs_distance(self) -> dict[str, list[tuple[list[float], list[float]]]]:
        """``label -> [(drift, distance) per seed]``."""
        return {label: [(t.drift, t.distance) for t in runs] for label, runs in self.runs.items()}

    def summary(self, prefix: str = "") -> dict[str, float]:
        """Final-step medians (and maxima of the distance) per label, as flat metrics."""
        out: dict[str, float] = {}
        for label, runs in self.runs.items():
            key = f"{prefix}{label}".replace(" ", "_").replace("/", "_")
            final = [t.distance[-1] for t in runs]
            out[f"{key}/distance_final_median"] = statistics.median(final)
            out[f"{key}/distance_final_max"] = max(final)
            out[f"{key}/relative_distance_final_median"] = statistics.median(
                t.relative_distance[-1] for t in runs)
            out[f"{key}/drift_final_median"] = statistics.median(t.drift[-1] for t in runs)
            out[f"{key}/loss_final_median"] = statistics.median(t.loss[-1] for t in runs)
        return out

    def records(self) -> list[dict[str, Any]]:
        """Every recorded step of every run, with its label and seed (for ``metrics.jsonl``)."""
        rows = []
        for label, runs in self.runs.items():
            for seed, traj in zip(self.seeds, runs, strict=False):
                for rec in traj.records():
                    rows.append({"kind": "step", "label": label, "seed": seed, **rec})
        return rows


def compare_strategies(build: Callable[[int], Objective], strategies: Sequence[Strategy], *,
                       seeds: Sequence[int], steps: int, lr: float, record_every: int = 1,
                       comparison: Comparison | None = None, prefix: str = "",
                       progress: Callable[[str], None] | None = None) -> Comparison:
    """Train every strategy from the same ``A⁰ ∈ E`` (per seed).

    Args:
        build: ``seed -> Objective``; its model is projected onto ``E`` to give ``A⁰``.
        strategies: the strategies to compare.
        seeds: one problem (data draw, initial weights) per seed.
        steps, lr, record_every: passed to :func:`~quotient.dynamics.train`.
        comparison: add to an existing comparison (labels are ``prefix + strategy.label``).
        progress: called with a short message after each run.
    """
    out = comparison or Comparison()
    for seed in seeds:
        if seed not in out.seeds:
            out.seeds.append(seed)
        objective = build(seed)
        project_to_E(objective.model)
        start = copy.deepcopy(objective.model.state_dict())
        for i, strategy in enumerate(strategies):
            objective.model.load_state_dict(start)
            gen = torch.Generator().manual_seed(1000 * seed + i)
            traj = train(objective, strategy, steps=steps, lr=lr, generator=gen,
                         record_every=record_every)
            out.add(prefix + strategy.label, traj)
            if progress is not None:
                progress(f"seed {seed} {prefix}{strategy.label}: distance "
                         f"{traj.distance[-1]:.3g}, drift {traj.drift[-1]:.3g}")
    return out
