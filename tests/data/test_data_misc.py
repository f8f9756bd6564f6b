"""ArrayDataset, I/O helpers, the bundle-building script, and import hygiene."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from quotient.data import ArrayDataset, make_shifted_signals, make_tetris, tensor_fields
from quotient.data._io import atomic_save_npz, default_cache_dir

ROOT = Path(__file__).resolve().parents[2]

# --- ArrayDataset ---------------------------------------------------------------------------


def test_array_dataset_items_and_batches() -> None:
    x, y = torch.arange(12.0).reshape(6, 2), torch.arange(6)
    ds = ArrayDataset(x=x, y=y)
    assert len(ds) == 6
    item = ds[2]
    assert set(item) == {"x", "y"} and torch.equal(item["x"], x[2]) and item["y"] == 2
    batches = list(DataLoader(ds, batch_size=4, shuffle=False))
    assert [b["x"].shape for b in batches] == [(4, 2), (2, 2)]
    assert torch.equal(batches[1]["y"], torch.tensor([4, 5]))


def test_array_dataset_errors() -> None:
    with pytest.raises(ValueError, match="same first dimension"):
        ArrayDataset(x=torch.zeros(3, 2), y=torch.zeros(4))
    with pytest.raises(ValueError, match="at least one named tensor"):
        ArrayDataset()
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        ArrayDataset(x=np.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0-dimensional"):
        ArrayDataset(x=torch.tensor(1.0))


def test_from_dataclass_keeps_per_sample_fields() -> None:
    ds = ArrayDataset.from_dataclass(make_tetris(8, seed=0), exclude=("rotations",))
    assert set(ds[0]) == {"positions", "labels", "translations", "permutations"}
    # templates (n_classes, ...) are not per sample even when n == n_classes
    signals = make_shifted_signals(4, n_classes=4, seed=0)
    assert "templates" not in tensor_fields(signals)
    assert set(tensor_fields(signals)) == {"signals", "labels", "shifts", "template_index"}
    with pytest.raises(TypeError, match="expected a dataclass instance"):
        tensor_fields({"x": torch.zeros(2)})


# --- I/O helpers ----------------------------------------------------------------------------


def test_atomic_save_and_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = atomic_save_npz(tmp_path / "sub" / "a.npz", x=np.arange(3))
    with np.load(path) as f:
        assert f["x"].tolist() == [0, 1, 2]
    assert os.listdir(path.parent) == ["a.npz"]
    monkeypatch.setenv("QUOTIENT_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert default_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("QUOTIENT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "quotient"


def test_atomic_save_leaves_nothing_on_failure(tmp_path: Path) -> None:
    class Boom:
        def __array__(self, *args: object, **kwargs: object) -> np.ndarray:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_save_npz(tmp_path / "b.npz", x=Boom())  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


# --- the bundle script ----------------------------------------------------------------------


def _load_script():
    spec = importlib.util.spec_from_file_location("build_mnist_sample",
                                                  ROOT / "scripts" / "build_mnist_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_script_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _load_script()
    digits = tmp_path / "package" / "src" / "digits"
    digits.mkdir(parents=True)
    rng = np.random.default_rng(0)
    expected = []
    for d in range(10):
        grey = rng.integers(0, 256, size=(2 + d % 3, 28, 28))
        expected.append(grey)
        values = [round(v / 255, 3) for v in grey.flatten().tolist()]
        (digits / f"{d}.json").write_text(json.dumps({"data": values}))
    out1, out2 = tmp_path / "a.npz", tmp_path / "b.npz"
    script.main(["--package", str(tmp_path), "--out", str(out1)])
    script.main(["--package", str(tmp_path / "package"), "--out", str(out2)])
    assert out1.read_bytes() == out2.read_bytes()
    assert "sha256" in capsys.readouterr().out
    with np.load(out1) as f:
        assert f["images"].dtype == np.uint8 and f["labels"].dtype == np.int64
        assert np.array_equal(f["images"], np.concatenate(expected))
        assert f["labels"].tolist() == sum(([d] * len(e) for d, e in enumerate(expected)), [])


# --- import hygiene -------------------------------------------------------------------------


@pytest.mark.processes
def test_import_is_light() -> None:
    code = (
        "import sys, quotient.data\n"
        "heavy = [m for m in ('matplotlib', 'sklearn', 'networkx', 'pandas', 'mnist1d')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
