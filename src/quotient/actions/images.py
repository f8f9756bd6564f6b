"""Actions on images ``(batch, channels, H, W)``.

Orientation: rotations are counter-clockwise *as displayed* (row 0 at the top), so that
``rotate_image(π/2)`` agrees with :func:`torch.rot90` on dims ``(-2, -1)``. Flips mirror left↔right.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._core import Action, check_batch, check_ndim


def _check(k: Tensor, x: Tensor, what: str) -> None:
    check_ndim(x, 4, "(batch, channels, H, W)", what)
    check_batch(k, x, what)


def disc_mask(h: int, w: int, *, dtype: torch.dtype = torch.float32,
              device: torch.device | str | None = None) -> Tensor:
    """1 on pixels whose centre lies in the disc inscribed in the ``h × w`` frame, else 0."""
    ys = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    r = min(h, w) / 2
    m = (ys[:, None] ** 2 + xs[None, :] ** 2) <= r * r
    return m.to(dtype=dtype, device=device)


def _rot90(k: Tensor, x: Tensor) -> Tensor:
    _check(k, x, "rot90_image")
    k = torch.remainder(k.long(), 4)
    out = x.clone()
    for q in range(1, 4):
        sel = k == q
        if sel.any():
            out[sel] = torch.rot90(x[sel], q, dims=(-2, -1))
    return out


def _rotate(angle: Tensor, x: Tensor) -> Tensor:
    _check(angle, x, "rotate_image")
    if not x.is_floating_point():
        raise TypeError(f"rotate_image needs a floating-point image, got {x.dtype}")
    b, _, h, w = x.shape
    th = angle.to(x.dtype)
    c, s = torch.cos(th), torch.sin(th)
    zero = torch.zeros_like(c)
    # affine_grid maps output coordinates (x right, y down) to input coordinates; a
    # counter-clockwise turn on screen reads the input at R(−θ)p, which in y-down
    # coordinates is [[c, −s], [s, c]].
    theta = torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1)], -2)
    if h != w:
        raise ValueError(f"rotate_image needs square images, got {h}x{w}; pad them first")
    grid = F.affine_grid(theta, [b, x.shape[1], h, w], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out * disc_mask(h, w, dtype=x.dtype, device=x.device)


def _flip(f: Tensor, x: Tensor) -> Tensor:
    _check(f, x, "flip_image")
    sel = (f.long() % 2) == 1
    out = x.clone()
    out[sel] = torch.flip(x[sel], dims=(-2,))
    return out


def _dihedral(g: Tensor, x: Tensor) -> Tensor:
    """D4 element ``(k, f)``: flip top↔bottom first, then rotate by 90°·k."""
    if g.dim() != 2 or g.shape[-1] != 2:
        raise ValueError(f"dihedral_image needs D4 elements of shape (batch, 2), got {g.shape}")
    return _rot90(g[:, 0], _flip(g[:, 1], x))


def _roll(shift: Tensor, x: Tensor) -> Tensor:
    _check(shift, x, "roll_image")
    if shift.dim() != 2 or shift.shape[-1] != 2:
        raise ValueError(f"roll_image needs shifts of shape (batch, 2), got {tuple(shift.shape)}")
    h, w = x.shape[-2:]
    iy = torch.remainder(torch.arange(h)[None, :] - shift[:, :1].long(), h)  # (b, h)
    ix = torch.remainder(torch.arange(w)[None, :] - shift[:, 1:].long(), w)  # (b, w)
    bidx = torch.arange(x.shape[0])[:, None, None]
    return x.permute(0, 2, 3, 1)[bidx, iy[:, :, None], ix[:, None, :]].permute(0, 3, 1, 2)


rot90_image = Action(
    "rot90_image", _rot90, exact=True, groups=("C4",),
    note="k quarter turns counter-clockwise (torch.rot90 on the last two dims)")
"""The exact action ``rot90_image`` (for C4): k quarter turns counter-clockwise (torch.rot90 on
the last two dims)."""
rotate_image = Action(
    "rotate_image", _rotate, exact=False, groups=("SO2",),
    note="bilinear resampling (affine_grid + grid_sample, align_corners=False, zero padding); "
         "pixels outside the inscribed disc are set to 0; exact only for multiples of 90° on "
         "disc-supported images")
"""The approximate action ``rotate_image`` (for SO2): bilinear resampling (affine_grid +
grid_sample, align_corners=False, zero padding); pixels outside the inscribed disc are set to 0;
exact only for multiples of 90° on disc-supported images."""
flip_image = Action("flip_image", _flip, exact=True, groups=("C2",),
                    note="mirror top-bottom, (x, y) -> (x, -y), when the element is odd")
"""The exact action ``flip_image`` (for C2): mirror top-bottom, (x, y) -> (x, -y), when the
element is odd."""
dihedral_image = Action("dihedral_image", _dihedral, exact=True, groups=("D4",),
                        note="flip first, then k quarter turns")
"""The exact action ``dihedral_image`` (for D4): flip first, then k quarter turns."""
roll_image = Action("roll_image", _roll, exact=True, groups=("Z2d",),
                    note="cyclic shift by (dy, dx): out[i, j] = x[i − dy, j − dx]")
"""The exact action ``roll_image`` (for Z2d): cyclic shift by (dy, dx): out[i, j] = x[i − dy, j
− dx]."""

__all__ = ["dihedral_image", "disc_mask", "flip_image", "roll_image", "rot90_image",
           "rotate_image"]
