"""The machinery of the ``hwgen`` command line: :class:`Command`, the parser, :func:`fail`.

This module names no command: every command module imports it (and ``hwgen demo`` imports
the commands it runs), the package imports the command modules, so there is no import circle.
"""

import argparse
import sys
from dataclasses import dataclass
from collections.abc import Callable

__all__ = ["Command", "ArgumentParser", "fail", "make_parser", "run_argv", "run_command",
           "build_unit"]

DESCRIPTION = ("Generate, simulate and build narrow-precision MAC units and systolic "
               "arrays.")


@dataclass(frozen=True)
class Command:
    """One ``hwgen`` command; a command module defines one, named ``COMMAND``.

    Attributes
    ----------
    name : str
        The word after ``hwgen`` (``generate``, ``export-model``).
    help : str
        One line for the command list of ``hwgen --help``.
    add_arguments : callable(parser)
        Adds the command's arguments to its argparse parser. Only argparse work: Amaranth,
        numpy, scikit-learn and cocotb are imported in ``run``, so that ``hwgen --help`` stays
        fast.
    run : callable(args) -> int
        Runs the command for the parsed ``args``; returns the exit status (0 success, 2 a bad
        value, see :func:`fail`). A ``ValueError``/``TypeError`` it raises is a bad value too:
        its first line is printed as ``hwgen: error: ...`` and the status is 2.
    description, epilog : str, optional
        Text of ``hwgen NAME --help`` above and below the arguments.
    raw_text : bool
        Keep the line breaks of ``description`` and ``epilog``.
    per_unit : bool
        The command takes a unit of the catalog (:mod:`hwgen.catalog`), as ``hwgen generate
        UNIT`` does: one sub-parser per unit gets the unit's options, then ``add_arguments``;
        ``run`` finds the unit's name in ``args.unit`` and its
        :class:`~hwgen.catalog.UnitSpec` in ``args.unit_spec``.
    """
    name: str
    help: str
    add_arguments: Callable
    run: Callable
    description: str | None = None
    epilog: str | None = None
    raw_text: bool = False
    per_unit: bool = False


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with the house error line: ``<prog>: error: <message>``, status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def fail(message, status=2):
    """Print ``hwgen: error: <message>`` (one line) on stderr; return ``status``, the exit
    status (2: a bad value; 1: a tool failed)."""
    print(f"hwgen: error: {message}", file=sys.stderr)
    return status


def _first_line(e):
    return str(e).splitlines()[0] if str(e) else repr(e)


def make_parser(commands, units=None, only=None):
    """The ``hwgen`` parser with ``commands`` (:class:`Command` objects, in order).

    ``units`` (name -> UnitSpec) is the catalog of the ``per_unit`` commands, default
    :func:`hwgen.catalog.all_units`. With ``only`` (a command name, or ``""`` for none), only
    that command gets its arguments; the others are listed with their help line, which is all
    ``hwgen --help`` shows (nor is the catalog loaded unless a ``per_unit`` command is built).
    """
    from .. import __version__
    p = ArgumentParser(prog="hwgen", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"hwgen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for cmd in commands:
        cp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description,
                            epilog=cmd.epilog,
                            formatter_class=(argparse.RawDescriptionHelpFormatter
                                             if cmd.raw_text else argparse.HelpFormatter))
        if only is not None and cmd.name != only:
            continue
        if not cmd.per_unit:
            cmd.add_arguments(cp)
            continue
        if units is None:
            from ..catalog import all_units
            units = all_units()
        usub = cp.add_subparsers(dest="unit", metavar="UNIT", parser_class=ArgumentParser)
        usub.required = True
        for spec in units.values():
            up = usub.add_parser(spec.name, help=spec.help,
                                 description=(spec.help + "\n\n" + spec.description).strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
            spec.add_arguments(up)
            cmd.add_arguments(up)
            up.set_defaults(unit_spec=spec)
    return p


def run_command(command, args):
    """``command.run(args)``, with a ``ValueError``/``TypeError`` or a missing extra
    (:class:`hwgen.extras.MissingExtra`) turned into one error line (status 2) and Ctrl-C
    into ``hwgen: error: interrupted`` (status 130)."""
    from ..extras import MissingExtra
    try:
        return command.run(args)
    except (ValueError, TypeError, MissingExtra) as e:
        return fail(_first_line(e))
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def run_argv(commands, argv, units=None):
    """Parse the command line ``argv`` (a list, without the program name) against
    ``commands`` and run the chosen one; return the exit status. Without a command: the usage
    and the command list on stderr, status 2."""
    argv = _attach_negative_values(list(argv))
    # Only the chosen command's parser is built in full: the first word that is not an
    # option (``hwgen`` itself takes no option with a value).
    chosen = next((a for a in argv if not a.startswith("-")), "")
    parser = make_parser(commands, units, only=chosen)
    args = parser.parse_args(argv)
    if args.command is None:
        sys.stderr.write(parser.format_help())
        return 2
    return run_command(next(c for c in commands if c.name == args.command), args)


def _attach_negative_values(argv):
    """``--opt -1%`` becomes ``--opt=-1%``: argparse takes a value starting with ``-`` (other
    than a plain negative number) for an option and says only "expected one argument"; joined,
    the command's own check names the value and what is allowed."""
    out = []
    for a in argv:
        if (out and len(a) > 1 and a[0] == "-" and (a[1].isdigit() or a[1] == ".")
                and out[-1].startswith("--") and "=" not in out[-1]):
            out[-1] = f"{out[-1]}={a}"
        else:
            out.append(a)
    return out


def build_unit(args):
    """The component of ``hwgen generate|sim|synth UNIT``; a bad option raises
    :class:`~hwgen.catalog.CliError` with the first line of the unit's message."""
    from ..catalog import CliError
    try:
        comp = args.unit_spec.build(args)
    except (CliError, ValueError, TypeError) as e:
        raise CliError(_first_line(e)) from None
    plan = getattr(comp, "plan", None)           # frequency-directed pipelining (--target-mhz)
    if plan is not None:
        print(f"pipeline: {plan.summary()}")
    return comp
