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
