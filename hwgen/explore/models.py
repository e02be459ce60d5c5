"""Models for the explorer: the ``.npz`` model format (versions 1 and 2), ONNX files, data
files, the validator, and the built-in models.

docs/models.md describes the formats for users, with examples; this docstring is the
reference the code follows.

A model (:class:`Model`)
------------------------
A small directed acyclic graph of layers, evaluated in list order. Layer ``i`` reads the
tensors its ``inputs`` name: ``-1`` is the model's input, ``j`` (``0 <= j < i``) the output
of layer ``j``; without ``inputs`` a layer reads the previous layer's output (a chain). The
model's output is the last layer's; every other layer's output must be read by some later
layer. Data is channels-first, one example at a time (no batch axis in any shape below).

``dense``
    ``W`` of shape ``(out, in)`` and ``b`` of shape ``(out,)``:
    ``y[o] = sum_k W[o, k] x[k] + b[o]``, the sum taken in the order of ``k``. A vector
    input.
``conv2d``
    ``W`` of shape ``(out_ch, in_ch, kh, kw)``, ``b`` of shape ``(out_ch,)``, ``stride``
    ``(sh, sw)`` (default ``(1, 1)``) and ``pads`` ``(top, left, bottom, right)`` (default
    zeros), on a ``(C, H, W)`` input. The input is padded with zeros; each output is a dot
    product over ``(in_ch, kh, kw)`` in that (C) order, padded taps included (they add
    ``x * 0`` terms, as the array computes them). Output size
    ``floor((H + top + bottom - kh) / sh) + 1`` (likewise for the width).
``relu``
    ``max(x, 0)``.
``maxpool``
    ``size`` (version 1: non-overlapping ``size`` x ``size`` windows on a height and width
    that ``size`` divides), or ``kernel`` ``(kh, kw)``, ``stride`` (default the kernel) and
    ``pads`` (each below the kernel's size on its axis; a padded cell never wins). The largest
    value of each window.
``avgpool``
    ``kernel``, ``stride``, ``pads`` as for ``maxpool`` and ``count_include_pad`` (0, the
    default and ONNX's: divide by the number of cells of the window inside the input; 1:
    by ``kh * kw``). The mean of each window; how each number format computes it is in
    :mod:`hwgen.explore.emulate`.
``globalavgpool``
    ``(C, H, W)`` to ``(C, 1, 1)``: the mean of each channel (an ``avgpool`` whose kernel is
    the whole plane).
``flatten``
    To a vector (C order).
``reshape``
    ``shape``: the output shape (C order), with as many elements as the input.
``add``
    Two ``inputs`` of the same shape, added element by element (a residual connection).

``pre`` (optional): steps ``(op, value)``, ``op`` one of ``add``, ``sub``, ``mul``, ``div``
and ``value`` an array that broadcasts to the input shape, applied in order, in float64, to
*raw* inputs (:meth:`Model.prepare`) before they enter the network: the host's
normalization (an ONNX graph's leading ``Sub``/``Div``/``BatchNormalization``, the built-in
models' scaling). They are not part of the emulated arithmetic. The model's own test data
(``x_test``, ``x_calib``) is stored *after* them: the values the first layer sees.

The ``.npz`` file format
------------------------
A NumPy ``.npz`` archive (``numpy.savez``) holding only arrays (no pickles). Version 1 holds
chains of ``dense``/``conv2d`` (stride 1, no padding)/``relu``/``maxpool`` (``size``)/
``flatten`` layers; version 2 adds the rest. :func:`save_model` writes version 1 whenever
the model fits in it, so files of version-1 models stay readable by older hwgen.

``format_version``
    ``1`` or ``2``.
``name``
    The model's name (a 0-d string array).
``input_shape``
    1-d int array: the shape of one input, ``(features,)`` or ``(channels, height, width)``.
``n_layers``
    Number of layers ``L``; the layers are ``layer0`` .. ``layer{L-1}``.
``layer{i}_kind``
    0-d string array, a kind above.
``layer{i}_W``, ``layer{i}_b``
    ``dense`` and ``conv2d`` weights and biases (float arrays).
``layer{i}_size``
    ``maxpool`` (0-d int).
``layer{i}_kernel``, ``layer{i}_stride``, ``layer{i}_pads``, ``layer{i}_shape``, ``layer{i}_inputs``
    Version 2: 1-d int arrays, as above.
``layer{i}_count_include_pad``
    Version 2: 0-d int (``avgpool``).
``n_pre``, ``pre{s}_op``, ``pre{s}_value``
    Version 2, optional: the preprocessing steps (``pre{s}_op`` 0-d string).
``x_test``
    Test inputs, shape ``(N,) + input_shape``, after the ``pre`` steps.
``y_test``
    Integer class labels, shape ``(N,)``. The prediction is the arg-max of the model's
    output, which must be a vector with one entry per class (2 or more).
``x_calib`` (optional)
    Inputs drawn from the training data, shape ``(M,) + input_shape``, after the ``pre``
    steps. Fixed-point emulation takes its activation scales from them (never from the test
    data); without them it uses ``x_test``.
``description`` (optional)
    One line of text.

Data files (``--data``)
-----------------------
An ``.npz`` archive with ``x_test`` (inputs, shape ``(N,) +`` the model's input shape),
``y_test`` (``N`` integer labels) and optionally ``x_calib`` (training inputs for the
fixed-point scales), no other keys. Its inputs are *raw*: what the model file takes (an ONNX
graph's input; for an ``.npz`` model, the inputs before its ``pre`` steps). Data given with a
model replaces the model's own (:func:`load_model`, :func:`load_data`).

ONNX files
----------
Read by :mod:`hwgen.explore.onnx_io` (the supported operators are listed there and in
docs/models.md); :func:`export_model` writes a built-in model as ONNX.

:func:`load_model` checks all of this (shapes chain from layer to layer) and raises a
one-line ``ValueError`` that names the file and the offending key or node.

Built-in models
---------------
ONNX files in the package (``hwgen/explore/builtin/NAME.onnx``), trained by ``hwgen train``
on data that ships with scikit-learn (no download) from the recipes of :data:`BUILTIN`
(``python -m hwgen.train.builtin`` rewrites them, reproducibly); read with their data set's
test split. Using one trains nothing and needs no PyTorch. See ``hwgen explore
--list-models``.
"""

import os
import re
import zipfile
from collections import namedtuple
from pathlib import Path

import numpy as np

from .graph import LAYER_KINDS, MAC_KINDS, PRE_OPS, V1_LAYER_KINDS, Model, _err, pool_size

__all__ = ["Model", "LAYER_KINDS", "V1_LAYER_KINDS", "MAC_KINDS", "PRE_OPS", "FORMAT_VERSION",
           "FORMAT_VERSIONS", "DATA_KEYS", "BUILTIN", "load_model", "save_model", "load_data",
           "save_data", "get_model", "list_models", "cache_dir", "builtin_model", "builtin_path",
           "BUILTIN_DIR", "Recipe", "recipe_command", "builtin_description",
           "builtin_data", "export_model", "weight_matrices", "with_weights",
           "load_weight_file", "is_onnx_path", "pool_size", "DATASETS", "dataset",
           "dataset_data", "apply_pre"]

#: The newest ``.npz`` format version; :func:`save_model` writes the oldest that holds a model.
FORMAT_VERSION = 2
FORMAT_VERSIONS = (1, 2)
#: Keys of a data file (``--data``): required, required, optional.
DATA_KEYS = ("x_test", "y_test", "x_calib")

_V2_KEY = re.compile(r"n_pre|pre\d+_(op|value)|layer\d+_(kernel|stride|pads|count_include_pad|"
                     r"shape|inputs)")




# -- .npz model files -------------------------------------------------------------------------

def save_model(model, path):
    """Write ``model`` as an ``.npz`` file: version 1 when the model fits in it, else
    version 2 (see the module docstring).

    Raises
    ------
    ValueError
        The model has no test data (the format requires it).
    """
    model.require_data()
    version = model.format_version
    arrays = dict(format_version=np.array(version), name=np.array(model.name),
                  input_shape=np.array(model.input_shape, dtype=np.int64),
                  n_layers=np.array(len(model.layers)), x_test=model.x_test,
                  y_test=model.y_test.astype(np.int64), description=np.array(model.description))
    if model.x_calib is not None:
        arrays["x_calib"] = model.x_calib
    shapes = [model.input_shape] + model.output_shapes
    for i, layer in enumerate(model.layers):
        kind = layer["kind"]
        p = f"layer{i}_"
        arrays[p + "kind"] = np.array(kind)
        if kind in MAC_KINDS:
            arrays[p + "W"] = np.asarray(layer["W"], dtype=np.float64)
            arrays[p + "b"] = np.asarray(layer["b"], dtype=np.float64)
        ints = {}
        if kind == "maxpool" and pool_size(layer, shapes[i]) is not None:
            arrays[p + "size"] = np.array(pool_size(layer, shapes[i]))
        elif version == 1:
            pass
        else:
            if layer["inputs"] != [i - 1]:
                ints["inputs"] = layer["inputs"]
            if kind == "conv2d":
                if layer["stride"] != (1, 1):
                    ints["stride"] = layer["stride"]
                if any(layer["pads"]):
                    ints["pads"] = layer["pads"]
            elif kind in ("maxpool", "avgpool"):   # a maxpool that has no size
                ints.update(kernel=layer["kernel"], stride=layer["stride"], pads=layer["pads"])
                if kind == "avgpool":
                    arrays[p + "count_include_pad"] = np.array(layer["count_include_pad"])
            elif kind == "reshape":
                ints["shape"] = layer["shape"]
        for k, v in ints.items():
            arrays[p + k] = np.array(v, dtype=np.int64)
    if model.pre:
        arrays["n_pre"] = np.array(len(model.pre))
        for s, (op, v) in enumerate(model.pre):
            arrays[f"pre{s}_op"] = np.array(op)
            arrays[f"pre{s}_value"] = np.asarray(v, dtype=np.float64)
    _atomic_savez(path, arrays)


def _atomic_savez(path, arrays):
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)   # atomic: a concurrent reader never sees half a file


def is_onnx_path(path):
    """Whether ``path`` names an ONNX file: it ends in ``.onnx``, or it exists and is neither
    a zip archive (``.npz``) nor a directory."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return True
    return path.suffix.lower() != ".npz" and path.is_file() and not zipfile.is_zipfile(path)


def load_model(path, data=None):
    """Read and validate a model file: an ``.npz`` model (version 1 or 2) or an ONNX file;
    with ``data`` (a data file's path, or a dict with ``x_test``, ``y_test`` and optional
    ``x_calib``) its test data replaces the model's own (see the module docstring).

    An ONNX model read without ``data`` has no test data (:attr:`Model.has_data` is false):
    enough for its weights (``hwgen compress``), not for the explorer.

    Raises
    ------
    ValueError
        The file is missing, not an ``.npz`` archive or ONNX model, a key is missing or
        malformed, an ONNX node cannot be imported, or the data does not fit the model; one
        line naming the file and the key or node.
    """
    path = Path(path)
    d = None if data is None else (load_data(data) if not isinstance(data, dict) else data)
    where = f"Data file {str(data)!r}" if not isinstance(data, dict) else "the data"
    if is_onnx_path(path):
        from .onnx_io import import_onnx
        model = import_onnx(path, input_shape=None if d is None else
                            np.shape(d.get("x_test"))[1:], data_name=where)
        if model.dataset not in DATASETS:
            model.dataset = None                # not one of ours: no data to attach
        if d is None and model.dataset is not None:
            # The file names the bundled data set it was trained on (hwgen train,
            # hwgen export-model): its test split is the model's test data.
            d = dataset_data(model.dataset, model.input_shape)
            where = f"the bundled data set {model.dataset!r} (named in {str(path)!r})"
    else:
        model = _load_npz(path)
    if d is None:
        return model
    return _attach(model, d, where[0].upper() + where[1:])


def _load_npz(path):
    if path.is_file() and not zipfile.is_zipfile(path):
        raise ValueError(f"Model file {str(path)!r} is not a NumPy .npz archive (not a zip "
                         f"file; an ONNX model needs the .onnx suffix)")
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"Model file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"Model file {str(path)!r} is a directory") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"Model file {str(path)!r} is not a NumPy .npz archive "
                         f"({_first_line(e)})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"Model file {str(path)!r} is a single array, not an .npz archive")
    try:
        with data:
            return _from_arrays({k: data[k] for k in data.files})
    except ValueError as e:
        raise ValueError(f"{str(path)!r}: {_first_line(e)}") from None
    except Exception as e:   # noqa: BLE001 - a damaged member (zlib, EOF...): one line
        raise ValueError(f"Model file {str(path)!r} cannot be read "
                         f"({type(e).__name__}: {_first_line(e)})") from None


def _first_line(e):
    s = str(e)
    return s.splitlines()[0] if s else type(e).__name__


def _scalar(arrays, key, kind):
    if key not in arrays:
        raise _err(key, "is missing")
    a = arrays[key]
    if a.ndim != 0:
        raise _err(key, f"must be a scalar, not an array of shape {a.shape}")
    if kind is str:
        if a.dtype.kind not in "US":
            raise _err(key, f"must be a string, not {a.dtype}")
        return str(a)
    if a.dtype.kind not in "iu":
        raise _err(key, f"must be an integer, not {a.dtype}")
    return int(a)


def _numeric(arrays, key):
    a = arrays[key]
    if a.dtype.kind not in "fiu":
        raise _err(key, f"must be numeric, not {a.dtype}")
    return a


def _from_arrays(arrays):
    version = _scalar(arrays, "format_version", int)
    if version not in FORMAT_VERSIONS:
        raise _err("format_version", f"must be 1 or 2, not {version}")
    name = _scalar(arrays, "name", str)
    n = _scalar(arrays, "n_layers", int)
    if n < 1:
        raise _err("n_layers", f"must be at least 1, not {n}")
    if version == 1:
        for key in arrays:
            if _V2_KEY.fullmatch(key):
                raise _err(key, "needs format_version 2")
    for key in ("input_shape", "x_test", "y_test"):
        if key not in arrays:
            raise _err(key, "is missing")
    shape = arrays["input_shape"]
    if shape.ndim != 1 or shape.dtype.kind not in "iu":
        raise _err("input_shape", f"must be a 1-d integer array, not {shape.dtype} "
                                  f"of shape {shape.shape}")
    for key in ("x_test", "x_calib"):
        if key in arrays:
            _numeric(arrays, key)
    layers = []
    kinds = V1_LAYER_KINDS if version == 1 else LAYER_KINDS
    for i in range(n):
        kind = _scalar(arrays, f"layer{i}_kind", str)
        if kind not in kinds:
            raise _err(f"layer{i}_kind", f"must be one of {', '.join(kinds)} (format_version "
                                         f"{version}), not {kind!r}")
        layer = {"kind": kind}
        for k in ("W", "b"):
            if f"layer{i}_{k}" in arrays:
                layer[k] = _numeric(arrays, f"layer{i}_{k}")
        if f"layer{i}_size" in arrays:
            layer["size"] = _scalar(arrays, f"layer{i}_size", int)
        if f"layer{i}_count_include_pad" in arrays:
            layer["count_include_pad"] = _scalar(arrays, f"layer{i}_count_include_pad", int)
        for k in ("kernel", "stride", "pads", "shape", "inputs"):
            if f"layer{i}_{k}" in arrays:
                layer[k] = arrays[f"layer{i}_{k}"]
        layers.append(layer)
    pre = []
    if "n_pre" in arrays:
        for s in range(_scalar(arrays, "n_pre", int)):
            if f"pre{s}_value" not in arrays:
                raise _err(f"pre{s}_value", "is missing")
            pre.append((_scalar(arrays, f"pre{s}_op", str), _numeric(arrays, f"pre{s}_value")))
    desc = _scalar(arrays, "description", str) if "description" in arrays else ""
    return Model(name, layers, tuple(int(s) for s in shape), arrays["x_test"],
                 arrays["y_test"], arrays.get("x_calib"), desc, pre=pre)


# -- data files -------------------------------------------------------------------------------

def load_data(path):
    """Read a data file (``--data``): ``{"x_test", "y_test"[, "x_calib"]}`` as arrays.

    Checks the keys, that the arrays are numeric and finite, and that ``y_test`` holds one
    integer label per row of ``x_test``; the shapes against a model are checked when the
    data meets one (:func:`load_model`).

    Raises
    ------
    ValueError
        Missing, unreadable, or malformed; one line naming the file and the key.
    """
    where = f"Data file {str(path)!r}"
    if Path(path).is_file() and not zipfile.is_zipfile(path):
        raise ValueError(f"{where} is not a NumPy .npz archive (not a zip file)")
    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{where} is a directory") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{where} is not a NumPy .npz archive ({_first_line(e)})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"{where} is a single array, not an .npz archive with x_test and "
                         f"y_test")
    try:
        with z:
            d = {k: z[k] for k in z.files}
    except Exception as e:   # noqa: BLE001 - a damaged member: one line
        raise ValueError(f"{where} cannot be read ({type(e).__name__}: "
                         f"{_first_line(e)})") from None
    extra = sorted(set(d) - set(DATA_KEYS))
    if extra:
        raise ValueError(f"{where} has key {extra[0]!r}; a data file holds x_test, y_test "
                         f"and optionally x_calib (training inputs for the fixed-point "
                         f"scales), nothing else")
    for key in DATA_KEYS[:2]:
        if key not in d:
            raise ValueError(f"{where} key {key!r} is missing")
    for key in ("x_test", "x_calib"):
        if key in d:
            a = d[key]
            if a.dtype.kind not in "fiu" or a.ndim < 2 or a.shape[0] < 1:
                raise ValueError(f"{where} key {key!r} must be a numeric array of shape "
                                 f"(N, ...), not {a.dtype} of shape {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{where} key {key!r} holds a NaN or infinity")
    y, n = d["y_test"], d["x_test"].shape[0]
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise ValueError(f"{where} key 'y_test' must be {n} integer labels (one per row of "
                         f"x_test), not {y.dtype} of shape {y.shape}")
    return d


def save_data(path, x_test, y_test, x_calib=None):
    """Write a data file (see :func:`load_data`)."""
    arrays = dict(x_test=np.asarray(x_test, dtype=np.float64),
                  y_test=np.asarray(y_test, dtype=np.int64))
    if x_calib is not None:
        arrays["x_calib"] = np.asarray(x_calib, dtype=np.float64)
    _atomic_savez(path, arrays)


def _attach(model, d, where):
    """``model`` with the data ``d`` (raw inputs): shapes and labels checked against it."""
    for key in DATA_KEYS:
        if key not in d:
            if key == "x_calib":
                continue
            raise ValueError(f"{where} key {key!r} is missing")
        a = np.asarray(d[key])
        if key != "y_test" and a.shape[1:] != model.input_shape:
            raise ValueError(f"{where} key {key!r} must have shape (N,) + "
                             f"{model.input_shape} (the model's input), not {a.shape}")
    y = np.asarray(d["y_test"])
    if y.dtype.kind not in "iu" or y.ndim != 1 or y.shape[0] != np.shape(d["x_test"])[0]:
        raise ValueError(f"{where} key 'y_test' must be integer labels, one per row of "
                         f"x_test, not {y.dtype} of shape {y.shape}")
    if y.min() < 0 or y.max() >= model.n_classes:
        raise ValueError(f"{where} key 'y_test' labels must be in 0..{model.n_classes - 1} "
                         f"(the model has {model.n_classes} outputs), not "
                         f"{y.min()}..{y.max()}")
    try:
        return model.with_data(d["x_test"], y, d.get("x_calib"))
    except ValueError as e:
        raise ValueError(f"{where}: {_first_line(e)}") from None


# -- weights (hwgen compress) -----------------------------------------------------------------

def weight_matrices(model):
    """``[(name, K x N matrix), ...]`` of a model's ``dense``/``conv2d`` layers: ``W.T`` for
    dense (``W`` is ``(out, in)``), ``W.reshape(out, -1).T`` for conv2d (name ``layer{i}``,
    as in the model file): the ``K x N`` operand of the systolic array, one column per
    output."""
    out = []
    for i, layer in enumerate(model.layers):
        if layer["kind"] in MAC_KINDS:
            w = layer["W"]
            out.append((f"layer{i}", w.reshape(w.shape[0], -1).T))
    return out


def with_weights(model, matrices):
    """A copy of ``model`` whose ``dense``/``conv2d`` weights are ``matrices`` (the K x N
    forms of :func:`weight_matrices`, in order), as float64; everything else is kept."""
    mats = iter(matrices)
    layers = []
    for layer in model.layers:
        layer = dict(layer)
        if layer["kind"] in MAC_KINDS:
            w = layer["W"]
            layer["W"] = np.asarray(next(mats), dtype=np.float64).T.reshape(w.shape).copy()
        layers.append(layer)
    return Model(model.name, layers, model.input_shape, model.x_test, model.y_test,
                 model.x_calib, model.description, pre=model.pre, dataset=model.dataset)


def load_weight_file(path):
    """The weight matrices of a plain ``.npz`` file (no model): every 2-D real array in it is
    a weight matrix ``W`` of shape ``(out, in)`` (the convention of the model files, of ONNX
    ``Gemm`` with ``transB=1`` and of PyTorch's ``Linear.weight``), returned as ``W.T``
    (``in x out``, as :func:`weight_matrices`). Returns ``(matrices, skipped)``: ``[(name,
    K x N matrix), ...]`` in the file's order and the names of the other arrays.

    Raises
    ------
    ValueError
        Unreadable, or no 2-D real array; one line.
    """
    where = f"{str(path)!r}"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = [(k, z[k]) for k in z.files]
    except Exception as e:   # noqa: BLE001 - any unreadable file is one user error
        raise ValueError(f"cannot read {where} as a .npz file: {_first_line(e)}") from None
    mats, skipped = [], []
    for k, a in arrays:
        if a.ndim == 2 and a.dtype.kind in "fiu":
            mats.append((k, a.T))
        else:
            skipped.append(k)
    if not mats:
        raise ValueError(f"{where} holds no 2-D real array (weight matrix W[out, in])")
    return mats, skipped
# -- built-in models --------------------------------------------------------------------------

def cache_dir():
    """The build folder (:func:`hwgen.paths.build_dir`); users create subfolders on demand."""
    from ..paths import build_dir
    return build_dir()


def _split(x, y, seed=0, test=0.3):
    from sklearn.model_selection import train_test_split
    return train_test_split(x, y, test_size=test, random_state=seed, stratify=y)


def _digits():
    """The digits data set split raw (pixel counts 0..16) and its scaling to 0..1."""
    from sklearn.datasets import load_digits
    d = load_digits()
    return (*_split(d.data, d.target), [("div", np.array(16.0))])


def _standardized(loader):
    """A raw split of ``loader``'s data set and its standardization by the training data's
    mean and deviation."""
    def load():
        d = loader()
        x_tr, x_te, y_tr, y_te = _split(d.data, d.target)
        mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-12
        return x_tr, x_te, y_tr, y_te, [("sub", mu), ("div", sd)]
    return load


def _iris():
    from sklearn.datasets import load_iris
    return _standardized(load_iris)()


def _wine():
    from sklearn.datasets import load_wine
    return _standardized(load_wine)()


def _cancer():
    from sklearn.datasets import load_breast_cancer
    return _standardized(load_breast_cancer)()


#: The bundled data sets (scikit-learn, no download): name -> loader of the raw split.
DATASETS = {"digits": _digits, "iris": _iris, "wine": _wine, "cancer": _cancer}


def dataset(name):
    """A bundled data set's fixed split (70 % train, stratified, seed 0) and its
    normalization: ``(x_train, x_test, y_train, y_test, pre)``, the inputs raw (before
    ``pre``), as the built-in models are trained on.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`DATASETS`.
    """
    if name not in DATASETS:
        raise ValueError(f"Data set must be one of {', '.join(DATASETS)}, not {name!r}")
    return DATASETS[name]()


def apply_pre(x, pre):
    """``x`` after the ``pre`` steps (see the module docstring), in float64."""
    return _apply_pre(np.asarray(x, dtype=np.float64), pre or [])


def _apply_pre(x, pre):
    for op, v in pre:
        x = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](x, v)
    return x


#: How a built-in model was trained: ``hwgen train --method plain --data DATA --arch ARCH
#: --epochs EPOCHS --seed SEED`` (:func:`hwgen.train.train`); ``input_shape`` reshapes the
#: data set's inputs (the CNN sees the 64 pixels as a 1x8x8 image).
Recipe = namedtuple("Recipe", "data arch epochs seed input_shape", defaults=(None,))

#: Built-in models: name -> (description, :data:`Recipe`). Each ships as
#: ``hwgen/explore/builtin/NAME.onnx``, written by ``python -m hwgen.train.builtin`` from its
#: recipe (reproducibly: same seed, same file), so using one needs no training and no
#: PyTorch.
BUILTIN = {
    "mlp-digits-small": ("digits 8x8 (sklearn), MLP 64-32-10",
                         Recipe("digits", "32", 60, 0)),
    "mlp-digits": ("digits 8x8 (sklearn), MLP 64-64-32-10", Recipe("digits", "64-32", 60, 0)),
    "cnn-digits": ("digits 8x8 (sklearn), CNN conv3x3x8-relu-maxpool2-dense10",
                   Recipe("digits", "c3x8-p2", 60, 0, (1, 8, 8))),
    "mlp-iris": ("iris (sklearn), MLP 4-16-3", Recipe("iris", "16", 200, 0)),
    "mlp-wine": ("wine (sklearn), MLP 13-16-3", Recipe("wine", "16", 100, 0)),
    "mlp-cancer": ("breast cancer (sklearn), MLP 30-16-2", Recipe("cancer", "16", 100, 0)),
}

#: The folder of the built-in models' ONNX files (package data).
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def recipe_command(name):
    """The ``hwgen train`` command line that trained built-in model ``name``."""
    r = BUILTIN[name][1]
    return (f"hwgen train --method plain --data {r.data} --arch {r.arch} --epochs {r.epochs} "
            f"--seed {r.seed}")


def builtin_description(name):
    """Built-in model ``name``'s description: what it is and the command that trained it."""
    return f"{BUILTIN[name][0]}, {recipe_command(name)}"


def builtin_path(name):
    """The ONNX file of built-in model ``name`` (:data:`BUILTIN_DIR`)."""
    return BUILTIN_DIR / f"{name}.onnx"


def builtin_model(name):
    """A built-in model: its ONNX file read with its data set's test split and calibration
    inputs (:func:`dataset_data`), named ``name``.

    Raises
    ------
    ValueError
        ``name`` is not a built-in model.
    """
    if name not in BUILTIN:
        raise ValueError(f"Unknown model {name!r}; built-in models are "
                         f"{', '.join(BUILTIN)} (or give an .npz or .onnx file)")
    model = load_model(builtin_path(name), builtin_data(name))
    model.name = name
    model.description = builtin_description(name)
    model.dataset = BUILTIN[name][1].data
    return model


def builtin_data(name):
    """The raw data of a built-in model, as a data file holds it (``--data``): ``dict(x_test,
    y_test, x_calib)``, inputs *before* the model's ``pre`` steps (digits: pixel counts
    0..16; iris, wine, cancer: the measurements as scikit-learn gives them).
    ``builtin_model(name).prepare(x_test)`` is the model's own ``x_test``.

    Raises
    ------
    ValueError
        ``name`` is not a built-in model.
    """
    if name not in BUILTIN:
        raise ValueError(f"Unknown model {name!r}; built-in models are {', '.join(BUILTIN)}")
    recipe = BUILTIN[name][1]
    return dataset_data(recipe.data, recipe.input_shape)


#: Calibration inputs kept with a model trained on a bundled data set (training inputs).
N_CALIB = 256


def calib_rows(n):
    """The rows of ``n`` training inputs kept as calibration inputs (at most
    :data:`N_CALIB`, drawn with a fixed seed, sorted)."""
    rng = np.random.default_rng(1)
    return np.sort(rng.choice(n, min(N_CALIB, n), replace=False))


def dataset_data(name, shape=None):
    """A bundled data set's raw test split and calibration inputs (256 training inputs), as
    a data file holds them: ``dict(x_test, y_test, x_calib)``; ``shape`` reshapes each input
    (digits as ``(1, 8, 8)`` images).

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`DATASETS`.
    """
    x_tr, x_te, _, y_te, _ = dataset(name)
    if shape is not None:
        x_tr, x_te = x_tr.reshape((-1,) + tuple(shape)), x_te.reshape((-1,) + tuple(shape))
    return dict(x_test=x_te.astype(np.float64), y_test=y_te.astype(np.int64),
                x_calib=x_tr[calib_rows(len(x_tr))].astype(np.float64))


def get_model(name_or_file, data=None):
    """A built-in model by name, or a model file (:func:`load_model`: ``.npz`` or ONNX);
    ``data`` (a data file or dict, raw inputs) replaces its test data.

    Raises
    ------
    ValueError
        Neither a built-in name nor a readable, valid model file; bad data.
    """
    s = str(name_or_file)
    if s in BUILTIN:
        model = builtin_model(s)
        if data is None:
            return model
        d = load_data(data) if not isinstance(data, dict) else data
        return _attach(model, d, f"Data file {str(data)!r}" if not isinstance(data, dict)
                       else "Data")
    if s.endswith((".npz", ".onnx")) or os.path.sep in s or Path(s).exists():
        return load_model(s, data)
    raise ValueError(f"Unknown model {s!r}; built-in models are {', '.join(BUILTIN)} "
                     f"(or give an .npz or .onnx file)")


def export_model(name, path, *, data=None, dataset=None):
    """Write a model as an ONNX file (:func:`hwgen.explore.onnx_io.export_onnx`: opset 13,
    float32, a dynamic batch dimension, the ``pre`` steps as the graph's first nodes, so
    its input is the raw data); with ``data`` also a data file of its raw test and
    calibration inputs (:func:`builtin_data` for a built-in model). Returns the model.

    ``name`` is a built-in model's name, a model file, or a :class:`Model`. ``dataset``
    (default: the model's own, e.g. a built-in model's) names the bundled data set
    (:data:`DATASETS`) the model
    was trained on in the file, so that :func:`load_model` reads the file with that data
    set's test split when no data is given.

    Raises
    ------
    ValueError
        Unknown model; an output path whose folder does not exist or that is a folder;
        ``data`` for a model whose raw inputs are unknown (a model file with ``pre`` steps).
    """
    for what, p in (("ONNX file", path), ("data file", data)):
        if p is None:
            continue
        p = Path(p)
        if p.is_dir():
            raise ValueError(f"Output {what} {str(p)!r} is a directory; give a file name")
        if not p.parent.is_dir():
            raise ValueError(f"Output {what} {str(p)!r}: folder {str(p.parent)!r} does not "
                             f"exist")
    model = name if isinstance(name, Model) else get_model(name)
    raw = None
    if data is not None:
        if isinstance(name, str) and name in BUILTIN:
            raw = builtin_data(name)
        elif model.pre:
            raise ValueError(f"Model {model.name!r} has pre steps: its raw inputs are not "
                             f"known, so no data file can be written")
        else:
            model.require_data()
            raw = dict(x_test=model.x_test, y_test=model.y_test, x_calib=model.x_calib)
    from .onnx_io import export_onnx
    export_onnx(model, path, dataset=model.dataset if dataset is None else dataset)
    if raw is not None:
        save_data(data, **raw)
    return model


def list_models():
    """``[(name, description), ...]`` of the built-in models (no training)."""
    return [(name, desc) for name, (desc, _) in BUILTIN.items()]
