"""The package's shape: one owner of the layout, no package cycles, low layers that import no steps.

Static checks over the source (every import, including the ones inside
functions), so a shortcut that would make the layering drift fails here
rather than in review.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

SRC = ROOT / "src" / "hrlrec"
STEP_MODULES = ("hrlrec.ingest", "hrlrec.validation", "hrlrec.dataset", "hrlrec.evaluate", "hrlrec.stability",
                "hrlrec.publish", "hrlrec.report", "hrlrec.pipeline", "hrlrec.simulator")  # fmt: skip
LOW_LAYERS = ("data", "train", "models", "serving")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every hrlrec module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hrlrec"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hrlrec"))
    return found


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _package(module: str) -> str:
    """hrlrec.train.step -> train; hrlrec.registry -> registry."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_module_joins_workspace_paths_by_hand() -> None:
    offenders = []
    for name, path in _sources().items():
        if name in ("hrlrec.layout", "hrlrec.config"):
            continue
        text = path.read_text()
        needles = ("cfg.paths.", ".paths.", '/ f"ds=', '/ "candidates"', '/ "registry"', '/ "exports"',
                   '"index.html"', '"production.json"', '"history.jsonl"', '"_SUCCESS"', '"_truth"', "/ TRUTH",
                   "/ VERSION_FILE", '"dvc.lock"', '/ "data_checks"', '/ "data"', '"metrics"]', '/ "metrics"',
                   'root / "params.yaml"')  # fmt: skip
        for needle in needles:
            if needle in text:
                offenders.append(f"{name}: {needle}")
    assert not offenders, "paths joined outside hrlrec.layout:\n" + "\n".join(offenders)


def test_the_simulator_imports_the_layout_and_nothing_imports_the_simulator_for_paths() -> None:
    sources = _sources()
    assert any(i.startswith("hrlrec.layout") for i in _imports(sources["hrlrec.simulator"]))
    users = [n for n, p in sources.items() if not n.startswith("hrlrec.simulator")
             and any(i.startswith("hrlrec.simulator") for i in _imports(p))]  # fmt: skip
    # Only the steps that simulate or read the simulated truth import it.
    assert set(users) <= {"hrlrec.cli", "hrlrec.pipeline", "hrlrec.evaluation.truth", "hrlrec.evaluate"}, users


def test_low_layers_import_no_step_and_no_simulator() -> None:
    bad = []
    for name, path in _sources().items():
        if _package(name) not in LOW_LAYERS or name in ("hrlrec.train", "hrlrec.train.step", "hrlrec.serving.export"):
            continue  # the train and export steps live in their packages; the rest of the package is low
        for imported in _imports(path):
            if imported.startswith(STEP_MODULES) or imported.startswith(("hrlrec.registry", "hrlrec.candidates")):
                bad.append(f"{name} imports {imported}")
    assert not bad, "\n".join(bad)


def test_registry_and_serving_backends_hash_without_torch() -> None:
    sources = _sources()
    for name in ("hrlrec.registry", "hrlrec.checkpoints", "hrlrec.serving.manifest", "hrlrec.serving.backends"):
        tree = ast.parse(sources[name].read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        modules = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        assert not any(m == "torch" or m.startswith(("torch.", "hrlrec.train", "hrlrec.models")) for m in modules), name
    assert not any(i.startswith("hrlrec.train") for i in _imports(sources["hrlrec.registry"]))


def test_no_cycles_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in _sources().items():
        for imported in _imports(path):
            a, b = _package(name), _package(imported)
            if a != b and b in {_package(n) for n in _sources()}:
                graph[a].add(b)
    # The top-level modules (cli, pipeline, workspace, layout, ...) are each their own package here.
    cycles = [(a, b) for a in graph for b in graph[a] if a in graph.get(b, set()) and a < b]
    assert not cycles, f"package cycles: {cycles}"


def test_package_faces_only_re_export() -> None:
    for package in ("train", "validation", "report"):
        tree = ast.parse((SRC / package / "__init__.py").read_text())
        kinds = {type(n).__name__ for n in tree.body}
        assert kinds <= {"Expr", "ImportFrom", "Import", "Assign"}, f"{package}/__init__.py does work: {kinds}"
