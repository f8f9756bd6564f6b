"""Permutation-equivariant networks for sets (S_n acting on the element axis).

A set is a tensor ``x (B, n, d)`` with an optional boolean ``mask (B, n)`` marking the real
elements of sets padded to a common size; S_n acts by ``(σ·x)[σ(i)] = x[i]``
(:data:`~quotient.actions.permute_set`). The blocks below never look at the element index:

- :class:`DeepSetsLayer` (Zaheer et al. 2017): ``h'_i = act(Λ h_i + Γ pool_j h_j + b)``,
  equivariant; ``pool`` is a masked sum, mean or max.
- :class:`SetAttentionLayer`: self-attention without positional encodings (Lee et al. 2019,
  "SAB"), ``h'_i = h_i + MHA(h_i, h, h)``, ``h''_i = h'_i + FF(h'_i)``, equivariant.
- :class:`SetEncoder`: a stack of either, then an invariant code ``z = ρ(pool_i h_i)`` and
  equivariant per-element scores ``s_i = w·h_i`` for the permutation pose
  (:class:`~quotient.nn.pose_perm.PermutationPose`).
- :class:`SetDecoder`: ``z -> (B, n, d)`` canonical set (an ordinary network, slot by slot).

Padded elements never influence real ones, and outputs at padded slots are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..actions import Action, permute_set
from ..groups import SymmetricGroup
from ..symmetry import Symmetry

Pool = Literal["sum", "mean", "max"]

__all__ = [
    "DeepSetsLayer",
    "SetAttentionLayer",
    "SetDecoder",
    "SetEncoder",
    "SetFeatures",
    "check_mask",
    "check_set",
    "masked_pool",
    "mlp",
]


def mlp(dims: list[int], act: type[nn.Module] = nn.SiLU, last_act: bool = False) -> nn.Sequential:
    """``Linear(d0, d1) act … Linear(d_{k-1}, d_k)``, with ``act`` after the last if asked."""
    if len(dims) < 2:
        raise ValueError(f"an MLP needs at least input and output sizes, got {dims}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers)


def check_set(x: Tensor, mask: Tensor | None = None, *, dim: int | None = None,
              what: str = "set") -> Tensor:
    """Validate a batch of sets and return the boolean mask (all True when ``mask`` is None).

    Raises:
        ValueError: ``x`` is not ``(batch, n, dim)``, has no elements, NaN/inf values, or the
            mask has the wrong shape or marks a set with no element.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: expected a tensor of shape (batch, n, d), got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{what}: expected shape (batch, n_elements, features), got "
                         f"{tuple(x.shape)}; add a batch axis with x[None] or a feature axis with "
                         "x[..., None]")
    if dim is not None and x.shape[-1] != dim:
        raise ValueError(f"{what}: elements must have {dim} features, got {x.shape[-1]} "
                         f"(shape {tuple(x.shape)})")
    if x.shape[1] == 0:
        raise ValueError(f"{what}: empty sets (n_elements = 0) cannot be encoded; every set "
                         "needs at least one element")
    if not x.is_floating_point():
        raise ValueError(f"{what}: expected floating-point values, got {x.dtype}; convert with "
                         ".float() (one-hot encode categorical elements)")
    return check_mask(x, mask, what)


def check_mask(x: Tensor, mask: Tensor | None, what: str, *, element: str = "element",
               group: str = "set") -> Tensor:
    """The boolean mask ``(B, n)`` of the real elements of a padded batch ``x (B, n, ...)``
    (all True when ``mask`` is None), checked: the right shape, at least one real element per
    ``group``, and finite values at every real element (padding may hold anything)."""
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    elif mask.shape != x.shape[:2]:
        raise ValueError(f"{what}: mask must have shape (batch, n_{element}s) = "
                         f"{tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    mask = mask.bool()
    if not mask.any(dim=1).all():
        raise ValueError(f"{what}: a {group} in the batch has no real {element} (mask all "
                         f"False); drop empty {group}s before encoding")
    if not torch.isfinite(x[mask]).all():
        raise ValueError(f"{what}: input contains NaN or infinite values at real {element}s; "
                         f"remove those {element}s or mark them as padding in the mask")
    return mask


def masked_pool(h: Tensor, mask: Tensor, kind: Pool = "sum") -> Tensor:
    """Pool ``h (B, n, c)`` over the real elements: ``(B, c)``."""
    m = mask[..., None].to(h.dtype)
    if kind == "sum":
        return (h * m).sum(dim=1)
    if kind == "mean":
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
    if kind == "max":
        return h.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
    raise ValueError(f"pool must be 'sum', 'mean' or 'max', got {kind!r}")


def set_size_group(x: Tensor | tuple[Tensor, ...]) -> SymmetricGroup:
    """S_n for a batch of sets ``(B, n, ...)`` (or a tuple whose first part is one)."""
    return SymmetricGroup((x[0] if isinstance(x, tuple) else x).shape[1])


class _SetModule(nn.Module):
    """Permutation-equivariant ``(B, n, c) -> (B, n, c')`` layers: S_n reorders both sides."""

    symmetry = Symmetry(set_size_group, permute_set, output=permute_set,
                        note="exact: the elements are reordered together with the output rows")

    def __init__(self, n: int | None = None) -> None:
        super().__init__()
        self.n = n


class DeepSetsLayer(_SetModule):
    """``h'_i = act(Λ h_i + Γ pool_{j real} h_j + b)``; ``(B, n, c_in) -> (B, n, c_out)``."""

    def __init__(self, c_in: int, c_out: int, pool: Pool = "mean", act: bool = True,
                 n: int | None = None) -> None:
        super().__init__(n)
        self.own = nn.Linear(c_in, c_out)
        self.ctx = nn.Linear(c_in, c_out, bias=False)
        self.pool, self.act = pool, nn.SiLU() if act else nn.Identity()

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        mask = check_set(h, mask, what="DeepSetsLayer")
        out = self.act(self.own(h) + self.ctx(masked_pool(h, mask, self.pool))[:, None, :])
        return out * mask[..., None].to(out.dtype)


class SetAttentionLayer(_SetModule):
    """Self-attention block without positional encodings; ``(B, n, c) -> (B, n, c)``."""

    def __init__(self, dim: int, heads: int = 4, n: int | None = None) -> None:
        super().__init__(n)
        if dim % heads:
            raise ValueError(f"attention width {dim} must be divisible by heads={heads}")
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = mlp([dim, 2 * dim, dim])
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        mask = check_set(h, mask, what="SetAttentionLayer")
        q = self.norm1(h)
        a, _ = self.attn(q, q, q, key_padding_mask=~mask, need_weights=False)
        h = h + a
        h = h + self.ff(self.norm2(h))
        return h * mask[..., None].to(h.dtype)


@dataclass
class SetFeatures:
    """Equivariant outputs of :class:`SetEncoder`: ``scores (B, n)``, ``h (B, n, c)``, ``mask``."""

    scores: Tensor
    h: Tensor
    mask: Tensor


def _act_set_features(perm: Tensor, f: SetFeatures) -> SetFeatures:
    return SetFeatures(*permute_set(perm, (f.scores, f.h, f.mask)))


set_features_action = Action("permute_set_features", _act_set_features, exact=True,
                             groups=("Sn",), note="reorders scores, features and mask")


class SetEncoder(_SetModule):
    """``x (B, n, d) -> (z (B, latent), SetFeatures)``: invariant code and equivariant scores.

    Args:
        in_dim: features per element ``d``.
        latent_dim: size of ``z``.
        hidden: width of the element features.
        layers: number of equivariant layers (0: elements are embedded independently).
        kind: ``"deepsets"`` or ``"attention"`` layers.
        pool: pooling of the invariant readout (``"sum"`` keeps multiplicities of multisets).
        rho_hidden: width of the readout network ``ρ``.
        n: unused (kept for compatibility); the group is S_n for the input's ``n``.
    """

    symmetry = Symmetry(set_size_group, permute_set, output=(None, set_features_action),
                        note="exact: z invariant, scores / features / mask reordered")

    def __init__(self, in_dim: int, latent_dim: int, hidden: int = 64, layers: int = 1,
                 kind: Literal["deepsets", "attention"] = "deepsets", pool: Pool = "sum",
                 rho_hidden: int = 128, heads: int = 4, n: int | None = None) -> None:
        super().__init__(n)
        if kind not in ("deepsets", "attention"):
            raise ValueError(f"kind must be 'deepsets' or 'attention', got {kind!r}")
        self.in_dim, self.pool = in_dim, pool
        self.embed = mlp([in_dim, hidden, hidden], last_act=True)
        block = (lambda: DeepSetsLayer(hidden, hidden)) if kind == "deepsets" else (
            lambda: SetAttentionLayer(hidden, heads))
        self.blocks = nn.ModuleList([block() for _ in range(layers)])
        self.rho = mlp([hidden, rho_hidden, latent_dim])
        self.score = nn.Linear(hidden, 1)

    def features(self, x: Tensor, mask: Tensor | None = None) -> SetFeatures:
        """Equivariant per-element features and scores."""
        mask = check_set(x, mask, dim=self.in_dim, what="SetEncoder")
        h = self.embed(x) * mask[..., None].to(x.dtype)
        for block in self.blocks:
            h = h + block(h, mask)
        return SetFeatures(self.score(h)[..., 0], h, mask)

    def forward(self, x: Tensor | tuple[Tensor, Tensor],
                mask: Tensor | None = None) -> tuple[Tensor, SetFeatures]:
        if isinstance(x, tuple):
            x, mask = x
        feats = self.features(x, mask)
        return self.rho(masked_pool(feats.h, feats.mask, self.pool)), feats


class SetDecoder(nn.Module):
    """``z (B, latent) -> canonical (B, n, d)``, an ordinary (non-equivariant) network.

    ``kind="mlp"``: one MLP to all ``n·d`` outputs. ``kind="query"``: a shared MLP on
    ``[z, e_r]`` for every slot ``r`` with a learned slot embedding ``e_r`` (fewer parameters).
    ``output``: ``"linear"``, ``"softmax"`` (each slot a distribution over ``d`` categories) or
    ``"sigmoid"``.
    """

    def __init__(self, latent_dim: int, n: int, out_dim: int, hidden: int = 256,
                 layers: int = 2, kind: Literal["mlp", "query"] = "mlp",
                 output: Literal["linear", "softmax", "sigmoid"] = "linear") -> None:
        super().__init__()
        self.n, self.out_dim, self.kind, self.output = n, out_dim, kind, output
        if kind == "mlp":
            self.net = mlp([latent_dim] + [hidden] * layers + [n * out_dim])
        elif kind == "query":
            self.slots = nn.Parameter(torch.randn(n, hidden) * 0.5)
            self.net = mlp([latent_dim + hidden] + [hidden] * layers + [out_dim])
        else:
            raise ValueError(f"kind must be 'mlp' or 'query', got {kind!r}")

    def logits(self, z: Tensor) -> Tensor:
        """Pre-activation outputs ``(B, n, d)``."""
        if self.kind == "mlp":
            return self.net(z).reshape(z.shape[0], self.n, self.out_dim)
        slots = self.slots.to(z.dtype)[None].expand(z.shape[0], -1, -1)
        zz = z[:, None, :].expand(-1, self.n, -1)
        return self.net(torch.cat([zz, slots], dim=-1))

    def forward(self, z: Tensor) -> Tensor:
        out = self.logits(z)
        if self.output == "softmax":
            return torch.softmax(out, dim=-1)
        if self.output == "sigmoid":
            return torch.sigmoid(out)
        return out
