"""1-d signals under cyclic shifts: smooth class templates, random shifts, Gaussian noise.

Also an optional bridge to the ``mnist1d`` package (its offline ``make_dataset`` only).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from quotient.errors import MissingDependencyError

__all__ = ["ShiftedSignals", "SignalData", "make_mnist1d", "make_shifted_signals", "make_templates"]


@dataclass(frozen=True)
class ShiftedSignals:
    """Noisy cyclically shifted templates.

    ``signals[i, 0] = roll(templates[labels[i], template_index[i]], shifts[i]) + noise``, where
    ``roll(x, s)[t] = x[(t - s) mod L]`` (``torch.roll`` convention: content moves right by s).

    Attributes:
        signals: float32 (N, 1, L).
        labels: int64 (N,) in [0, n_classes).
        shifts: int64 (N,) in [0, L).
        template_index: int64 (N,) in [0, templates_per_class).
        templates: float32 (n_classes, templates_per_class, L), each of zero mean and unit std.
    """

    signals: Tensor
    labels: Tensor
    shifts: Tensor
    template_index: Tensor
    templates: Tensor = field(metadata={"per_sample": False})

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class SignalData:
    """Labelled 1-d signals: signals float32 (N, 1, L), labels int64 (N,)."""

    signals: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_templates(
    n_classes: int, templates_per_class: int, length: int, *, n_modes: int = 4, seed: int = 0
) -> Tensor:
    """Smooth random periodic templates: float64 (n_classes, templates_per_class, length).

    Each is a sum of the ``n_modes`` lowest Fourier modes with Gaussian coefficients decaying as
    1/frequency, normalised to zero mean and unit standard deviation.
    """
    if n_modes < 1 or 2 * n_modes >= length:
        raise ValueError(f"need 1 <= n_modes < length / 2, got n_modes={n_modes}, length={length}")
    generator = torch.Generator().manual_seed(seed)
    freqs = torch.arange(1, n_modes + 1, dtype=torch.float64)
    coef = torch.randn(n_classes, templates_per_class, 2, n_modes, generator=generator,
                       dtype=torch.float64) / freqs
    phase = 2 * math.pi * torch.arange(length, dtype=torch.float64) / length
    basis_cos = torch.cos(freqs[:, None] * phase)  # (M, L)
    basis_sin = torch.sin(freqs[:, None] * phase)
    x = coef[:, :, 0] @ basis_cos + coef[:, :, 1] @ basis_sin
    x = x - x.mean(dim=-1, keepdim=True)
    return x / x.std(dim=-1, keepdim=True)


def make_shifted_signals(
    n: int,
    length: int = 64,
    n_classes: int = 4,
    templates_per_class: int = 3,
    noise: float = 0.1,
    *,
    seed: int = 0,
    template_seed: int = 0,
) -> ShiftedSignals:
    """Draw ``n`` signals: a random template of a random class, cyclically shifted, plus noise.

    Templates depend only on ``template_seed`` (so train and test sets drawn with different
    ``seed`` share them); classes (balanced, random order), template choice, shifts (uniform in
    [0, length)) and noise (i.i.d. N(0, noise^2)) depend on ``seed``.

    Returns:
        ShiftedSignals with signals float32 (n, 1, length).
    """
    for name, value, low in (("n", n, 0), ("length", length, 3), ("n_classes", n_classes, 1),
                             ("templates_per_class", templates_per_class, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not noise >= 0.0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    templates = make_templates(
        n_classes, templates_per_class, length, n_modes=min(4, (length - 1) // 2),
        seed=template_seed,
    )
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % n_classes)[torch.randperm(n, generator=generator)]
    template_index = torch.randint(templates_per_class, (n,), generator=generator)
    shifts = torch.randint(length, (n,), generator=generator)
    base = templates[labels, template_index]  # (n, L)
    source = (torch.arange(length)[None, :] - shifts[:, None]) % length
    rolled = torch.gather(base, 1, source)
    eps = noise * torch.randn(n, length, generator=generator, dtype=torch.float64)
    return ShiftedSignals(
        signals=(rolled + eps).to(torch.float32).unsqueeze(1),
        labels=labels,
        shifts=shifts,
        template_index=template_index,
        templates=templates.to(torch.float32),
    )


def make_mnist1d(
    n_samples: int = 5000, *, seed: int = 42, **overrides: Any
) -> tuple[SignalData, SignalData]:
    """Generate MNIST-1D (Greydanus 2020) offline with the optional ``mnist1d`` package.

    Calls ``mnist1d.data.make_dataset`` (never the downloading ``get_dataset``) with the package's
    default arguments, ``num_samples=n_samples``, ``seed=seed`` and any ``overrides`` (e.g.
    ``train_split=0.8``, ``final_seq_length=40``). That function reseeds Python's ``random`` and
    NumPy's global generator; their states are restored afterwards.

    Returns:
        (train, test): SignalData with signals float32 (N, 1, final_seq_length), labels int64.

    Raises:
        ImportError: ``mnist1d`` is not installed (the message names the install command).
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise MissingDependencyError(
            "make_mnist1d needs the optional package mnist1d; install it with: "
            "pip install 'quotient[signals]'"
        ) from err
    args = get_dataset_args(as_dict=False)
    unknown = sorted(set(overrides) - set(vars(args)))
    if unknown:
        raise ValueError(f"unknown mnist1d arguments {unknown}; valid: {sorted(vars(args))}")
    for key, value in {"num_samples": n_samples, "seed": seed, **overrides}.items():
        setattr(args, key, value)
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)

    def split(x: Any, y: Any) -> SignalData:
        signals = torch.as_tensor(np.asarray(x), dtype=torch.float32).unsqueeze(1)
        return SignalData(signals, torch.as_tensor(np.asarray(y)).to(torch.int64))

    return split(data["x"], data["y"]), split(data["x_test"], data["y_test"])
