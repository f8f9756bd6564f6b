"""A Griffe extension for the API reference: doctests written as bare ``>>>`` lines in a
docstring (pytest runs them) are shown as ``pycon`` code blocks instead of being read as
markdown (where ``>>>`` starts a quote and ``[2, 3]`` a link). ``mkdocs.yml`` loads it."""

from __future__ import annotations

import re
from typing import Any

import griffe

_PROMPT = re.compile(r"^(>>> |>>>$|\.\.\. |\.\.\.$)")


def fence_doctests(text: str) -> str:
    """Wrap each run of bare doctest lines (prompts and their output, up to a blank line) in
    a ``pycon`` fence; text already inside a fence is left alone, so this is idempotent."""
    out: list[str] = []
    in_fence = in_doctest = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if in_doctest:
                out.append("```")
                in_doctest = False
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if not in_doctest and _PROMPT.match(line):
            out.append("```pycon")
            in_doctest = True
        elif in_doctest and not line.strip():
            out.append("```")
            in_doctest = False
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    """Fence the bare doctests of every docstring Griffe loads."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:  # noqa: ANN401 - a Griffe object
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
