"""Training for the hardware (``hwgen train``; PyTorch, the ``train`` extra).

::

    from hwgen.train import train
    model, report = train("compressibility", "digits", "32", epochs=20, seed=0, lam=0.05)
    report["trained"]["sparsity"], report["baseline"]["ternary_error"]
    from hwgen.explore.models import export_model
    export_model(model, "t.onnx")        # hwgen explore --model t.onnx, hwgen compress t.onnx

The methods, their baselines and what each report holds: :mod:`hwgen.train.methods`;
architectures: :mod:`hwgen.train.arch`; data: :mod:`hwgen.train.data`. The model returned
is the deployable one (ternarized, quantized to the high mode, the thin network) as the
explorer's :class:`~hwgen.explore.graph.Model`: it takes raw inputs (its ``pre`` steps
normalize them) and its ONNX export is read back by ``hwgen explore``/``compress``/``run``.
"""

from .arch import parse_arch

__all__ = ["train", "METHOD_NAMES", "parse_arch", "load_training_data"]


def __getattr__(name):
    # numpy is imported on first use only: ``hwgen --help`` reads METHOD_NAMES.
    if name == "load_training_data":
        from .data import load_training_data
        return load_training_data
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: ``hwgen train --method`` values.
METHOD_NAMES = ("plain", "compressibility", "wide-narrow", "dualprec", "bitlayers")


def train(method, data, arch, *, epochs=20, seed=0, lam=0.05, wide_factor=4, high_bits=8,
          weight_bits=8, lr=0.01):
    """Train ``arch`` (a SPEC or :class:`~hwgen.train.arch.Arch`) on ``data`` (a bundled
    set's name, a training file or :class:`~hwgen.train.data.TrainData`) by ``method``;
    return ``(model, report)``.

    Raises
    ------
    ValueError
        An unknown method, a bad architecture, data or option value; one line.
    hwgen.extras.MissingExtra
        PyTorch is not installed.
    """
    if method not in METHOD_NAMES:
        raise ValueError(f"Method must be one of {', '.join(METHOD_NAMES)}, not {method!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 10000:
        raise ValueError(f"Epochs must be an integer in 1..10000, not {epochs!r}")
    if not (lam >= 0):
        raise ValueError(f"Lambda must be at least 0, not {lam!r}")
    if isinstance(wide_factor, bool) or not isinstance(wide_factor, int) or wide_factor < 2:
        raise ValueError(f"Wide factor must be an integer of at least 2, not {wide_factor!r}")
    if method == "dualprec" and (isinstance(high_bits, bool) or not isinstance(high_bits, int)
                                 or high_bits % 2 or not 4 <= high_bits <= 16):
        raise ValueError(f"High precision bits must be an even integer in 4..16, not "
                         f"{high_bits!r}")
    if isinstance(weight_bits, bool) or not isinstance(weight_bits, int) or \
            not 2 <= weight_bits <= 16:
        raise ValueError(f"Weight bits must be an integer in 2..16, not {weight_bits!r}")
    from .data import load_training_data
    a = parse_arch(arch) if isinstance(arch, str) else arch
    from .nets import torch
    torch()                                            # the extra, before any data is read
    d = load_training_data(data) if isinstance(data, str) else data
    if a.convolutional:
        d = d.as_images()
    a.shapes(d.input_shape, d.classes)                 # every size checked before training
    from . import methods as M
    kw = dict(epochs=epochs, seed=seed, lr=lr)
    if method == "plain":
        net, report = M.train_plain(d, a, **kw)
    elif method == "compressibility":
        net, report = M.train_compressibility(d, a, lam=lam, **kw)
    elif method == "wide-narrow":
        net, report = M.train_wide_narrow(d, a, wide_factor=wide_factor, **kw)
    elif method == "dualprec":
        net, report = M.train_dualprec(d, a, high_bits=high_bits, **kw)
    else:
        net, report = M.train_plain(d, a, **kw)
    model = M.to_deployed_model(net, a, d, method)
    if method == "bitlayers":
        report["bitlayers"] = M.bitlayer_curve(model, weight_bits)
    report.update(method=method, data=d.name, arch=a.spec, seed=seed)
    return model, report
