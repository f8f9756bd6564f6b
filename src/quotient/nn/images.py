"""Rotation-equivariant image blocks: a C4 group CNN built from rot90-rotated filter copies.

Feature maps of the group CNN are *regular* C4 fields stored as ``(batch, fields·4, H, W)`` with
channel ``4·c + r`` holding orientation ``r`` of field ``c``. A quarter turn ``k`` acts on them by

    (k·f)[c, r] = rot90(f[c, r − k], k),                                        (regular action)

i.e. it turns every map and cycles the orientation axis. Layers:

* :class:`C4LiftConv` — images to regular fields: orientation ``r`` correlates with the filter
  turned by ``r`` quarter turns, ``out[c, r] = x ⋆ rot90(W_c, r)``.
* :class:`C4GroupConv` — regular to regular fields:
  ``out[c, r] = Σ_{c', s} f[c', s] ⋆ rot90(W[c, c', s − r], r)``.
* :func:`c4_downsample` — 2×2 average pooling (even sizes) or a 3×3 stride-2 pooling window
  (odd sizes): both sample a grid that a quarter turn maps onto itself.
* :class:`ConvEncoder`, :class:`ConvDecoder` — plain CNNs (baselines, and the GIAE decoder).

The GIAE image encoder built from these blocks is :class:`~quotient.nn.image_encoder.C4Encoder`.

Everything is exact under quarter turns by construction (the same arithmetic on permuted inputs),
so invariance and equivariance errors under :func:`~quotient.actions.rot90_image` are rounding
errors only: ~1e-7 relative in float32, ~1e-16 in float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..actions import Action, rot90_image
from ..actions._core import check_batch

__all__ = [
    "C4GroupConv",
    "C4LiftConv",
    "ConvDecoder",
    "ConvEncoder",
    "c4_downsample",
    "c4_regular_action",
    "c4_vector_action",
    "check_images",
]


# --------------------------------------------------------------------------- input checks
def check_images(x: Tensor, channels: int, size: int | None, what: str) -> None:
    """Raise ``ValueError`` naming the problem and the fix for inputs a model cannot take.

    Args:
        x: the batch, expected ``(batch, channels, size, size)`` floating point, finite.
        channels: expected number of channels.
        size: expected height = width (``None``: any square size).
        what: the model's name, for the message.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor of images, got {type(x).__name__}")
    if x.dim() != 4:
        hint = ""
        if x.dim() == 3 and x.shape[0] == channels and x.shape[1] == x.shape[2]:
            hint = (f"; this looks like one image without the batch axis: pass "
                    f"x.unsqueeze(0) (shape (1, {channels}, H, W))")
        elif x.dim() == 3 and x.shape[-1] == channels and x.shape[0] == x.shape[1]:
            hint = ("; this looks like one channels-last image (H, W, C): pass "
                    "x.permute(2, 0, 1).unsqueeze(0)")
        elif x.dim() == 3:
            hint = "; for a batch of one-channel images add the channel axis: x.unsqueeze(1)"
        elif x.dim() == 2:
            hint = "; for one one-channel image pass x[None, None]"
        raise ValueError(
            f"{what}: expected images of shape (batch, {channels}, H, W), got "
            f"{tuple(x.shape)}{hint}")
    if x.shape[1] != channels:
        if x.shape[-1] == channels and x.shape[1] == x.shape[2]:
            raise ValueError(
                f"{what}: the images are channels-last, (batch, H, W, C) = {tuple(x.shape)}; "
                f"the model takes (batch, C, H, W): pass x.permute(0, 3, 1, 2)")
        raise ValueError(
            f"{what}: expected {channels} channel(s), got {x.shape[1]} in shape "
            f"{tuple(x.shape)}; convert the images or build the model with "
            f"in_channels={x.shape[1]}")
    h, w = x.shape[-2:]
    if h != w:
        raise ValueError(f"{what}: needs square images (a quarter turn maps the grid onto "
                         f"itself only then), got {h}x{w}; pad or crop them to a square")
    if size is not None and h != size:
        raise ValueError(f"{what}: built for {size}x{size} images, got {h}x{w}; resize the "
                         f"images or build the model with image_size={h}")
    if not x.is_floating_point():
        raise ValueError(f"{what}: expected floating-point images, got {x.dtype}; convert with "
                         "x.float() (and scale to [0, 1])")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what}: the images contain NaN or infinite values; clean or drop "
                         "those samples first")


# --------------------------------------------------------------------------- actions
def _regular(k: Tensor, f: Tensor) -> Tensor:
    if f.dim() != 4 or f.shape[1] % 4:
        raise ValueError(f"c4_regular_action: expected (batch, fields*4, H, W), got "
                         f"{tuple(f.shape)}")
    check_batch(k, f, "c4_regular_action")
    b, c4, h, w = f.shape
    k = torch.remainder(k.long(), 4)
    turned = rot90_image(k, f)
    g = turned.view(b, c4 // 4, 4, h, w)
    idx = torch.remainder(torch.arange(4, device=f.device)[None, :] - k[:, None], 4)  # (b, 4)
    idx = idx[:, None, :, None, None].expand(b, c4 // 4, 4, h, w)
    return torch.gather(g, 2, idx).reshape(b, c4, h, w)


def _vector(k: Tensor, v: Tensor) -> Tensor:
    if v.dim() < 2 or v.shape[-1] != 2:
        raise ValueError(f"c4_vector_action: expected 2-vectors (batch, ..., 2), got "
                         f"{tuple(v.shape)}")
    check_batch(k, v, "c4_vector_action")
    k = torch.remainder(k.long(), 4)
    # exact quarter turns of (x, y): (x, y), (−y, x), (−x, −y), (y, −x)
    x, y = v[..., 0], v[..., 1]
    cols = [torch.stack([x, y], -1), torch.stack([-y, x], -1), torch.stack([-x, -y], -1),
            torch.stack([y, -x], -1)]
    out = torch.stack(cols, 0)  # (4, b, ..., 2)
    return out[k, torch.arange(v.shape[0], device=v.device)]


c4_regular_action = Action(
    "c4_regular_action", _regular, exact=True, groups=("C4",),
    note="(k·f)[c, r] = rot90(f[c, r − k], k) on (batch, fields*4, H, W)")
"""The exact action ``c4_regular_action`` (for C4): (k·f)[c, r] = rot90(f[c, r − k], k) on
(batch, fields*4, H, W)."""
c4_vector_action = Action(
    "c4_vector_action", _vector, exact=True, groups=("C4",),
    note="exact quarter turns of 2-vectors (batch, 2), counter-clockwise")
"""The exact action ``c4_vector_action`` (for C4): exact quarter turns of 2-vectors (batch, 2),
counter-clockwise."""


# --------------------------------------------------------------------------- layers
def _turns(w: Tensor) -> Tensor:
    """``(…, k, k)`` -> ``(4, …, k, k)``: the filter turned by 0, 1, 2, 3 quarter turns."""
    return torch.stack([torch.rot90(w, r, dims=(-2, -1)) for r in range(4)], 0)


class _C4Conv(nn.Module):
    """What the two C4 convolutions share: an odd kernel, a parameter ``weight`` whose turned
    copies form the ``conv2d`` weight (gathered through an index laid out once by
    ``_assemble``), one bias per field repeated over the 4 orientations."""

    weight: nn.Parameter

    def __init__(self, out_fields: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for exact quarter-turn equivariance, "
                             f"got {kernel_size}")
        self.out_fields, self.kernel_size = out_fields, kernel_size

    def _assemble(self, w: Tensor) -> Tensor:
        raise NotImplementedError

    def _finish(self, bias: bool) -> None:
        """After ``weight``: the bias (registered second, as before) and the gather index."""
        self.bias = nn.Parameter(torch.zeros(self.out_fields)) if bias else None
        # the layout is found by turning a tensor of parameter indices; the weight is then one
        # gather per forward pass
        self.register_buffer("index", self._assemble(torch.arange(self.weight.numel())
                                                     .view(self.weight.shape)),
                             persistent=False)

    def full_weight(self) -> Tensor:
        """The assembled ``conv2d`` weight: one gather from the parameters."""
        return self.weight.reshape(-1)[self.index]

    def forward(self, x: Tensor) -> Tensor:
        b = None if self.bias is None else self.bias.repeat_interleave(4)
        return F.conv2d(x, self.full_weight(), b, padding=self.kernel_size // 2)


class C4LiftConv(_C4Conv):
    """Images ``(B, C_in, H, W)`` -> regular C4 fields ``(B, 4·C_out, H, W)``.

    ``out[c, r] = x ⋆ rot90(W_c, r) + b_c`` ('same' zero padding, odd kernel); the ``conv2d``
    weight ``(4·C_out, C_in, k, k)`` has row ``4c + r`` = rot90(W_c, r).
    """

    def __init__(self, in_channels: int, out_fields: int, kernel_size: int = 3,
                 bias: bool = True) -> None:
        super().__init__(out_fields, kernel_size)
        self.in_channels = in_channels
        self.weight = nn.Parameter(torch.empty(out_fields, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self._finish(bias)

    def _assemble(self, w: Tensor) -> Tensor:
        """``(C_out, C_in, k, k)`` -> ``(4·C_out, C_in, k, k)``, row ``4c + r`` = rot90(w_c, r)."""
        return _turns(w).transpose(0, 1).reshape(4 * self.out_fields, self.in_channels,
                                                 self.kernel_size, self.kernel_size)


class C4GroupConv(_C4Conv):
    """Regular C4 fields ``(B, 4·C_in, H, W)`` -> ``(B, 4·C_out, H, W)``.

    ``out[c, r] = Σ_{c', s} f[c', s] ⋆ rot90(W[c, c', (s − r) mod 4], r) + b_c``: one
    ``conv2d`` with a ``(4·C_out, 4·C_in, k, k)`` weight assembled from
    ``W (C_out, C_in, 4, k, k)``.
    """

    def __init__(self, in_fields: int, out_fields: int, kernel_size: int = 3,
                 bias: bool = True) -> None:
        super().__init__(out_fields, kernel_size)
        self.in_fields = in_fields
        k = kernel_size
        self.weight = nn.Parameter(torch.empty(out_fields, in_fields, 4, k, k))
        bound = 1.0 / math.sqrt(4 * in_fields * k * k)
        nn.init.uniform_(self.weight, -bound, bound)
        self._finish(bias)

    def _assemble(self, w: Tensor) -> Tensor:
        """Row block ``r`` = the filter turned by ``r`` with its orientations cycled by ``r``."""
        k = self.kernel_size
        rows = [torch.rot90(torch.roll(w, r, dims=2), r, dims=(-2, -1))
                for r in range(4)]  # each (C_out, C_in, 4, k, k)
        return torch.stack(rows, 1).reshape(4 * self.out_fields, 4 * self.in_fields, k, k)


def c4_downsample(f: Tensor) -> Tensor:
    """Halve the resolution of C4 fields (or images) while keeping quarter-turn equivariance.

    Even sizes: 2×2 average pooling (its blocks are mapped onto each other by a quarter turn).
    Odd sizes: 3×3 average pooling with stride 2 and padding 1 (samples rows 0, 2, …, n−1, a set
    the turn ``i ↦ n−1−i`` preserves). ``(B, C, n, n)`` -> ``(B, C, ⌈n/2⌉, ⌈n/2⌉)``.
    """
    n = f.shape[-1]
    if n % 2 == 0:
        return F.avg_pool2d(f, 2)
    return F.avg_pool2d(f, 3, stride=2, padding=1, count_include_pad=False)


class _Block(nn.Module):
    """Group conv -> per-field normalisation -> SiLU (all commute with quarter turns)."""

    def __init__(self, conv: nn.Module, fields: int, norm: bool) -> None:
        super().__init__()
        self.conv = conv
        # one scale/shift per field, statistics over (batch, orientation, space)
        self.norm = nn.BatchNorm3d(fields) if norm else None
        self.fields = fields

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.norm is not None:
            b, c4, h, w = y.shape
            y = self.norm(y.view(b, self.fields, 4, h, w)).view(b, c4, h, w)
        return F.silu(y)


class ConvEncoder(nn.Module):
    """A plain CNN encoder (no symmetry), the classical baseline: ``x -> z (B, latent_dim)``.

    Stages of two 3×3 convs (the second with stride 2), then a linear map of the flattened
    features. ``widths`` are channels per stage.
    """

    def __init__(self, in_channels: int = 1, latent_dim: int = 32,
                 widths: tuple[int, ...] = (32, 64, 128), image_size: int = 28,
                 norm: bool = True) -> None:
        super().__init__()
        self.in_channels, self.latent_dim, self.image_size = in_channels, latent_dim, image_size
        layers: list[nn.Module] = []
        prev, size = in_channels, image_size
        for i, w in enumerate(widths):
            stride = 2 if i < len(widths) - 1 else 1
            layers += [nn.Conv2d(prev, w, 3, stride=stride, padding=1),
                       nn.BatchNorm2d(w) if norm else nn.Identity(), nn.SiLU()]
            prev = w
            size = (size + 2 - 3) // stride + 1
        self.net = nn.Sequential(*layers)
        self.out = nn.Linear(prev * size * size, latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        return self.out(self.net(x).flatten(1))


class ConvDecoder(nn.Module):
    """A plain CNN decoder ``z (B, latent_dim) -> images (B, C, size, size)`` in ``(0, 1)``.

    A linear map to a ``widths[0] × s × s`` seed (``s = size / 2^(len(widths)−1)``), then per
    stage bilinear ×2 upsampling and a 3×3 conv, and a final 3×3 conv with a sigmoid whose
    initial output is about ``out_bias`` everywhere (the mean intensity of MNIST digits).
    """

    def __init__(self, latent_dim: int = 32, out_channels: int = 1,
                 widths: tuple[int, ...] = (64, 32, 16), image_size: int = 28,
                 sigmoid: bool = True, out_bias: float = 0.13) -> None:
        super().__init__()
        ups = len(widths) - 1
        if image_size % (2 ** ups):
            raise ValueError(f"image_size {image_size} must be divisible by 2^{ups} for "
                             f"{len(widths)} decoder stages")
        self.latent_dim, self.image_size, self.widths = latent_dim, image_size, tuple(widths)
        self.seed = image_size // (2 ** ups)
        self.fc = nn.Linear(latent_dim, widths[0] * self.seed ** 2)
        layers: list[nn.Module] = [nn.SiLU()]
        prev = widths[0]
        for w in widths[1:]:
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                       nn.Conv2d(prev, w, 3, padding=1), nn.SiLU()]
            prev = w
        last = nn.Conv2d(prev, out_channels, 3, padding=1)
        if sigmoid:
            # start near the mean intensity of digit images, far from the flat tails of the
            # sigmoid where gradients vanish
            nn.init.constant_(last.bias, math.log(out_bias / (1 - out_bias)))
            with torch.no_grad():
                last.weight.mul_(0.1)
        layers.append(last)
        self.net = nn.Sequential(*layers)
        self.sigmoid = sigmoid

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"ConvDecoder: expected codes (batch, {self.latent_dim}), got "
                             f"{tuple(z.shape)}")
        h = self.fc(z).view(z.shape[0], self.widths[0], self.seed, self.seed)
        out = self.net(h)
        return torch.sigmoid(out) if self.sigmoid else out

