"""Direct products G₁ × G₂ × … . An element is a tuple of the factors' elements.

Representations: ``"standard"`` is the direct sum of the factors' standard representations;
``"{kind}@{i}"`` pulls factor ``i``'s representation ``kind`` back to the product (the other
factors act trivially), e.g. ``"standard@0"``; for finite products ``"regular"`` is the tensor
product of the factors' regular representations (the product's own regular representation).
Representations of the factors combine with :mod:`quotient.groups.representations`.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from ._base import DEFAULT_DTYPE, Device, Element, FiniteGroup, Group, batch_size
from .representations import _block_diag, _kron


class DirectProduct(Group):
    """``G₁ × … × G_k`` with componentwise composition."""

    def __init__(self, *factors: Group) -> None:
        if len(factors) < 2:
            raise ValueError("a direct product needs at least two factors")
        self.factors = tuple(factors)
        self.name = " × ".join(f.name for f in factors)

    def identity(self, batch: int = 1, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> tuple:
        return tuple(f.identity(batch, dtype=dtype, device=device) for f in self.factors)

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> tuple:
        return tuple(f.sample(batch, generator=generator, dtype=dtype, device=device)
                     for f in self.factors)

    def describe(self, g: tuple) -> list[str]:
        parts = [f.describe(p) for f, p in zip(self.factors, g, strict=True)]
        return ["; ".join(words) for words in zip(*parts, strict=True)]

    def compose(self, g: tuple, h: tuple) -> tuple:
        return tuple(f.compose(a, b) for f, a, b in zip(self.factors, g, h, strict=True))

    def inverse(self, g: tuple) -> tuple:
        return tuple(f.inverse(a) for f, a in zip(self.factors, g, strict=True))

    def distance(self, g: tuple, h: tuple) -> Tensor:
        return sum(f.distance(a, b).to(DEFAULT_DTYPE)
                   for f, a, b in zip(self.factors, g, h, strict=True))

    def _parse(self, kind: str) -> tuple[str, int] | None:
        if "@" not in kind:
            return None
        name, idx = kind.rsplit("@", 1)
        return name, int(idx)

    @property
    def representations(self) -> dict[str, int]:
        reps = {"standard": sum(f.rep_dim("standard") for f in self.factors)}
        for i, f in enumerate(self.factors):
            for name, d in {**f.representations, "trivial": 1}.items():
                reps[f"{name}@{i}"] = d
        if all("regular" in f.representations for f in self.factors):
            reps["regular"] = math.prod(f.rep_dim("regular") for f in self.factors)
        return reps

    def _representation(self, g: tuple, kind: str) -> Tensor:
        parsed = self._parse(kind)
        if parsed is not None:
            name, i = parsed
            return self.factors[i].representation(g[i], name)
        mats = [f.representation(a, kind).to(DEFAULT_DTYPE)
                for f, a in zip(self.factors, g, strict=True)]
        if kind == "regular":
            out = mats[0]
            for m in mats[1:]:
                out = _kron(out, m)
            return out
        return _block_diag(mats)

    def lie_algebra(self, kind: str = "standard") -> Tensor:
        """Generators of each factor, embedded; factors without a Lie algebra add none."""
        d = self.rep_dim(kind)
        parsed = self._parse(kind)
        blocks = []
        offset = 0
        for i, f in enumerate(self.factors):
            if parsed is not None:
                gens = f.lie_algebra(parsed[0]) if parsed[1] == i else None
                if gens is None:  # other factors act trivially on this representation
                    gens_k = f.lie_algebra("trivial") if not f.is_finite else None
                    if gens_k is not None:
                        blocks.append(torch.zeros(gens_k.shape[0], d, d, dtype=DEFAULT_DTYPE))
                    continue
                blocks.append(gens)
                continue
            gens = f.lie_algebra("standard" if kind == "standard" else kind)
            k, df = gens.shape[0], gens.shape[-1]
            if kind == "regular":
                if k:
                    raise ValueError("regular representation of a non-finite product")
                continue
            emb = torch.zeros(k, d, d, dtype=DEFAULT_DTYPE)
            emb[:, offset:offset + df, offset:offset + df] = gens
            blocks.append(emb)
            offset += df
        if not blocks:
            return torch.zeros(0, d, d, dtype=DEFAULT_DTYPE)
        return torch.cat(blocks)

    def discrete_generators(self) -> tuple:
        """Each factor's discrete generators paired with the others' identity."""
        parts = []
        for i, f in enumerate(self.factors):
            gens = f.discrete_generators()
            m = batch_size(gens)
            if m == 0:
                continue
            parts.append(tuple(gens if j == i else o.identity(m)
                               for j, o in enumerate(self.factors)))
        if not parts:
            return self.identity(0)
        return tuple(torch.cat([p[j] for p in parts]) for j in range(len(self.factors)))


class FiniteDirectProduct(DirectProduct, FiniteGroup):
    """A direct product of finite groups; elements enumerate in lexicographic order."""

    def __init__(self, *factors: FiniteGroup) -> None:
        if not all(f.is_finite for f in factors):
            raise ValueError("FiniteDirectProduct needs finite factors; use DirectProduct")
        DirectProduct.__init__(self, *factors)

    @property
    def order(self) -> int:
        return math.prod(f.order for f in self.factors)  # type: ignore[attr-defined]

    def elements(self, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: Device = None) -> tuple:
        idx = torch.tensor(list(itertools.product(*[range(f.order) for f in self.factors])))
        return tuple(f.element_at(idx[:, i], dtype=dtype, device=device)
                     for i, f in enumerate(self.factors))

    def generators(self) -> tuple:
        return DirectProduct.discrete_generators(self)

    def discrete_generators(self) -> tuple:
        return self.generators()

    def sample(self, batch: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = DEFAULT_DTYPE, device: Device = None) -> tuple:
        return DirectProduct.sample(self, batch, generator=generator, dtype=dtype, device=device)

    def index(self, g: Element) -> Tensor:
        out = torch.zeros(batch_size(g), dtype=torch.long)
        for f, a in zip(self.factors, g, strict=True):
            out = out * f.order + f.index(a)
        return out


def product(*factors: Group) -> DirectProduct:
    """``G₁ × G₂ × …``, finite when every factor is."""
    if all(f.is_finite for f in factors):
        return FiniteDirectProduct(*factors)  # type: ignore[arg-type]
    return DirectProduct(*factors)
