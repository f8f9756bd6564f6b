"""The tutorials run (tiny settings) and their pages show every figure they draw.

``QUOTIENT_TUTORIALS_OUT`` (set by ``make test``) keeps the rendered pages where the docs build
picks them up, so CI executes the tutorials once."""

import os
import re
import time
from pathlib import Path

import pytest
import run_tutorials  # scripts/run_tutorials.py (see conftest.py)


def test_cells_are_split_like_jupytext():
    cells = run_tutorials.parse_cells(
        "# ---\n# jupyter: x\n# ---\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\nx\n")
    assert [(c.kind, c.source) for c in cells] == [("markdown", "# Title\n\ntext"),
                                                  ("code", "x = 1\nx")]


def test_a_failing_cell_names_the_tutorial_and_the_cell(tmp_path):
    bad = tmp_path / "9_bad.py"
    bad.write_text("# %%\nx = 1\n# %%\nraise ValueError('boom')\n")
    with pytest.raises(run_tutorials.TutorialError, match=r"9_bad.py: cell 2 failed"):
        run_tutorials.execute(bad, tmp_path / "out")


@pytest.mark.slow
def test_tutorials_execute_and_embed_their_figures(tmp_path):
    out = Path(os.environ.get("QUOTIENT_TUTORIALS_OUT") or tmp_path)
    sources = run_tutorials.tutorial_files()
    assert len(sources) == 5
    started = time.perf_counter()
    rendered = run_tutorials.render_all(out)
    seconds = time.perf_counter() - started
    print(f"tutorials: {seconds:.1f} s", {r.name: round(r.seconds, 1) for r in rendered})
    for source in sources:
        page = (out / f"{source.stem}.md").read_text(encoding="utf-8")
        refs = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page)
        assert refs, f"{source.stem} shows no figure"
        for ref in refs:
            assert (out / ref).stat().st_size > 1000
        assert run_tutorials.is_current(source, out)
        assert "Traceback" not in page
