"""The bond-graph figure of molecule reconstructions: RDKit perceives the same graph from the
same coordinates, a stretched bond or a wrong element is a mismatch, and without RDKit the
metric is skipped with a warning instead of failing."""

import types

import pytest
import torch

import quotient.metrics.sets as sets
from quotient.metrics.sets import bond_graph_match, molecule_reconstruction_metrics

# ethanol, C C O H H H H H H (element indices into H C N O F), coordinates in Å
ETHANOL = torch.tensor([
    [0.896716, -0.076803, -0.015051], [-0.576461, -0.351290, 0.059947],
    [-1.316233, 0.811445, 0.204673], [1.272374, 0.145288, 1.013042],
    [1.047731, 0.822598, -0.625478], [1.447743, -0.965454, -0.344949],
    [-0.799527, -0.956474, 0.974358], [-0.859499, -0.942984, -0.822353],
    [-1.112844, 1.513674, -0.444189]], dtype=torch.float64)
KINDS = torch.tensor([1, 1, 3, 0, 0, 0, 0, 0, 0])


def _padded(pos: torch.Tensor, kinds: torch.Tensor, pad: int = 3):
    """One molecule padded with ``pad`` empty slots (element −1, position 0)."""
    return (torch.cat([pos, torch.zeros(pad, 3, dtype=pos.dtype)])[None],
            torch.cat([kinds, torch.full((pad,), -1)])[None])


def _stretched(bond_length: float = 3.0) -> torch.Tensor:
    """Ethanol with the O–H bond (atoms 2 and 8) stretched to ``bond_length`` Å."""
    pos = ETHANOL.clone()
    direction = pos[8] - pos[2]
    pos[8] = pos[2] + bond_length * direction / direction.norm()
    return pos


def test_identical_coordinates_match_and_a_stretched_bond_does_not():
    pytest.importorskip("rdkit")
    pos, kinds = _padded(ETHANOL, KINDS)
    assert bond_graph_match(pos, kinds, pos, kinds).tolist() == [1.0]
    # small noise (0.05 Å) keeps the graph
    noisy = pos + 0.05 * torch.randn(pos.shape, generator=torch.Generator().manual_seed(0),
                                     dtype=pos.dtype) * (kinds >= 0)[..., None]
    assert bond_graph_match(noisy, kinds, pos, kinds).tolist() == [1.0]
    far, _ = _padded(_stretched(3.0), KINDS)
    assert bond_graph_match(far, kinds, pos, kinds).tolist() == [0.0]
    # the right graph with a wrong element is not the input's molecule
    wrong = kinds.clone()
    wrong[0, 2] = 2  # O read as N
    assert bond_graph_match(pos, wrong, pos, kinds).tolist() == [0.0]
    # a real atom decoded as "none" (index 5) cannot be read: a mismatch, not an error
    none = kinds.clone()
    none[0, 0] = 5
    assert bond_graph_match(pos, none, pos, kinds).tolist() == [0.0]


class Echo(torch.nn.Module):
    """Reconstructs the input (coordinates and one-hot elements) exactly, except molecule 1
    whose O–H bond it stretches to 3 Å."""

    def forward(self, x):
        pos, kinds = x
        coords = pos.clone()
        if pos.shape[0] > 1:
            coords[1, :9] = _stretched(3.0).to(pos.dtype)
        probs = torch.nn.functional.one_hot(torch.where(kinds < 0, 5, kinds), 6).to(pos.dtype)
        return types.SimpleNamespace(reconstruction=torch.cat([coords, probs], -1))


def test_reconstruction_metrics_report_the_share_of_matching_graphs():
    pytest.importorskip("rdkit")
    pos, kinds = _padded(ETHANOL, KINDS)
    pos, kinds = pos.expand(2, -1, -1).clone(), kinds.expand(2, -1).clone()
    m = molecule_reconstruction_metrics(Echo(), (pos, kinds))
    assert m["bond_match"] == pytest.approx(0.5)
    assert m["type_acc"] == 1.0


def test_without_rdkit_the_metric_is_skipped_with_a_note(monkeypatch, caplog):
    monkeypatch.setattr(sets, "_rdkit_bonds", lambda: None)
    monkeypatch.setattr(sets, "_warned", set())
    pos, kinds = _padded(ETHANOL, KINDS)
    with caplog.at_level("WARNING", logger="quotient.metrics"):
        m = molecule_reconstruction_metrics(Echo(), (pos, kinds))  # no exception, no warning
    assert "bond_match" not in m and m["rmsd"] == 0.0
    assert "RDKit is not installed" in caplog.text
    with pytest.raises(ImportError, match="quotient\\[chem\\]"):
        sets.bond_graphs(pos, kinds)
