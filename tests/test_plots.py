"""Shared plotting helpers write PNG files and reject malformed input."""

import pytest
import torch

from quotient.plots import (
    plot_angle_scatter,
    plot_embedding,
    plot_image_grid,
    plot_learning_curves,
    plot_signals,
)

PNG = b"\x89PNG"


def _is_png(path):
    return path.read_bytes()[:4] == PNG


def test_every_helper_writes_a_png(tmp_path, gen):
    imgs = torch.rand(5, 1, 8, 8, generator=gen)
    assert _is_png(plot_image_grid({"a": imgs, "b": imgs}, tmp_path / "grid.png", title="t"))
    sig = torch.randn(4, 1, 16, generator=gen)
    assert _is_png(plot_signals({"x": sig, "y": sig * 2}, tmp_path / "sig.png"))
    pts = torch.randn(30, 2, generator=gen)
    labels = torch.arange(30) % 3
    assert _is_png(plot_embedding(pts, labels, tmp_path / "emb.png", title="z"))
    true = torch.rand(30, generator=gen) * 360
    assert _is_png(plot_angle_scatter(true, true + 5, tmp_path / "pose.png", labels=labels))
    runs = {"a": [{"kind": "train", "step": i, "loss": 1 / (i + 1)} for i in range(5)]}
    assert _is_png(plot_learning_curves(runs, tmp_path / "sub" / "lc.png"))
    assert not list(tmp_path.glob("*.tmp.png"))


def test_bad_input_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="at least one row"):
        plot_image_grid({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_embedding(torch.zeros(5, 3), torch.zeros(5), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no records"):
        plot_learning_curves([{"step": 1}], tmp_path / "x.png", keys=("loss",))
