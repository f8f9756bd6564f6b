"""The qm9 transfer study counts optimiser steps: the same seed gives the same figures whatever
the machine's speed, every (property, fraction, initialisation) is run for each seed, and bad
settings are refused with a clear message. Synthetic molecules only (no QM9 download)."""

import dataclasses
import json
import time

import pytest
import torch

from quotient.errors import ConfigError
from quotient.experiments import get
from quotient.experiments.qm9 import QM9Config, build_model, transfer_study
from quotient.experiments.recipe import Split
from quotient.models.transfer import fit_property_head, seeded_property_model
from quotient.train import RunDir, TrainConfig, use_threads

TINY = dict(latent_dim=4, hidden=8, egnn_layers=1, code_hidden=16, decoder_hidden=16)


def _molecules(n: int, seed: int, atoms: int = 7):
    """``n`` random molecules of 4–``atoms`` atoms, padded, centred, with a size-like target
    (the mean distance from the centre) so that a head can learn something."""
    gen = torch.Generator().manual_seed(seed)
    pos = 1.2 * torch.randn(n, atoms, 3, generator=gen)
    kinds = torch.randint(5, (n, atoms), generator=gen)
    sizes = torch.randint(4, atoms + 1, (n,), generator=gen)
    real = torch.arange(atoms)[None] < sizes[:, None]
    kinds[~real] = -1
    pos = pos * real[..., None]
    pos = (pos - pos.sum(1, keepdim=True) / sizes[:, None, None]) * real[..., None]
    y = pos.norm(dim=-1).sum(1) / sizes
    return (pos, kinds), y


def _split(n_train: int = 64, n_test: int = 16) -> Split:
    train, y_train = _molecules(n_train, 0)
    test, y_test = _molecules(n_test, 1)
    props = ("HOMO_LUMO_gap_au", "Polarizability_bohr3")
    return Split(train, test, name="fake", extras={
        "y_train": {p: y_train * (1 + i) for i, p in enumerate(props)},
        "y_test": {p: y_test * (1 + i) for i, p in enumerate(props)}})


def _cfg(**kw) -> QM9Config:
    train = TrainConfig(batch_size=8, lr=1e-3, seed=3, device="cpu", progress=False)
    return dataclasses.replace(QM9Config(), train=train, n_train=64, n_test=16,
                               transfer_fractions=(0.25, 1.0), transfer_seeds=2,
                               transfer_steps=12, probe_steps=10, **{**TINY, **kw})


class Slow(torch.nn.Module):
    """The same model, a millisecond slower per call: a busy machine."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        time.sleep(0.002)
        return self.inner(x)


def test_fit_property_head_counts_steps_not_time():
    cfg, split = _cfg(), _split()
    y_train, y_test = split.extras["y_train"]["HOMO_LUMO_gap_au"], \
        split.extras["y_test"]["HOMO_LUMO_gap_au"]

    def run(slow: bool, encoder_lr: float | None = 1e-4):
        enc = build_model(cfg, split).encoder
        model = seeded_property_model(enc, cfg.latent_dim, 7)
        if slow:
            model.encoder = Slow(model.encoder)
        with use_threads(1):
            return fit_property_head(model, split.train, y_train, split.test, y_test,
                                     cfg.train, lr=1e-3, encoder_lr=encoder_lr, steps=17,
                                     minutes=5.0, evals=3)

    fast, again, slow = run(False), run(False), run(True)
    assert fast.steps == again.steps == slow.steps == 17
    assert fast.stop_reason == "max_steps" and fast.curve[-1]["step"] == 17
    assert fast.test_mae == again.test_mae == slow.test_mae  # bit-identical figures
    assert fast.curve == again.curve == slow.curve
    assert {"train_mae", "test_mae"} <= set(fast.curve[-1])
    # a frozen encoder keeps its weights; fine-tuning moves them
    enc = build_model(cfg, split).encoder
    before = [p.detach().clone() for p in enc.parameters()]
    with use_threads(1):
        fit_property_head(seeded_property_model(enc, cfg.latent_dim, 7), split.train, y_train,
                          split.test, y_test, cfg.train, lr=1e-3, encoder_lr=0.0, steps=5)
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters(), strict=True))
    with pytest.raises(ValueError, match="needs a budget"):
        fit_property_head(seeded_property_model(enc, cfg.latent_dim, 7), split.train, y_train,
                          split.test, y_test, cfg.train, lr=1e-3)


def test_transfer_study_is_reproducible_and_complete(tmp_path):
    cfg, split = _cfg(), _split()
    model = build_model(cfg, split)
    with use_threads(1):
        first = transfer_study(cfg, model, split, RunDir(tmp_path / "a"))
        second = transfer_study(cfg, model, split, None)
    for prop in ("gap", "alpha"):
        for pct in (25, 100):
            for init in ("pretrained", "scratch", "probe_pretrained", "probe_random"):
                key = f"transfer_mae_{prop}_{pct}pct_{init}"
                assert first[f"{key}_mean"] > 0 and first[f"{key}_std"] >= 0, key
                assert first[f"{key}_mean"] == second[f"{key}_mean"], key
                assert first[f"{key}_std"] == second[f"{key}_std"], key
    assert first["transfer_steps"] == 12 and first["transfer_n_labels_25pct"] == 16
    assert first["transfer_seconds"] > 0
    curves = json.loads((tmp_path / "a" / "transfer_curves.json").read_text())
    assert len(curves["gap_25pct_scratch"]) == 2  # one curve per seed
    assert curves["gap_25pct_scratch"][0][-1]["step"] == 12
    assert curves["alpha_100pct_probe_random"][0][-1]["step"] == 10
    assert (tmp_path / "a" / "plots" / "transfer.png").is_file()


@pytest.mark.parametrize(("setting", "message"), [
    ({"transfer_fractions": (0.05, 1.5)}, r"transfer_fractions must each lie in \(0, 1\]"),
    ({"transfer_fractions": (0.0,)}, r"transfer_fractions must each lie in \(0, 1\]"),
    ({"transfer_seeds": 0}, "transfer_seeds must be >= 1"),
    ({"transfer_steps": 0}, "need a budget"),
    ({"properties": ("gap",)}, "unknown QM9 properties"),
])
def test_bad_transfer_settings_are_refused(setting, message, tmp_path):
    cfg = dataclasses.replace(QM9Config(), **setting)
    with pytest.raises(ConfigError, match=message):
        get("qm9").check(cfg)


def test_cli_refuses_a_bad_fraction_before_making_the_run(tmp_path, capsys):
    from quotient.cli import main

    code = main(["train", "qm9", "--out", str(tmp_path / "run"), "--set",
                 "transfer_fractions=0.05,2"])
    assert code != 0
    assert "transfer_fractions must each lie in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_linear_paths_keep_the_symmetry_exactly():
    from quotient.metrics import symmetry_report
    from quotient.models.qm9_giae import LinearPlusMLP, qm9_giae
    from quotient.train import seeded

    with seeded(0):
        model = qm9_giae(n_atoms=7, linear_path=True, **TINY).double().eval()
    assert isinstance(model.encoder.code, LinearPlusMLP)
    assert model.decoder.linear is not None
    (pos, kinds), _ = _molecules(4, 2)
    report = symmetry_report(model, (pos.double(), kinds),
                             generator=torch.Generator().manual_seed(0))
    for key in ("inv_err_exact", "rec_err_exact", "pose_err_exact_rotation"):
        assert report.metrics[key] <= 1e-10, key
