"""Checkpoint saving, pruning, corruption detection and fallback."""

from __future__ import annotations

import logging
import pickle

import pytest
import torch

from quotient.errors import CheckpointError, UnsafeFileError
from quotient.train import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    load_latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)


def _state(step: int) -> dict:
    return {"model": {"w": torch.full((50,), float(step))}, "step": step,
            "history": [{"step": step, "loss": 1.0 / step}]}


@pytest.fixture
def three(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(checkpoint_path(tmp_path, step), _state(step))
    return tmp_path


def test_roundtrip_and_prune(three):
    state = load_checkpoint(three / "ckpt-3.pt")
    assert state["step"] == 3 and torch.equal(state["model"]["w"], torch.full((50,), 3.0))
    prune_checkpoints(three, keep=2)
    assert [s for s, _ in list_checkpoints(three)] == [2, 3]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty"])
def test_damaged_latest_falls_back_to_previous(three, damage, caplog):
    bad = three / "ckpt-3.pt"
    data = bytearray(bad.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"\x00not a checkpoint" * 20)
    elif damage == "flip":  # a byte inside the tensor data: torch alone would not notice
        data = bytearray(data)
        pos = bytes(data).index(torch.full((50,), 3.0).numpy().tobytes())
        data[pos + 10] ^= 0xFF
    else:
        data = bytearray()
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="ckpt-3.pt"):
        load_checkpoint(bad)
    before = sorted(p.name for p in three.iterdir())
    assert load_latest_checkpoint(three)[1].name == "ckpt-2.pt"
    assert sorted(p.name for p in three.iterdir()) == before, "reading must not rename"
    with caplog.at_level(logging.WARNING, logger="quotient.train"):
        found = load_latest_checkpoint(three, set_aside=True)
    assert found is not None
    state, path = found
    assert path.name == "ckpt-2.pt" and state["step"] == 2
    assert any("ckpt-3.pt" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert not bad.exists()
    assert (three / "ckpt-3.pt.corrupt").read_bytes() == bytes(data), "bad file must be kept"


def test_all_damaged_is_one_line_naming_every_file(tmp_path, caplog):
    (tmp_path / "ckpt-1.pt").write_bytes(b"junk")
    (tmp_path / "ckpt-2.pt").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="quotient.train"):
        with pytest.raises(CheckpointError) as info:
            load_latest_checkpoint(tmp_path, set_aside=True)
    message = str(info.value)
    assert "\n" not in message and not caplog.records, "one line, no warnings before it"
    assert message.startswith(f"no readable checkpoint in {tmp_path} (ckpt-2.pt, ckpt-1.pt: ")
    assert message.endswith("start again with --overwrite")
    assert (tmp_path / "ckpt-1.pt.corrupt").exists() and (tmp_path / "ckpt-2.pt.corrupt").exists()


def test_empty_folder_has_no_checkpoint(tmp_path):
    assert load_latest_checkpoint(tmp_path) is None
    assert load_latest_checkpoint(tmp_path / "missing") is None


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_code_in_a_checkpoint_is_not_executed(tmp_path, capsys):
    path = tmp_path / "ckpt-1.pt"
    torch.save({"format": "quotient-checkpoint-v1", "x": _Payload()}, path,
               pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(UnsafeFileError, match="refused to load checkpoint .*could run code"):
        load_checkpoint(path)
    assert "must never run" not in capsys.readouterr().out


def test_a_planted_checkpoint_is_refused_not_skipped(three):
    torch.save({"format": "quotient-checkpoint-v1", "x": _Payload()}, three / "ckpt-9.pt")
    with pytest.raises(UnsafeFileError, match="ckpt-9.pt"):
        load_latest_checkpoint(three, set_aside=True)
    assert (three / "ckpt-9.pt").exists(), "a planted file is not renamed as if damaged"


def test_a_foreign_torch_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "ckpt-1.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a quotient checkpoint"):
        load_checkpoint(path)
