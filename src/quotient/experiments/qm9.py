"""qm9: an E(3) × S_n-invariant autoencoder for QM9 molecules (up to 29 atoms, 5 elements),
and transfer of its encoder to property prediction.

Needs the optional extra ``qm9`` (``pip install 'quotient[qm9]'``) or a folder with the QM9
files (``data_root``); data: :func:`~quotient.data.qm9.qm9_split`. Model
(:func:`~quotient.models.qm9_giae.qm9_giae`): an EGNN, the anchor frame with the
reflection fixed by a pseudoscalar, SoftSort atom order, ``z`` from the sorted frame
coordinates and atom features, a decoder to 29 slots of coordinates and element probabilities,
the Procrustes pose; loss: coordinate MSE + element NLL + 0.025 × SoftSort entropy.

Metrics: ``rmsd`` (Å, mean over held-out molecules), ``rmsd_median``, ``type_acc``, the
symmetry report (``inv_err_exact`` … under random E(3) motions with translations N(0, 5²) Å and
atom permutations), and the transfer experiment: a property head (HOMO–LUMO gap, eV) on the
encoder, trained from the pre-trained weights and from scratch on 5 % and 25 % of the training
molecules (``transfer_mae_{5,25}pct_{pretrained,scratch}``, curves in ``plots/transfer.png``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from ..data.qm9 import QM9_ELEMENTS, QM9_MAX_ATOMS, qm9_split
from ..groups import E3, SymmetricGroup, product
from ..metrics.sets import molecule_reconstruction_metrics
from ..models.qm9_giae import qm9_giae
from ..models.transfer import PropertyModel, fit_property_head
from ..plots import plot_learning_curves
from ..train import RunDir, TrainConfig, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "QM9Config", "build_model", "load_data"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=32, lr=1e-3, optimizer="adam", max_steps=20000,
                       time_limit_minutes=14.0, checkpoint_every=1000, log_every=50,
                       grad_clip=1.0)


@dataclass
class QM9Config:
    """Settings of qm9 (defaults train in about 25 minutes on 2 CPU cores).

    Attributes:
        train: autoencoder training; the cosine schedule ends at ``max_steps`` or
            ``time_limit_minutes``, whichever comes first.
        data_root: folder with QM9 files (``qm9_part*.csv`` or ``*.xyz``); empty: the
            ``qm9pack`` package.
        n_train, n_test: molecules drawn at random (seeded) for training and evaluation.
        latent_dim, hidden, egnn_layers, code_hidden, decoder_hidden: model sizes.
        z_from: ``"pooled"`` (``z = ρ(Σ_i φ(y_i, h_i))``) or ``"sorted"`` (``z = MLP(S·[y, h])``,
            the frame coordinates and atom features in the canonical order).
        type_weight: weight of the element likelihood; entropy_weight: SoftSort entropy.
        property: the QM9 column predicted in the transfer experiment.
        transfer_fractions: fractions of the training molecules used by the property heads.
        transfer_minutes: training time of each property head run; transfer_lr its rate.
        eval_samples, eval_every: test molecules evaluated every ``eval_every`` epochs.
        check_samples: test molecules in the symmetry report.
        threads: CPU threads per process (0: torch's default).
    """

    train: TrainConfig = field(default_factory=_default_train)
    data_root: str = ""
    n_train: int = 20_000
    n_test: int = 1000
    latent_dim: int = 32
    z_from: Literal["sorted", "pooled"] = "sorted"
    hidden: int = 32
    egnn_layers: int = 3
    code_hidden: int = 128
    decoder_hidden: int = 256
    type_weight: float = 1.0
    entropy_weight: float = 0.025
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    property: str = "HOMO_LUMO_gap_au"
    transfer_fractions: tuple[float, ...] = (0.05, 0.25)
    transfer_minutes: float = 2.5
    transfer_lr: float = 1e-3
    eval_samples: int = 200
    eval_every: int = 1
    check_samples: int = 200
    threads: int = 1


def load_data(cfg: QM9Config) -> Split:
    """``(positions, elements)`` of a seeded random split; the property in ``extras``.
    Raises :class:`~quotient.errors.DataError` with the install command if QM9 is absent."""
    data = qm9_split(cfg.n_train, cfg.n_test, seed=mix_seed(cfg.train.seed, "qm9-split"),
                     property=cfg.property, root=cfg.data_root)
    return Split(data.train, data.test, name="qm9",
                 extras={"y_train": data.y_train, "y_test": data.y_test})


def build_model(cfg: QM9Config, split: Split | None = None) -> nn.Module:
    """The E(3) × S_n GIAE with weights seeded by ``cfg.train.seed``."""
    n_atoms = 29 if split is None else int(split.train[0].shape[1])
    with seeded(mix_seed(cfg.train.seed, "qm9-init")):
        return qm9_giae(n_atoms=n_atoms, n_elements=len(QM9_ELEMENTS), **{
            k: getattr(cfg, k) for k in ("latent_dim", "hidden", "egnn_layers", "z_from",
                                         "code_hidden", "decoder_hidden", "type_weight",
                                         "entropy_weight", "perm_mode")})


def _transfer(cfg: QM9Config, model: nn.Module, split: Split, run_dir: RunDir
              ) -> dict[str, Any]:
    """Property heads on the pre-trained encoder and on a fresh one (another seed), each
    trained for ``transfer_minutes`` on ``fraction`` of the training molecules."""
    metrics: dict[str, Any] = {}
    curves: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    fresh = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=cfg.train.seed + 1))
    for fraction in cfg.transfer_fractions:
        n, pct = max(cfg.train.batch_size, round(fraction * cfg.n_train)), round(100 * fraction)
        for name, init in (("pretrained", model), ("scratch", None)):
            encoder = build_model(fresh, split).encoder
            if init is not None:
                encoder.load_state_dict(init.encoder.state_dict())
            mae, curve = fit_property_head(
                PropertyModel(encoder, cfg.latent_dim), tuple(p[:n] for p in split.train),
                split.extras["y_train"][:n], split.test, split.extras["y_test"], cfg.train,
                minutes=cfg.transfer_minutes, lr=cfg.transfer_lr)
            metrics[f"transfer_mae_{pct}pct_{name}"] = mae
            curves[f"{pct}% {name}"] = curve
    metrics["transfer_seconds"] = time.perf_counter() - started
    if run_dir.is_writer and curves:
        run_dir.write_json("transfer_curves.json", curves)
        plot_learning_curves(curves, run_dir.plot_path("transfer"), keys=("test_mae",),
                             title=f"qm9 transfer: test MAE of {cfg.property} (eV)")
    return metrics


EXPERIMENT = giae_experiment(GIAERecipe(
    name="qm9",
    description="E(3) x S_n-invariant autoencoder for QM9 molecules, with property transfer "
                "(optional extra qm9)",
    config_cls=QM9Config, data=load_data, model=build_model,
    rec_metrics=molecule_reconstruction_metrics, downstream=_transfer,
    # translations on the scale of the molecules' positions in space, as before the report
    check_group=lambda cfg: product(E3(scale=5.0), SymmetricGroup(QM9_MAX_ATOMS))))
