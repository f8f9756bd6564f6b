"""QM9: CSV and .xyz parsers on small fake files, the cache, and the optional qm9pack package."""

from __future__ import annotations

import csv
import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from quotient.data import QM9_PROPERTIES, load_qm9
from quotient.data.qm9 import HARTREE_EV, QM9_ELEMENTS, parse_qm9_csv, qm9_split, qm9pack_files
from quotient.errors import DataError

HEADER = ["XYZ_file", "Index", "SMILES", "InChi", "N_atoms", "Stoichiometry", "Elements",
          "XYZ_Ang", "Mulliken_pop", "Harmonic_Freq_cmi", *QM9_PROPERTIES]

METHANE = ("['C','H','H','H','H']",
           "[[-0.0126981359,1.0858041578,0.0080009958],[0.002150416,-0.0060313176,0.],"
           "[1.0117308433,1.4637511618,0.0002765748],[-0.540815069,1.4475266138,-0.8766437152],"
           "[-0.5238136345,1.4379326443,0.9063972942]]")
WATER = ("['O','H','H']", "[[-0.0343604951,0.9775395708,0.0076015923],"
         "[0.0647664923,0.0205721989,0.0015346341],[0.8717903737,1.3007924048,0.0006931336]]")


def row(index: int, mol: tuple[str, str], first_prop: float) -> list[str]:
    props = [f"{first_prop + k:.4f}" for k in range(len(QM9_PROPERTIES))]
    n = mol[0].count(",") + 1
    return [f"dsgdb9nsd_{index:06d}.xyz", str(index), "C", "InChI=1S/CH4/h1H4", str(n),
            "[4,1,0,0,0]", mol[0], mol[1], "[0.1]", "[1341.3]", *props]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def qm9_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "qm9"
    folder.mkdir()
    write_csv(folder / "qm9_part1.csv", [row(1, METHANE, 157.0), row(3, WATER, 10.0)])
    write_csv(folder / "qm9_part2.csv", [row(7, WATER, 20.0)])
    return folder


def test_csv_parser(qm9_folder: Path) -> None:
    out = parse_qm9_csv(sorted(qm9_folder.glob("*.csv")))
    assert out["positions"].shape == (3, 29, 3) and out["positions"].dtype == np.float32
    assert out["index"].tolist() == [1, 3, 7]
    assert out["atomic_numbers"][0, :6].tolist() == [6, 1, 1, 1, 1, 0]
    assert out["atomic_numbers"][1, :4].tolist() == [8, 1, 1, 0]
    assert out["positions"][0, 1, 2] == 0.0 and out["positions"][0, 5:].sum() == 0
    assert np.isclose(out["positions"][0, 2, 0], 1.0117308433)
    assert out["properties"].shape == (3, 15) and out["properties"][0, 0] == 157.0
    assert parse_qm9_csv(sorted(qm9_folder.glob("*.csv")), limit=2)["index"].tolist() == [1, 3]


def test_load_qm9_from_folder_and_cache(qm9_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mols = load_qm9(root=qm9_folder, cache_dir=cache)
    assert len(mols) == 3
    assert mols.positions.shape == (3, 29, 3) and mols.positions.dtype == torch.float32
    assert mols.atomic_numbers.dtype == torch.int64 and mols.mask.dtype == torch.bool
    assert mols.mask.sum(1).tolist() == [5, 3, 3]
    assert torch.equal(mols.mask, mols.atomic_numbers > 0)
    assert mols.properties.dtype == torch.float64 and mols.property_names == QM9_PROPERTIES
    assert mols.property("Dipole_debye").tolist() == [160.0, 13.0, 23.0]
    with pytest.raises(KeyError, match="unknown property 'mu'"):
        mols.property("mu")
    files = list(cache.glob("qm9_*.npz"))
    assert len(files) == 1 and not list(cache.glob("*.tmp"))
    # the second load reads the cache and leaves it untouched
    stamp = files[0].stat().st_mtime_ns
    again = load_qm9(root=qm9_folder, cache_dir=cache)
    assert torch.equal(again.positions, mols.positions) and files[0].stat().st_mtime_ns == stamp
    # a corrupt cache is rebuilt, not trusted
    files[0].write_bytes(b"not a zip")
    rebuilt = load_qm9(root=qm9_folder, cache_dir=cache)
    assert torch.equal(rebuilt.atomic_numbers, mols.atomic_numbers)
    # limit gives a separately cached prefix
    assert len(load_qm9(root=qm9_folder, cache_dir=cache, limit=2)) == 2
    assert len(list(cache.glob("qm9_*.npz"))) == 2


def test_cache_dir_from_environment(qm9_folder: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTIENT_CACHE", str(tmp_path / "envcache"))
    load_qm9(root=qm9_folder)
    assert len(list((tmp_path / "envcache").glob("qm9_*.npz"))) == 1


def test_xyz_files(tmp_path: Path) -> None:
    text = (
        "3\n"
        "gdb 3\t1.0\t2.0\t3.0\t1.8511\t6.31\t-0.2928\t0.0687\t0.3615\t19.0002\t0.021375\t"
        "-76.404702\t-76.401867\t-76.400922\t-76.422349\t6.002\n"
        "O\t-0.0343604951\t 0.9775395708\t 0.0076015923\t-0.589706\n"
        "H\t 0.0647664923\t 0.0205721989\t 1.5346341*^-6\t 0.294853\n"
        "H\t 0.8717903737\t 1.3007924048\t 0.0006931336\t 0.294853\n"
        "1591.32\t3731.13\t3833.03\nO\tO\nInChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2\n"
    )
    (tmp_path / "dsgdb9nsd_000003.xyz").write_text(text)
    mols = load_qm9(root=tmp_path, cache_dir=tmp_path / "c")
    assert mols.index.tolist() == [3] and mols.atomic_numbers[0, :3].tolist() == [8, 1, 1]
    assert mols.positions[0, 1, 2].item() == pytest.approx(1.5346341e-6)
    assert mols.property("Dipole_debye").item() == pytest.approx(1.8511)
    (tmp_path / "dsgdb9nsd_000004.xyz").write_text(text.replace("\t0.0687", ""))
    with pytest.raises(DataError, match="malformed QM9 .xyz file"):
        load_qm9(root=tmp_path, cache_dir=tmp_path / "c")


def test_malformed_csv(tmp_path: Path) -> None:
    bad = row(1, METHANE, 1.0)
    bad[7] = "[[0.0,1.0,2.0],[0.0,1.0"
    write_csv(tmp_path / "qm9_part1.csv", [bad])
    with pytest.raises(DataError, match=r"qm9_part1.csv:\d+: malformed QM9 row"):
        load_qm9(root=tmp_path, cache_dir=tmp_path / "c")
    write_csv(tmp_path / "qm9_part1.csv", [row(1, WATER, 1.0)], header=HEADER[:-1] + ["x"])
    with pytest.raises(DataError, match="missing columns"):
        load_qm9(root=tmp_path, cache_dir=tmp_path / "c")
    odd = row(1, ("['C','Xe','H']", WATER[1]), 1.0)
    write_csv(tmp_path / "qm9_part1.csv", [odd])
    with pytest.raises(DataError, match="unknown element 'Xe'"):
        load_qm9(root=tmp_path, cache_dir=tmp_path / "c")
    write_csv(tmp_path / "qm9_part1.csv", [row(1, METHANE, 1.0)])
    with pytest.raises(DataError, match="5 atoms > max_atoms=4"):
        load_qm9(root=tmp_path, cache_dir=tmp_path / "c", max_atoms=4)


def test_missing_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match=r"no QM9 files .* pip install 'quotient\[qm9\]'"):
        load_qm9(root=tmp_path)

    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(ImportError, match=r"install it with: pip install 'quotient\[qm9\]'"):
        load_qm9(cache_dir=tmp_path)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        load_qm9(root=tmp_path, limit=0)


def test_qm9_split_centres_encodes_and_converts(qm9_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    split = qm9_split(2, 1, seed=5, root=qm9_folder, cache_dir=cache)
    pos, elements = split.train
    assert pos.shape == (2, 29, 3) and elements.shape == (2, 29) and split.test[0].shape[0] == 1
    real = elements >= 0
    # centred on the real atoms, zero on padding
    centre = (pos * real[..., None]).sum(1) / real.sum(1, keepdim=True)
    assert torch.allclose(centre, torch.zeros(2, 3), atol=1e-6) and not pos[~real].any()
    # element indices into QM9_ELEMENTS: the three molecules' atoms, in their file order
    every = torch.cat([elements, split.test[1]])
    numbers = torch.tensor(QM9_ELEMENTS)[every.clamp_min(0)] * (every >= 0)
    mols = load_qm9(root=qm9_folder, cache_dir=cache)
    assert sorted(numbers.tolist()) == sorted(mols.atomic_numbers.tolist())
    # the whole split is a permutation of the molecules; energies in eV, other columns as is
    y = torch.cat([split.y_train, split.y_test])
    gap = QM9_PROPERTIES.index("HOMO_LUMO_gap_au")
    assert sorted(y.tolist()) == pytest.approx(sorted(
        (mols.properties[:, gap] * HARTREE_EV).float().tolist()))
    dipole = qm9_split(2, 1, seed=5, property="Dipole_debye", root=qm9_folder, cache_dir=cache)
    assert sorted(torch.cat([dipole.y_train, dipole.y_test]).tolist()) == [13.0, 23.0, 160.0]
    # seeded: the same seed, the same split; all seeds draw without repetition
    again = qm9_split(2, 1, seed=5, root=qm9_folder, cache_dir=cache)
    assert torch.equal(again.train[0], pos) and torch.equal(again.y_test, split.y_test)
    with pytest.raises(DataError, match="exceeds the 3 QM9 molecules"):
        qm9_split(3, 1, root=qm9_folder, cache_dir=cache)


def test_qm9_split_names_the_fix_when_qm9_is_absent(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="QM9 files not found"):
        qm9_split(1, 1, root=tmp_path, cache_dir=tmp_path)

    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(DataError, match=r"pip install 'quotient\[qm9\]'"):
        qm9_split(1, 1, cache_dir=tmp_path)


def _qm9pack_installed() -> bool:
    try:
        importlib.metadata.distribution("qm9pack")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _qm9pack_installed(),
    reason="optional package qm9pack (104 MB) not installed: pip install 'quotient[qm9]'; "
    "the parser is covered by the fake-CSV tests above",
)
def test_real_qm9pack_first_molecules(tmp_path: Path) -> None:
    assert [f.name for f in qm9pack_files()] == [f"qm9_part{i}.csv" for i in (1, 2, 3)]
    mols = load_qm9(cache_dir=tmp_path, limit=50)
    assert len(mols) == 50 and mols.index[:3].tolist() == [1, 2, 3]
    assert mols.atomic_numbers[0, :5].tolist() == [6, 1, 1, 1, 1]  # methane
    assert mols.mask.sum(1).max() <= 29
    c_h = (mols.positions[0, 1:5] - mols.positions[0, 0]).norm(dim=1)
    assert torch.allclose(c_h, torch.full((4,), 1.09), atol=0.01)  # C-H bond length, angstrom


def test_element_indices_encode_qm9_elements_and_refuse_others():
    from quotient.data.qm9 import element_indices

    z = torch.tensor([[6, 1, 1, 8, 0, 0], [9, 7, 1, 0, 0, 0]])
    assert element_indices(z).tolist() == [[1, 0, 0, 3, -1, -1], [4, 2, 0, -1, -1, -1]]
    with pytest.raises(DataError, match=r"\[2, 17\] are not QM9 elements"):
        element_indices(torch.tensor([[6, 2, 17]]))
