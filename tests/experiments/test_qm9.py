"""qm9 without the data: a clear message when it is absent; the model on synthetic molecules."""

import dataclasses

import pytest
import torch

from quotient.actions import act_molecule
from quotient.errors import DataError
from quotient.experiments import get
from quotient.experiments.qm9 import ELEMENTS, QM9Config, build_model, load_split
from quotient.groups import E3, SymmetricGroup, product
from quotient.testing import assert_invariant
from quotient.train import RunDir


def test_missing_data_gives_a_clear_error(tmp_path):
    cfg = dataclasses.replace(QM9Config(), data_root=str(tmp_path))
    with pytest.raises(DataError, match="QM9 files not found"):
        load_split(cfg)
    with pytest.raises(DataError, match="not found"):
        get("qm9").run(cfg, RunDir(tmp_path / "run"), False)


def test_missing_package_names_the_extra(monkeypatch):
    import quotient.data.qm9 as qm9data

    def absent(**kw):
        raise ImportError("QM9 needs the optional package qm9pack")

    monkeypatch.setattr(qm9data, "load_qm9", absent)
    with pytest.raises(DataError, match=r"pip install 'quotient\[qm9\]'"):
        load_split(QM9Config())


def _molecules(gen, b=4, n=9):
    pos = torch.randn(b, n, 3, generator=gen, dtype=torch.float64)
    types = torch.randint(len(ELEMENTS), (b, n), generator=gen)
    types[:, -2:] = -1
    pos[:, -2:] = 0.0
    return pos, types


def test_model_is_e3_and_permutation_invariant_and_trains(gen):
    cfg = dataclasses.replace(QM9Config(), hidden=8, egnn_layers=2, code_hidden=16,
                              decoder_hidden=16, latent_dim=4)
    model = build_model(cfg, n_atoms=9).double().eval()
    mol = _molecules(gen)
    group = product(E3(scale=5.0), SymmetricGroup(9))
    assert_invariant(lambda m: model(m).z, group, act_molecule, mol, generator=gen)
    rec = model(mol).reconstruction
    assert rec.shape == (4, 9, 3 + len(ELEMENTS) + 1)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = model.loss(mol)[0].item()
    for _ in range(15):
        loss, _ = model.loss(mol)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.loss(mol)[0].item() < first
