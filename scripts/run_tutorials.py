"""Execute the tutorials (Jupytext percent-format ``.py`` files) and render them as markdown.

Each tutorial in ``tutorials/`` is a plain Python script whose cells start with ``# %%`` (code)
or ``# %% [markdown]`` (text, every line a comment). It runs cell by cell in one namespace,
without a Jupyter kernel, in a fresh temporary working directory; printed output and the value
of a cell's last expression are captured, and every matplotlib figure open after a cell is saved
as a PNG. The page ``<out>/<name>.md`` holds the text, the code, its output and the figures
(``<out>/<name>_files/*.png``), ready for MkDocs. A failing cell stops with the tutorial's name,
the cell number and the traceback.

    python scripts/run_tutorials.py [--out DIR] [NAME ...]

The pages record the SHA-256 of their source, so the docs build re-executes only tutorials that
changed since they were last rendered (``make test`` renders them once, in pytest).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import io
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
DEFAULT_OUT = ROOT / "build" / "docs-gen" / "tutorials"
_HASH_MARK = "<!-- tutorial-source-sha256: "


@dataclass
class Cell:
    """One cell of a percent-format script."""

    kind: str  # "code" or "markdown"
    source: str


@dataclass
class Rendered:
    """The result of executing one tutorial."""

    name: str
    page: Path
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0


class TutorialError(RuntimeError):
    """A cell of a tutorial raised."""


def parse_cells(text: str) -> list[Cell]:
    """Split a percent-format script into cells (a Jupytext YAML header is dropped)."""
    cells: list[Cell] = []
    kind, lines = None, []
    body = text.splitlines()
    if body and body[0].strip() == "# ---":  # jupytext header: "# ---" ... "# ---"
        end = next((i for i, line in enumerate(body[1:], 1) if line.strip() == "# ---"), 0)
        body = body[end + 1:]

    def flush() -> None:
        if kind is None:
            return
        if kind == "markdown":
            src = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                            for line in lines)
        else:
            src = "\n".join(lines)
        if src.strip():
            cells.append(Cell(kind, src.strip("\n")))

    for line in body:
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def _run_cell(source: str, namespace: dict, filename: str) -> str:
    """Execute one code cell; return what it printed (and the repr of a last expression)."""
    tree = ast.parse(source, filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - our own tutorials
        if last is not None:
            value = eval(compile(last, filename, "eval"), namespace)  # noqa: S307
            if value is not None:
                print(repr(value))
    return buffer.getvalue()


def source_hash(path: Path) -> str:
    """SHA-256 of a tutorial's source (recorded in its page)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_current(path: Path, out: Path) -> bool:
    """Whether ``out`` holds a page rendered from this very source, with all its figures."""
    page = out / f"{path.stem}.md"
    if not page.is_file():
        return False
    text = page.read_text(encoding="utf-8")
    if f"{_HASH_MARK}{source_hash(path)} -->" not in text:
        return False
    return all((out / ref).is_file() for ref in _figure_refs(text))


def _figure_refs(text: str) -> list[str]:
    import re

    return re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)


def execute(path: Path, out: Path) -> Rendered:
    """Run tutorial ``path`` and write ``out/<name>.md`` and its figures."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = out.resolve()  # the cells run in a scratch folder: no relative path may leak in
    name = path.stem
    fig_dir = out / f"{name}_files"
    if fig_dir.exists():
        for old in fig_dir.glob("*.png"):
            old.unlink()
    fig_dir.mkdir(parents=True, exist_ok=True)
    cells = parse_cells(path.read_text(encoding="utf-8"))
    rendered = Rendered(name, out / f"{name}.md")
    parts = [f"{_HASH_MARK}{source_hash(path)} -->", ""]
    namespace: dict = {"__name__": "__main__", "__file__": str(path)}
    started = time.perf_counter()
    show = plt.show
    plt.show = lambda *args, **kwargs: None  # figures are collected after each cell instead
    cwd = Path.cwd()
    try:
        with tempfile.TemporaryDirectory(prefix=f"tutorial-{name}-") as work:
            os.chdir(work)  # files a tutorial writes land in a scratch folder
            plt.close("all")
            for number, cell in enumerate(cells, 1):
                if cell.kind == "markdown":
                    parts += [cell.source, ""]
                    continue
                parts += ["```python", cell.source, "```", ""]
                try:
                    output = _run_cell(cell.source, namespace, f"{path.name} [cell {number}]")
                except Exception as exc:
                    raise TutorialError(
                        f"{path.name}: cell {number} failed:\n"
                        + "".join(traceback.format_exception(exc))) from exc
                if output.strip():
                    parts += ["```text", output.rstrip("\n"), "```", ""]
                for fignum in plt.get_fignums():
                    figure = plt.figure(fignum)
                    target = fig_dir / f"figure-{len(rendered.figures) + 1}.png"
                    figure.savefig(target, dpi=90, bbox_inches="tight")
                    rendered.figures.append(target)
                    parts += [f"![{name}: figure {len(rendered.figures)}]"
                              f"({name}_files/{target.name})", ""]
                plt.close("all")
    finally:
        os.chdir(cwd)
        plt.show = show
    rendered.seconds = time.perf_counter() - started
    rendered.page.write_text("\n".join(parts), encoding="utf-8")
    return rendered


def tutorial_files() -> list[Path]:
    """The tutorials, in reading order (their names start with a number)."""
    return sorted(TUTORIALS.glob("[0-9]*.py"))


def render_all(out: Path = DEFAULT_OUT, *, only_stale: bool = False,
               names: list[str] | None = None) -> list[Rendered]:
    """Execute every tutorial (or the stale ones, or those named) into ``out``."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for path in tutorial_files():
        if names and path.stem not in names:
            continue
        if only_stale and is_current(path, out):
            continue
        done.append(execute(path, out))
    return done


def main(argv: list[str] | None = None) -> int:
    """Command line: execute tutorials and print the time each took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stale", action="store_true", help="only re-run changed tutorials")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    total = time.perf_counter()
    try:
        for r in render_all(args.out, only_stale=args.stale, names=args.names or None):
            print(f"{r.name}: {r.seconds:.1f} s, {len(r.figures)} figure(s) -> {r.page}")
    except TutorialError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"tutorials: {time.perf_counter() - total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
