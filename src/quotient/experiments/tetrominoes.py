"""tetrominoes: an SE(2) × S_4-invariant autoencoder for the seven 2-d tetrominoes.

Data (:mod:`quotient.data.tetrominoes`): each sample one of I, O, T, S, Z, J, L (S/Z and J/L
are mirror images), turned, moved, shuffled and jittered. Model
(:func:`~quotient.models.builders.point_giae`, ``dim=2``): the anchor frame of the plane (proper,
so mirror images stay apart), SoftSort order, a 2-d code and an MLP decoder. Metrics: those of
:mod:`quotient.experiments.recipe`, plus ``mirror_knn_acc`` (kNN on z among the four chiral
shapes only) and ``noise_floor`` (the error a perfect model leaves: ``noise² (8 − 3)/8``, five
of the eight coordinates' noise being beyond a 3-parameter pose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..data.tetrominoes import MIRROR_PAIRS, TETROMINO_NAMES, make_tetrominoes
from ..groups import SE2, SymmetricGroup, product
from ..metrics import SymmetryReport, knn_accuracy
from ..models.builders import point_giae
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "TetrominoesConfig"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=1000, batch_size=256, lr=3e-3, optimizer="adam", max_steps=4000,
                       checkpoint_every=1000, log_every=100)


@dataclass
class TetrominoesConfig:
    """Settings of tetrominoes: ``train``, data sizes and noise, the code size and the
    network widths; ``check_samples`` held-out shapes go into the symmetry report."""

    train: TrainConfig = field(default_factory=_default_train)
    n_train: int = 50_000
    n_test: int = 5_000
    noise: float = 0.01
    translation_std: float = 3.0
    latent_dim: int = 2
    hidden: int = 64
    code_hidden: int = 128
    decoder_hidden: int = 128
    eval_samples: int = 2000
    probe_samples: int = 5000
    check_samples: int = 2000
    threads: int = 1

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_train", "n_test", "latent_dim", "hidden", "code_hidden",
                                     "decoder_hidden"),
                     non_negative=("noise", "translation_std", "threads"))


def load_data(cfg: TetrominoesConfig) -> Split:
    seed = mix_seed(cfg.train.seed, "tetrominoes-data")
    kw = {"noise": cfg.noise, "translation_std": cfg.translation_std}
    train = make_tetrominoes(cfg.n_train, seed=seed, **kw)
    test = make_tetrominoes(cfg.n_test, seed=seed + 1, **kw)
    return Split(train.positions, test.positions, train.labels, test.labels, name="tetrominoes")


def build_model(cfg: TetrominoesConfig, split: Split | None = None) -> Any:
    with seeded(mix_seed(cfg.train.seed, "tetrominoes-init")):
        return point_giae(4, dim=2, group="SE", latent_dim=cfg.latent_dim, hidden=cfg.hidden,
                          code_hidden=cfg.code_hidden, decoder_hidden=cfg.decoder_hidden)


def _metrics(cfg: TetrominoesConfig, model: Any, split: Split,
             report: SymmetryReport) -> dict[str, float]:
    chiral = torch.tensor([TETROMINO_NAMES.index(s) for pair in MIRROR_PAIRS for s in pair])
    keep = torch.isin(split.test_labels, chiral)
    with torch.no_grad():
        z = model.embed(split.test[keep]).double()
    y, half = split.test_labels[keep], int(keep.sum()) // 2
    return {"mirror_knn_acc": knn_accuracy(z[:half], y[:half], z[half:], y[half:]),
            "noise_floor": cfg.noise ** 2 * 5 / 8}


EXPERIMENT = giae_experiment(GIAERecipe(
    name="tetrominoes",
    description="SE(2) x S_4-invariant autoencoder with a 2-d code for the seven tetrominoes",
    config_cls=TetrominoesConfig, data=load_data, model=build_model, metrics=_metrics,
    check_group=lambda cfg: product(SE2(scale=cfg.translation_std), SymmetricGroup(4))))
"""The registered experiment ``tetrominoes`` (``quotient train tetrominoes``): SE(2) x
S_4-invariant autoencoder with a 2-d code for the seven tetrominoes."""
