"""MkDocs hooks of the documentation site (``mkdocs.yml`` names this file).

* ``on_config``: the navigation, built from what exists (new pages appear by themselves).
* ``on_files``: adds the pages generated from the code (``scripts/docs_gen.py``) and the
  executed tutorials (``scripts/run_tutorials.py``; re-run only when their source changed
  since they were last rendered into ``build/docs-gen/tutorials``), and warns — which fails
  the strict build — for every public object without a docstring.
* ``on_page_markdown``: the existing pages write doctests as bare ``>>>`` lines (pytest runs
  them); they are shown as highlighted ``pycon`` blocks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import docs_gen  # noqa: E402
import run_tutorials  # noqa: E402
from griffe_doctests import fence_doctests  # noqa: E402

log = get_plugin_logger("quotient")

GUIDES = ["giae.md", "giae_sets_points.md", "giae_graphs.md", "canonicalisation.md",
          "dynamics.md", "groups.md", "own_data.md", "new_data_kind.md", "scaling.md",
          "testing.md"]


def _generated() -> dict[str, str]:
    if not hasattr(_generated, "pages"):
        _generated.pages = docs_gen.all_pages()  # type: ignore[attr-defined]
    return _generated.pages  # type: ignore[attr-defined]


def on_config(config: Any) -> Any:  # noqa: ANN401 - MkDocsConfig
    """Build the navigation from the docs folder, the registry and the tutorials."""
    docs = Path(config["docs_dir"])
    pages = _generated()
    guides = [g for g in GUIDES if (docs / g).is_file()]
    guides += sorted(p.name for p in docs.glob("*.md")
                     if p.name not in guides and p.name not in ("index.md", "bad_input.md"))
    tutorials = [f"tutorials/{p.stem}.md" for p in run_tutorials.tutorial_files()]
    experiments = sorted(p for p in pages if p.startswith("experiments/"))
    data = [p for p in pages if p.startswith("data/")]
    api = ["api/index.md"] + sorted(p for p in pages if p.startswith("api/quotient"))
    config["nav"] = [
        {"Home": "index.md"},
        {"Tutorials": tutorials},
        {"Guides": guides},
        {"Experiments": experiments},
        {"Data": data},
        {"Metrics": "metrics.md"},
        {"Results": "results.md"},
        {"Bad input": "bad_input.md"},
        {"API reference": api},
    ]
    return config


def on_files(files: Files, config: Any) -> Files:  # noqa: ANN401 - MkDocsConfig
    """Add the generated pages and the executed tutorials; check the docstrings."""
    for missing in docs_gen.missing_docstrings():
        log.warning("public object without a docstring: %s", missing)
    for path, text in _generated().items():
        files.append(File.generated(config, path, content=text))
    out = run_tutorials.DEFAULT_OUT
    for rendered in run_tutorials.render_all(out, only_stale=True):
        log.info("executed tutorial %s in %.1f s", rendered.name, rendered.seconds)
    for source in run_tutorials.tutorial_files():
        page = out / f"{source.stem}.md"
        files.append(File.generated(config, f"tutorials/{page.name}", abs_src_path=str(page)))
        for png in sorted((out / f"{source.stem}_files").glob("*.png")):
            files.append(File.generated(config, f"tutorials/{source.stem}_files/{png.name}",
                                        abs_src_path=str(png)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:  # noqa: ANN401
    """Show bare doctests as code blocks."""
    return fence_doctests(markdown) + "\n"
