"""The built-in models' ONNX files, trained by ``hwgen train`` from their recipes.

::

    python -m hwgen.train.builtin            # retrain every built-in model, write its file
    python -m hwgen.train.builtin --check    # retrain, compare with the shipped files
    python -m hwgen.train.builtin mlp-iris   # one model

Each model of :data:`hwgen.explore.models.BUILTIN` is trained by :func:`hwgen.train.train`
(``hwgen train --method plain`` with the recipe's data set, architecture, epochs and seed) and
exported (:func:`hwgen.explore.models.export_model`) to
``hwgen/explore/builtin/NAME.onnx``, which the explorer reads without PyTorch. The same seed
on the same machine writes the same bytes; ``--check`` says which files differ (exit 1).
"""

import argparse
import sys
import tempfile
from pathlib import Path

__all__ = ["train_builtin", "write_builtin", "main"]


def train_builtin(name):
    """Built-in model ``name`` trained from its recipe: ``(model, report)`` as
    :func:`hwgen.train.train` returns them, the model named ``name``.

    Raises
    ------
    ValueError
        ``name`` is not a built-in model.
    """
    from ..explore.models import BUILTIN, builtin_description
    from . import train
    if name not in BUILTIN:
        raise ValueError(f"Unknown built-in model {name!r}; built-in models are "
                         f"{', '.join(BUILTIN)}")
    r = BUILTIN[name][1]
    model, report = train("plain", r.data, r.arch, epochs=r.epochs, seed=r.seed)
    model.name = name
    model.description = builtin_description(name)
    return model, report


def write_builtin(name, path):
    """Train built-in model ``name`` and write its ONNX file to ``path``; returns the
    report."""
    from ..explore.models import export_model
    model, report = train_builtin(name)
    export_model(model, path)
    return report


def main(argv=None):
    from ..explore.models import BUILTIN, builtin_path
    ap = argparse.ArgumentParser(prog="python -m hwgen.train.builtin",
                                 description="Retrain the built-in models into the package")
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"models to train (default all: {', '.join(BUILTIN)})")
    ap.add_argument("--check", action="store_true",
                    help="retrain and compare with the shipped files instead of writing")
    args = ap.parse_args(argv)
    for n in args.names:
        if n not in BUILTIN:
            ap.error(f"NAME must be one of {', '.join(BUILTIN)}, not {n!r}")
    differ = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names or list(BUILTIN):
            target = builtin_path(name)
            out = Path(tmp) / target.name if args.check else target
            report = write_builtin(name, out)
            if not args.check:
                print(f"{name}: accuracy {report['accuracy']:.4f}, wrote {out}")
                continue
            same = target.is_file() and out.read_bytes() == target.read_bytes()
            if not same:
                differ.append(name)
            print(f"{name}: accuracy {report['accuracy']:.4f}"
                  + (" (same as shipped)" if same else " (DIFFERS from the shipped file)"))
    if differ:
        print(f"differ: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
