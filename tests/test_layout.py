"""The package's import graph: no circles (module-level or inside functions), and the arrows the layout
promises: training never imports visualisation, the data layer never imports the fast path or the kinds,
nothing below the CLI imports it."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def import_graph() -> dict[str, set[str]]:
    mods = {}
    for p in SRC.rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = p

    def resolve(n: str) -> str:
        while n and n not in mods:
            n = n.rsplit(".", 1)[0] if "." in n else ""
        return n

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        tree = ast.parse(p.read_text())
        type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in
                     ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vaekit"):
                targets = {resolve(node.module), *(resolve(f"{node.module}.{a.name}") for a in node.names)}
            elif isinstance(node, ast.Import):
                targets = {resolve(a.name) for a in node.names if a.name.startswith("vaekit")}
            else:
                continue
            graph[m] |= {t for t in targets if t and t != m and not m.startswith(t + ".")}
    return graph


def test_the_import_graph_has_no_circles():
    graph, done, path, found = import_graph(), set(), [], []

    def visit(u: str) -> None:
        if u in path:
            found.append([*path[path.index(u):], u])
            return
        if u in done:
            return
        path.append(u)
        for v in sorted(graph[u]):
            visit(v)
        path.pop()
        done.add(u)

    for m in sorted(graph):
        visit(m)
    assert found == []
    assert len(graph) > 60 and sum(map(len, graph.values())) > 150  # the graph was read


def test_the_layers_import_only_downwards():
    graph = import_graph()

    def arrows(src: str, dst: str) -> list[tuple[str, str]]:
        return [(m, t) for m, ts in graph.items() if m.startswith(src) for t in ts if t.startswith(dst)]

    assert arrows("vaekit.training", "vaekit.viz") == []
    assert arrows("vaekit.data", "vaekit.fast") == arrows("vaekit.data", "vaekit.kinds") == []
    assert [a for a in arrows("vaekit", "vaekit.cli") if not a[0].startswith(("vaekit.cli", "vaekit.__main__"))] == []
    assert arrows("vaekit.viz.callbacks", "vaekit.training") != []  # the check can see an arrow


SOURCE_SUFFIXES = {".py", ".md", ".sh", ".js", ".css", ".html", ".toml", ".json"}


def test_no_source_file_is_git_ignored() -> None:
    """A new module under an ignored name (e.g. a `runs/` pattern catching vaekit/runs/) would exist only on
    the machine that wrote it; a clean clone would fail to import it."""
    git = shutil.which("git")
    root = SRC.parent
    if git is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    files = [str(p.relative_to(root)) for d in ("src", "tests", "benchmarks", "scripts", "docs")
             for p in (root / d).rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES]
    out = subprocess.run([git, "check-ignore", "--no-index", "--stdin"], cwd=root, input="\n".join(files),
                         capture_output=True, text=True)
    assert out.stdout.split() == [], f"git ignores project files: {out.stdout.split()}"
