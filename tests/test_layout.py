"""The package layout keeps its rules: no import circle in the product, and the product never imports the lab.

``make lint`` checks the layers with import-linter (contracts in pyproject.toml); this checks what layers
alone cannot: no two modules, even of one layer, import each other through any chain.
"""

import grimp


def import_cycle(graph: grimp.ImportGraph, package: str) -> list[str] | None:
    """One chain of imports among ``package``'s modules that leads back to its start, or None."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    state: dict[str, str] = {}

    def visit(module: str, chain: list[str]) -> list[str] | None:
        state[module] = "open"
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith(package):
                continue
            if state.get(imported) == "open":
                return [*chain[chain.index(imported) :], imported]  # an open module is on the chain
            if imported not in state and (found := visit(imported, [*chain, imported])):
                return found
        state[module] = "done"
        return None

    for module in modules:
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_the_product_has_no_import_cycle():
    graph = grimp.build_graph("digit_recog")
    assert import_cycle(graph, "digit_recog") is None


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert import_cycle(graph, "pkg") == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_the_product_never_imports_the_lab():
    graph = grimp.build_graph("digit_recog", "lab")
    product = [m for m in graph.modules if m.startswith("digit_recog")]
    lab_modules = {m for m in graph.modules if m == "lab" or m.startswith("lab.")}
    assert {m for m in product if graph.find_modules_directly_imported_by(m) & lab_modules} == set()
