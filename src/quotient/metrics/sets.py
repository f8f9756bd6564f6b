"""Metrics for sets, point clouds and molecules: element and set accuracy, RMSD, the
reconstruction figures of a molecule autoencoder, and the equivariance of rigid and
permutation poses.

Pose functions return ``(homogeneous (N, 4, 4), order (N, n))`` as
:class:`~quotient.nn.pose_rigid.RigidPermutationPose` does, for the product group
``SE(3)/E(3) × S_n`` acting by ``rigid_motion_and_permute_points``: ``g = (h, σ)`` moves the
points by ``h`` and reorders them by ``σ``; an equivariant pose satisfies
``R(g·x) = R_h R(x)``, ``t(g·x) = h·t(x)`` and ``order(g·x) = σ ∘ order(x)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ..groups import rotation_part, translation_part

__all__ = [
    "BOND_GRAPH_NOTE",
    "bond_graph_match",
    "bond_graphs",
    "element_accuracy",
    "molecule_reconstruction_metrics",
    "permutation_recovery",
    "rigid_pose_errors",
    "rmsd",
    "set_accuracy",
]


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} "
                         "must have the same shape (batch, n_elements)")


def element_accuracy(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> float:
    """Fraction of (real) elements whose predicted class equals the target, ``(N, n)`` ints."""
    _check_pair(pred, target)
    ok = pred == target
    if mask is None:
        return float(ok.double().mean())
    return float(ok[mask.bool()].double().mean())


def set_accuracy(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> float:
    """Fraction of sets with *every* real element right (``(N, n)`` ints)."""
    _check_pair(pred, target)
    ok = pred == target
    if mask is not None:
        ok = ok | ~mask.bool()
    return float(ok.all(dim=1).double().mean())


def rmsd(reconstruction: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Per-sample root-mean-square deviation ``sqrt(mean_i |x̂_i − x_i|²)`` over real points,
    ``(N, n, 3) -> (N,)``, in the units of the coordinates (Å for molecules)."""
    if reconstruction.shape != target.shape or target.dim() != 3:
        raise ValueError(f"rmsd needs two (batch, n, 3) arrays of one shape, got "
                         f"{tuple(reconstruction.shape)} and {tuple(target.shape)}")
    sq = (reconstruction.double() - target.double()).pow(2).sum(-1)
    if mask is None:
        return sq.mean(dim=1).sqrt()
    m = mask.double()
    return ((sq * m).sum(1) / m.sum(1).clamp_min(1.0)).sqrt()


BOND_GRAPH_NOTE = ("bond_match skipped: RDKit is not installed (pip install 'quotient[chem]')")
"""Why :func:`molecule_reconstruction_metrics` has no ``bond_match`` (logged once, as a
warning of the ``quotient.metrics`` logger: not a Python warning, which test suites and
``-W error`` turn into failures)."""

_QM9_SYMBOLS: tuple[str, ...] = ("H", "C", "N", "O", "F")


def _rdkit_bonds() -> Any | None:
    """RDKit's ``(Chem, rdDetermineBonds)``, or ``None`` where RDKit is absent."""
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import rdDetermineBonds
    except ImportError:
        return None
    RDLogger.DisableLog("rdApp.*")  # perception warnings of broken reconstructions are expected
    return Chem, rdDetermineBonds


def bond_graphs(positions: Tensor, elements: Tensor,
                symbols: Sequence[str] = _QM9_SYMBOLS) -> list[Tensor | None]:
    """The covalent bond graph of each molecule, perceived from its coordinates by RDKit.

    ``rdDetermineBonds.DetermineConnectivity`` (distance-based: atoms ``i, j`` are bonded when
    ``|x_i − x_j| ≤ r_i + r_j + tolerance`` with RDKit's covalent radii) on an XYZ block of the
    real atoms, in the order given.

    Args:
        positions: ``(N, A, 3)`` in Å; elements: ``(N, A)`` indices into ``symbols``, −1 on
            padding (and any index ≥ ``len(symbols)``, e.g. a decoded "none", makes the
            molecule unreadable).

    Returns:
        per molecule a boolean adjacency matrix ``(k, k)`` over its ``k`` real atoms (in the
        input order of those atoms), or ``None`` where RDKit could not read it.

    Raises:
        ImportError: RDKit is not installed.
    """
    found = _rdkit_bonds()
    if found is None:
        raise ImportError(BOND_GRAPH_NOTE)
    chem, determine = found
    out: list[Tensor | None] = []
    for pos, kinds in zip(positions.double().cpu(), elements.cpu(), strict=True):
        real = kinds >= 0
        k = int(real.sum())
        if bool((kinds[real] >= len(symbols)).any()) or k == 0:
            out.append(None)
            continue
        lines = [str(k), ""] + [f"{symbols[int(e)]} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}"
                                for e, p in zip(kinds[real], pos[real].tolist(), strict=True)]
        mol = chem.MolFromXYZBlock("\n".join(lines) + "\n")
        if mol is None:
            out.append(None)
            continue
        try:
            determine.DetermineConnectivity(mol)
        except Exception:  # RDKit raises its own (C++) errors on impossible geometries
            out.append(None)
            continue
        out.append(torch.as_tensor(chem.GetAdjacencyMatrix(mol), dtype=torch.bool))
    return out


def bond_graph_match(pred_positions: Tensor, pred_elements: Tensor, positions: Tensor,
                     elements: Tensor, symbols: Sequence[str] = _QM9_SYMBOLS) -> Tensor:
    """Per molecule, 1.0 where the reconstruction has the input's bond graph, else 0.0.

    The comparison is of labelled graphs under the reconstruction's own atom correspondence
    (atom ``i`` of the reconstruction is the reconstruction of input atom ``i``): the same
    real atoms, each with the same element, and the same adjacency matrix ``A_ij`` as
    perceived by :func:`bond_graphs`. This is stricter than comparing canonical SMILES of the
    connectivity-only molecules (which would accept a reconstruction that swaps two atoms'
    roles) and needs no sanitisation (bond orders and charges are never assigned).

    Args:
        pred_positions, positions: ``(N, A, 3)`` in Å.
        pred_elements, elements: ``(N, A)`` element indices, −1 on padding.

    Returns:
        ``(N,)`` float64 of 0.0 / 1.0 (a molecule RDKit cannot read counts as a mismatch).

    Raises:
        ImportError: RDKit is not installed.
    """
    pred_elements = torch.where(elements >= 0, pred_elements, torch.full_like(elements, -1))
    same_atoms = (pred_elements == elements).all(dim=1)
    got = bond_graphs(pred_positions, pred_elements, symbols)
    want = bond_graphs(positions, elements, symbols)
    match = [bool(s) and g is not None and w is not None and g.shape == w.shape
             and bool(torch.equal(g, w)) for s, g, w in zip(same_atoms, got, want, strict=True)]
    return torch.tensor(match, dtype=torch.float64)


_warned: set[str] = set()


@torch.no_grad()
def molecule_reconstruction_metrics(model: torch.nn.Module, x: tuple[Tensor, Tensor],
                                    batch_size: int = 100, bonds: bool = True
                                    ) -> dict[str, float]:
    """Reconstruction figures of a molecule autoencoder on ``x = (positions (N, A, 3),
    elements (N, A))`` (−1 = padding), evaluated in chunks in ``eval()`` mode; the
    reconstruction ``(N, A, 3 + E + 1)`` holds coordinates, then element probabilities.

    Returns ``rmsd`` (the per-molecule :func:`rmsd` over real atoms, mean over molecules, in
    Å), ``rmsd_median``, ``type_acc`` (share of real atoms whose most likely element is
    right) and, with ``bonds`` and RDKit installed, ``bond_match``: the share of molecules
    whose reconstruction has the input's bond graph (:func:`bond_graph_match`, the elements
    being the most likely ones). Without RDKit ``bond_match`` is left out and the note
    :data:`BOND_GRAPH_NOTE` is logged once.
    """
    pos, types = x
    model.eval()
    rec = torch.cat([model((pos[i:i + batch_size], types[i:i + batch_size])).reconstruction
                     for i in range(0, pos.shape[0], batch_size)])
    real = types >= 0
    dev = rmsd(rec[..., :3], pos, real)
    pred_types = rec[..., 3:].argmax(-1)
    out = {"rmsd": float(dev.mean()), "rmsd_median": float(dev.median()),
           "type_acc": float((pred_types == types)[real].double().mean())}
    if bonds:
        if _rdkit_bonds() is None:
            if BOND_GRAPH_NOTE not in _warned:
                _warned.add(BOND_GRAPH_NOTE)
                logging.getLogger("quotient.metrics").warning(BOND_GRAPH_NOTE)
        else:
            out["bond_match"] = float(bond_graph_match(rec[..., :3], pred_types, pos,
                                                       types).mean())
    return out


Pose = Callable[[Any], tuple[Tensor, Tensor]]


def rigid_pose_errors(pose: Pose, x: Any, moved: Any, g: tuple[Tensor, Tensor]
                      ) -> dict[str, Tensor]:
    """Per-sample equivariance errors of a ``(rigid, order)`` pose.

    Args:
        pose: ``x -> (homogeneous (N, 4, 4), order (N, n))``.
        x: inputs; ``moved``: the same inputs acted on by ``g = (h (N, 4, 4), σ (N, n))``.

    Returns:
        ``{"rotation": ‖R(g·x) − R_h R(x)‖_F / √3, "translation": ‖t(g·x) − h·t(x)‖ /
        ‖h·t(x)‖ (relative), "order": 1.0 where order(g·x) ≠ σ∘order(x), else 0.0}``,
        each of shape ``(N,)``.
    """
    with torch.no_grad():
        hom, order = pose(x)
        hom_g, order_g = pose(moved)
    h, sigma = g
    h = h.to(torch.float64)
    rot, t = rotation_part(hom).double(), translation_part(hom).double()
    rot_h, t_h = rotation_part(h), translation_part(h)
    expected_r = rot_h @ rot
    expected_t = (rot_h @ t[..., None])[..., 0] + t_h
    r_err = (rotation_part(hom_g).double() - expected_r).flatten(1).norm(dim=1) / 3 ** 0.5
    t_err = (translation_part(hom_g).double() - expected_t).norm(dim=1)
    t_err = t_err / expected_t.norm(dim=1).clamp_min(1e-12)
    composed = torch.gather(sigma, 1, order)
    return {"rotation": r_err, "translation": t_err,
            "order": (order_g != composed).any(dim=1).double()}


def permutation_recovery(order: Callable[[Any], Tensor], x: Tensor, sigma: Tensor,
                         shuffle: Callable[[Tensor, Tensor], Tensor]) -> float:
    """Fraction of samples whose hard permutation of the shuffled input ``σ·x`` is exactly
    ``σ ∘ order(x)`` — i.e. canonicalising a shuffled input gives back the same canonical
    order. ``shuffle(σ, x)`` applies the permutation (e.g. ``permute_set``)."""
    with torch.no_grad():
        o, o_s = order(x), order(shuffle(sigma, x))
    return float((o_s == torch.gather(sigma, 1, o)).all(dim=1).double().mean())
