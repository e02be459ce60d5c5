"""The house's shape, read from the code's own imports (every ``import``, at module level or
inside a function, relative ones resolved): the layers formats → golden → units → arrays →
boards/flow → cli never import upward, neither the parts of the product nor its modules
import each other round a circle, and only the catalog and the command line (above it) use
the verification library ``sim/``."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The architecture's chain, bottom first; parts on one rung may not import each other upward
#: either (the circle check below covers them).
CHAIN = [{"hwgen.formats"}, {"hwgen.golden"}, {"hwgen.units"}, {"hwgen.arrays"},
         {"boards", "hwgen.flow"}, {"hwgen.cli"}]
#: Who may import ``sim``: the catalog (each unit's ``unit_params``) and the CLI.
SIM_USERS = {"sim", "hwgen.catalog", "hwgen.cli"}


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts), path.name == "__init__.py"


def _imports(path):
    """Dotted names ``path`` imports (``from x import y`` gives ``x.y`` and ``x``)."""
    name, is_pkg = _module_name(path)
    package = name.split(".") if is_pkg else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)


def _part(name):
    """The part of the house a dotted name belongs to: ``hwgen.<sub>`` or a top package."""
    bits = name.split(".")
    if bits[0] == "hwgen":
        return "hwgen" if len(bits) == 1 else f"hwgen.{bits[1]}"
    return bits[0]


def _graph():
    parts = {}
    for pkg in ("hwgen", "sim", "boards"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            name, _ = _module_name(path)
            src = _part(name)
            for imported in _imports(path):
                dst = _part(imported)
                if dst != src and dst.split(".")[0] in ("hwgen", "sim", "boards") \
                        and dst != "hwgen":
                    parts.setdefault(src, {}).setdefault(dst, f"{path.relative_to(ROOT)}: "
                                                              f"{imported}")
    return parts


def test_layers_never_import_upward():
    rank = {p: i for i, rung in enumerate(CHAIN) for p in rung}
    up = [why for src, dsts in _graph().items() for dst, why in dsts.items()
          if src in rank and dst in rank and rank[dst] > rank[src]]
    assert up == []


def test_no_circle_between_parts():
    graph = _graph()
    circles = []

    def visit(node, stack):
        for nxt in graph.get(node, {}):
            if nxt in stack:
                circles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    done = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    assert circles == []


def test_no_circle_between_modules():
    """No two modules import each other, directly or round a longer loop (lazy imports
    count: they are the same dependency, taken later)."""
    files = {}
    for pkg in ("hwgen", "sim", "boards"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            files[_module_name(path)[0]] = path
    graph = {}
    for name, path in files.items():
        for imported in _imports(path):
            bits = imported.split(".")
            target = next((".".join(bits[:i]) for i in range(len(bits), 0, -1)
                           if ".".join(bits[:i]) in files), None)
            # a package's __init__ re-exporting its modules is not a dependency back
            if target and target != name and not name.startswith(target + "."):
                graph.setdefault(name, set()).add(target)
    circles, done = [], set()

    def visit(node, stack):
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                circles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    assert circles == []


def test_only_the_catalog_and_cli_use_the_verification_library():
    bad = [why for src, dsts in _graph().items() for dst, why in dsts.items()
           if dst == "sim" and src not in SIM_USERS]
    assert bad == []


def test_the_check_sees_arrows():
    """The reader finds the arrows it must judge (so the three checks above can fail)."""
    graph = _graph()
    assert "hwgen.formats" in graph["hwgen.golden"]
    assert "sim" in graph["hwgen.cli"]
    assert "hwgen.flow" in graph["sim"]
