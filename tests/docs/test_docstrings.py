"""Every object in any ``quotient.*.__all__`` has a docstring, and an entry in the API
reference (the strict docs build fails on the same check)."""

import pytest

pytest.importorskip("griffe")

import docs_gen  # noqa: E402 - scripts/docs_gen.py (see conftest.py)


def test_every_public_object_has_a_docstring():
    assert docs_gen.missing_docstrings() == []


def test_pending_list_only_names_objects_still_without_one():
    """An entry of the pending list whose object got a docstring (or vanished) must go."""
    import griffe

    pkg = griffe.load("quotient", search_paths=[str(docs_gen.SRC)])
    stale = []
    for path in docs_gen.PENDING_DOCSTRINGS:
        module, _, name = path.rpartition(".")
        try:
            obj = pkg[module.removeprefix("quotient.")][name]
        except KeyError:
            stale.append(f"{path} (gone)")
            continue
        if obj.docstring and obj.docstring.value.strip():
            stale.append(path)
    assert stale == []


def test_every_exported_object_has_an_api_entry():
    pages = docs_gen.api_pages()
    modules = docs_gen.public_modules()
    assert "quotient.train" in modules and "quotient.metrics.descriptions" in modules
    for module in modules:
        page = pages[f"api/{module}.md"]
        assert f"::: {module}" in page
        hidden = docs_gen.shadowed(module)
        for name in docs_gen.exported(module):
            assert (f"        - {name}\n" in page if name not in hidden
                    else f"::: {hidden[name]}\n" in page), (module, name)


def test_generated_pages_cover_every_experiment_and_data_module():
    from quotient import experiments

    pages = docs_gen.all_pages()
    for kind in experiments.KINDS:
        for name in experiments.names(kind):
            assert f"experiments/{name}.md" in pages
    covered = "".join(p for k, p in pages.items() if k.startswith("data/"))
    for path in docs_gen.public_modules():
        if path.startswith("quotient.data.") and path.count(".") == 2:
            assert f"## `{path}`" in covered
    assert "| `rec_mse` |" in pages["metrics.md"]
    assert "| task | method |" in pages["results.md"]
