"""Packaging properties: version, typed marker, and a light import."""

import subprocess
import sys
from importlib import resources

import pytest


def test_version_and_typed_marker():
    import quotient

    assert quotient.__version__.count(".") == 2
    assert resources.files("quotient").joinpath("py.typed").is_file()


def _modules_after(stmt: str) -> set[str]:
    code = f"import sys; {stmt}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.processes
def test_import_quotient_is_light():
    """`import quotient` loads no heavy dependency; subpackages load on first use."""
    mods = _modules_after("import quotient")
    assert not {"torch", "matplotlib", "sklearn", "numpy"} & mods


@pytest.mark.processes
def test_core_layers_do_not_import_plotting_or_sklearn():
    mods = _modules_after("import quotient.groups, quotient.actions, quotient.testing")
    assert "torch" in mods
    assert not {"matplotlib", "sklearn"} & mods


def test_unknown_attribute_is_a_clear_error():
    import quotient

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        quotient.nope  # noqa: B018


# Imports point down only: the layers below the autoencoders never reach up into them (nor into
# the experiments or the command line), not even inside a function.
_UPPER = {"models", "experiments", "cli"}
_LOWER = ("groups", "actions", "testing", "nn", "data", "metrics", "train", "dynamics")


def _imported_subpackages(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    depth = len(path.relative_to(resources.files("quotient")).parts) - 1  # folders below quotient
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to the package root, then read the first name
                parts = (node.module or "").split(".")
                if node.level == depth + 1:
                    found.add(parts[0])
                    found.update(a.name for a in node.names if not node.module)
            elif (node.module or "").startswith("quotient."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("quotient."))
    return found


def test_lower_layers_do_not_import_models_experiments_or_cli():
    from pathlib import Path

    root = Path(str(resources.files("quotient")))
    offenders = {str(p.relative_to(root)): sorted(_imported_subpackages(p) & _UPPER)
                 for sub in _LOWER for p in (root / sub).rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
    # the check sees the imports it is about: a module of models does import nn
    assert "nn" in _imported_subpackages(root / "models" / "giae.py")
