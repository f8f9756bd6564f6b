"""Pages of the documentation site generated from the code, so they never go stale.

Used by the MkDocs hook (``scripts/mkdocs_hooks.py``) and by the tests under ``tests/docs``:

* an API reference page per public module (``api/<module>.md``, rendered by mkdocstrings);
* a page per experiment (``experiments/<name>.md``) from the experiments registry: its
  description, command, module docstring and settings with their defaults;
* a page per data kind (``data/<kind>.md``) from the data modules' docstrings;
* the metrics page from :mod:`quotient.metrics.descriptions` (the table the run report uses);
* the results table (the README's generated table) and the list of public objects.

A new experiment, data module or public module appears without editing anything here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# Exported objects in files that other work in progress owns; their docstrings are pending
# (listed so the check catches every *new* omission; remove an entry once it has one).
PENDING_DOCSTRINGS: frozenset[str] = frozenset()

# Data kinds: title and the data modules (quotient.data.<module>) that provide them. A data
# module in none of these lands on the "other" page, so nothing is left out.
DATA_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "images": ("Images", ("mnist", "rotated_mnist", "se2_mnist", "fashion_mnist", "shapes")),
    "signals": ("Signals", ("signals",)),
    "sets": ("Sets", ("digit_sets",)),
    "point-clouds": ("Point clouds", ("tetris", "tetrominoes")),
    "molecules": ("Molecules", ("qm9",)),
    "graphs": ("Graphs", ("graphs", "graph_atlas", "graph_classes")),
    "volumes": ("Volumes", ("volumes",)),
    "your-own-files": ("Your own files", ("user", "user_files", "dataset")),
}


@lru_cache(maxsize=1)
def _package() -> Any:  # noqa: ANN401 - a griffe Module
    import griffe

    return griffe.load("quotient", search_paths=[str(SRC)], resolve_aliases=False)


def public_modules() -> list[str]:
    """Dotted names of the public modules: no part starts with an underscore."""
    found: list[str] = []

    def walk(module: Any) -> None:
        found.append(module.path)
        for name, sub in sorted(module.members.items()):
            if sub.is_alias or not sub.is_module or name.startswith("_"):
                continue
            walk(sub)

    walk(_package())
    return found


def _resolve(module: Any, name: str) -> Any:  # noqa: ANN401 - a griffe Object
    obj = module.members.get(name)
    if obj is None:
        raise KeyError(name)
    while obj.is_alias:
        obj = obj.target  # follows re-exports to where the object is defined
    if obj.is_module and name in obj.members:  # `from .convert import convert`: the function
        return _resolve(obj, name)
    return obj


def _module(path: str) -> Any:  # noqa: ANN401 - a griffe Module
    return _package() if path == "quotient" else _package()[path.removeprefix("quotient.")]


def shadowed(module_path: str) -> dict[str, str]:
    """Exported names that are also the name of a submodule (``quotient.dynamics.convert`` is
    both): name -> dotted path of the object the package exports, rendered on its own."""
    module = _module(module_path)
    out = {}
    for name in exported(module_path):
        member = module.members.get(name)
        if member is not None and not member.is_alias and member.is_module:
            out[name] = _resolve(module, name).path
    return out


def exported(module_path: str) -> list[str]:
    """The names in a module's ``__all__`` (empty when it has none)."""
    module = _package()[module_path.removeprefix("quotient.")] if module_path != "quotient" \
        else _package()
    exports = module.exports
    return [e if isinstance(e, str) else e.name for e in exports] if exports else []


def missing_docstrings() -> list[str]:
    """``module.name`` of every object in any ``quotient.*.__all__`` without a docstring
    (read statically, as the API reference renders it), objects defined in pending files
    excepted (:data:`PENDING_DOCSTRINGS`)."""
    missing = []
    for path in public_modules():
        module = _package()[path.removeprefix("quotient.")] if path != "quotient" else _package()
        for name in exported(path):
            try:
                obj = _resolve(module, name)
            except Exception:  # noqa: BLE001 - a name griffe cannot follow
                missing.append(f"{path}.{name} (cannot be resolved statically)")
                continue
            doc = obj.docstring.value.strip() if obj.docstring else ""
            if not doc and obj.path not in PENDING_DOCSTRINGS:
                missing.append(f"{path}.{name}")
    return sorted(set(missing))


def api_pages() -> dict[str, str]:
    """``api/<module>.md`` -> markdown: one page per public module, rendered by mkdocstrings
    (the members of ``__all__`` when the module has one, else its public members)."""
    pages = {}
    for path in public_modules():
        hidden = shadowed(path)
        members = [m for m in exported(path) if m not in hidden]
        lines = [f"# `{path}`", "", f"::: {path}"]
        if members:
            lines += ["    options:", "      members:"]
            lines += [f"        - {m}" for m in members]
        elif exported(path):  # only shadowed names: render the module's docstring alone
            lines += ["    options:", "      members: false"]
        for target in hidden.values():  # the object, not the submodule of that name
            lines += ["", f"::: {target}", "    options:", "      show_root_heading: true"]
        pages[f"api/{path}.md"] = "\n".join(lines) + "\n"
    return pages


def _markdown(doc: str) -> str:
    """A docstring as markdown: reST roles such as :func:`~a.b` become code."""
    doc = re.sub(r":(?:func|class|mod|meth|attr|data|obj|exc):`~?([^`]+)`", r"``\1``", doc)
    return doc


def _settings_table(config_cls: type) -> list[str]:
    from quotient.train import config_keys, config_to_dict

    try:
        defaults = config_to_dict(config_cls())
    except Exception:  # noqa: BLE001 - a config that needs arguments
        return []
    rows = ["| setting | default |", "| --- | --- |"]
    for key in config_keys(config_cls):
        value: Any = defaults
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        shown = json.dumps(value, default=str)
        rows.append(f"| `{key}` | `{shown}` |")
    return rows


def experiment_pages() -> dict[str, str]:
    """``experiments/<name>.md`` -> markdown, for every registered experiment."""
    from quotient import experiments

    pages = {}
    for kind, command in (("train", "train"), ("dynamics", "dynamics")):
        for name in experiments.names(kind):
            exp = experiments.get(name, kind)
            module = inspect.getmodule(exp.config_cls)
            lines = [f"# {name}", "", f"*{exp.description}*", "",
                     "```bash", f"quotient {command} {name} --out runs/{name}",
                     f"quotient {command} {name} --show-config    # every setting", "```", ""]
            if module is not None and module.__doc__:
                lines += [_markdown(inspect.cleandoc(module.__doc__)), ""]
            if exp.config_cls.__doc__:
                lines += ["## Settings", "", _markdown(inspect.cleandoc(exp.config_cls.__doc__)),
                          ""]
            lines += _settings_table(exp.config_cls) + [""]
            lines += ["## Metrics", "", "What each figure of `metrics.json` means is on the "
                      "[metrics page](../metrics.md); the run's `report.html` shows the same "
                      "descriptions beside the values.", ""]
            if module is not None:
                lines += [f"Source and API: [`{module.__name__}`](../api/{module.__name__}.md).",
                          ""]
            pages[f"experiments/{name}.md"] = "\n".join(lines)
    return pages


def _data_modules() -> list[str]:
    return [p.rsplit(".", 1)[1] for p in public_modules()
            if p.startswith("quotient.data.") and p.count(".") == 2]


def data_pages() -> dict[str, str]:
    """``data/<kind>.md`` -> markdown: the data modules of each kind with their docstrings."""
    listed = {m for _, mods in DATA_KINDS.values() for m in mods}
    kinds = dict(DATA_KINDS)
    other = tuple(m for m in _data_modules() if m not in listed)
    if other:
        kinds["other"] = ("Other data", other)
    available = set(_data_modules())
    pages = {}
    for slug, (title, modules) in kinds.items():
        lines = [f"# {title}", ""]
        if slug == "your-own-files":
            lines += ["The file formats for your own data are on [Your own data](../own_data.md);"
                      " what a bad file answers is in [Bad input](../bad_input.md).", ""]
        for mod in modules:
            if mod not in available:
                continue
            path = f"quotient.data.{mod}"
            doc = importlib.import_module(path).__doc__ or ""
            lines += [f"## `{path}`", "", _markdown(inspect.cleandoc(doc)), "",
                      f"API: [`{path}`](../api/{path}.md)", ""]
        pages[f"data/{slug}.md"] = "\n".join(lines)
    return pages


def metrics_page() -> str:
    """The metrics page: every base name and pattern, and the plot captions."""
    from quotient.metrics.descriptions import PLOT_CAPTIONS, metric_table

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["# Metrics and plots", "",
             "What the figures of a run's `metrics.json` mean. Names are composed: a base name "
             "or pattern below, optionally with a prefix (`baseline_`, `test_`, `train_`, "
             "`<space>/<strategy>/` for the dynamics experiments) and suffixes (`_f64`: "
             "re-checked in float64; `_p50`/`_p99`/`_p999`: quantiles over test samples; "
             "`_mean`, `_median`, `_std`, `_max`, `_min`; `_rigid`). The run report shows the "
             "composed description beside each value. Both read "
             "[`quotient.metrics.descriptions`](api/quotient.metrics.descriptions.md).", "",
             "| name or pattern | meaning | unit |", "| --- | --- | --- |"]
    lines += [f"| `{cell(n)}` | {cell(m)} | {cell(u)} |" for n, m, u in metric_table()]
    lines += ["", "## Plots", "", "| file | what to look for |", "| --- | --- |"]
    lines += [f"| `plots/{k}.png` | {cell(v)} |" for k, v in PLOT_CAPTIONS.items()]
    return "\n".join(lines) + "\n"


def results_page() -> str:
    """The README's generated results table (``benchmarks/make_table.py`` writes it)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- results:begin -->\n(.*?)<!-- results:end -->", readme, re.S)
    table = match.group(1).strip() if match else "(no results table in README.md)"
    return "\n".join([
        "# Results", "",
        "Generated by `python benchmarks/make_table.py` from `benchmarks/results/*.json` (each "
        "benchmark writes its figures there; `make bench` reruns them). Times are wall-clock on "
        "a 2-core CPU; *reference* is the paper's or its reference code's figure where one "
        "exists.", "", table, ""])


def api_index(pages: dict[str, str]) -> str:
    """The API landing page: every public module with the first line of its docstring."""
    lines = ["# API reference", "",
             "One page per public module, generated from the docstrings (signatures, shapes, "
             "the maths). Objects listed in a module's `__all__` are its public API.", "",
             "| module | summary |", "| --- | --- |"]
    pkg = _package()
    for page in sorted(pages):
        path = page[len("api/"):-len(".md")]
        module = pkg if path == "quotient" else pkg[path.removeprefix("quotient.")]
        doc = module.docstring.value.strip().splitlines()[0] if module.docstring else ""
        lines.append(f"| [`{path}`]({path}.md) | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def all_pages() -> dict[str, str]:
    """Every generated page: path inside the docs tree -> markdown."""
    api = api_pages()
    pages = {**api, "api/index.md": api_index(api), **experiment_pages(), **data_pages(),
             "metrics.md": metrics_page(), "results.md": results_page()}
    return pages


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "docs-gen" / "pages"
    for rel, text in all_pages().items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote {len(all_pages())} pages under {out}")
    missing = missing_docstrings()
    print("missing docstrings:", ", ".join(missing) if missing else "none")
