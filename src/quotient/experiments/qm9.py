"""qm9: an E(3) × S_n-invariant autoencoder for QM9 molecules (up to 29 atoms, 5 elements),
and transfer of its encoder to property prediction.

Needs the optional extra ``qm9`` (``pip install 'quotient[qm9]'``) or a folder with the QM9
files (``data_root``). Model: an EGNN over all atom pairs (atom types embedded, never the atom
index) gives invariant per-atom features; the anchor frame with the reflection fixed by a
pseudoscalar (E(3)) gives invariant frame coordinates; per-atom scores sort the atoms (SoftSort);
the code is ``z = MLP(S·[y, h])``, the frame coordinates and atom features in the canonical order
with padding last (``z_from="pooled"``: ``z = ρ(Σ_i φ(y_i, h_i))``). The decoder gives 29
canonical slots of (x, y, z, p(H, C, N, O, F, none)); the reconstruction is ``Sᵀ(R ĉ + t)`` with
the Procrustes rotation (reflections allowed). Loss: MSE of real-atom coordinates (Å²) +
element negative log-likelihood + 0.025 × SoftSort entropy.

Reported: ``rmsd`` (Å, mean over held-out molecules, hard permutation), ``type_acc``,
``inv_err_exact`` under random E(3) motions and atom permutations, and the transfer experiment:
a property head (HOMO–LUMO gap, eV) on the encoder trained from the pre-trained weights versus
from scratch on 5 % and 25 % of the training molecules, with learning curves (``transfer_*``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..actions import act_molecule
from ..errors import DataError
from ..groups import E3, SymmetricGroup, product
from ..metrics.sets import rmsd
from ..metrics.symmetry import apply_batched, invariance_error
from ..models import GIAE
from ..nn.points import PointCloudEncoder
from ..nn.pose_perm import PermutationPose
from ..nn.pose_rigid import RigidPermutationPose
from ..nn.sets import SetDecoder, mlp
from ..plots import plot_learning_curves
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

__all__ = ["EXPERIMENT", "QM9Config", "build_model", "load_split"]

ELEMENTS = (1, 6, 7, 8, 9)  # H C N O F
HARTREE_EV = 27.211386


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
        check_samples: molecules for the invariance checks.
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
    check_samples: int = 200
    threads: int = 1


def load_split(cfg: QM9Config) -> dict[str, Tensor]:
    """Positions, element indices (−1 = padding) and the property (eV for energies) of a random
    train/test split. Raises :class:`DataError` with the install command if QM9 is absent."""
    from ..data.qm9 import load_qm9

    try:
        mols = load_qm9(root=cfg.data_root or None)
    except ImportError as exc:
        raise DataError("the qm9 experiment needs the QM9 data: install the optional extra with "
                        "pip install 'quotient[qm9]', or set data_root=FOLDER holding "
                        "qm9_part*.csv or dsgdb9nsd_*.xyz files") from exc
    except FileNotFoundError as exc:
        raise DataError(f"QM9 files not found: {exc}") from exc
    n = cfg.n_train + cfg.n_test
    if n > len(mols):
        raise DataError(f"n_train + n_test = {n} exceeds the {len(mols)} QM9 molecules")
    gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "qm9-split"))
    pick = torch.randperm(len(mols), generator=gen)[:n]
    lookup = torch.full((max(ELEMENTS) + 1,), -1, dtype=torch.long)
    lookup[list(ELEMENTS)] = torch.arange(len(ELEMENTS))
    types = lookup[mols.atomic_numbers[pick]]
    prop = mols.property(cfg.property)[pick].float()
    if cfg.property.endswith("_au") and "R2" not in cfg.property:
        prop = prop * HARTREE_EV
    pos = mols.positions[pick]
    # centre each molecule (translation is a symmetry; this only keeps float32 rounding small)
    real = (types >= 0)[..., None].float()
    pos = (pos - (pos * real).sum(1, keepdim=True) / real.sum(1, keepdim=True)) * real
    out = {"pos": pos, "types": types, "y": prop}
    return {f"{k}_{s}": v[sl] for k, v in out.items()
            for s, sl in (("train", slice(0, cfg.n_train)), ("test", slice(cfg.n_train, n)))}


class MoleculeDecoder(nn.Module):
    """``z -> (B, A, 3 + E + 1)``: coordinates and a distribution over the elements and "none"."""

    def __init__(self, latent_dim: int, n_atoms: int, hidden: int) -> None:
        super().__init__()
        self.net = SetDecoder(latent_dim, n_atoms, 3 + len(ELEMENTS) + 1, hidden=hidden)

    def forward(self, z: Tensor) -> Tensor:
        out = self.net(z)
        return torch.cat([out[..., :3], torch.softmax(out[..., 3:], dim=-1)], dim=-1)


def _molecule_loss(type_weight: float) -> Callable[[Tensor, tuple[Tensor, Tensor]], Tensor]:
    def loss(rec: Tensor, x: tuple[Tensor, Tensor]) -> Tensor:
        pos, types = x
        real = types >= 0
        sq = (rec[..., :3] - pos).pow(2).sum(-1)
        coord = (sq * real).sum() / real.sum() / 3
        target = torch.where(real, types, torch.full_like(types, len(ELEMENTS)))
        prob = rec[..., 3:].gather(-1, target[..., None])[..., 0]
        return coord + type_weight * -torch.log(prob.clamp_min(1e-9)).mean()
    return loss


def build_model(cfg: QM9Config, n_atoms: int = 29) -> GIAE:
    """The E(3) × S_n GIAE with weights seeded by ``cfg.train.seed``."""
    with seeded(mix_seed(cfg.train.seed, "qm9-init")):
        perm = PermutationPose(mode=cfg.perm_mode)
        encoder = PointCloudEncoder(cfg.latent_dim, n_atoms, n_types=len(ELEMENTS),
                                    hidden=cfg.hidden, egnn_layers=cfg.egnn_layers,
                                    z_from=cfg.z_from, z_hidden=cfg.code_hidden, proper=False,
                                    perm=perm)
        return GIAE(encoder, RigidPermutationPose(perm, rotation="procrustes", proper=False),
                    MoleculeDecoder(cfg.latent_dim, n_atoms, cfg.decoder_hidden),
                    reconstruction_loss=_molecule_loss(cfg.type_weight),
                    penalty_weights={"perm_entropy": cfg.entropy_weight})


def _rec_eval(model: GIAE, pos: Tensor, types: Tensor) -> dict[str, float]:
    model.eval()
    rec = apply_batched(lambda b: model((b[..., :3], b[..., 3].long())).reconstruction,
                        torch.cat([pos, types[..., None].float()], -1), 100)
    real = types >= 0
    dev = rmsd(rec[..., :3], pos, real)
    pred = rec[..., 3:].argmax(-1)
    return {"rmsd": float(dev.mean()), "rmsd_median": float(dev.median()),
            "type_acc": float((pred == types)[real].double().mean())}


def _invariance(model: GIAE, pos: Tensor, types: Tensor, cfg: QM9Config) -> float:
    gen = torch.Generator().manual_seed(mix_seed(cfg.train.seed, "qm9-inv"))
    group = product(E3(scale=5.0), SymmetricGroup(pos.shape[1]))
    g = group.sample(pos.shape[0], generator=gen, dtype=torch.float64)
    packed = torch.cat([pos.double(), types[..., None].double()], -1)

    def act(h: Any, b: Tensor) -> Tensor:
        p, t = act_molecule(h, (b[..., :3], b[..., 3].long()))
        return torch.cat([p, t[..., None].to(p.dtype)], -1)

    dtype = next(model.parameters()).dtype
    return invariance_error(lambda b: model((b[..., :3].to(dtype), b[..., 3].long())).z,
                            packed, act, g, reduce="max", batch_size=100)


class PropertyModel(nn.Module):
    """``y = MLP(η(x))``: a property head on a (pre-trained or fresh) encoder."""

    def __init__(self, encoder: PointCloudEncoder, latent_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = mlp([latent_dim, 128, 128, 1])

    def forward(self, x: tuple[Tensor, Tensor]) -> Tensor:
        return self.head(self.encoder(x)[0])[:, 0]


def _transfer(cfg: QM9Config, data: dict[str, Tensor], pretrained: GIAE | None,
              fraction: float) -> tuple[float, list[dict[str, Any]]]:
    """Train a property head for ``transfer_minutes`` on ``fraction`` of the training set;
    return the final test MAE and the learning curve."""
    n = max(cfg.train.batch_size, round(fraction * cfg.n_train))
    scratch = build_model(dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, seed=cfg.train.seed + 1))).encoder
    encoder = scratch
    if pretrained is not None:
        encoder.load_state_dict(pretrained.encoder.state_dict())
    y_mean, y_std = data["y_train"][:n].mean(), data["y_train"][:n].std()
    model = PropertyModel(encoder, cfg.latent_dim)
    test = (data["pos_test"], data["types_test"], data["y_test"])

    def mae(m: nn.Module) -> dict[str, float]:
        pred = apply_batched(lambda b: m((b[..., :3], b[..., 3].long())),
                             torch.cat([test[0], test[1][..., None].float()], -1), 200)
        return {"test_mae": float((pred * y_std + y_mean - test[2]).abs().mean())}

    def loss(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        err = m((batch["pos"], batch["types"])) - (batch["y"] - y_mean) / y_std
        value = err.pow(2).mean()
        return value, {"mse": float(value.detach())}

    steps_per_epoch = max(1, n // cfg.train.batch_size)
    tcfg = dataclasses.replace(cfg.train, lr=cfg.transfer_lr, max_steps=None, progress=False,
                               time_limit_minutes=cfg.transfer_minutes, checkpoint_every=0,
                               epochs=10**6)
    schedule = budget_scheduler(None, cfg.transfer_minutes)
    data_set = TensorDictDataset(pos=data["pos_train"][:n], types=data["types_train"][:n],
                                 y=data["y_train"][:n])
    every = max(1, 100 // steps_per_epoch)
    with quiet_training_log():
        result = fit(model, loss, data_set, tcfg, scheduler=schedule,
                     callbacks=[EpochEval(mae, every=every)])
    final = mae(result.model.eval())["test_mae"]
    curve = [r for r in result.history if r.get("kind") == "epoch"]
    curve.append({"kind": "epoch", "step": result.step, "test_mae": final})
    return final, curve


def run(cfg: QM9Config, run_dir: RunDir, resume: bool) -> dict[str, float]:
    """Pre-train the autoencoder (resumable), evaluate it, then run the transfer experiment."""
    with use_threads(cfg.threads):
        return _run(cfg, run_dir, resume)


def _run(cfg: QM9Config, run_dir: RunDir, resume: bool) -> dict[str, float]:
    data = load_split(cfg)
    model = build_model(cfg, data["pos_train"].shape[1])
    probe = (data["pos_test"][:200], data["types_test"][:200])
    callback = EpochEval(lambda m: {f"test_{k}": v for k, v in _rec_eval(m, *probe).items()
                                    if k == "rmsd"})
    schedule = budget_scheduler(cfg.train.max_steps, cfg.train.time_limit_minutes)
    result = fit(model, lambda m, b: giae_loss(m, (b["pos"], b["types"])),
                 TensorDictDataset(pos=data["pos_train"], types=data["types_train"]), cfg.train,
                 run_dir, resume=resume, callbacks=[callback], scheduler=schedule)
    result = run_dir.last_fit = finish_budget(result, schedule)
    metrics: dict[str, Any] = _rec_eval(result.model, data["pos_test"], data["types_test"])
    k = cfg.check_samples
    metrics["inv_err_exact"] = _invariance(result.model, data["pos_test"][:k],
                                           data["types_test"][:k], cfg)
    metrics.update(train_seconds=result.train_seconds, steps=result.step,
                   ms_per_step=1000 * result.train_seconds / max(result.step, 1),
                   n_params=n_params(model), n_train=cfg.n_train, n_test=cfg.n_test,
                   stop_reason=result.stop_reason)
    curves: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for fraction in cfg.transfer_fractions:
        pct = round(100 * fraction)
        for name, init in (("pretrained", result.model), ("scratch", None)):
            mae, curve = _transfer(cfg, data, init, fraction)
            metrics[f"transfer_mae_{pct}pct_{name}"] = mae
            curves[f"{pct}% {name}"] = curve
    metrics["transfer_seconds"] = time.perf_counter() - started
    if run_dir.is_writer and curves:
        run_dir.write_json("transfer_curves.json", curves)
        plot_learning_curves(curves, run_dir.plot_path("transfer"), keys=("test_mae",),
                             title=f"qm9 transfer: test MAE of {cfg.property} (eV)")
    if run_dir.is_writer:
        plot_learning_curves(result.history, run_dir.plot_path("learning_curve"),
                             keys=("rec", "test_rmsd"), title="qm9: autoencoder training")
    return metrics


def evaluate(run_dir: RunDir) -> dict[str, float]:
    """Recompute the autoencoder metrics from the saved config and the latest checkpoint."""
    cfg = saved_config(run_dir, QM9Config)
    data = load_split(cfg)
    model = build_model(cfg, data["pos_train"].shape[1])
    checkpoint = load_model_state(run_dir, model)
    metrics: dict[str, Any] = _rec_eval(model, data["pos_test"], data["types_test"])
    metrics["steps"] = checkpoint["step"]
    return metrics


EXPERIMENT = Experiment(
    name="qm9",
    description="E(3) x S_n-invariant autoencoder for QM9 molecules, with property transfer "
                "(optional extra qm9)",
    config_cls=QM9Config,
    run=run,
    evaluate=evaluate,
)
