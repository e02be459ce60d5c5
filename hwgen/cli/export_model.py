"""``hwgen export-model NAME -o net.onnx [--data data.npz]``: a model as an ONNX file.

NAME is a built-in model (``hwgen explore --list-models``) or a model file (``.npz`` or
``.onnx``). The ONNX graph takes the raw inputs (any normalization is its first nodes), has a
dynamic batch dimension and is read back by ``hwgen explore``, ``hwgen compress`` and
onnxruntime (:func:`hwgen.explore.models.export_model`). ``--data`` also writes the model's
raw test and calibration inputs as a data file (docs/models.md).
"""

from ._command import Command, fail

__all__ = ["COMMAND"]

_HELP = "write a built-in or file model as ONNX (and its test data)"


def add_arguments(p):
    p.add_argument("model", metavar="NAME", help="a built-in model (hwgen explore "
                   "--list-models) or a model file (.npz, .onnx)")
    p.add_argument("-o", "--output", metavar="FILE.onnx",
                   help="ONNX file to write (required; its directory must exist)")
    p.add_argument("--data", metavar="FILE.npz", default=None,
                   help="also write the model's raw test data (x_test, y_test, x_calib)")


def run(args):
    """Run ``hwgen export-model``; returns the exit status."""
    if args.output is None:
        return fail(f"missing -o/--output FILE.onnx: the ONNX file to write (e.g. -o "
                    f"{args.model}.onnx)")
    from ..explore.models import export_model
    model = export_model(args.model, args.output, data=args.data)
    print(f"wrote {args.output}: {model.name} ({model.summary()})")
    if args.data is not None:
        print(f"wrote {args.data}: test data (raw inputs)")
    return 0


COMMAND = Command("export-model", help=_HELP, description=__doc__.split("\n\n")[1],
                  add_arguments=add_arguments, run=run)
