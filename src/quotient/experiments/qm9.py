"""qm9: an E(3) × S_n-invariant autoencoder for QM9 molecules (up to 29 atoms, 5 elements),
and transfer of its encoder to property prediction.

Needs the optional extra ``qm9`` (``pip install 'quotient[qm9]'``) or a folder with the QM9
files (``data_root``); data: :func:`~quotient.data.qm9.qm9_split`. Model
(:func:`~quotient.models.qm9_giae.qm9_giae`): an EGNN, the anchor frame with the
reflection fixed by a pseudoscalar, SoftSort atom order, ``z`` from the sorted frame
coordinates and atom features, a decoder to 29 slots of coordinates and element probabilities
(both with a linear path beside their MLP, ``linear_path``), the Procrustes pose; loss:
coordinate MSE + element NLL + 0.025 × SoftSort entropy. Training counts steps
(``train.max_steps``); ``train.time_limit_minutes`` is a safety stop.

Metrics: ``rmsd`` (Å, mean over held-out molecules), ``rmsd_median``, ``type_acc``,
``bond_match`` (share of held-out molecules whose reconstruction has the input's bond graph,
perceived by RDKit; left out with a logged note without the extra ``chem``), the symmetry report
(``inv_err_exact`` … under random E(3) motions with translations N(0, 5²) Å and atom
permutations), and the transfer study (:func:`transfer_study`): property heads for each of
``properties`` (default the HOMO–LUMO gap in eV and the isotropic polarizability α in bohr³)
on ``transfer_fractions`` of the training labels, the encoder pre-trained (fine-tuned at
``transfer_encoder_lr``) or from scratch (at ``transfer_lr``), ``transfer_seeds`` seeds each,
the same number of optimiser steps for both; and a frozen-encoder probe (a head on the fixed
codes of the pre-trained encoder against those of a random one). Figures
``transfer_mae_{prop}_{pct}pct_{init}_mean`` / ``_std`` (``init`` in ``pretrained``,
``scratch``, ``probe_pretrained``, ``probe_random``), curves in ``plots/transfer.png`` and
``transfer_curves.json``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..data.qm9 import QM9_ELEMENTS, QM9_MAX_ATOMS, QM9_PROPERTIES, qm9_split
from ..errors import ConfigError
from ..groups import E3, SymmetricGroup, product
from ..metrics.sets import molecule_reconstruction_metrics
from ..models.qm9_giae import qm9_giae
from ..models.transfer import (
    FixedCodes,
    PropertyFit,
    encode_all,
    fit_property_head,
    seeded_property_model,
)
from ..train import (
    RunDir,
    TrainConfig,
    load_model_state,
    mix_seed,
    saved_config,
    seeded,
    use_threads,
)
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "PROPERTY_UNITS", "QM9Config", "build_model", "load_data",
           "transfer_from_run", "transfer_study"]

PROPERTY_UNITS: dict[str, str] = {
    "HOMO_LUMO_gap_au": "eV", "HOMO_au": "eV", "LUMO_au": "eV", "ZPVE_au": "eV",
    "Dipole_debye": "D", "Polarizability_bohr3": "bohr³", "R2_bohr2": "bohr²",
    "Heatcapacity_Cv_cal_mol_K": "cal/(mol K)",
}
"""Units of the properties as :func:`~quotient.data.qm9.qm9_split` returns them (energies
converted from hartree to eV)."""

_SHORT = {"HOMO_LUMO_gap_au": "gap", "Polarizability_bohr3": "alpha", "Dipole_debye": "mu",
          "ZPVE_au": "zpve"}


def _short(prop: str) -> str:
    """Key fragment of a property in the metric names (``gap``, ``alpha``, ...)."""
    return _SHORT.get(prop, prop.lower())


def _default_train() -> TrainConfig:
    # 70-160 ms a step on one shared CPU thread: 6k steps take 7-16 minutes; the time limit is
    # only a safety stop (the schedule anneals over whichever budget runs out first). With the
    # linear paths a rate of 1e-3 over 12k steps reached 0.08 Å at step 3k and then blew up
    # (loss 0.009 -> 218 at step ~3.9k): 5e-4 over 6k steps
    return TrainConfig(epochs=1000, batch_size=32, lr=5e-4, optimizer="adam", max_steps=6000,
                       time_limit_minutes=20.0, checkpoint_every=1000, log_every=50,
                       grad_clip=1.0)


@dataclass
class QM9Config:
    """Settings of qm9 (the autoencoder trains 6k steps, 7-16 minutes on 2 CPU cores; the
    transfer study adds about ``2 · |properties| · |fractions| · seeds`` fine-tuning runs of
    ``transfer_steps`` steps).

    Attributes:
        train: autoencoder training; the cosine schedule ends at ``max_steps`` or
            ``time_limit_minutes``, whichever comes first (the latter a safety).
        data_root: folder with QM9 files (``qm9_part*.csv`` or ``*.xyz``); empty: the
            ``qm9pack`` package.
        n_train, n_test: molecules drawn at random (seeded) for training and evaluation.
        latent_dim, hidden, egnn_layers, code_hidden, decoder_hidden: model sizes.
        z_from: ``"pooled"`` (``z = ρ(Σ_i φ(y_i, h_i))``) or ``"sorted"`` (``z = MLP(S·[y, h])``,
            the frame coordinates and atom features in the canonical order).
        type_weight: weight of the element likelihood; entropy_weight: SoftSort entropy.
        linear_path: linear paths beside the code and decoder MLPs
            (:class:`~quotient.models.qm9_giae.LinearPlusMLP`; false: the older architecture).
        second_point: the anchor frame's rule for its second point (``"axis_anchor"``, or the
            older ``"axis"``, see :func:`~quotient.models.qm9_giae.qm9_giae`).
        properties: QM9 columns predicted in the transfer study (empty: no transfer study).
        transfer_fractions: fractions of the training molecules whose labels the property
            heads see, each in (0, 1] (empty: no transfer study).
        transfer_seeds: seeds per (property, fraction, initialisation): the labelled subset,
            the data order, the head's and the fresh encoder's weights.
        transfer_steps: optimiser steps of each property head run (0: train for
            ``transfer_minutes`` instead, the older wall-clock budget).
        transfer_evals: points of each run's learning curve (train and test MAE of 256
            molecules each; the final point on all test molecules and 500 training ones).
        transfer_minutes: with ``transfer_steps`` a safety time limit per run (0: none);
            without, the time budget of each run.
        transfer_lr: rate of the head, and of the encoder trained from scratch.
        transfer_encoder_lr: rate of the pre-trained encoder while fine-tuning.
        probe_steps: steps of the frozen-encoder probes (0: no probes).
        eval_samples, eval_every: test molecules evaluated every ``eval_every`` epochs.
        check_samples: test molecules in the symmetry report.
        threads: CPU threads per process (0: torch's default).
    """

    train: TrainConfig = field(default_factory=_default_train)
    data_root: str = ""
    n_train: int = 50_000
    n_test: int = 1000
    latent_dim: int = 64
    z_from: Literal["sorted", "pooled"] = "sorted"
    hidden: int = 32
    egnn_layers: int = 3
    code_hidden: int = 256
    decoder_hidden: int = 512
    type_weight: float = 1.0
    entropy_weight: float = 0.025
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    linear_path: bool = True
    second_point: Literal["axis", "axis_anchor"] = "axis_anchor"
    properties: tuple[str, ...] = ("HOMO_LUMO_gap_au", "Polarizability_bohr3")
    transfer_fractions: tuple[float, ...] = (0.05, 0.25)
    transfer_seeds: int = 3
    transfer_steps: int = 400
    transfer_evals: int = 4
    transfer_minutes: float = 0.0
    transfer_lr: float = 1e-3
    transfer_encoder_lr: float = 3e-4
    probe_steps: int = 2000
    eval_samples: int = 200
    eval_every: int = 1
    check_samples: int = 200
    threads: int = 1

    def validate(self) -> None:
        """Raise :class:`~quotient.errors.ConfigError` for settings that cannot work."""
        bad = [f for f in self.transfer_fractions if not 0.0 < float(f) <= 1.0]
        if bad:
            raise ConfigError(f"transfer_fractions must each lie in (0, 1], got {bad}")
        if unknown := sorted(set(self.properties) - set(QM9_PROPERTIES)):
            raise ConfigError(f"unknown QM9 properties {unknown}; choose from "
                              f"{list(QM9_PROPERTIES)}")
        if self.transfer_seeds < 1:
            raise ConfigError(f"transfer_seeds must be >= 1, got {self.transfer_seeds}")
        if self.transfer_steps < 0 or self.transfer_minutes < 0 or self.probe_steps < 0:
            raise ConfigError("transfer_steps, transfer_minutes and probe_steps must be >= 0")
        if self.transfer_steps == 0 and self.transfer_minutes == 0:
            raise ConfigError("the transfer runs need a budget: transfer_steps > 0 (or "
                              "transfer_minutes > 0 for a wall-clock budget)")
        if self.transfer_lr <= 0 or self.transfer_encoder_lr < 0:
            raise ConfigError("transfer_lr must be > 0 and transfer_encoder_lr >= 0")


def load_data(cfg: QM9Config) -> Split:
    """``(positions, elements)`` of a seeded random split; each property of
    ``cfg.properties`` in ``extras["y_train"][name]`` / ``extras["y_test"][name]``.
    Raises :class:`~quotient.errors.DataError` with the install command if QM9 is absent."""
    seed = mix_seed(cfg.train.seed, "qm9-split")
    props = cfg.properties or ("HOMO_LUMO_gap_au",)
    # one split per property: the same seed draws the same molecules, the load is cached
    splits = {p: qm9_split(cfg.n_train, cfg.n_test, seed=seed, property=p, root=cfg.data_root)
              for p in props}
    data = splits[props[0]]
    return Split(data.train, data.test, name="qm9",
                 extras={"y_train": {p: d.y_train for p, d in splits.items()},
                         "y_test": {p: d.y_test for p, d in splits.items()}})


def build_model(cfg: QM9Config, split: Split | None = None) -> nn.Module:
    """The E(3) × S_n GIAE with weights seeded by ``cfg.train.seed``."""
    n_atoms = 29 if split is None else int(split.train[0].shape[1])
    with seeded(mix_seed(cfg.train.seed, "qm9-init")):
        return qm9_giae(n_atoms=n_atoms, n_elements=len(QM9_ELEMENTS), **{
            k: getattr(cfg, k) for k in ("latent_dim", "hidden", "egnn_layers", "z_from",
                                         "code_hidden", "decoder_hidden", "type_weight",
                                         "entropy_weight", "perm_mode", "linear_path",
                                         "second_point")})


def _subset(x: Any, idx: Tensor) -> Any:
    return tuple(p[idx] for p in x)


def _size(x: Any) -> int:
    return int(x[0].shape[0])


def _n_labels(cfg: QM9Config, fraction: float) -> int:
    """Labelled training molecules of a fraction: ``round(f · n_train)``, at least a batch."""
    return min(cfg.n_train, max(cfg.train.batch_size, round(fraction * cfg.n_train)))


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0


def transfer_study(cfg: QM9Config, model: nn.Module, split: Split, run_dir: RunDir | None
                   ) -> dict[str, Any]:
    """Property heads on the pre-trained encoder of ``model`` and on fresh ones.

    For every property ``p``, fraction ``f`` and seed ``s``: the first ``n = max(batch,
    round(f · n_train))`` training molecules of a permutation drawn with seed ``s`` (nested
    across fractions, the same for every initialisation, so the comparison is paired), and

    * ``pretrained``: the trained encoder, fine-tuned at ``transfer_encoder_lr`` with a new
      head at ``transfer_lr``;
    * ``scratch``: a fresh encoder (weights from seed ``s``), all at ``transfer_lr``;
    * ``probe_pretrained`` / ``probe_random`` (with ``probe_steps``): a head alone on the fixed
      codes of the trained encoder / of the fresh one (a linear-readout-style check of what
      the codes carry, at no encoder cost).

    Every run has the same step budget and the same head initialisation (from ``s``). Metrics
    ``transfer_mae_{p}_{pct}pct_{init}_mean`` and ``_std`` over seeds (test MAE in the units
    of :data:`PROPERTY_UNITS`), ``..._train_mean`` (training MAE), ``transfer_seconds``
    (whole study) and ``transfer_seconds_per_run`` (fine-tuning runs).
    """
    metrics: dict[str, Any] = {}
    if not cfg.properties or not cfg.transfer_fractions:
        return metrics
    cfg.validate()
    started = time.perf_counter()
    curves: dict[str, list[list[dict[str, Any]]]] = {}
    results: dict[str, list[PropertyFit]] = {}
    run_seconds: list[float] = []
    test = split.test
    model = model.cpu().eval()
    n_labels = {f: _n_labels(cfg, f) for f in cfg.transfer_fractions}
    pre_test = encode_all(model.encoder, test) if cfg.probe_steps else None
    for seed in range(cfg.transfer_seeds):
        # nested label subsets: the first n of one seeded permutation, so the larger fraction
        # holds the smaller one, and only the molecules used need codes for the probes
        gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "labels", seed))
        perm = torch.randperm(_size(split.train), generator=gen)[:max(n_labels.values())]
        fresh_cfg = dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, seed=mix_seed(cfg.train.seed, "transfer-fresh", seed)))
        pre_codes = fresh_codes = None
        if pre_test is not None:
            fresh = build_model(fresh_cfg, split).encoder
            used = _subset(split.train, perm)
            pre_codes = (encode_all(model.encoder, used), pre_test)
            fresh_codes = (encode_all(fresh, used), encode_all(fresh, test))
        tcfg = dataclasses.replace(cfg.train, seed=mix_seed(cfg.train.seed, "transfer", seed))
        head_seed = mix_seed(cfg.train.seed, "transfer-head", seed)
        for prop in cfg.properties:
            y_train, y_test = split.extras["y_train"][prop], split.extras["y_test"][prop]
            for fraction in cfg.transfer_fractions:
                n = n_labels[fraction]
                idx = perm[:n]
                key = f"{_short(prop)}_{round(100 * fraction)}pct"
                runs: list[tuple[str, nn.Module, Any, Any, float | None, int]] = []
                for init in ("pretrained", "scratch"):
                    encoder = build_model(fresh_cfg, split).encoder
                    if init == "pretrained":
                        encoder.load_state_dict(model.encoder.state_dict())
                    runs.append((init, encoder, _subset(split.train, idx), test,
                                 cfg.transfer_encoder_lr if init == "pretrained" else None,
                                 cfg.transfer_steps))
                if pre_codes is not None and fresh_codes is not None:
                    for init, codes in (("probe_pretrained", pre_codes),
                                        ("probe_random", fresh_codes)):
                        runs.append((init, FixedCodes(), codes[0][:n], codes[1], 0.0,
                                     cfg.probe_steps))
                for init, encoder, x_tr, x_te, enc_lr, steps in runs:
                    fit = fit_property_head(
                        seeded_property_model(encoder, cfg.latent_dim, head_seed), x_tr,
                        y_train[idx], x_te, y_test, tcfg, lr=cfg.transfer_lr,
                        encoder_lr=enc_lr, steps=steps, minutes=cfg.transfer_minutes,
                        evals=cfg.transfer_evals, train_eval=500, curve_eval=256)
                    if not init.startswith("probe"):
                        run_seconds.append(fit.seconds)
                    results.setdefault(f"{key}_{init}", []).append(fit)
                    curves.setdefault(f"{key}_{init}", []).append(fit.curve)
    for name, fits in results.items():
        mean, std = _mean_std([f.test_mae for f in fits])
        metrics[f"transfer_mae_{name}_mean"] = mean
        metrics[f"transfer_mae_{name}_std"] = std
        metrics[f"transfer_mae_{name}_train_mean"] = _mean_std([f.train_mae for f in fits])[0]
    metrics["transfer_seconds"] = time.perf_counter() - started
    metrics["transfer_seconds_per_run"] = sum(run_seconds) / max(len(run_seconds), 1)
    metrics["transfer_steps"] = cfg.transfer_steps
    metrics["transfer_seeds"] = cfg.transfer_seeds
    for f, n in n_labels.items():
        metrics[f"transfer_n_labels_{round(100 * f)}pct"] = n
    if run_dir is not None and run_dir.is_writer:
        run_dir.write_json("transfer_curves.json", curves)
        _plot_transfer(cfg, curves, run_dir.plot_path("transfer"))
    return metrics


def _plot_transfer(cfg: QM9Config, curves: dict[str, list[list[dict[str, Any]]]],
                   path: Any) -> None:
    """One panel per (property, fraction): test (solid) and training (dashed) MAE against
    steps, the mean over seeds with the seeds' range shaded, pre-trained against scratch."""
    from matplotlib.figure import Figure

    from ..train.io import save_png

    rows, cols = len(cfg.properties), len(cfg.transfer_fractions)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), dpi=100, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    colours = {"pretrained": "C0", "scratch": "C3"}
    for r, prop in enumerate(cfg.properties):
        for c, fraction in enumerate(cfg.transfer_fractions):
            ax = axes[r][c]
            key = f"{_short(prop)}_{round(100 * fraction)}pct"
            for init, colour in colours.items():
                runs = curves.get(f"{key}_{init}", [])
                if not runs:
                    continue
                for metric, style in (("test_mae", "-"), ("train_mae", "--")):
                    # the seeds share their evaluation steps (same data sizes and budget)
                    length = min(len(run) for run in runs)
                    steps = [runs[0][i]["step"] for i in range(length)]
                    vals = torch.tensor([[run[i][metric] for i in range(length)]
                                         for run in runs])
                    ax.plot(steps, vals.mean(0), style, color=colour,
                            label=f"{init} {metric.split('_')[0]}")
                    if len(runs) > 1:
                        ax.fill_between(steps, vals.min(0).values, vals.max(0).values,
                                        color=colour, alpha=0.15)
            ax.set_yscale("log")
            ax.set_title(f"{prop} ({PROPERTY_UNITS.get(prop, '')}), "
                         f"{round(100 * fraction)} % of labels", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("MAE")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    save_png(fig, path)


def transfer_from_run(run_dir: RunDir, **overrides: Any) -> dict[str, Any]:
    """:func:`transfer_study` on the encoder of a finished run (its ``config.json`` with
    ``overrides`` applied, its latest checkpoint); writes ``transfer_metrics.json``, the
    curves and the plot into the run directory and returns the metrics."""
    cfg = dataclasses.replace(saved_config(run_dir, QM9Config), **overrides)
    cfg.validate()
    with use_threads(cfg.threads):
        split = load_data(cfg)
        model = build_model(cfg, split)
        load_model_state(run_dir, model)
        metrics = transfer_study(cfg, model, split, run_dir)
    metrics["transfer_config"] = {k: getattr(cfg, k) for k in (
        "properties", "transfer_fractions", "transfer_seeds", "transfer_steps",
        "transfer_minutes", "transfer_lr", "transfer_encoder_lr", "probe_steps")}
    run_dir.write_json("transfer_metrics.json", metrics)
    return metrics


EXPERIMENT = giae_experiment(GIAERecipe(
    name="qm9",
    description="E(3) x S_n-invariant autoencoder for QM9 molecules, with property transfer "
                "(optional extra qm9)",
    config_cls=QM9Config, data=load_data, model=build_model,
    rec_metrics=molecule_reconstruction_metrics,
    downstream=transfer_study, check=QM9Config.validate,
    # translations on the scale of the molecules' positions in space, as before the report
    check_group=lambda cfg: product(E3(scale=5.0), SymmetricGroup(QM9_MAX_ATOMS))))
"""The ``qm9`` experiment: the E(3) × S_n GIAE on QM9 molecules, with its transfer study."""
