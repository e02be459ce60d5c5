"""The typed public API. mypy checks that formats, the golden model, the PE grammar and the
host driver annotate every function (pyproject's ``[[tool.mypy.overrides]]``, run by
``make test``); this test holds the units' and arrays' constructors to the same: every
parameter and the return of each public class's ``__init__`` is annotated."""

import importlib
import inspect
import pkgutil

import pytest

import hwgen.arrays
import hwgen.units

MODULES = sorted([f"hwgen.units.{m.name}" for m in pkgutil.iter_modules(hwgen.units.__path__)]
                 + [f"hwgen.arrays.{m.name}" for m in pkgutil.iter_modules(hwgen.arrays.__path__)]
                 + ["hwgen.arrayspec"])


def _public_classes(module):
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if inspect.isclass(obj) and obj.__module__ == module and "__init__" in vars(obj):
            yield name, obj


@pytest.mark.parametrize("module", MODULES)
def test_constructors_are_annotated(module):
    missing = []
    for name, cls in _public_classes(module):
        sig = inspect.signature(cls.__init__)
        for p in list(sig.parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.annotation is p.empty:
                missing.append(f"{name}.__init__ *{p.name}")
            elif p.annotation is p.empty:
                missing.append(f"{name}.__init__({p.name})")
        if sig.return_annotation is sig.empty:
            missing.append(f"{name}.__init__ -> ?")
    assert missing == []


def test_the_check_finds_constructors():
    found = {n for m in MODULES for n, _ in _public_classes(m)}
    assert {"FloatMultiplier", "FloatMac", "IntMac", "SystolicArray", "ArraySpec"} <= found
