"""Shared helpers for the dynamics tests: a tiny float64 C4 CNN problem."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from quotient.dynamics import CNNSpec, Objective, equivariance_cnn, project_to_E

SIZE = 6
CLASSES = 3


def cnn_problem(support: str = "cross", basis: str = "orthonormal", *, seed: int = 0,
                n: int = 8, channel_rep: str = "trivial", group: str = "C4",
                channels: tuple[int, ...] = (1, 2, 2)) -> Objective:
    """A tiny C4 CNN started in E, with random images and one-hot targets."""
    gen = torch.Generator().manual_seed(seed)
    spec = CNNSpec(channels=channels, image_size=SIZE, pools=(True,) + (False,) * (
        len(channels) - 2), n_classes=CLASSES, support=support, basis=basis,
        channel_rep=channel_rep, group=group)
    model, symmetry = equivariance_cnn(spec, generator=gen)
    project_to_E(model)
    x = torch.randn(n, 1, SIZE, SIZE, dtype=torch.float64, generator=gen)
    y = F.one_hot(torch.randint(CLASSES, (n,), generator=gen), CLASSES).to(torch.float64)
    return Objective(model, lambda p, t: ((p - t) ** 2).sum(1).mean(), x, y, symmetry)


@pytest.fixture(autouse=True)
def _single_thread():
    """Run each test of this folder on one thread and restore the setting afterwards: the
    problems are tiny, so thread start-up costs more than the work, and sums are reduced in a
    fixed order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_cnn_problem() -> Callable[..., Objective]:
    """The factory :func:`cnn_problem`."""
    return cnn_problem
