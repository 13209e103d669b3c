"""The import graph of the project's packages has no circle (import-linter checks layers, not cycles).

Imports under ``TYPE_CHECKING`` are left out: they never run, so they cannot make an import fail or depend on the
order modules load in; a Protocol's module may name the concrete type it describes.
"""

from __future__ import annotations

import grimp


def test_no_module_of_the_project_imports_itself_back_through_another() -> None:
    graph = grimp.build_graph("domain", "adapters", "app", exclude_type_checking_imports=True)
    circles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert circles == []
