"""se2-mnist: the SE(2) group-invariant autoencoder on MNIST digits at any angle and position.

Data (:func:`~quotient.data.se2_mnist.load_se2_mnist_sample`): the bundled 10,000-digit sample,
the fixed seeded 8,000/2,000 split of rotated-mnist, every digit turned by a uniform angle and
pasted at a uniform integer position on a ``canvas × canvas`` zero canvas (40 by default), so
that it stays on the canvas.

Models (``model=...``), all with the same plain CNN decoder and in the same harness:

* ``giae`` (:func:`~quotient.models.se2_giae.se2_image_giae`): a shift-equivariant position
  ``t`` (a torus centroid), the C4 group CNN of rotated-mnist on the window around it (code
  ``z``, angle ``θ``), ``x̂ = place_image(θ, t, δ(z))``. Exact under quarter turns about the
  canvas centre and integer shifts; a penalty on ``‖z(x) − z(x')‖²`` for copies ``x'`` turned
  by random angles about the digit's own position (``invariance_weight``) teaches the other
  angles.
* ``rotation``: the rotation-only GIAE of rotated-mnist on the whole canvas
  (:func:`~quotient.models.image_giae.image_giae`, C4 encoder, angle about the canvas centre,
  no translation handling), with its random-angle penalty.
* ``classical``: a plain CNN encoder.

Metrics: those of :mod:`quotient.experiments.recipe` (reconstruction MSE, kNN and linear
probes, the symmetry report) plus the clustering accuracy of the test codes
(:func:`~quotient.metrics.clustering_accuracy`), the invariance of every model's code under
quarter turns and integer translations that keep the digit on the canvas (``inv_err_se2``,
float32 mean and worst, ``inv_err_se2_f64`` worst in float64) and, for the GIAE, the translation
error in pixels (of shifted copies against the true shift, and against the true placement of
the digit's centroid). See ``docs/giae.md``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import roll_image, rot90_image, rotate_image
from ..data.se2_mnist import load_se2_mnist_sample
from ..errors import ConfigError
from ..groups import SO2, CyclicGroup
from ..models.baselines import random_rotation
from ..models.giae import GIAE
from ..models.image_giae import image_baseline, image_giae
from ..models.losses import autoencoder_loss, consistency_loss
from ..models.se2_giae import se2_image_giae
from ..nn.se2_images import torus_centroid, torus_distance, turn_shift_position
from ..symmetry import Symmetry
from ..train import TrainConfig, check_ranges, mix_seed, seeded
from .recipe import GIAERecipe, Split, giae_experiment

__all__ = ["EXPERIMENT", "SE2MNISTConfig", "allowed_shifts", "build_model", "load_data",
           "rotate_about_position", "se2_checks"]

ModelKind = Literal["giae", "rotation", "classical"]


def _default_train() -> TrainConfig:
    return TrainConfig(epochs=8, max_steps=600, batch_size=64, lr=2e-3, grad_clip=1.0,
                       optimizer="adam", time_limit_minutes=30.0, checkpoint_every=500,
                       log_every=25)


@dataclass
class SE2MNISTConfig:
    """Settings of se2-mnist (``--set KEY=VALUE``).

    ``model``: ``giae`` (SE(2)), ``rotation`` (the rotation-only GIAE of rotated-mnist on the
    canvas) or ``classical``; ``canvas``: side of the images; ``crop_size``: odd side of the
    window the GIAE's C4 encoder reads around the digit's position (25 keeps 99.8 % of the
    test digits' ink on average at 0.6 times the cost of 29, which keeps all);
    ``canonical_size``: side of the GIAE's decoded canonical digit;
    ``widths``/``cnn_widths``/``decoder_widths``: as rotated-mnist;
    ``invariance_weight``/``invariance_fraction``: the random-angle code penalty
    of the GIAEs (0 disables it); training counts steps (``train.max_steps``; the time limit is
    a safety); ``cluster_samples``: test codes clustered (Ward) for the clustering accuracy;
    ``se2_samples``: test digits for the invariance and translation checks (the first
    ``se2_samples_f64`` of them again in float64); ``threads``: CPU threads (0: torch's)."""

    train: TrainConfig = field(default_factory=_default_train)
    model: ModelKind = "giae"
    canvas: int = 40
    crop_size: int = 25
    canonical_size: int = 28
    latent_dim: int = 32
    widths: tuple[int, ...] = (8, 16, 32)
    cnn_widths: tuple[int, ...] = (32, 64, 128)
    decoder_widths: tuple[int, ...] = (64, 32, 16)
    pose: Literal["profile", "dipole", "both"] = "dipole"
    invariance_weight: float = 0.1
    invariance_fraction: float = 0.25
    warmup_steps: int = 100
    n_train: int = 8000
    n_test: int = 2000
    data_seed: int = 0
    eval_seed: int = 1
    embedding: Literal["tsne", "pca"] = "tsne"
    plots: bool = True
    threads: int = 0
    eval_every: int = 2
    check_samples: int = 1000
    cluster_samples: int = 2000
    se2_samples: int = 500
    se2_samples_f64: int = 100

    def __post_init__(self) -> None:
        check_ranges(self, positive=("latent_dim", "widths", "cnn_widths", "decoder_widths",
                                     "n_train", "n_test", "cluster_samples", "se2_samples"),
                     non_negative=("invariance_weight", "warmup_steps", "threads",
                                   "se2_samples_f64"),
                     fraction=("invariance_fraction",))
        if self.model not in ("giae", "rotation", "classical"):
            raise ConfigError(f"model must be giae, rotation or classical, got {self.model!r}")
        if self.canvas < 28:
            raise ConfigError(f"canvas must be at least 28 (the MNIST digits' side), got "
                              f"{self.canvas}")
        if self.crop_size % 2 == 0 or not 3 <= self.crop_size <= self.canvas:
            raise ConfigError(f"crop_size must be odd and in [3, canvas = {self.canvas}], got "
                              f"{self.crop_size}")
        if self.eval_every < 1:
            raise ConfigError(f"eval_every must be >= 1, got {self.eval_every}")


def load_data(cfg: SE2MNISTConfig) -> Split:
    """The SE(2) split of the bundled sample; extras: test angles, frame positions and the
    true placement of each digit's centroid (``centroids``)."""
    data = load_se2_mnist_sample(canvas=cfg.canvas, n_train=cfg.n_train, n_test=cfg.n_test,
                                 seed=cfg.data_seed)
    return Split(data.train.images, data.test.images, data.train.labels, data.test.labels,
                 name=f"se2-mnist {cfg.canvas}x{cfg.canvas} ({cfg.model})",
                 extras={"angles": data.test.angles, "positions": data.test.positions,
                         "centroids": data.test.centroids, "canvas": cfg.canvas})


def build_model(cfg: SE2MNISTConfig, split: Split) -> nn.Module:
    """The configured model for ``(C, L, L)`` images, initialised from a generator seeded by
    ``cfg.train.seed``."""
    channels, size = int(split.train.shape[1]), int(split.train.shape[-1])
    with seeded(mix_seed(cfg.train.seed, "se2-mnist-init", cfg.model)):
        if cfg.model == "giae":
            return se2_image_giae(in_channels=channels, canvas=size, crop_size=cfg.crop_size,
                                  canonical_size=cfg.canonical_size, latent_dim=cfg.latent_dim,
                                  widths=cfg.widths, decoder_widths=cfg.decoder_widths,
                                  pose=cfg.pose)
        if cfg.model == "rotation":
            return image_giae(in_channels=channels, image_size=size, latent_dim=cfg.latent_dim,
                              widths=cfg.widths, decoder_widths=cfg.decoder_widths,
                              pose=cfg.pose)
        return image_baseline("classical", in_channels=channels, image_size=size,
                              latent_dim=cfg.latent_dim, cnn_widths=cfg.cnn_widths,
                              decoder_widths=cfg.decoder_widths)


def rotate_about_position(x: Tensor, generator: torch.Generator) -> Tensor:
    """Turn every image by its own uniform angle about a point near its position
    :func:`~quotient.nn.se2_images.torus_centroid`: roll the position's pixel to pixel
    ``(L//2, L//2)`` (exact), :func:`~quotient.actions.rotate_image` (about the canvas centre,
    within 1.5 px of the centroid), roll back. The digit turns nearly in place, as the SE(2)
    data varies, instead of swinging about the canvas centre; the small remaining translation
    is factored out by the encoder's own position."""
    n = x.shape[-1]
    _, r = torus_centroid(x)
    to_centre = n // 2 - r
    angle = torch.rand(x.shape[0], generator=generator, dtype=torch.float64) * (2 * math.pi)
    turned = rotate_image(angle.to(device=x.device, dtype=x.dtype), roll_image(to_centre, x))
    return roll_image(-to_centre, turned)


def _loss(cfg: SE2MNISTConfig, model: nn.Module) -> Any:
    if cfg.invariance_weight <= 0 or cfg.model == "classical":
        return autoencoder_loss
    turn = rotate_about_position if cfg.model == "giae" else random_rotation
    return consistency_loss(turn, cfg.invariance_weight, cfg.invariance_fraction)


def _symmetry(cfg: SE2MNISTConfig) -> tuple[Symmetry, Symmetry]:
    """What the classical code is measured against in the symmetry report (as rotated-mnist);
    its shift invariance is measured by :func:`se2_checks`."""
    return Symmetry(CyclicGroup(4), rot90_image), Symmetry(SO2(), rotate_image)


def allowed_shifts(x: Tensor, generator: torch.Generator) -> Tensor:
    """One random integer shift ``(N, 2)`` per image ``x (N, C, L, L)`` that keeps all its
    non-zero pixels on the canvas (uniform over the allowed range of each axis; 0 for blank
    images). For such shifts a cyclic shift (``roll_image``) is the translation."""
    n = x.shape[-1]
    ink = x.abs().sum(1) > 0  # (N, L, L)
    out = torch.zeros(x.shape[0], 2, dtype=torch.long)
    for axis, lines in ((0, ink.any(-1)), (1, ink.any(-2))):
        idx = torch.arange(n)
        first = torch.where(lines, idx, n).amin(-1)
        last = torch.where(lines, idx, -1).amax(-1)
        lo, hi = -first, n - 1 - last  # shift range keeping [first, last] on the canvas
        u = torch.rand(x.shape[0], generator=generator, dtype=torch.float64)
        s = lo + torch.floor(u * (hi - lo + 1).double()).long()
        out[:, axis] = torch.where(lines.any(-1), torch.minimum(s, hi), torch.zeros_like(s))
    return out


def _moved(x: Tensor, k: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Quarter turns ``k`` about the canvas centre, then a random translation that keeps each
    digit on the canvas; the group elements ``(k, dy, dx)``."""
    turned = rot90_image(torch.full((x.shape[0],), k, dtype=torch.long), x)
    s = allowed_shifts(turned, generator)
    g = torch.cat([torch.full((x.shape[0], 1), k, dtype=torch.long), s], -1)
    return roll_image(s, turned), g


@torch.no_grad()
def se2_checks(model: nn.Module, x: Tensor, generator: torch.Generator, *,
               f64_samples: int = 100) -> dict[str, float]:
    """Invariance of any model's code (``model.embed``) under quarter turns about the canvas
    centre followed by integer translations that keep the digit on the canvas, and, for the
    SE(2) GIAE, the translation error of shifted copies.

    For each sample and each ``k ∈ {0, 1, 2, 3}`` one random allowed translation: the
    relative error ``‖z(g·x) − z(x)‖ / spread`` (spread: the root mean squared distance of the
    codes to their mean). Returns ``inv_err_se2`` (mean over samples of the worst ``k``) and
    ``inv_err_se2_max`` in the model's dtype, and ``inv_err_se2_f64`` (worst) on a float64
    copy over the first ``f64_samples``; for the SE(2) GIAE ``trans_err_shift_px`` (worst
    torus distance between ``t(g·x)`` and ``g·t(x)``) in both dtypes.
    """
    out: dict[str, float] = {}
    model.eval()
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
    runs = [("", model, x.to(dtype))]
    if f64_samples > 0:
        runs.append(("_f64", copy.deepcopy(model).double().eval(),
                     x[:f64_samples].double()))
    for tag, net, data in runs:
        def embed(t: Tensor, net: nn.Module = net) -> Tensor:
            return torch.cat([net.embed(t[i:i + 250]) for i in range(0, t.shape[0], 250)])

        z = embed(data).double()
        spread = (z - z.mean(0)).pow(2).sum(1).mean().sqrt().clamp_min(1e-300)
        worst = torch.zeros(data.shape[0], dtype=torch.float64)
        shift_err = torch.zeros(data.shape[0], dtype=torch.float64)
        se2 = isinstance(net, GIAE) and hasattr(net.encoder, "locate")
        t = net.encoder.locate(data)[0] if se2 else None
        for k in range(4):
            moved, g = _moved(data, k, generator)
            worst = torch.maximum(worst, (embed(moved).double() - z).norm(dim=1) / spread)
            if se2:
                want = turn_shift_position(g, t, data.shape[-1])
                got = net.encoder.locate(moved)[0]
                shift_err = torch.maximum(shift_err, torus_distance(got, want, data.shape[-1])
                                          .double())
        if tag:
            out["inv_err_se2_f64"] = float(worst.max())
        else:
            out["inv_err_se2"] = float(worst.mean())
            out["inv_err_se2_max"] = float(worst.max())
        if se2:
            out[f"trans_err_shift_px{tag}"] = float(shift_err.max())
    return out


def _metrics(cfg: SE2MNISTConfig, model: nn.Module, split: Split, report: Any
             ) -> dict[str, Any]:
    from ..metrics.clustering import clustering_accuracy

    model.eval()
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
    x = split.test.to(dtype)
    with torch.no_grad():
        m = min(cfg.cluster_samples, x.shape[0])
        z = torch.cat([model.embed(x[i:i + 250]) for i in range(0, m, 250)])
    out: dict[str, Any] = {"cluster_acc": clustering_accuracy(z, split.test_labels[:m])}
    gen = torch.Generator().manual_seed(cfg.eval_seed)
    out.update(se2_checks(model, x[:cfg.se2_samples], gen, f64_samples=cfg.se2_samples_f64))
    if isinstance(model, GIAE) and hasattr(model.encoder, "locate"):
        with torch.no_grad():
            t = torch.cat([model.encoder.locate(x[i:i + 500])[0]
                           for i in range(0, x.shape[0], 500)]).double()
        size = split.extras["canvas"]
        err = torus_distance(t, split.extras["centroids"], size)
        frame = torus_distance(t, split.extras["positions"], size)
        out.update(trans_err_true_px=float(err.mean()), trans_err_true_px_p95=float(
            err.quantile(0.95)), trans_err_true_px_max=float(err.max()),
            trans_err_frame_px=float(frame.mean()))
    return out


def _plots(cfg: SE2MNISTConfig, model: nn.Module, split: Split, metrics: dict[str, Any],
           result: Any, run_dir: Any) -> None:
    """Predicted against true angle (per class offsets are the canonical orientations) and
    predicted against true position of the SE(2) GIAE."""
    if not (isinstance(model, GIAE) and hasattr(model.encoder, "locate")):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import plot_angle_scatter

    x = split.test.to(next(model.parameters()).dtype)
    with torch.no_grad():
        element = torch.cat([model.encode(x[i:i + 500])[1].element
                             for i in range(0, x.shape[0], 500)]).double()
    deg = 180 / math.pi
    plot_angle_scatter(split.extras["angles"] * deg, torch.remainder(element[:, 0], 2 * math.pi)
                       * deg, run_dir.plot_path("pose"), labels=split.test_labels,
                       title=f"{split.name}: predicted vs true angle")
    true = split.extras["centroids"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for axis, (ax, name) in enumerate(zip(axes, ("row", "column"), strict=True)):
        ax.scatter(true[:, axis], element[:, 1 + axis], s=3, alpha=0.5)
        ax.plot([0, cfg.canvas], [0, cfg.canvas], "k--", lw=0.8)
        ax.set_xlabel(f"true centroid {name} (px)")
        ax.set_ylabel(f"predicted t {name} (px)")
    fig.suptitle(f"translation: mean error {metrics.get('trans_err_true_px', float('nan')):.3f}"
                 " px")
    fig.tight_layout()
    fig.savefig(run_dir.plot_path("translation"))
    plt.close(fig)


EXPERIMENT = giae_experiment(GIAERecipe(
    name="se2-mnist",
    description="SE(2)-invariant autoencoder (torus centroid + C4 group CNN) on MNIST digits "
                "at any angle and position",
    config_cls=SE2MNISTConfig, data=load_data, model=build_model, loss=_loss,
    metrics=_metrics, plots=_plots, symmetry=_symmetry, examples="images"))
"""The ``se2-mnist`` experiment: the SE(2) GIAE on digits at any angle and position."""
