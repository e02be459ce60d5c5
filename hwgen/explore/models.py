"""Models for the explorer: a plain ``.npz`` format, its validator, and built-in models.

The model file format (version 1)
---------------------------------
A model is a NumPy ``.npz`` archive (``numpy.savez``) holding only arrays (no pickles):

``format_version``
    ``1``.
``name``
    The model's name (a 0-d string array).
``input_shape``
    1-d int array: the shape of one input, ``(features,)`` for an MLP or
    ``(channels, height, width)`` for a CNN.
``n_layers``
    Number of layers ``L``; the layers are ``layer0`` .. ``layer{L-1}``, applied in order.
``layer{i}_kind``
    0-d string array, one of:

    ``dense``
        ``layer{i}_W`` of shape ``(out, in)`` and ``layer{i}_b`` of shape ``(out,)``:
        ``y[o] = sum_k W[o, k] x[k] + b[o]``, the sum taken in the order of ``k``.
    ``conv2d``
        ``layer{i}_W`` of shape ``(out_ch, in_ch, kh, kw)`` and ``layer{i}_b`` of shape
        ``(out_ch,)``; stride 1, no padding ("valid"), channels-first data. Each output is a
        dot product over ``(in_ch, kh, kw)`` in that (C) order.
    ``relu``
        ``max(x, 0)``.
    ``maxpool``
        ``layer{i}_size``: a 0-d int; non-overlapping ``size`` x ``size`` windows (stride
        ``size``), on channels-first data whose height and width ``size`` divides.
    ``flatten``
        Channels-first data to a vector (C order).
``x_test``
    Test inputs, shape ``(N,) + input_shape``, already preprocessed: the values the first
    layer sees.
``y_test``
    Integer class labels, shape ``(N,)``. The prediction is the arg-max of the last layer's
    outputs, which must be a vector with one entry per class.
``x_calib`` (optional)
    Inputs drawn from the training data, shape ``(M,) + input_shape``. Fixed-point
    emulation takes its per-layer activation scales from them (never from the test data);
    without them it uses ``x_test``.
``description`` (optional)
    One line of text.

:func:`load_model` checks all of this (shapes chain from layer to layer) and raises a
``ValueError`` that names the offending key.

Built-in models
---------------
Trained on data that ships with scikit-learn (no download), deterministically (fixed seeds),
and cached under ``models/`` of the build folder (:mod:`hwgen.paths`); the first use
trains in seconds. See :data:`BUILTIN` or ``hwgen explore --list-models``.
"""

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["Model", "LAYER_KINDS", "FORMAT_VERSION", "BUILTIN", "load_model", "save_model",
           "get_model", "list_models", "cache_dir", "builtin_model"]

FORMAT_VERSION = 1
LAYER_KINDS = ("dense", "conv2d", "relu", "maxpool", "flatten")

#: Bumped whenever a built-in model's recipe changes: cached files of older versions retrain.
_RECIPE_VERSION = 1


class Model:
    """A feed-forward network and its test data.

    Parameters
    ----------
    name : str
    layers : list of dict
        Each has ``kind`` and, by kind, ``W`` and ``b`` (``dense``, ``conv2d``) or ``size``
        (``maxpool``); arrays are float64.
    input_shape : tuple of int
    x_test, y_test : ndarray
    x_calib : ndarray or None
    description : str

    Raises
    ------
    ValueError
        The layers, shapes or data do not fit together (see :func:`validate`).
    """

    def __init__(self, name, layers, input_shape, x_test, y_test, x_calib=None,
                 description=""):
        self.name = str(name)
        self.layers = [dict(layer) for layer in layers]
        self.input_shape = tuple(int(n) for n in input_shape)
        self.x_test = np.asarray(x_test, dtype=np.float64)
        self.y_test = np.asarray(y_test)
        self.x_calib = None if x_calib is None else np.asarray(x_calib, dtype=np.float64)
        self.description = str(description)
        self.output_shapes = _check_model(self)

    @property
    def n_classes(self):
        return self.output_shapes[-1][0]

    @property
    def calibration_inputs(self):
        """Inputs for fixed-point scales: ``x_calib``, or ``x_test`` when there is none."""
        return self.x_calib if self.x_calib is not None else self.x_test

    def summary(self):
        """``64-32-10 MLP``-style one-line shape summary."""
        parts = ["x".join(str(n) for n in self.input_shape)]
        for layer, shape in zip(self.layers, self.output_shapes):
            if layer["kind"] == "dense":
                parts.append(str(shape[0]))
            elif layer["kind"] == "conv2d":
                kh, kw = layer["W"].shape[2:]
                parts.append(f"conv{kh}x{kw}:{shape[0]}")
            elif layer["kind"] == "maxpool":
                parts.append(f"pool{layer['size']}")
        return "-".join(parts)

    @property
    def n_macs(self):
        """Multiply-accumulates per inference."""
        total = 0
        for layer, shape in zip(self.layers, self.output_shapes):
            if layer["kind"] in ("dense", "conv2d"):
                total += int(np.prod(shape)) * int(np.prod(layer["W"].shape[1:]))
        return total


def _err(key, what):
    return ValueError(f"Model file key {key!r} {what}")


def _check_model(model):
    """Validate a :class:`Model`; return the output shape of every layer."""
    shape = model.input_shape
    if not shape or any(n < 1 for n in shape) or len(shape) not in (1, 3):
        raise _err("input_shape", f"must be (features,) or (channels, height, width) of "
                                  f"positive sizes, not {shape!r}")
    if not model.layers:
        raise _err("n_layers", "must be at least 1, not 0")
    shapes = []
    for i, layer in enumerate(model.layers):
        kind = layer.get("kind")
        key = f"layer{i}_"
        if kind not in LAYER_KINDS:
            raise _err(key + "kind", f"must be one of {', '.join(LAYER_KINDS)}, not {kind!r}")
        if kind in ("dense", "conv2d"):
            w, b = layer.get("W"), layer.get("b")
            if w is None:
                raise _err(key + "W", f"is missing ({kind} layer {i})")
            if b is None:
                raise _err(key + "b", f"is missing ({kind} layer {i})")
            w = layer["W"] = np.asarray(w, dtype=np.float64)
            b = layer["b"] = np.asarray(b, dtype=np.float64)
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise _err(key + "W", "holds a NaN or infinity")
            if kind == "dense":
                if len(shape) != 1:
                    raise _err(key + "kind", f"dense needs a vector input, got shape {shape} "
                                             f"(add a flatten layer)")
                if w.ndim != 2 or w.shape[1] != shape[0]:
                    raise _err(key + "W", f"must have shape (out, {shape[0]}), not {w.shape}")
                out = (w.shape[0],)
            else:
                if len(shape) != 3:
                    raise _err(key + "kind", f"conv2d needs a (C, H, W) input, got {shape}")
                if w.ndim != 4 or w.shape[1] != shape[0] or w.shape[2] > shape[1] \
                        or w.shape[3] > shape[2]:
                    raise _err(key + "W", f"must have shape (out_ch, {shape[0]}, kh, kw) with "
                                          f"kh <= {shape[1]}, kw <= {shape[2]}, not {w.shape}")
                out = (w.shape[0], shape[1] - w.shape[2] + 1, shape[2] - w.shape[3] + 1)
            if b.shape != (w.shape[0],):
                raise _err(key + "b", f"must have shape ({w.shape[0]},), not {b.shape}")
            shape = out
        elif kind == "maxpool":
            size = layer.get("size")
            if size is None:
                raise _err(key + "size", f"is missing (maxpool layer {i})")
            size = int(np.asarray(size))
            layer["size"] = size
            if len(shape) != 3 or size < 1 or shape[1] % size or shape[2] % size:
                raise _err(key + "size", f"must divide the height and width of a (C, H, W) "
                                         f"input; got size {size} for shape {shape}")
            shape = (shape[0], shape[1] // size, shape[2] // size)
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        shapes.append(shape)
    if len(shape) != 1 or shape[0] < 2:
        raise _err(f"layer{len(model.layers) - 1}_kind",
                   f"must leave one score per class (a vector of 2 or more), not shape {shape}")
    for key, x in (("x_test", model.x_test), ("x_calib", model.x_calib)):
        if x is None:
            continue
        if x.ndim != len(model.input_shape) + 1 or x.shape[1:] != model.input_shape \
                or x.shape[0] < 1:
            raise _err(key, f"must have shape (N,) + {model.input_shape}, not {x.shape}")
        if not np.all(np.isfinite(x)):
            raise _err(key, "holds a NaN or infinity")
    y = model.y_test
    if y.shape != (model.x_test.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise _err("y_test", f"must be {model.x_test.shape[0]} integer labels, "
                             f"not {y.dtype} of shape {y.shape}")
    if y.min() < 0 or y.max() >= shape[0]:
        raise _err("y_test", f"labels must be in 0..{shape[0] - 1}")
    return shapes


def save_model(model, path):
    """Write ``model`` as a version-1 ``.npz`` file (see the module docstring)."""
    arrays = dict(format_version=np.array(FORMAT_VERSION), name=np.array(model.name),
                  input_shape=np.array(model.input_shape, dtype=np.int64),
                  n_layers=np.array(len(model.layers)), x_test=model.x_test,
                  y_test=model.y_test.astype(np.int64), description=np.array(model.description))
    if model.x_calib is not None:
        arrays["x_calib"] = model.x_calib
    for i, layer in enumerate(model.layers):
        arrays[f"layer{i}_kind"] = np.array(layer["kind"])
        for k in ("W", "b"):
            if k in layer:
                arrays[f"layer{i}_{k}"] = np.asarray(layer[k], dtype=np.float64)
        if "size" in layer:
            arrays[f"layer{i}_size"] = np.array(int(layer["size"]))
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)   # atomic: a concurrent reader never sees half a file


def load_model(path):
    """Read and validate a model file.

    Raises
    ------
    ValueError
        The file is missing, not an ``.npz`` archive, or a key is missing or malformed; the
        message names the file and the key.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"Model file {str(path)!r} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"Model file {str(path)!r} is not a NumPy .npz archive ({e})") \
            from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"Model file {str(path)!r} is a single array, not an .npz archive")
    try:
        with data:
            return _from_arrays({k: data[k] for k in data.files})
    except ValueError as e:
        raise ValueError(f"{str(path)!r}: {e}") from None


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


def _from_arrays(arrays):
    version = _scalar(arrays, "format_version", int)
    if version != FORMAT_VERSION:
        raise _err("format_version", f"must be {FORMAT_VERSION}, not {version}")
    name = _scalar(arrays, "name", str)
    n = _scalar(arrays, "n_layers", int)
    if n < 1:
        raise _err("n_layers", f"must be at least 1, not {n}")
    for key in ("input_shape", "x_test", "y_test"):
        if key not in arrays:
            raise _err(key, "is missing")
    shape = arrays["input_shape"]
    if shape.ndim != 1 or shape.dtype.kind not in "iu":
        raise _err("input_shape", f"must be a 1-d integer array, not {shape.dtype} "
                                  f"of shape {shape.shape}")
    for key in ("x_test", "x_calib"):
        if key in arrays and arrays[key].dtype.kind not in "fiu":
            raise _err(key, f"must be numeric, not {arrays[key].dtype}")
    layers = []
    for i in range(n):
        kind = _scalar(arrays, f"layer{i}_kind", str)
        layer = {"kind": kind}
        for k in ("W", "b"):
            if f"layer{i}_{k}" in arrays:
                a = arrays[f"layer{i}_{k}"]
                if a.dtype.kind not in "fiu":
                    raise _err(f"layer{i}_{k}", f"must be numeric, not {a.dtype}")
                layer[k] = a
        if f"layer{i}_size" in arrays:
            layer["size"] = _scalar(arrays, f"layer{i}_size", int)
        layers.append(layer)
    desc = _scalar(arrays, "description", str) if "description" in arrays else ""
    return Model(name, layers, tuple(int(s) for s in shape), arrays["x_test"],
                 arrays["y_test"], arrays.get("x_calib"), desc)


# -- built-in models --------------------------------------------------------------------------

def cache_dir():
    """The build folder (:func:`hwgen.paths.build_dir`); users create subfolders on demand."""
    from ..paths import build_dir
    return build_dir()


def _split(x, y, seed=0, test=0.3):
    from sklearn.model_selection import train_test_split
    return train_test_split(x, y, test_size=test, random_state=seed, stratify=y)


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return _split(d.data / 16.0, d.target)


def _standardized(loader):
    def load():
        d = loader()
        x_tr, x_te, y_tr, y_te = _split(d.data, d.target)
        mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-12
        return (x_tr - mu) / sd, (x_te - mu) / sd, y_tr, y_te
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


def _train_mlp(data, hidden, seed=0, max_iter=200, alpha=1e-4, lr=1e-3):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    x_tr, x_te, y_tr, y_te = data()
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                        alpha=alpha, max_iter=max_iter, random_state=seed,
                        learning_rate_init=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_tr, y_tr)
    layers = []
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        layers.append(dict(kind="dense", W=w.T.copy(), b=b.copy()))
        if i < len(clf.coefs_) - 1:
            layers.append(dict(kind="relu"))
    if len(clf.classes_) == 2:
        # sklearn keeps one logistic output for two classes; make it two scores (0, z).
        w, b = layers[-1]["W"], layers[-1]["b"]
        layers[-1] = dict(kind="dense", W=np.vstack([np.zeros_like(w), w]),
                          b=np.concatenate([[0.0], b]))
    return layers, x_tr, x_te, y_te


def _train_cnn(seed=0, channels=8, epochs=30, batch=32, lr=0.01):
    """conv3x3(1->C) - relu - maxpool2 - flatten - dense(C*9 -> 10), Adam, plain numpy."""
    x_tr, x_te, y_tr, y_te = _digits()
    rng = np.random.default_rng(seed)
    x_tr = x_tr.reshape(-1, 8, 8)
    n = x_tr.shape[0]
    # im2col once: (N, 36 positions, 9 taps), taps in (kh, kw) order.
    patches = np.stack([x_tr[:, i:i + 6, j:j + 6] for i in range(3) for j in range(3)],
                       axis=-1).reshape(n, 36, 9)
    params = dict(wc=rng.standard_normal((channels, 9)) * np.sqrt(2 / 9),
                  bc=np.zeros(channels),
                  wd=rng.standard_normal((10, channels * 9)) * np.sqrt(1 / (channels * 9)),
                  bd=np.zeros(10))
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    b1, b2, t = 0.9, 0.999, 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            sel = order[s:s + batch]
            p, yb = patches[sel], y_tr[sel]
            bs = len(sel)
            z = p @ params["wc"].T + params["bc"]                 # (B, 36, C)
            a = np.maximum(z, 0).reshape(bs, 6, 6, channels)
            pooled = a.reshape(bs, 3, 2, 3, 2, channels).max(axis=(2, 4))   # (B,3,3,C)
            flat = pooled.transpose(0, 3, 1, 2).reshape(bs, -1)   # C-first flatten
            logits = flat @ params["wd"].T + params["bd"]
            logits -= logits.max(axis=1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(axis=1, keepdims=True)
            g = prob
            g[np.arange(bs), yb] -= 1
            g /= bs
            grads = dict(wd=g.T @ flat, bd=g.sum(axis=0))
            gflat = g @ params["wd"]
            gpool = gflat.reshape(bs, channels, 3, 3).transpose(0, 2, 3, 1)
            blocks = a.reshape(bs, 3, 2, 3, 2, channels)
            mask = blocks == pooled[:, :, None, :, None, :]
            # Route each window's gradient to its first maximum only.
            first = np.cumsum(mask.reshape(bs, 3, 2, 3, 2, channels).transpose(
                0, 1, 3, 5, 2, 4).reshape(bs, 3, 3, channels, 4), axis=-1) == 1
            mask = mask & first.reshape(bs, 3, 3, channels, 2, 2).transpose(0, 1, 4, 2, 5, 3)
            ga = (mask * gpool[:, :, None, :, None, :]).reshape(bs, 36, channels)
            gz = ga * (z > 0)
            grads["wc"] = np.einsum("bpc,bpk->ck", gz, p)
            grads["bc"] = gz.sum(axis=(0, 1))
            t += 1
            for k in params:
                m[k] = b1 * m[k] + (1 - b1) * grads[k]
                v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
                params[k] -= lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + 1e-8)
    layers = [dict(kind="conv2d", W=params["wc"].reshape(channels, 1, 3, 3),
                   b=params["bc"]),
              dict(kind="relu"), dict(kind="maxpool", size=2), dict(kind="flatten"),
              dict(kind="dense", W=params["wd"], b=params["bd"])]
    return layers, x_tr.reshape(-1, 1, 8, 8), x_te.reshape(-1, 1, 8, 8), y_te


#: Built-in models: name -> (description, recipe); a recipe returns
#: ``(layers, x_train, x_test, y_test)``.
BUILTIN = {
    "mlp-digits-small": ("digits 8x8 (sklearn), MLP 64-32-10",
                         lambda: _train_mlp(_digits, (32,))),
    "mlp-digits": ("digits 8x8 (sklearn), MLP 64-64-32-10",
                   lambda: _train_mlp(_digits, (64, 32))),
    "cnn-digits": ("digits 8x8 (sklearn), CNN conv3x3x8-relu-maxpool2-dense10 (numpy Adam)",
                   _train_cnn),
    "mlp-iris": ("iris (sklearn), MLP 4-16-3", lambda: _train_mlp(_iris, (16,), lr=0.01)),
    "mlp-wine": ("wine (sklearn), MLP 13-16-3", lambda: _train_mlp(_wine, (16,), lr=0.01)),
    "mlp-cancer": ("breast cancer (sklearn), MLP 30-16-2",
                   lambda: _train_mlp(_cancer, (16,), lr=0.01)),
}

#: Calibration inputs kept in a built-in model file (drawn from its training data).
_N_CALIB = 256


def builtin_model(name, *, cache=True):
    """A built-in model, trained on first use and cached on disk.

    Raises
    ------
    ValueError
        ``name`` is not a built-in model.
    """
    if name not in BUILTIN:
        raise ValueError(f"Unknown model {name!r}; built-in models are "
                         f"{', '.join(BUILTIN)} (or give an .npz file)")
    path = cache_dir() / "models" / f"{name}-v{_RECIPE_VERSION}.npz"
    if cache and path.is_file():
        try:
            return load_model(path)
        except ValueError:
            pass   # a damaged cache file is retrained
    from threadpoolctl import threadpool_limits
    desc, recipe = BUILTIN[name]
    # One BLAS thread: training is tiny, and on a shared 2-core machine threads only thrash
    # (5x slower measured with the default).
    with threadpool_limits(1):
        layers, x_tr, x_te, y_te = recipe()
    rng = np.random.default_rng(1)
    calib = x_tr[np.sort(rng.choice(len(x_tr), min(_N_CALIB, len(x_tr)), replace=False))]
    model = Model(name, layers, x_te.shape[1:], x_te, y_te.astype(np.int64), calib, desc)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, path)
    return model


def get_model(name_or_file):
    """A built-in model by name, or a model file (anything ending in ``.npz`` or existing).

    Raises
    ------
    ValueError
        Neither a built-in name nor a readable, valid model file.
    """
    s = str(name_or_file)
    if s in BUILTIN:
        return builtin_model(s)
    if s.endswith(".npz") or os.path.sep in s or Path(s).exists():
        return load_model(s)
    raise ValueError(f"Unknown model {s!r}; built-in models are {', '.join(BUILTIN)} "
                     f"(or give an .npz file)")


def list_models():
    """``[(name, description), ...]`` of the built-in models (no training)."""
    return [(name, desc) for name, (desc, _) in BUILTIN.items()]
