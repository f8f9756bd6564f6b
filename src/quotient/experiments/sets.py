"""sets: an S_n-invariant autoencoder for your own sets of feature vectors.

Data: your file (``--set data=FILE.npz``, :func:`~quotient.data.user_files.load_set_file`):
``elements (N, n, d)`` real, optional ``mask (N, n)`` bool (True = real element; sets of
different sizes are padded to ``n``) and optional integer ``labels (N,)`` (used by the kNN and
linear probes and to colour the code plot). It is checked before the run directory is made, and
split at random (``data_seed``) into ``n_train`` / ``n_test`` sets (default 80 % / 20 %).

Model: :func:`~quotient.models.builders.set_giae` for ``d``-dimensional elements and
``max_elements`` slots (default: the file's ``n``): DeepSets (or attention) layers, a pooled
invariant code ``z``, a SoftSort permutation pose and an MLP decoder to canonical slots; the loss
counts real elements only. Metrics: those of :mod:`quotient.experiments.recipe`, ``rec_mse``
over the real elements. Format and examples: ``docs/own_data.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..data.user_files import PaddedData, load_set_file, split_data, split_sizes
from ..errors import ConfigError
from ..models.losses import masked_mse
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "SetsConfig", "build_model", "check_data", "check_sizes",
           "load_data", "padded_rec_mse", "require_data"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=200, batch_size=64, lr=1e-3, optimizer="adam", max_steps=5000,
                       time_limit_minutes=10.0, checkpoint_every=1000, log_every=50)


def check_sizes(cfg: Any, names: tuple[str, ...]) -> None:
    """Settings that are a positive integer or ``None`` (taken from the data file)."""
    for name in names:
        value = getattr(cfg, name)
        if value is not None and value <= 0:
            raise ConfigError(f"{name} must be > 0 (or none: from the data file), got {value}")


@dataclass
class SetsConfig:
    """Settings of sets.

    Attributes:
        train: training settings (a cosine over ``max_steps`` or ``time_limit_minutes``).
        data: your ``.npz`` file (required; format in the module docstring).
        max_elements: the most real elements a set may have, and the model's slots (none:
            the file's ``n``).
        n_train, n_test: split sizes (none: 80 % / 20 % of the file, or what the other leaves).
        data_seed: seed of the random split.
        latent_dim, hidden, layers, encoder: the invariant code, the encoder's width, number of
            layers (0: per-element MLP only) and kind (``deepsets`` or ``attention``).
        decoder_hidden, decoder_layers, output: the decoder MLP and its last activation
            (``linear``; ``softmax`` for one-hot elements, ``sigmoid`` for values in [0, 1]).
        tau, perm_mode, entropy_weight: the SoftSort pose and its entropy penalty.
        eval_every: log the test reconstruction every this many epochs; check_samples: test
            sets in the symmetry report; embedding: 2-d view of the codes (``pca``, ``tsne``);
            plots: write the PNG figures.
        threads: CPU threads (0: torch's default); dtype: ``float32`` or ``float64``.
    """

    train: TrainConfig = field(default_factory=_default_train)
    data: str = ""
    max_elements: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    data_seed: int = 0
    latent_dim: int = 16
    hidden: int = 64
    layers: int = 1
    encoder: Literal["deepsets", "attention"] = "deepsets"
    decoder_hidden: int = 256
    decoder_layers: int = 2
    output: Literal["linear", "softmax", "sigmoid"] = "linear"
    tau: float = 1.0
    perm_mode: Literal["soft", "straight_through", "hard"] = "straight_through"
    entropy_weight: float = 0.025
    eval_every: int = 10
    check_samples: int = 1000
    embedding: Literal["pca", "tsne"] = "pca"
    plots: bool = True
    threads: int = 1
    dtype: Literal["float32", "float64"] = "float32"

    def __post_init__(self) -> None:
        check_ranges(self, positive=("latent_dim", "hidden", "decoder_hidden", "decoder_layers",
                                     "tau", "eval_every", "check_samples"),
                     non_negative=("layers", "entropy_weight", "threads"))
        check_sizes(self, ("max_elements", "n_train", "n_test"))


def require_data(cfg: Any, name: str, arrays: str) -> None:
    """A one-line error when an experiment on your own data is given no file."""
    if not cfg.data:
        raise ConfigError(f"{name} trains on your own data: pass --set data=FILE.npz with "
                          f"{arrays} (format: docs/own_data.md)")


def check_data(cfg: SetsConfig) -> PaddedData:
    """Your sets (``cfg.data``), checked against the settings before a run directory is made.

    Raises:
        DataError, ConfigError: naming the problem and the fix.
    """
    require_data(cfg, "sets", "elements (N, n, d)")
    data = load_set_file(cfg.data, max_elements=cfg.max_elements)
    split_sizes(len(data), cfg.n_train, cfg.n_test, what="sets", source=cfg.data,
                batch_size=cfg.train.batch_size)
    return data


def load_data(cfg: SetsConfig) -> Split:
    """``(elements, mask)`` of the training and test sets, titled by the file's name."""
    data = check_data(cfg)
    sizes = split_sizes(len(data), cfg.n_train, cfg.n_test, what="sets", source=cfg.data)
    train, test = split_data(data, *sizes, seed=cfg.data_seed)
    dtype = getattr(torch, cfg.dtype)
    return Split(train.inputs(dtype), test.inputs(dtype), train.labels, test.labels,
                 name=data.name)


def build_model(cfg: SetsConfig, split: Split) -> nn.Module:
    """The set GIAE for the split's ``(elements (N, n, d), mask)``, initialised from a
    generator seeded by ``cfg.train.seed``."""
    from ..models.builders import set_giae

    x = split.train[0]
    with seeded(mix_seed(cfg.train.seed, "sets-init")):
        model = set_giae(int(x.shape[-1]), int(x.shape[1]), latent_dim=cfg.latent_dim,
                         hidden=cfg.hidden, layers=cfg.layers, encoder=cfg.encoder,
                         decoder_hidden=cfg.decoder_hidden, decoder_layers=cfg.decoder_layers,
                         output=cfg.output, tau=cfg.tau, perm_mode=cfg.perm_mode,
                         entropy_weight=cfg.entropy_weight)
    return model.to(getattr(torch, cfg.dtype))


def _chunks(x: tuple[Tensor, ...], size: int = 500) -> list[tuple[Tensor, ...]]:
    return [tuple(p[i:i + size] for p in x) for i in range(0, x[0].shape[0], size)]


def padded_rec_mse(model: nn.Module, x: tuple[Tensor, ...]) -> dict[str, float]:
    """``{"rec_mse": ...}``: the mean squared error of the reconstruction over the real
    elements of padded inputs ``(values, mask or types)`` (padding slots are never compared)."""
    model.eval()
    total = count = 0.0
    with torch.no_grad():
        for part in _chunks(x):
            real = float(part[1].sum() if part[1].dtype == torch.bool else (part[1] >= 0).sum())
            total += float(masked_mse(model.reconstruct(part).double(),
                                      (part[0].double(), *part[1:]))) * real
            count += real
    return {"rec_mse": total / max(count, 1.0)}


EXPERIMENT = giae_experiment(GIAERecipe(
    name="sets",
    description="S_n-invariant autoencoder for your own sets of feature vectors "
                "(--set data=FILE.npz)",
    config_cls=SetsConfig, data=load_data, model=build_model, rec_metrics=padded_rec_mse,
    check=check_data))
"""The registered experiment ``sets`` (``quotient train sets``): S_n-invariant autoencoder for
your own sets of feature vectors (--set data=FILE.npz)."""
