"""The explorer's model graph: :class:`Model` (layers in order or as a DAG, weights, the
input's ``pre`` steps, test data) and its validator.

File formats live elsewhere: ``.npz`` model and data files in :mod:`hwgen.explore.models`,
ONNX in :mod:`hwgen.explore.onnx_io`; both build a :class:`Model`. The layer keys are
documented in :mod:`hwgen.explore.models` (the format reference) and docs/models.md.
"""

import numpy as np

__all__ = ["Model", "V1_LAYER_KINDS", "LAYER_KINDS", "MAC_KINDS", "PRE_OPS", "pool_size"]

V1_LAYER_KINDS = ("dense", "conv2d", "relu", "maxpool", "flatten")
LAYER_KINDS = V1_LAYER_KINDS + ("avgpool", "globalavgpool", "reshape", "add")
#: Layers that are GEMMs on the systolic array (weights ``W``, bias ``b``).
MAC_KINDS = ("dense", "conv2d")
PRE_OPS = ("add", "sub", "mul", "div")


class Model:
    """A network (a small DAG of layers, see the module docstring) and its test data.

    Parameters
    ----------
    name : str
    layers : list of dict
        Each has ``kind`` and the fields of its kind (``W``, ``b``, ``stride``, ``pads``,
        ``size``, ``kernel``, ``count_include_pad``, ``shape``, ``inputs``); arrays become
        float64, and the validator fills in every default (``inputs``, ``stride``, ``pads``,
        ``kernel``), so code reading a validated model finds all of them.
    input_shape : tuple of int
    x_test, y_test : ndarray or None
        Test inputs (after the ``pre`` steps) and integer labels; ``None`` for a model
        without data (an ONNX file read without ``--data``): everything that runs the network
        on its test data then raises ``ValueError``.
    x_calib : ndarray or None
    description : str
    pre : list of (str, array), optional
        Input preprocessing (see the module docstring).
    dataset : str or None
        The bundled data set (``hwgen.explore.models.DATASETS``) the model was trained on,
        if known: an ONNX file keeps it, and reading the file without data uses that set's
        test split.

    Raises
    ------
    ValueError
        The layers, shapes or data do not fit together; the message names the file key.
    """

    def __init__(self, name, layers, input_shape, x_test=None, y_test=None, x_calib=None,
                 description="", *, pre=None, dataset=None):
        self.name = str(name)
        self.dataset = dataset
        self.layers = [dict(layer) for layer in layers]
        self.input_shape = tuple(int(n) for n in input_shape)
        self.x_test = None if x_test is None else np.asarray(x_test, dtype=np.float64)
        self.y_test = None if y_test is None else np.asarray(y_test)
        self.x_calib = None if x_calib is None else np.asarray(x_calib, dtype=np.float64)
        self.description = str(description)
        self.pre = [(str(op), np.asarray(v, dtype=np.float64)) for op, v in (pre or [])]
        self.output_shapes = _check_model(self)

    @property
    def has_data(self):
        """Whether the model has test data (``x_test`` and ``y_test``)."""
        return self.x_test is not None

    @property
    def n_classes(self):
        return self.output_shapes[-1][0]

    @property
    def input_shapes(self):
        """The shape of each layer's input tensors, ``[[shape, ...], ...]``."""
        shapes = {-1: self.input_shape}
        shapes.update(enumerate(self.output_shapes))
        return [[shapes[j] for j in layer["inputs"]] for layer in self.layers]

    @property
    def calibration_inputs(self):
        """Inputs for fixed-point scales: ``x_calib``, or ``x_test`` when there is none."""
        self.require_data()
        return self.x_calib if self.x_calib is not None else self.x_test

    @property
    def mac_layers(self):
        """Indices of the ``dense``/``conv2d`` layers."""
        return [i for i, layer in enumerate(self.layers) if layer["kind"] in MAC_KINDS]

    @property
    def is_chain(self):
        """Whether every layer reads the previous one's output (no residual connection)."""
        return all(layer["inputs"] == [i - 1] for i, layer in enumerate(self.layers))

    @property
    def format_version(self):
        """The oldest ``.npz`` format version that holds this model."""
        if self.pre or not self.is_chain:
            return 2
        for layer, shape in zip(self.layers, [self.input_shape] + self.output_shapes):
            kind = layer["kind"]
            if kind not in V1_LAYER_KINDS:
                return 2
            if kind == "conv2d" and (layer["stride"] != (1, 1) or any(layer["pads"])):
                return 2
            if kind == "maxpool" and pool_size(layer, shape) is None:
                return 2
        return 1

    def require_data(self):
        """Raise ``ValueError`` when the model has no test data."""
        if not self.has_data:
            raise ValueError(f"Model {self.name!r} has no test data: give a data file "
                             f"(--data FILE.npz with x_test and y_test)")

    def prepare(self, x, key="x"):
        """Raw inputs ``x`` (shape ``(N,) + input_shape``) through the ``pre`` steps, in
        float64: what the first layer sees.

        Raises
        ------
        ValueError
            ``x`` has the wrong shape or is not numeric and finite.
        """
        x = _data_array(x, key, self.input_shape)
        for op, v in self.pre:
            x = {"add": np.add, "sub": np.subtract, "mul": np.multiply,
                 "div": np.divide}[op](x, v)
        return x

    def with_data(self, x_test, y_test, x_calib=None, *, raw=True):
        """A copy of the model with other test data; ``raw`` data goes through
        :meth:`prepare` first.

        Raises
        ------
        ValueError
            The data does not fit the model.
        """
        if raw:
            x_test = self.prepare(x_test, "x_test")
            x_calib = None if x_calib is None else self.prepare(x_calib, "x_calib")
        return Model(self.name, self.layers, self.input_shape, x_test, y_test, x_calib,
                     self.description, pre=self.pre, dataset=self.dataset)

    def summary(self):
        """``64-32-10``-style one-line shape summary (``add`` marks a residual sum)."""
        parts = ["x".join(str(n) for n in self.input_shape)]
        ins = [self.input_shape] + self.output_shapes
        for layer, shape, before in zip(self.layers, self.output_shapes, ins):
            kind = layer["kind"]
            if kind == "dense":
                parts.append(str(shape[0]))
            elif kind == "conv2d":
                kh, kw = layer["W"].shape[2:]
                s = layer["stride"]
                parts.append(f"conv{kh}x{kw}" + (f"s{s[0]}" if s != (1, 1) else "")
                             + ("p" if any(layer["pads"]) else "") + f":{shape[0]}")
            elif kind == "maxpool":
                size = pool_size(layer, before)
                parts.append(f"pool{size}" if size else
                             f"maxpool{layer['kernel'][0]}s{layer['stride'][0]}")
            elif kind == "avgpool":
                parts.append(f"avgpool{layer['kernel'][0]}s{layer['stride'][0]}")
            elif kind == "globalavgpool":
                parts.append("gap")
            elif kind == "add":
                parts.append("add")
        return "-".join(parts)

    @property
    def n_macs(self):
        """Multiply-accumulates per inference of the ``dense``/``conv2d`` layers (the
        array's work; pooling and residual sums not counted)."""
        total = 0
        for layer, shape in zip(self.layers, self.output_shapes):
            if layer["kind"] in MAC_KINDS:
                total += int(np.prod(shape)) * int(np.prod(layer["W"].shape[1:]))
        return total


def pool_size(layer, shape):
    """The version-1 ``size`` of a validated maxpool layer on input ``shape``, or ``None``
    when it needs version 2."""
    k, s = layer["kernel"], layer["stride"]
    if k[0] == k[1] == s[0] == s[1] and not any(layer["pads"]) and len(shape) == 3 \
            and shape[1] % k[0] == 0 and shape[2] % k[0] == 0:
        return k[0]
    return None


def _err(key, what):
    return ValueError(f"Model file key {key!r} {what}")


def _ints(layer, key, name, n, default, lo):
    """``layer[name]`` as a tuple of ``n`` ints >= ``lo`` (``default`` when absent)."""
    v = layer.get(name)
    if v is None:
        return default
    a = np.asarray(v)
    if a.dtype.kind not in "iu" or a.size != n or (a.ndim > 1):
        raise _err(key + name, f"must be {n} integer{'s' if n > 1 else ''}, not {v!r}")
    t = tuple(int(x) for x in a.reshape(-1))
    if any(x < lo for x in t):
        raise _err(key + name, f"must be {'positive' if lo else 'non-negative'}, not {t}")
    return t


def _out_size(size, k, s, p0, p1):
    return (size + p0 + p1 - k) // s + 1


def _check_window(layer, key, shape, kind, *, pool, stride=(1, 1)):
    """Validate kernel/stride/pads of a conv2d or pooling layer on input ``shape`` (filling
    in ``stride`` and ``pads``); return the output's height and width."""
    kh, kw = layer["kernel"]
    st = layer["stride"] = _ints(layer, key, "stride", 2, stride, 1)
    pads = layer["pads"] = _ints(layer, key, "pads", 4, (0, 0, 0, 0), 0)
    if pool and (max(pads[0], pads[2]) >= kh or max(pads[1], pads[3]) >= kw):
        raise _err(key + "pads", f"must be below the kernel ({kh}, {kw}) on each axis, "
                                 f"not {pads}")
    ho = _out_size(shape[1], kh, st[0], pads[0], pads[2])
    wo = _out_size(shape[2], kw, st[1], pads[1], pads[3])
    if ho < 1 or wo < 1:
        raise _err(key + ("kernel" if pool else "W"),
                   f"{kh}x{kw} does not fit the padded {kind} input {shape} (pads {pads})")
    return ho, wo


def _check_model(model):
    """Validate a :class:`Model` and fill in the layers' defaults; return the output shape of
    every layer."""
    shape = model.input_shape
    if not shape or any(n < 1 for n in shape) or len(shape) not in (1, 3):
        raise _err("input_shape", f"must be (features,) or (channels, height, width) of "
                                  f"positive sizes, not {shape!r}")
    _check_pre(model)
    if not model.layers:
        raise _err("n_layers", "must be at least 1, not 0")
    shapes = {-1: shape}
    used = {-1: False}
    for i, layer in enumerate(model.layers):
        kind = layer.get("kind")
        key = f"layer{i}_"
        if kind not in LAYER_KINDS:
            raise _err(key + "kind", f"must be one of {', '.join(LAYER_KINDS)}, not {kind!r}")
        inputs = layer.get("inputs")
        n_in = 2 if kind == "add" else 1
        if inputs is None:
            if kind == "add":
                raise _err(key + "inputs", f"is missing (add layer {i} sums two tensors)")
            inputs = [i - 1]
        a = np.asarray(inputs)
        if a.dtype.kind not in "iu" or a.ndim != 1 or a.size != n_in \
                or any(not -1 <= int(j) < i for j in a):
            raise _err(key + "inputs", f"must be {n_in} index{'es' if n_in > 1 else ''} of "
                                       f"earlier layers (-1: the model input), not {inputs!r}")
        inputs = layer["inputs"] = [int(j) for j in a]
        for j in inputs:
            used[j] = True
        shape = shapes[inputs[0]]
        if kind in MAC_KINDS:
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
                if w.ndim != 4 or w.shape[1] != shape[0]:
                    raise _err(key + "W", f"must have shape (out_ch, {shape[0]}, kh, kw), "
                                          f"not {w.shape}")
                layer["kernel"] = tuple(int(n) for n in w.shape[2:])
                out = (w.shape[0],) + _check_window(layer, key, shape, kind, pool=False)
            if b.shape != (w.shape[0],):
                raise _err(key + "b", f"must have shape ({w.shape[0]},), not {b.shape}")
        elif kind in ("maxpool", "avgpool"):
            if len(shape) != 3:
                raise _err(key + "kind", f"{kind} needs a (C, H, W) input, got {shape}")
            if kind == "maxpool" and layer.get("size") is not None:
                size = np.asarray(layer["size"])
                if size.dtype.kind not in "iu" or size.ndim != 0:
                    raise _err(key + "size", f"must be an integer, not {layer['size']!r}")
                size = layer["size"] = int(size)
                if size < 1 or shape[1] % size or shape[2] % size:
                    raise _err(key + "size", f"must divide the height and width of a "
                                             f"(C, H, W) input; got size {size} for shape "
                                             f"{shape}")
                implied = dict(kernel=(size, size), stride=(size, size), pads=(0, 0, 0, 0))
                for k, v in implied.items():
                    if layer.get(k) is not None and \
                            _ints(layer, key, k, len(v), None, 0) != v:
                        raise _err(key + "size", f"is given with a different {k}: give "
                                                 f"either size or kernel/stride/pads")
                layer.update(implied)
            elif layer.get("kernel") is None:
                raise _err(key + "kernel", f"is missing ({kind} layer {i})")
            else:
                layer["kernel"] = _ints(layer, key, "kernel", 2, None, 1)
            out = (shape[0],) + _check_window(layer, key, shape, kind, pool=True,
                                              stride=layer["kernel"])
            if kind == "avgpool":
                cip = np.asarray(layer.get("count_include_pad", 0))
                if cip.ndim != 0 or cip.dtype.kind not in "iub" or int(cip) not in (0, 1):
                    raise _err(key + "count_include_pad", f"must be 0 or 1, not "
                                                          f"{layer.get('count_include_pad')!r}")
                layer["count_include_pad"] = int(cip)
        elif kind == "globalavgpool":
            if len(shape) != 3:
                raise _err(key + "kind", f"globalavgpool needs a (C, H, W) input, got {shape}")
            out = (shape[0], 1, 1)
        elif kind == "flatten":
            out = (int(np.prod(shape)),)
        elif kind == "reshape":
            target = layer.get("shape")
            a = np.asarray(target) if target is not None else None
            if a is None or a.dtype.kind not in "iu" or a.ndim != 1 or a.size not in (1, 3) \
                    or np.any(a < 1) or int(np.prod(a)) != int(np.prod(shape)):
                raise _err(key + "shape", f"must be (n,) or (c, h, w) of positive sizes with "
                                          f"{int(np.prod(shape))} elements (the input "
                                          f"{shape}), not {target!r}")
            out = layer["shape"] = tuple(int(n) for n in a)
        elif kind == "add":
            other = shapes[inputs[1]]
            if other != shape:
                raise _err(key + "inputs", f"must name two tensors of the same shape, not "
                                           f"{shape} and {other}")
            out = shape
        else:   # relu
            out = shape
        shapes[i] = out
        used[i] = False
    last = len(model.layers) - 1
    for j in range(-1, last):
        if not used[j]:
            raise _err("layer0_inputs" if j < 0 else f"layer{j}_kind",
                       "the model input is read by no layer" if j < 0 else
                       f"layer {j}'s output is read by no later layer (the model's output "
                       f"is the last layer's)")
    if len(shapes[last]) != 1 or shapes[last][0] < 2:
        raise _err(f"layer{last}_kind",
                   f"must leave one score per class (a vector of 2 or more), not shape "
                   f"{shapes[last]}")
    if model.x_test is None:
        if model.y_test is not None or model.x_calib is not None:
            raise _err("x_test", "is missing (y_test or x_calib given without it)")
        return [shapes[i] for i in range(last + 1)]
    for key, x in (("x_test", model.x_test), ("x_calib", model.x_calib)):
        if x is None:
            continue
        if x.ndim != len(model.input_shape) + 1 or x.shape[1:] != model.input_shape \
                or x.shape[0] < 1:
            raise _err(key, f"must have shape (N,) + {model.input_shape}, not {x.shape}")
        if not np.all(np.isfinite(x)):
            raise _err(key, "holds a NaN or infinity")
    y = model.y_test
    if y is None:
        raise _err("y_test", "is missing")
    if y.shape != (model.x_test.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise _err("y_test", f"must be {model.x_test.shape[0]} integer labels, "
                             f"not {y.dtype} of shape {y.shape}")
    if y.min() < 0 or y.max() >= shapes[last][0]:
        raise _err("y_test", f"labels must be in 0..{shapes[last][0] - 1}")
    return [shapes[i] for i in range(last + 1)]


def _check_pre(model):
    for s, (op, v) in enumerate(model.pre):
        if op not in PRE_OPS:
            raise _err(f"pre{s}_op", f"must be one of {', '.join(PRE_OPS)}, not {op!r}")
        try:
            ok = np.broadcast_shapes(v.shape, model.input_shape) == model.input_shape
        except ValueError:
            ok = False
        if not ok:
            raise _err(f"pre{s}_value", f"must broadcast to the input shape "
                                        f"{model.input_shape}, not {v.shape}")
        if not np.all(np.isfinite(v)) or (op == "div" and np.any(v == 0)):
            raise _err(f"pre{s}_value", "holds a NaN, an infinity or (div) a zero")


def _data_array(x, key, shape):
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{key} must be numeric, not {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim != len(shape) + 1 or a.shape[1:] != tuple(shape) or a.shape[0] < 1:
        raise ValueError(f"{key} must have shape (N,) + {tuple(shape)}, not {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{key} holds a NaN or infinity")
    return a
