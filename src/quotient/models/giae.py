"""The group-invariant autoencoder as one generic composition (Winter et al., 2022).

    z = η(x)                invariant code            (encoder, first output)
    y = μ(x)                equivariant pose features (encoder, second output)
    pose = ξ(y)             group element, closed form (pose head)
    x̂₀ = δ(z)               canonical reconstruction  (decoder, a plain network)
    x̂ = ρ(pose)·x̂₀          reconstruction            (pose.apply)

The loss is ``reconstruction(x̂, x) + Σ_k w_k · pose.penalties[k]``; with an invariant η and an
equivariant ψ = ξ∘μ it is itself invariant. Every data kind plugs in its own encoder, pose head
(SO(2) angle, cyclic shift, SoftSort permutation, Gram–Schmidt rotation, ...) and decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..metrics.report import relative_difference
from ..nn.pose import Pose, PoseHead
from ..symmetry import Symmetry


@dataclass
class GIAEOutput:
    """Everything one forward pass produces (shapes follow the data kind)."""

    z: Tensor
    pose: Pose
    canonical: Any
    reconstruction: Any


class GIAE(nn.Module):
    """``x ≈ ρ(ξ(μ(x))) · δ(η(x))``.

    Args:
        encoder: ``x -> (z, features)`` with ``z`` invariant ``(batch, latent_dim)`` and
            ``features`` equivariant (consumed by ``pose_head``).
        pose_head: ``features -> Pose``.
        decoder: ``z -> canonical x``.
        reconstruction_loss: ``(reconstruction, x) -> scalar``; by default the mean squared
            error over the real elements (:func:`~quotient.models.losses.masked_mse`: inputs may
            be padded, ``(x, mask)``).
        penalty_weights: weights of the pose head's named penalties (missing names weigh 1).
        approximate: ``(group, input action, pose action)`` of a larger group the model
            respects only approximately (learned, or up to resampling), e.g. SO(2) with
            ``rotate_image`` for an encoder exact under quarter turns; the pose action acts on
            the pose head's observed pose. Exposed as :attr:`approximate`, for
            :func:`~quotient.metrics.symmetry_report`.
        reconstruction_action: ``(action, layout)``: how the group acts on reconstructions
            (default: the input action) and where padding sits in them, ``"rows"`` (elements
            along dim 1, the default) or ``"pairs"`` (pairs of elements along dims 1 and 2, as
            in adjacency logits); padded entries are "don't care" for the checker.

    Attributes:
        symmetry: the exact symmetry, assembled from the encoder's and the pose head's:
            ``z(g·x) = z(x)``, ``ψ(g·x) = g∘ψ(x)``, ``x̂(g·x) = g·x̂(x)`` (observed as a dict
            with keys ``z``, ``pose``, ``reconstruction``); checked by
            :func:`~quotient.testing.check_module` in ``eval()`` mode.
    """

    def __init__(
        self,
        encoder: nn.Module,
        pose_head: nn.Module,
        decoder: nn.Module,
        *,
        reconstruction_loss: Callable[[Any, Any], Tensor] | None = None,
        penalty_weights: dict[str, float] | None = None,
        approximate: tuple[Any, Any, Any] | None = None,
        reconstruction_action: tuple[Any, str] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pose_head = pose_head
        self.decoder = decoder
        self.reconstruction_loss = reconstruction_loss or _mse
        self.penalty_weights = dict(penalty_weights or {})
        self._approximate = approximate
        self.reconstruction_action = reconstruction_action

    @property
    def approximate(self) -> Symmetry | None:
        """The approximate symmetry (same observed outputs as :attr:`symmetry`), if declared."""
        exact = self.symmetry
        if self._approximate is None or exact is None:
            return None
        group, act_in, act_pose = self._approximate
        layout = self.reconstruction_action[1] if self.reconstruction_action else "rows"
        rec = _remasked(self.reconstruction_action[0] if self.reconstruction_action else act_in,
                        layout)
        return Symmetry(group, act_in, {"z": None, "pose": act_pose, "reconstruction": rec},
                        observe=exact.observe, measure=exact.measure,
                        note="approximate: learned beyond the exact subgroup")

    @property
    def symmetry(self) -> Symmetry | None:
        """The exact symmetry of the whole model (``None`` if a part declares none)."""
        enc = getattr(self.encoder, "symmetry", None)
        head = getattr(self.pose_head, "symmetry", None)
        if not isinstance(enc, Symmetry) or not isinstance(head, Symmetry):
            return None
        rec_action, layout = self.reconstruction_action or (enc.input, "rows")
        rec_action = _remasked(rec_action, layout)

        def observe(out: GIAEOutput) -> dict[str, Any]:
            return {"z": out.z, "pose": head.observed(out.pose),
                    "reconstruction": _real_part(out.reconstruction, out.pose, layout)}

        def measure(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Tensor]:
            parts = (head.measure(a["pose"], b["pose"]) if head.measure is not None
                     else {"": relative_difference(a["pose"], b["pose"])})
            return {("pose_" + k).rstrip("_"): v for k, v in parts.items()}

        return Symmetry(enc.group, enc.input,
                        output={"z": None, "pose": head.output, "reconstruction": rec_action},
                        observe=observe, note=enc.note, measure=measure)

    def encode(self, x: Any) -> tuple[Tensor, Pose]:
        """The latent pair ``(z, pose)``."""
        check_dtype(self, x)
        z, features = self.encoder(x)
        return z, self.pose_head(features)

    def canonicalize(self, x: Any) -> tuple[Any, Pose]:
        """The input put into canonical pose, ``ψ(x)⁻¹·x``, and the pose ``ψ(x)``.

        Invariant on the exact group (``canonicalize(g·x)[0] = canonicalize(x)[0]`` for inputs
        whose pose is unique), so any downstream model fed with it is invariant too; the pose
        maps its equivariant outputs back.

        Raises:
            TypeError: the pose head gives no inverse (its :class:`Pose` has no ``invert``).
        """
        _, pose = self.encode(x)
        if pose.invert is None:
            raise TypeError(f"{type(self.pose_head).__name__} gives no inverse pose "
                            "(Pose.invert), so inputs cannot be put into canonical pose")
        return pose.invert(x), pose

    def embed(self, x: Any) -> Tensor:
        """The invariant code ``z = η(x)`` alone."""
        return self.encoder(x)[0]

    def reconstruct(self, x: Any) -> Any:
        """``ρ(ψ(x))·δ(η(x))``."""
        return self(x).reconstruction

    def forward(self, x: Any) -> GIAEOutput:
        z, pose = self.encode(x)
        canonical = self.decoder(z)
        if pose.refine is not None:
            pose = pose.refine(canonical)
        return GIAEOutput(z, pose, canonical, pose.apply(canonical))

    def loss(self, x: Any, out: GIAEOutput | None = None) -> tuple[Tensor, dict[str, float]]:
        """Total loss and its named parts (as floats, for logging)."""
        out = self(x) if out is None else out
        rec = self.reconstruction_loss(out.reconstruction, x)
        total = rec
        logs = {"rec": float(rec.detach())}
        for name, value in out.pose.penalties.items():
            w = self.penalty_weights.get(name, 1.0)
            total = total + w * value
            logs[name] = float(value.detach())
        logs["loss"] = float(total.detach())
        return total, logs


def _real_part(reconstruction: Any, pose: Pose, layout: str) -> Any:
    """A padded input's reconstruction observed as ``(reconstruction with padded entries
    zeroed, mask)``: padding is "don't care", and the mask moves along with the elements."""
    from ..nn.pose import masked_rows

    if pose.mask is None or not isinstance(reconstruction, Tensor):
        return reconstruction
    return masked_rows(reconstruction, pose.mask, pairs=layout == "pairs"), pose.mask


def _remasked(action: Any, layout: str) -> Any:
    """``action`` on observed reconstructions: a ``(values, mask)`` pair moves together and its
    padded entries are zeroed again (a translation would move them off zero)."""
    from ..nn.pose import masked_rows

    def act(g: Any, r: Any) -> Any:
        if isinstance(r, tuple) and len(r) == 2 and r[1].dtype == torch.bool:
            values, mask = action(g, r)
            return masked_rows(values, mask, pairs=layout == "pairs"), mask
        return action(g, r)

    name = getattr(action, "name", "action")
    from ..actions import Action

    groups = getattr(action, "groups", ("any",))
    return Action(name, act, exact=getattr(action, "exact", True), groups=groups,
                  note="on reconstructions, padding kept at zero")


def _first_float(x: Any) -> Tensor | None:
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else None
    if isinstance(x, (tuple, list)):
        for part in x:
            found = _first_float(part)
            if found is not None:
                return found
    return None


def check_dtype(model: nn.Module, x: Any) -> None:
    """Raise ``TypeError`` when the floating-point input and the model's parameters differ in
    dtype (torch's own message names neither the input nor the fix)."""
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    data = _first_float(x)
    if param is not None and data is not None and data.dtype != param.dtype:
        def name(t: torch.dtype) -> str:
            return str(t).replace("torch.", "")

        raise TypeError(
            f"the input is {name(data.dtype)} but the model's parameters are "
            f"{name(param.dtype)}; convert the input with x.to({param.dtype}), or the model "
            f"with model.to({data.dtype})")


def _mse(a: Tensor, b: Any) -> Tensor:
    from .losses import masked_mse

    return masked_mse(a, b)


__all__ = ["GIAE", "GIAEOutput", "Pose", "PoseHead"]
