"""QM9 (Ramakrishnan et al. 2014): 130,831 small molecules with 3-d coordinates and properties.

Sources, in order of preference:

* the optional package ``qm9pack`` 1.0.3 (``pip install 'quotient[qm9]'``), whose CSV files are
  read directly (``import qm9pack`` itself is broken with current setuptools and is not used);
* a user-given folder holding those CSV files (``qm9_part*.csv``) or the original
  ``dsgdb9nsd_*.xyz`` files (extracted from ``dsgdb9nsd.xyz.tar.bz2``).

Parsing everything takes tens of seconds, so the result is converted once into an ``.npz`` in the
cache folder (``cache_dir`` argument, else ``$QUOTIENT_CACHE``, else ``~/.cache/quotient``),
written atomically; later loads take well under a second.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from quotient.errors import DataError, MissingDataError, MissingDependencyError

from ._io import atomic_save_npz, default_cache_dir

__all__ = [
    "HARTREE_EV", "QM9_ELEMENTS", "QM9_MAX_ATOMS", "QM9_PROPERTIES", "Molecules", "QM9Split",
    "element_indices", "load_qm9", "parse_qm9_csv", "parse_qm9_xyz", "qm9_split", "qm9pack_files",
]

QM9_MAX_ATOMS = 29
"""The largest number of atoms of a QM9 molecule (hydrogens included): the padded size."""
# Property columns of the qm9pack CSV (names kept as spelled there), in the order of the 15 values
# on line 2 of an original QM9 .xyz file. Units: GHz, debye, bohr^3, hartree, bohr^2, cal/(mol K).
QM9_PROPERTIES: tuple[str, ...] = (
    "RotA_GHz", "RotB_GHz", "RotC_GHz", "Dipole_debye", "Polarizability_bohr3", "HOMO_au",
    "LUMO_au", "HOMO_LUMO_gap_au", "R2_bohr2", "ZPVE_au", "InternalEnergy_0K_au",
    "InternalEnergy_298K_au", "Enthalphy_298K_au", "GibbsFreeEnergy_298K_au",
    "Heatcapacity_Cv_cal_mol_K",
)
"""Names of the 15 property columns of the qm9pack CSV, in its order."""
ATOMIC_NUMBERS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
QM9_ELEMENTS: tuple[int, ...] = (1, 6, 7, 8, 9)
"""Atomic numbers of the element indices of :func:`qm9_split` (H C N O F)."""
HARTREE_EV = 27.211386
"""Electronvolts per hartree."""
_INSTALL = "install it with: pip install 'quotient[qm9]'"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Molecules:
    """Molecules padded to a fixed number of atoms.

    Attributes:
        positions: float32 (N, A, 3) coordinates in angstrom, 0 on padding.
        atomic_numbers: int64 (N, A), 0 on padding (H 1, C 6, N 7, O 8, F 9).
        mask: bool (N, A), True on real atoms.
        properties: float64 (N, P), columns named by ``property_names``.
        property_names: the P property names (see ``QM9_PROPERTIES``).
        index: int64 (N,) QM9 molecule number (1..133885).
    """

    positions: Tensor
    atomic_numbers: Tensor
    mask: Tensor
    properties: Tensor
    property_names: tuple[str, ...]
    index: Tensor

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def property(self, name: str) -> Tensor:
        """One property column, float64 (N,)."""
        if name not in self.property_names:
            raise KeyError(f"unknown property {name!r}; available: {list(self.property_names)}")
        return self.properties[:, self.property_names.index(name)]


def _pack(records: list[tuple[int, list[int], np.ndarray, list[float]]], max_atoms: int,
          where: str) -> dict[str, np.ndarray]:
    n = len(records)
    positions = np.zeros((n, max_atoms, 3), dtype=np.float32)
    numbers = np.zeros((n, max_atoms), dtype=np.uint8)
    properties = np.zeros((n, len(QM9_PROPERTIES)), dtype=np.float64)
    index = np.zeros(n, dtype=np.int64)
    for i, (idx, z, xyz, props) in enumerate(records):
        if len(z) > max_atoms:
            raise DataError(f"{where}: molecule {idx} has {len(z)} atoms > max_atoms={max_atoms}")
        positions[i, : len(z)] = xyz
        numbers[i, : len(z)] = z
        properties[i] = props
        index[i] = idx
    return {"positions": positions, "atomic_numbers": numbers, "properties": properties,
            "index": index}


def _numbers(elements: Sequence[str], where: str) -> list[int]:
    try:
        return [ATOMIC_NUMBERS[e] for e in elements]
    except KeyError as err:
        raise DataError(f"{where}: unknown element {err.args[0]!r}; the file is corrupt") from err


def parse_qm9_csv(
    paths: Sequence[str | os.PathLike[str]], *, limit: int | None = None,
    max_atoms: int = QM9_MAX_ATOMS,
) -> dict[str, np.ndarray]:
    """Parse qm9pack-style CSV files (header with ``Index``, ``Elements``, ``XYZ_Ang``, ...).

    ``Elements`` and ``XYZ_Ang`` are Python literals (``ast.literal_eval``; values such as ``0.``
    are not JSON). Reads at most ``limit`` molecules in file order.

    Returns:
        dict of numpy arrays: positions float32 (N, max_atoms, 3), atomic_numbers uint8
        (N, max_atoms), properties float64 (N, 15), index int64 (N,).

    Raises:
        ValueError: a missing column or a malformed row (file and line named).
    """
    records: list[tuple[int, list[int], np.ndarray, list[float]]] = []
    for path in map(Path, paths):
        if limit is not None and len(records) >= limit:
            break
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"Index", "Elements", "XYZ_Ang", *QM9_PROPERTIES} - set(
                reader.fieldnames or ()
            )
            if missing:
                raise DataError(f"{path}: not a QM9 CSV, missing columns {sorted(missing)}")
            for row in reader:
                if limit is not None and len(records) >= limit:
                    break
                where = f"{path}:{reader.line_num}"
                try:
                    elements = ast.literal_eval(row["Elements"])
                    xyz = np.asarray(ast.literal_eval(row["XYZ_Ang"]), dtype=np.float64)
                    props = [float(row[name]) for name in QM9_PROPERTIES]
                    idx = int(row["Index"])
                except (ValueError, SyntaxError, TypeError) as err:
                    raise DataError(f"{where}: malformed QM9 row ({err})") from err
                if xyz.shape != (len(elements), 3):
                    raise DataError(f"{where}: {len(elements)} elements but coordinates of "
                                     f"shape {xyz.shape}")
                records.append((idx, _numbers(elements, where), xyz, props))
    return _pack(records, max_atoms, ", ".join(map(str, paths)))


def parse_qm9_xyz(
    paths: Sequence[str | os.PathLike[str]], *, limit: int | None = None,
    max_atoms: int = QM9_MAX_ATOMS,
) -> dict[str, np.ndarray]:
    """Parse original QM9 ``.xyz`` files (Mathematica-style exponents such as ``1.2*^-6``).

    Returns the same dict as :func:`parse_qm9_csv`.
    """
    records: list[tuple[int, list[int], np.ndarray, list[float]]] = []
    for path in list(map(Path, paths))[:limit]:
        lines = path.read_text().replace("*^", "e").splitlines()
        try:
            n = int(lines[0])
            head = lines[1].split()
            idx, props = int(head[1]), [float(v) for v in head[2 : 2 + len(QM9_PROPERTIES)]]
            atoms = [line.split() for line in lines[2 : 2 + n]]
            xyz = np.array([[float(v) for v in a[1:4]] for a in atoms], dtype=np.float64)
        except (ValueError, IndexError) as err:
            raise DataError(f"{path}: malformed QM9 .xyz file ({err})") from err
        if len(props) != len(QM9_PROPERTIES) or xyz.shape != (n, 3):
            raise DataError(f"{path}: malformed QM9 .xyz file (truncated header or atoms)")
        records.append((idx, _numbers([a[0] for a in atoms], str(path)), xyz, props))
    return _pack(records, max_atoms, "QM9 .xyz files")


def qm9pack_files() -> list[Path]:
    """The three molecule CSV files of the installed ``qm9pack`` package.

    Raises:
        ImportError: ``qm9pack`` is not installed (the message names the install command).
    """
    from importlib import metadata

    try:
        dist = metadata.distribution("qm9pack")
    except metadata.PackageNotFoundError as err:
        raise MissingDependencyError(f"QM9 needs the optional package qm9pack; {_INSTALL}") from err
    files = [Path(str(dist.locate_file(f"qm9pack/data/qm9_part{i}.csv"))) for i in (1, 2, 3)]
    absent = [str(f) for f in files if not f.is_file()]
    if absent:
        raise MissingDataError(f"qm9pack is installed but lacks {absent}; reinstall it with: "
                                "pip install --force-reinstall qm9pack==1.0.3")
    return files


def _source_files(root: str | os.PathLike[str] | None) -> tuple[list[Path], str]:
    if root is None:
        return qm9pack_files(), "csv"
    folder = Path(root).expanduser()
    csvs = sorted(folder.glob("qm9_part*.csv"))
    if csvs:
        return csvs, "csv"
    xyzs = sorted(folder.glob("*.xyz"))
    if xyzs:
        return xyzs, "xyz"
    raise MissingDataError(
        f"no QM9 files (qm9_part*.csv or *.xyz) found in {folder}; pass root= a folder holding "
        f"them, or omit root to use the qm9pack package ({_INSTALL})"
    )


def _cache_key(files: list[Path], kind: str, limit: int | None, max_atoms: int) -> str:
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    blob = json.dumps([_FORMAT_VERSION, kind, limit, max_atoms, stats]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # unreadable cache: rebuilt from the source files by the caller


def load_qm9(
    *,
    root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    max_atoms: int = QM9_MAX_ATOMS,
    refresh: bool = False,
) -> Molecules:
    """Load QM9, parsing the source once and caching the result.

    Args:
        root: folder with ``qm9_part*.csv`` or ``*.xyz`` files; default: the qm9pack package.
        cache_dir: cache folder (default ``$QUOTIENT_CACHE`` or ``~/.cache/quotient``).
        limit: keep only the first ``limit`` molecules (cached separately).
        max_atoms: padded length A (QM9 molecules have at most 29 atoms).
        refresh: re-parse even if a cache file exists.

    Returns:
        Molecules with positions float32 (N, A, 3), atomic_numbers int64 (N, A), mask bool
        (N, A), properties float64 (N, 15), index int64 (N,).
    """
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    files, kind = _source_files(root)
    cache = default_cache_dir(cache_dir) / f"qm9_{_cache_key(files, kind, limit, max_atoms)}.npz"
    arrays = None if refresh or not cache.is_file() else _read_cache(cache)
    if arrays is None:
        parse = parse_qm9_csv if kind == "csv" else parse_qm9_xyz
        arrays = parse(files, limit=limit, max_atoms=max_atoms)
        atomic_save_npz(cache, **arrays)
    numbers = torch.from_numpy(arrays["atomic_numbers"].astype(np.int64))
    return Molecules(
        positions=torch.from_numpy(arrays["positions"]),
        atomic_numbers=numbers,
        mask=numbers > 0,
        properties=torch.from_numpy(arrays["properties"]),
        property_names=QM9_PROPERTIES,
        index=torch.from_numpy(arrays["index"]),
    )


def element_indices(atomic_numbers: Tensor) -> Tensor:
    """Atomic numbers (0 on padding, any shape) → indices into :data:`QM9_ELEMENTS`
    (H 0, C 1, N 2, O 3, F 4), −1 on padding; the model inputs' element encoding.

    Raises:
        DataError: an atomic number that is not one of QM9's elements.
    """
    z = torch.as_tensor(atomic_numbers).long()
    lookup = torch.full((max(QM9_ELEMENTS) + 1,), -2, dtype=torch.long)
    lookup[0] = -1
    lookup[list(QM9_ELEMENTS)] = torch.arange(len(QM9_ELEMENTS))
    bad = (z < 0) | (z > max(QM9_ELEMENTS))
    out = lookup[z.clamp(0, max(QM9_ELEMENTS))]
    if bool(bad.any()) or bool((out == -2).any()):
        found = sorted(set(z[bad | (out == -2)].tolist()))
        raise DataError(f"atomic numbers {found} are not QM9 elements {QM9_ELEMENTS} "
                        "(0 marks padding)")
    return out


@dataclass(frozen=True)
class QM9Split:
    """A random training / test split of QM9 for learning.

    Attributes:
        train, test: model inputs ``(positions, elements)``: positions float32 ``(N, A, 3)``
            in Å, centred on the molecule's atoms (0 on padding); elements int64 ``(N, A)``,
            indices into :data:`QM9_ELEMENTS`, −1 on padding.
        y_train, y_test: the property, float32 ``(N,)`` (energies in eV, other columns in the
            units of :data:`QM9_PROPERTIES`).
        property: its column name.
    """

    train: tuple[Tensor, Tensor]
    test: tuple[Tensor, Tensor]
    y_train: Tensor
    y_test: Tensor
    property: str


def qm9_split(n_train: int, n_test: int, *, seed: int = 0,
              property: str = "HOMO_LUMO_gap_au",
              root: str | os.PathLike[str] | None = None,
              cache_dir: str | os.PathLike[str] | None = None) -> QM9Split:
    """``n_train + n_test`` molecules drawn at random (``torch.randperm`` seeded by ``seed``),
    the first ``n_train`` for training.

    Energies (columns ending in ``_au`` other than ``R2``) are converted from hartree to eV.
    Each molecule is centred on its atoms: translation is a symmetry, and centring only keeps
    the float32 rounding of the coordinates small. ``root`` and ``cache_dir`` are passed to
    :func:`load_qm9`.

    Raises:
        DataError: QM9 is not available (the message names the install command), or has
            fewer than ``n_train + n_test`` molecules.
    """
    try:
        mols = load_qm9(root=root or None, cache_dir=cache_dir)
    except ImportError as exc:
        raise DataError("QM9 is not installed: install the optional extra with pip install "
                        "'quotient[qm9]', or give a folder holding qm9_part*.csv or "
                        "dsgdb9nsd_*.xyz files (an experiment's data_root=FOLDER)") from exc
    except FileNotFoundError as exc:
        raise DataError(f"QM9 files not found: {exc}") from exc
    n = n_train + n_test
    if n > len(mols):
        raise DataError(f"n_train + n_test = {n} exceeds the {len(mols)} QM9 molecules")
    pick = torch.randperm(len(mols), generator=torch.Generator().manual_seed(seed))[:n]
    elements = element_indices(mols.atomic_numbers[pick])
    y = mols.property(property)[pick].float()
    if property.endswith("_au") and "R2" not in property:
        y = y * HARTREE_EV
    pos = mols.positions[pick]
    real = (elements >= 0)[..., None].float()
    pos = (pos - (pos * real).sum(1, keepdim=True) / real.sum(1, keepdim=True)) * real
    return QM9Split((pos[:n_train], elements[:n_train]), (pos[n_train:], elements[n_train:]),
                    y[:n_train], y[n_train:], property)
