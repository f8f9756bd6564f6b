"""Check a built documentation site (``site/``): every object of every ``quotient.*.__all__``
has a rendered entry (its anchor on its module's API page), and every tutorial page shows its
figures (each ``<img>`` points at a PNG that was built). Run after ``mkdocs build``; exit
status 1 lists what is missing.

    python scripts/check_site.py [SITE_DIR]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docs_gen  # noqa: E402
import run_tutorials  # noqa: E402


def problems(site: Path) -> list[str]:
    """What the built site lacks."""
    found: list[str] = []
    for module in docs_gen.public_modules():
        page = site / "api" / module / "index.html"
        if not page.is_file():
            found.append(f"no API page for {module}")
            continue
        html = page.read_text(encoding="utf-8")
        hidden = docs_gen.shadowed(module)
        for name in docs_gen.exported(module):
            anchor = hidden.get(name, f"{module}.{name}")
            if f'id="{anchor}"' not in html:
                found.append(f"no rendered entry for {module}.{name}")
    for source in run_tutorials.tutorial_files():
        page = site / "tutorials" / source.stem / "index.html"
        if not page.is_file():
            found.append(f"tutorial {source.stem} was not rendered")
            continue
        images = re.findall(r'<img[^>]*src="([^"]+\.png)"', page.read_text(encoding="utf-8"))
        if not images:
            found.append(f"tutorial {source.stem} shows no figure")
        for src in images:
            if not (page.parent / src).resolve().is_file():
                found.append(f"tutorial {source.stem}: missing image {src}")
    return found


def main() -> int:
    """Check the site folder given (default ``site``)."""
    site = Path(sys.argv[1] if len(sys.argv) > 1 else docs_gen.ROOT / "site")
    found = problems(site)
    for line in found:
        print(f"check_site: {line}", file=sys.stderr)
    if not found:
        print(f"check_site: {site}: every public object rendered, every tutorial figure shown")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
