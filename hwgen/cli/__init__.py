"""The ``hwgen`` command line: one module per command.

Every module of this package whose name does not start with ``_`` is a command: it defines
``COMMAND``, a :class:`Command` (name, help line, ``add_arguments(parser)``, ``run(args)`` ->
exit status). The package finds them (:func:`commands`), lists them in ``hwgen --help`` in
alphabetical order and runs the one named on the command line, so adding a command is adding
a module. Bad values are reported by :func:`fail`: one line ``hwgen: error: ...`` on stderr,
exit status 2, never a traceback.

``main`` is the entry point of ``hwgen`` and of ``python -m hwgen``.
"""

import importlib
import pkgutil
import sys

from ._command import Command, fail, make_parser, run_argv

__all__ = ["main", "build_parser", "commands", "Command", "fail"]


def commands():
    """Every :class:`Command` of this package, sorted by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cmd = getattr(module, "COMMAND", None)
        if not isinstance(cmd, Command):
            raise RuntimeError(f"Command module {module.__name__} defines no COMMAND")
        if cmd.name in found:
            raise RuntimeError(f"Command {cmd.name!r} defined twice")
        found[cmd.name] = cmd
    return [found[name] for name in sorted(found)]


def build_parser(units=None):
    """The full ``hwgen`` parser, every command with its arguments; ``units`` (name ->
    :class:`~hwgen.catalog.UnitSpec`) replaces the catalog of ``generate|sim|synth UNIT``."""
    return make_parser(commands(), units)


def main(argv=None):
    """Run ``hwgen`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Output into a pipe closed early (``hwgen generate ... | head``) ends the command quietly
    with status 141, as for other command-line tools killed by SIGPIPE."""
    try:
        return run_argv(commands(), sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        import os
        # Python flushes stdout at exit: point it at /dev/null so that flush cannot fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
