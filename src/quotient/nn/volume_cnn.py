"""Plain 3-d CNNs for volumes ``(B, C, n, n, n)``: the GIAE's decoder to a canonical volume and
the classical autoencoder's encoder (no symmetry)."""

from __future__ import annotations

from torch import Tensor, nn

from .volumes import check_volumes

__all__ = ["VolumeCNNEncoder", "VolumeDecoder"]


def _levels(size: int, stages: int, what: str) -> int:
    if stages < 2:
        raise ValueError(f"{what}: widths must name at least one stage")
    if size % 2 ** (stages - 1):
        raise ValueError(f"{what}: size {size} must be divisible by 2^{stages - 1}")
    return size // 2 ** (stages - 1)


class VolumeDecoder(nn.Module):
    """``z (B, d) -> x̂ (B, C, n, n, n)``: a linear map to ``widths[0]`` channels on an
    ``(n / 2^L)³`` grid (``L = len(widths)``), then per width [a 3×3×3 conv, SiLU, a
    transposed 4³ conv of stride 2 to the next width (to ``out_channels`` after the last),
    SiLU between]: the grid doubles ``L`` times, the last full-size layer has a single output
    channel, which keeps the cost on the full grid small."""

    def __init__(self, latent_dim: int, out_channels: int = 1,
                 widths: tuple[int, ...] = (32, 16), size: int = 16) -> None:
        super().__init__()
        self.start = _levels(size, len(widths) + 1, "VolumeDecoder")
        self.widths = tuple(widths)
        self.linear = nn.Linear(latent_dim, widths[0] * self.start ** 3)
        layers: list[nn.Module] = [nn.SiLU()]
        outs = (*widths[1:], out_channels)
        for i, (a, b) in enumerate(zip(widths, outs, strict=True)):
            layers += [nn.Conv3d(a, a, 3, padding=1), nn.SiLU(),
                       nn.ConvTranspose3d(a, b, 4, stride=2, padding=1)]
            if i < len(widths) - 1:
                layers.append(nn.SiLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.linear(z).reshape(z.shape[0], self.widths[0], *(self.start,) * 3)
        return self.net(h)


class VolumeCNNEncoder(nn.Module):
    """``x (B, C, n, n, n) -> z (B, d)``: per stage a 4³ conv of stride 2 and SiLU (the grid
    halves each time), then a linear map of the flattened last grid (no symmetry)."""

    def __init__(self, in_channels: int = 1, latent_dim: int = 32,
                 widths: tuple[int, ...] = (16, 32), size: int = 16) -> None:
        super().__init__()
        last = _levels(size, len(widths) + 1, "VolumeCNNEncoder")
        self.in_channels, self.size = in_channels, size
        layers: list[nn.Module] = []
        prev = in_channels
        for w in widths:
            layers += [nn.Conv3d(prev, w, 4, stride=2, padding=1), nn.SiLU()]
            prev = w
        self.net = nn.Sequential(*layers)
        self.linear = nn.Linear(prev * last ** 3, latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        check_volumes(x, self.in_channels, self.size, type(self).__name__)
        return self.linear(self.net(x).flatten(1))
