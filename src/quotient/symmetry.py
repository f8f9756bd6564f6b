"""The symmetry contract: a group and how it acts on a map's inputs and outputs.

A map ``f`` respects ``Symmetry(G, input, output)`` when ``f(g·x) = g·f(x)`` for every
``g ∈ G``; ``output=None`` means invariance, ``f(g·x) = f(x)``. Every equivariant module of
quotient declares one as its ``symmetry`` attribute (encoders, pose heads, the autoencoder
itself), and :func:`quotient.testing.check_module` checks a module against it.

Outputs with structure are described by the same structure of actions: a tuple
``(None, c4_vector_action)`` for an encoder returning ``(z, v)`` with ``z`` invariant and ``v``
turning with the input, a dict for a dict. ``observe`` picks, from a richer output, the tensors
the promise is about (e.g. the code and the pose element of an autoencoder's output).

>>> import torch
>>> from quotient.actions import permute_set
>>> from quotient.groups import SymmetricGroup
>>> sym = Symmetry(SymmetricGroup(4), permute_set, output=(None, permute_set))
>>> sym.invariant, sym.describe()
(False, 'S4 acting by permute_set; output: (invariant, permute_set)')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .actions import Action
from .groups import Element, FiniteGroup, Group, batch_size, repeat_element

__all__ = ["OutputActions", "Symmetry", "act_on_output", "describe_actions"]

OutputActions = Any
"""``None`` (invariant), an action ``act(g, y)``, or a tuple / list / dict of these matching the
structure of the (observed) output."""


def act_on_output(actions: OutputActions, g: Element, y: Any) -> Any:
    """Apply a structure of actions to an output of the same structure.

    Raises:
        TypeError: the structures do not match (naming both).
    """
    if actions is None:
        return y
    if isinstance(actions, (tuple, list)):
        if not isinstance(y, (tuple, list)) or len(y) != len(actions):
            raise TypeError(f"the output actions describe {len(actions)} parts but the output "
                            f"is {type(y).__name__}"
                            + (f" of {len(y)}" if isinstance(y, (tuple, list)) else ""))
        return type(y)(act_on_output(a, g, part) for a, part in zip(actions, y, strict=True))
    if isinstance(actions, Mapping):
        if not isinstance(y, Mapping) or set(y) != set(actions):
            raise TypeError(f"the output actions describe the keys {sorted(actions)} but the "
                            f"output has {sorted(y) if isinstance(y, Mapping) else type(y)}")
        return {k: act_on_output(actions[k], g, y[k]) for k in y}
    return actions(g, y)


def describe_actions(actions: OutputActions) -> str:
    """``"invariant"``, an action's name, or the structure of them."""
    if actions is None:
        return "invariant"
    if isinstance(actions, (tuple, list)):
        return "(" + ", ".join(describe_actions(a) for a in actions) + ")"
    if isinstance(actions, Mapping):
        return "{" + ", ".join(f"{k}: {describe_actions(a)}" for k, a in actions.items()) + "}"
    return getattr(actions, "name", getattr(actions, "__name__", type(actions).__name__))


@dataclass(frozen=True)
class Symmetry:
    """``G`` acting on a map's inputs and (observed) outputs.

    Attributes:
        group: the group, or a function ``x -> group`` when it depends on the input (S_n for
            sets of ``n`` elements).
        input: the action on inputs.
        output: the actions on the observed output (:data:`OutputActions`); ``None`` for an
            invariant map.
        observe: ``output -> the parts the promise is about`` (default: the whole output).
        note: how exact the promise is, for messages and reports.
        measure: optional ``(observed f(g·x), g·observed f(x)) -> {name: per-sample errors}``
            in meaningful units (degrees, cells, a relative translation, 0/1 for a wrong
            order), used by :func:`~quotient.metrics.symmetry_report`; the checker itself
            uses relative norms.
    """

    group: Group | Callable[[Any], Group]
    input: Action | Callable[[Element, Any], Any]
    output: OutputActions = None
    observe: Callable[[Any], Any] | None = None
    note: str = ""
    measure: Callable[[Any, Any], dict[str, Any]] | None = None

    @property
    def invariant(self) -> bool:
        """Whether the map is invariant (no output action)."""
        return self.output is None

    def group_for(self, x: Any) -> Group:
        """The group for input ``x``."""
        return self.group if isinstance(self.group, Group) else self.group(x)

    def observed(self, y: Any) -> Any:
        """The parts of an output the promise is about."""
        return y if self.observe is None else self.observe(y)

    def act_output(self, g: Element, y: Any) -> Any:
        """``g`` applied to an observed output."""
        return act_on_output(self.output, g, y)

    def with_output(self, output: OutputActions,
                    observe: Callable[[Any], Any] | None = None) -> Symmetry:
        """The same group and input action with other output actions."""
        return dataclasses.replace(self, output=output, observe=observe)

    def describe(self) -> str:
        """One line: the group, the input action and the output actions."""
        group = self.group.name if isinstance(self.group, Group) else "a group fixed by the input"
        name = getattr(self.input, "name", getattr(self.input, "__name__", "an action"))
        return f"{group} acting by {name}; output: {describe_actions(self.output)}"

    # The same contract describes labelled data ``(x, y)`` for training: ``G`` acts on the
    # inputs by ``input`` and on the targets by ``output`` (``None``: invariant targets), which
    # is how the dynamics toolkit augments.

    @property
    def act_x(self) -> Action | Callable[[Element, Any], Any]:
        """The action on inputs (``input``, under the name used for data ``(x, y)``)."""
        return self.input

    @property
    def act_y(self) -> OutputActions:
        """The action on targets (``output``; ``None`` for invariant targets)."""
        return self.output

    def apply(self, g: Element, x: Any, y: Any) -> tuple[Any, Any]:
        """``(g·x, g·y)`` with one element per sample."""
        return self.input(g, x), act_on_output(self.output, g, y)

    def orbit(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Every sample under every element of a finite group: ``(|G|·B, ...)`` each,
        element-major (``g_0`` on all ``B`` samples, then ``g_1``, ...).

        Raises:
            ValueError: the group is not finite (draw random elements with :meth:`random`).
        """
        group = self.group_for(x)
        if not isinstance(group, FiniteGroup):
            raise ValueError(f"exact augmentation needs a finite group, {group.name} is not; "
                             "use augment='stochastic'")
        every = group.elements()
        n = batch_size(every)
        g = repeat_element(every, x.shape[0])
        return self.apply(g, x.repeat(n, *([1] * (x.dim() - 1))),
                          y.repeat(n, *([1] * (y.dim() - 1))))

    def random(self, x: Tensor, y: Tensor, generator: torch.Generator | None = None,
               draws: int = 1) -> tuple[Tensor, Tensor]:
        """``draws`` independent random transformations of every sample: ``(draws·B, ...)``,
        draw-major."""
        xs = x.repeat(draws, *([1] * (x.dim() - 1)))
        ys = y.repeat(draws, *([1] * (y.dim() - 1)))
        g = self.group_for(x).sample(xs.shape[0], generator=generator)
        return self.apply(g, xs, ys)
