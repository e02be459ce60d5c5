"""Subcommands beyond formats/generate/sim: demo, synth, build, explore (as they land).

Kept apart from ``cli.py`` so each capability adds its command in one place.
"""

__all__ = ["add_parsers", "run"]


def add_parsers(sub, units):
    sub.add_parser("demo", help="the main end-to-end job: generate, simulate, synthesize")


def run(args, units):
    if args.command == "demo":
        from .demo import run_demo
        return run_demo()
    raise AssertionError(args.command)
