"""qm9: a clear message without the data; the molecule GIAE keeps E(3) × S_n exactly (and a
broken one is caught); the experiment end to end on a small fake QM9 folder."""

import contextlib
import csv
import dataclasses
import json

import pytest
import torch

from quotient.data import QM9_PROPERTIES
from quotient.errors import DataError
from quotient.experiments import get
from quotient.experiments.qm9 import QM9Config, load_data
from quotient.groups import E3, SymmetricGroup, product
from quotient.metrics import symmetry_report
from quotient.models.qm9_giae import qm9_giae
from quotient.models.transfer import PropertyModel
from quotient.train import RunDir, seeded

SMALL = dict(latent_dim=4, hidden=8, egnn_layers=2, code_hidden=16, decoder_hidden=16)


@contextlib.contextmanager
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_missing_data_gives_a_clear_error(tmp_path):
    cfg = dataclasses.replace(QM9Config(), data_root=str(tmp_path))
    with pytest.raises(DataError, match="QM9 files not found"):
        load_data(cfg)
    with pytest.raises(DataError, match="not found"):
        get("qm9").run(cfg, RunDir(tmp_path / "run"), False)


def test_missing_package_names_the_extra(monkeypatch):
    import quotient.data.qm9 as qm9data

    def absent(**kw):
        raise ImportError("QM9 needs the optional package qm9pack")

    monkeypatch.setattr(qm9data, "load_qm9", absent)
    with pytest.raises(DataError, match=r"pip install 'quotient\[qm9\]'"):
        load_data(QM9Config())


def _molecules(gen, b=4, n=9, pad=2):
    pos = torch.randn(b, n, 3, generator=gen, dtype=torch.float64)
    kinds = torch.randint(5, (b, n), generator=gen)
    if pad:
        kinds[:, -pad:] = -1
        pos[:, -pad:] = 0.0
    return pos, kinds


def test_qm9_giae_keeps_its_symmetry_exactly_and_a_broken_one_is_caught(gen):
    with seeded(0):
        model = qm9_giae(n_atoms=9, **SMALL).double().eval()
    for pad in (0, 2):  # padded atoms are not compared: the reconstruction is exact either way
        report = symmetry_report(model, _molecules(gen, pad=pad),
                                 generator=torch.Generator().manual_seed(0))
        for key in ("inv_err_exact", "pose_err_exact_rotation", "pose_err_exact_translation",
                    "pose_err_exact_order", "rec_err_exact", "canon_err_exact"):
            assert report.metrics[key] <= 1e-10, (pad, key)
    mol = _molecules(gen)
    assert model(mol).reconstruction.shape == (4, 9, 3 + 5 + 1)
    forward = model.encoder.forward

    def leaky(x):  # a code that sees the first slot's x coordinate
        z, feats = forward(x)
        return z + x[0][:, :1, 0], feats

    model.encoder.forward = leaky
    assert symmetry_report(model, mol).metrics["inv_err_exact"] > 1e-3


def test_property_model_reads_the_encoder_code(gen):
    with seeded(0):
        model = qm9_giae(n_atoms=9, **SMALL).double().eval()
        head = PropertyModel(model.encoder, 4).double().eval()
    mol = _molecules(gen)
    y = head(mol)
    assert y.shape == (4,)
    h, sigma = product(E3(), SymmetricGroup(9)).sample(4, generator=gen, dtype=torch.float64)
    from quotient.actions import act_molecule

    assert torch.allclose(head(act_molecule((h, sigma), mol)), y, rtol=0, atol=1e-10)


def _fake_qm9(folder, n=30, seed=0):
    """``n`` random molecules of 5–8 atoms in general position, as a qm9pack CSV."""
    gen = torch.Generator().manual_seed(seed)
    header = ["XYZ_file", "Index", "SMILES", "InChi", "N_atoms", "Stoichiometry", "Elements",
              "XYZ_Ang", "Mulliken_pop", "Harmonic_Freq_cmi", *QM9_PROPERTIES]
    rows = []
    for i in range(1, n + 1):
        k = int(torch.randint(5, 9, (1,), generator=gen))
        els = ["HCNOF"[int(j)] for j in torch.randint(5, (k,), generator=gen)]
        xyz = (1.5 * torch.randn(k, 3, generator=gen, dtype=torch.float64)).tolist()
        props = (0.1 + 0.4 * torch.rand(len(QM9_PROPERTIES), generator=gen)).tolist()
        rows.append([f"dsgdb9nsd_{i:06d}.xyz", str(i), "C", "InChI=1S", str(k), "[1]",
                     "[" + ",".join(f"'{e}'" for e in els) + "]",
                     "[" + ",".join("[" + ",".join(f"{c:.6f}" for c in p) + "]" for p in xyz)
                     + "]", "[0.1]", "[1.0]", *(f"{v:.5f}" for v in props)])
    folder.mkdir()
    with (folder / "qm9_part1.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(header)
        writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from quotient.cli import main

    tmp = tmp_path_factory.mktemp("qm9")
    folder = _fake_qm9(tmp / "qm9")
    with pytest.MonkeyPatch.context() as mp, one_thread():
        mp.setenv("QUOTIENT_CACHE", str(tmp / "cache"))
        assert main(["train", "qm9", "--out", str(tmp / "run"), "--set",
                     f"data_root={folder}", "n_train=20", "n_test=10", "train.batch_size=4",
                     "train.max_steps=10", "train.checkpoint_every=5", "train.log_every=5",
                     "train.progress=false", "train.device=cpu", "latent_dim=4", "hidden=8",
                     "egnn_layers=1", "code_hidden=16", "decoder_hidden=16",
                     "transfer_fractions=0.5", "transfer_steps=4", "transfer_seeds=1",
                     "probe_steps=3", "eval_samples=5",
                     "check_samples=10"]) == 0
        yield tmp / "run"


def test_cli_run_writes_the_metrics_contract_and_plots(cli_run):
    metrics = json.loads((cli_run / "metrics.json").read_text())
    for key in ("rmsd", "rmsd_median", "type_acc", "inv_err_exact", "inv_err_exact_f64",
                "pose_err_exact_translation", "transfer_mae_gap_50pct_pretrained_mean",
                "transfer_mae_alpha_50pct_scratch_std", "transfer_seconds", "n_params"):
        assert key in metrics, key
    assert metrics["steps"] == 10 and metrics["n_train"] == 20 and metrics["n_test"] == 10
    assert 0.0 < metrics["rmsd"] and 0.0 <= metrics["type_acc"] <= 1.0
    assert metrics["inv_err_exact"] < 1e-4 and metrics["inv_err_exact_f64"] < 1e-10
    assert metrics["pose_err_exact_translation_f64"] < 1e-10
    curves = json.loads((cli_run / "transfer_curves.json").read_text())
    assert {"gap_50pct_pretrained", "gap_50pct_scratch", "alpha_50pct_probe_random"} <= set(
        curves)
    assert curves["gap_50pct_scratch"][0][-1]["test_mae"] == metrics[
        "transfer_mae_gap_50pct_scratch_mean"]  # one seed: the mean is that run's figure
    assert curves["gap_50pct_scratch"][0][-1]["step"] == 4
    epochs = [json.loads(line) for line in (cli_run / "metrics.jsonl").read_text().splitlines()]
    assert any("test_rmsd" in r for r in epochs if r.get("kind") == "epoch")
    for plot in ("learning_curve", "transfer"):
        assert (cli_run / "plots" / f"{plot}.png").is_file()


def test_evaluate_reproduces_the_run_without_the_transfer(cli_run, monkeypatch):
    metrics = json.loads((cli_run / "metrics.json").read_text())
    monkeypatch.setenv("QUOTIENT_CACHE", str(cli_run.parent / "cache"))
    with one_thread():
        again = get("qm9").evaluate(RunDir.open(cli_run))
    for key in ("rmsd", "type_acc", "inv_err_exact"):
        assert again[key] == pytest.approx(metrics[key], rel=1e-12), key
    assert not any(k.startswith("transfer_") for k in again)
