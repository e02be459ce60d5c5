"""The catalog of generatable units: what ``hwgen generate|sim|synth UNIT`` can build.

Each module in this package defines ``UNITS``, a list of :class:`UnitSpec`. A spec says how to
add the unit's options to an argparse parser, how to build the component from parsed options,
and which cocotb module (in ``sim/``) verifies it for ``hwgen sim``. Adding a unit to the
CLI means adding a spec here; the CLI itself does not change.
"""

import importlib
import pkgutil
from dataclasses import dataclass
from collections.abc import Callable

__all__ = ["UnitSpec", "all_units", "CliError"]


class CliError(ValueError):
    """A bad option value: the CLI prints the message on one line and exits with status 2."""


@dataclass(frozen=True)
class UnitSpec:
    """How the CLI builds and verifies one kind of unit.

    Attributes
    ----------
    name : str
        The word after ``hwgen generate`` (``fmul``).
    help : str
        One line for ``hwgen generate --help``.
    add_arguments : callable(parser)
        Adds the unit's options (every option gets a default where one makes sense).
    build : callable(args) -> wiring.Component
        Builds the component; raises ``ValueError``/``TypeError`` (message names the bad value
        and what is allowed) for bad options.
    test_module : str or None
        Dotted name of the cocotb module that ``hwgen sim`` runs (``sim.fmul``).
    sim_params : callable(args, component) -> dict, optional
        JSON-able parameters for that cocotb module (the CLI adds ``vectors``, ``exhaustive``,
        ``seed`` and ``mode: "cli"``).
    description : str
        Longer text for ``hwgen generate UNIT --help`` (ports, conventions).
    sim_options : tuple of str
        The ``hwgen sim`` options the cocotb module honours among ``vectors`` and
        ``exhaustive``; ``hwgen sim`` refuses the others instead of ignoring them.
    sim_top : callable(component, params) -> (verilog, toplevel, params) or None, optional
        A simulation top around the component (e.g. several copies checking several vectors
        per simulator step) with the cocotb module's parameters for it; ``None`` (or no
        hook): the component itself is the top.
    """
    name: str
    help: str
    add_arguments: Callable
    build: Callable
    test_module: str | None = None
    sim_params: Callable | None = None
    description: str = ""
    sim_options: tuple = ("vectors",)
    sim_top: Callable | None = None


def all_units():
    """Every UnitSpec from every module of this package, by name (sorted)."""
    units = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for spec in getattr(mod, "UNITS", []):
            if spec.name in units:
                raise RuntimeError(f"Unit {spec.name!r} defined twice")
            units[spec.name] = spec
    return dict(sorted(units.items()))
