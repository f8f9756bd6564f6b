"""Reconstruction figures of a molecule autoencoder: RMSD over real atoms, element accuracy."""

import types

import pytest
import torch

from quotient.metrics.sets import molecule_reconstruction_metrics


class Shifted(torch.nn.Module):
    """Reconstructs every real atom of molecule ``k`` moved by ``shift[k]`` Å along x (``k``
    is stored in the y coordinate of its first atom, so chunks find it), padding far away,
    and predicts element 0 everywhere."""

    def __init__(self, shift: torch.Tensor) -> None:
        super().__init__()
        self.shift = shift

    def forward(self, x):
        pos, kinds = x
        k = pos[:, 0, 1].round().long()
        coords = pos.clone()
        coords[..., 0] += self.shift[k][:, None]
        coords[kinds < 0] = 99.0  # padding: never scored
        probs = torch.zeros(*kinds.shape, 6, dtype=pos.dtype)
        probs[..., 0] = 1.0
        return types.SimpleNamespace(reconstruction=torch.cat([coords, probs], -1))


def test_rmsd_and_element_accuracy_on_real_atoms_only(gen):
    pos = torch.randn(3, 4, 3, generator=gen, dtype=torch.float64)
    pos[:, 0, 1] = torch.arange(3, dtype=torch.float64)  # lets the model find its shift
    kinds = torch.tensor([[0, 1, -1, -1], [0, 0, 0, -1], [2, 0, 1, 0]])
    pos[kinds < 0] = 0.0
    shift = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    m = molecule_reconstruction_metrics(Shifted(shift), (pos, kinds), batch_size=2)
    assert m["rmsd"] == pytest.approx(float(shift.mean()), rel=1e-12)  # each RMSD is its shift
    assert m["rmsd_median"] == pytest.approx(1.0, rel=1e-12)
    assert m["type_acc"] == pytest.approx(6 / 9)  # element 0 on 6 of the 9 real atoms
    assert molecule_reconstruction_metrics(Shifted(shift), (pos, kinds), batch_size=1) == m
