"""quotient.load: a finished run's model and settings, rebuilt from the folder alone, read-only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import quotient
from quotient.errors import RunDirError, UnsafeFileError

sys.path.insert(0, str(Path(__file__).parent / "cli"))
from _cli_helpers import main_single_thread  # noqa: E402

TINY = ["n_train=64", "n_test=32", "widths=2,2", "decoder_widths=4,4,4", "latent_dim=3",
        "embedding=pca", "train.batch_size=16", "train.epochs=1", "train.progress=false",
        "check_samples=32", "invariance_weight=0"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("load") / "run"
    assert main_single_thread(["train", "rotated-mnist", "--out", str(out), "--set",
                               *TINY]) == 0
    return out


def test_load_rebuilds_the_model_and_writes_nothing(run):
    before = _snapshot(run)
    loaded = quotient.load(run)
    assert _snapshot(run) == before, "loading must not touch the run directory"
    assert loaded.experiment == "rotated-mnist" and loaded.step == 4
    assert not loaded.model.training and loaded.config.latent_dim == 3
    z = loaded.model(torch.rand(2, 1, 28, 28)).z
    assert z.shape == (2, 3)


def test_the_loaded_model_reproduces_the_metrics_through_the_public_report(run):
    loaded = quotient.load(run)
    saved = json.loads((run / "metrics.json").read_text())
    again = loaded.report().metrics
    for key in ("inv_err_exact", "inv_err_exact_f64", "pose_err_exact_angle_deg",
                "inv_err_any", "rec_err_exact"):
        assert again[key] == pytest.approx(saved[key], rel=1e-6, abs=1e-12), key


def test_load_refuses_what_it_cannot_read(run, tmp_path):
    with pytest.raises(RunDirError, match="does not hold a quotient run"):
        quotient.load(tmp_path)
    planted = tmp_path / "copy"
    import shutil

    shutil.copytree(run, planted)
    newest = sorted((planted / "checkpoints").glob("ckpt-*.pt"))[-1]

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    torch.save({"format": "quotient-checkpoint-v1", "model": Payload()}, newest)
    with pytest.raises(UnsafeFileError, match="refused to load checkpoint"):
        quotient.load(planted)
    assert not (tmp_path / "pwned").exists()
