"""ONNX in and out: :func:`import_onnx` reads an ONNX file into the explorer's
:class:`~hwgen.explore.models.Model`, :func:`export_onnx` writes one (with the ``onnx``
package; docs/models.md has the user's view).

What the importer reads
-----------------------
One graph input, ``(N, features)`` or ``(N, C, H, W)`` floats, whose batch dimension ``N``
may be dynamic (every other dimension must be fixed, or fixed by the data given with the
model); one graph output, the class scores. ai.onnx opset 13 or later; an older opset is
first converted to 13 by ``onnx.version_converter``. Nodes that do not lead to the output
are left out. Initializers (and ``Constant`` nodes) are the weights. Operators:

``Gemm`` (``transA=0``; ``alpha``, ``beta``, ``transB`` folded into the weights), ``MatMul``
(a tensor times a constant ``(in, out)`` matrix)
    a ``dense`` layer;
``Conv`` (2-D, ``group=1``, ``dilations`` 1, any ``strides``, ``pads`` or ``auto_pad``)
    a ``conv2d`` layer;
``Add``, ``Sub``, ``Mul``, ``Div`` with a constant
    right after a ``Gemm``/``MatMul``/``Conv`` whose output nothing else reads: folded into
    its bias (``Add``/``Sub``) or into its weights and bias per output channel (``Mul``,
    ``Div``); on the graph input, before any layer: a normalization step (``pre``, applied
    to raw inputs on the host in float64, not emulated);
``Add`` of two tensors of the same shape
    a residual ``add`` layer;
``BatchNormalization`` (inference)
    folded into the ``Conv``/``Gemm``/``MatMul`` before it (``W * s``, ``(b - mean) * s +
    B`` with ``s = scale / sqrt(var + epsilon)``, in float64), or a normalization of the
    graph input;
``Relu``; ``MaxPool``, ``AveragePool`` (``ceil_mode`` only where it changes nothing,
``dilations`` 1); ``GlobalAveragePool``; ``GlobalMaxPool``; ``Flatten`` (``axis=1``);
``Reshape`` (to ``(n,)`` or ``(c, h, w)`` per example, the batch dimension ``0``/``-1``)
    the layers of the same names;
``Identity``, ``Dropout`` (inference)
    nothing;
``Softmax``, ``LogSoftmax`` as the last operator
    nothing (the prediction is the arg-max, which they do not change).

Anything else raises a one-line ``ValueError`` naming the file, the node (its name, or
``#index`` in the graph), the operator and what is supported (:data:`SUPPORTED`).
"""

import os
from pathlib import Path

import numpy as np

from .graph import Model

__all__ = ["import_onnx", "export_onnx", "SUPPORTED", "MIN_OPSET", "EXPORT_OPSET"]

MIN_OPSET = 13
EXPORT_OPSET = 13
#: What the importer reads, as the error messages list it.
SUPPORTED = ("Gemm, MatMul, Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, "
             "GlobalMaxPool, Flatten, Reshape, Add (bias or residual), BatchNormalization, "
             "Identity, Dropout, Constant, a trailing Softmax/LogSoftmax, and Sub/Mul/Div by "
             "constants on the graph input or folded into the layer before")

_SHAPE_OPS = ("Shape", "Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast", "Size")
_FLOAT_TYPES = {1: "float", 10: "float16", 11: "double", 16: "bfloat16"}


def _onnx():
    try:
        import onnx
    except ImportError:   # a core dependency; only a broken install gets here
        raise ValueError("Reading ONNX files needs the onnx package: pip install onnx") \
            from None
    return onnx


class _T:
    """A tensor of the network: the layer that makes it (``-1``: the model input), its shape
    per example, and whether it is a MAC layer's direct output (a bias, a scale or a batch
    norm may still be folded into that layer) or a trailing softmax's."""

    def __init__(self, layer, shape, mac=False, softmax=False):
        self.layer, self.shape, self.mac, self.softmax = layer, tuple(shape), mac, softmax


class _Importer:
    def __init__(self, path, model, input_shape, data_name):
        self.path = path
        self.data_name = data_name
        self.where = f"{str(path)!r}"
        self.m = model
        self.hint = None if input_shape is None else tuple(int(n) for n in input_shape)
        self.layers = []
        self.pre = []
        self.notes = []

    # -- messages --------------------------------------------------------------------------
    def fail(self, node, idx, what):
        label = repr(node.name) if node.name else f"#{idx}"
        return ValueError(f"{self.where}: node {label} ({node.op_type}): {what}; hwgen "
                          f"imports {SUPPORTED}")

    # -- the graph input and output --------------------------------------------------------
    def graph_input(self, g, consts):
        inputs = [i for i in g.input if i.name not in consts]
        if len(inputs) != 1:
            raise ValueError(f"{self.where}: the graph has {len(inputs)} inputs "
                             f"({', '.join(i.name for i in inputs) or 'none'}); hwgen imports "
                             f"models with one input")
        inp = inputs[0]
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type") or tt.elem_type not in _FLOAT_TYPES:
            raise ValueError(f"{self.where}: graph input {inp.name!r} must be a float tensor "
                             f"(float, float16, double, bfloat16)")
        if tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                    for d in tt.shape.dim]
        elif self.hint is not None:
            dims = ["N", *self.hint]
        else:
            raise ValueError(f"{self.where}: graph input {inp.name!r} has no shape; give data "
                             f"(x_test fixes it) or export the model with a shape")
        text = "[" + ", ".join(str(d) for d in dims) + "]"
        if len(dims) not in (2, 4):
            raise ValueError(f"{self.where}: graph input {inp.name!r} has shape {text}; hwgen "
                             f"imports (N, features) or (N, C, H, W) inputs")
        per = dims[1:]
        if self.hint is not None:
            if len(self.hint) != len(per) or any(isinstance(d, int) and d != h
                                                 for d, h in zip(per, self.hint)):
                raise ValueError(f"{self.where}: graph input {inp.name!r} takes {text}, but "
                                 f"x_test of {self.data_name} has rows of shape {self.hint}")
            per = list(self.hint)
        bad = [d for d in per if not isinstance(d, int) or d < 1]
        if bad:
            raise ValueError(f"{self.where}: graph input {inp.name!r} has the dynamic "
                             f"dimension {bad[0]!r} (shape {text}): only the batch dimension "
                             f"may be dynamic; give data (x_test fixes the shape) or export "
                             f"with a fixed shape")
        self.batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
        return inp.name, tuple(per)

    # -- helpers ---------------------------------------------------------------------------
    def attrs(self, node):
        from onnx import helper
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def const(self, env, name, node, idx, what):
        v = env.get(name)
        if not isinstance(v, np.ndarray):
            raise self.fail(node, idx, f"{what} must be a constant (an initializer)")
        return v

    def tensor(self, env, name, node, idx):
        v = env.get(name)
        if not isinstance(v, _T):
            raise self.fail(node, idx, f"input {name!r} is a constant; hwgen imports "
                                       f"operators on the network's data only (fold "
                                       f"constant subgraphs first, e.g. with onnxsim)")
        if v.softmax:
            raise self.fail(node, idx, "reads the output of a Softmax/LogSoftmax, which "
                                       "hwgen imports only as the last operator")
        return v

    def add_layer(self, layer, inputs, shape, mac=False):
        layer["inputs"] = [t.layer for t in inputs]
        self.layers.append(layer)
        return _T(len(self.layers) - 1, shape, mac=mac)

    def per_channel(self, c, shape, node, idx, what):
        """Constant ``c`` as one value per channel (axis 0 of ``shape``), or fail."""
        full_shape = (1,) + shape
        try:
            ok = np.broadcast_shapes(c.shape, full_shape) == full_shape
        except ValueError:
            ok = False
        if not ok:
            raise self.fail(node, idx, f"constant of shape {c.shape} does not broadcast to "
                                       f"the {what}'s output (N, {', '.join(map(str, shape))})")
        full = np.broadcast_to(c.astype(np.float64), full_shape)[0]
        if len(shape) == 3:
            if not np.all(full == full[:, :1, :1]):
                raise self.fail(node, idx, f"the constant varies over height and width, "
                                           f"so it cannot fold into a per-channel {what}")
            return full[:, 0, 0].copy()
        return full.copy()

    def pre_value(self, c, shape, node, idx):
        """Constant ``c`` of a normalization step, as an array broadcasting to ``shape``."""
        full_shape = (1,) + shape
        try:
            ok = np.broadcast_shapes(c.shape, full_shape) == full_shape
        except ValueError:
            ok = False
        if not ok:
            raise self.fail(node, idx, f"constant of shape {c.shape} does not broadcast to "
                                       f"the input (N, {', '.join(map(str, shape))})")
        c = c.astype(np.float64)
        return c[0] if c.ndim == len(full_shape) else c

    @staticmethod
    def alias(t, name, uses):
        """``t`` under a second name: no longer foldable when the first name has other
        readers (the layer's output would change under them)."""
        return t if uses.get(name, 0) <= 1 else _T(t.layer, t.shape, softmax=t.softmax)

    def pre_open(self, t, name, uses):
        """Whether an elementwise constant op on ``t`` is a normalization of the input."""
        return t.layer == -1 and not self.layers and uses[name] == 1

    def foldable(self, t, name, uses, outputs):
        return t.mac and uses[name] == 1 and name not in outputs

    def window(self, node, idx, a, shape, k, pool):
        """``(stride, pads)`` of a Conv/pool node on input ``shape`` with kernel ``k``."""
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise self.fail(node, idx, f"dilations {list(a['dilations'])}; only 1 is supported")
        s = tuple(int(v) for v in a.get("strides", [1, 1]))
        if len(s) != 2:
            raise self.fail(node, idx, f"strides {list(s)}: only 2-D windows are supported")
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for size, kk, ss in zip(shape[1:], k, s):
                out = -(-size // ss)
                total = max((out - 1) * ss + kk - size, 0)
                lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
                pads.append((lo, total - lo))
            p = (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
        elif auto in ("NOTSET", "VALID"):
            p = (0, 0, 0, 0) if auto == "VALID" else tuple(int(v) for v in
                                                          a.get("pads", [0, 0, 0, 0]))
        else:
            raise self.fail(node, idx, f"auto_pad {auto!r}")
        if len(p) != 4:
            raise self.fail(node, idx, f"pads {list(p)}: only 2-D windows are supported")
        sizes = []
        for size, kk, ss, p0, p1 in zip(shape[1:], k, s, p[:2], p[2:]):
            n = size + p0 + p1 - kk
            if n < 0:
                raise self.fail(node, idx, f"kernel {list(k)} does not fit the padded input "
                                           f"{list(shape)}")
            if pool and a.get("ceil_mode", 0) and n % ss:
                raise self.fail(node, idx, "ceil_mode=1 adds a partial window here; only "
                                           "ceil_mode=0 (or a ceil_mode that changes nothing) "
                                           "is supported")
            sizes.append(n // ss + 1)
        if pool and (max(p[0], p[2]) >= k[0] or max(p[1], p[3]) >= k[1]):
            raise self.fail(node, idx, f"pads {list(p)} reach a whole kernel {list(k)}")
        return s, p, tuple(sizes)

    # -- the walk --------------------------------------------------------------------------
    def run(self):
        from onnx import numpy_helper
        g = self.m.graph
        env = {}
        for t in g.initializer:
            env[t.name] = numpy_helper.to_array(t)
        if len(g.output) != 1:
            raise ValueError(f"{self.where}: the graph has {len(g.output)} outputs; hwgen "
                             f"imports models with one output (the class scores)")
        out_name = g.output[0].name
        in_name, in_shape = self.graph_input(g, env)
        env[in_name] = _T(-1, in_shape)
        self.input_shape = in_shape
        # Only what leads to the output.
        producer = {}
        for idx, node in enumerate(g.node):
            for o in node.output:
                if o:
                    producer[o] = idx
        needed, stack = set(), [out_name]
        while stack:
            name = stack.pop()
            idx = producer.get(name)
            if idx is None or idx in needed:
                continue
            needed.add(idx)
            stack.extend(i for i in g.node[idx].input if i)
        uses = {}
        for idx in needed:
            for i in g.node[idx].input:
                if i:
                    uses[i] = uses.get(i, 0) + 1
        outputs = {out_name}
        for idx, node in enumerate(g.node):
            if idx in needed:
                self.node(node, idx, env, uses, outputs)
        return self.finish(env.get(out_name), out_name)

    def node(self, node, idx, env, uses, outputs):
        op = node.op_type
        a = self.attrs(node)
        if node.domain not in ("", "ai.onnx"):
            raise self.fail(node, idx, f"operator {node.domain}.{op} is not supported")
        ins = list(node.input)
        out = node.output[0]
        extra = [o for o in node.output[1:] if o and (o in uses or o in outputs)]
        if extra:
            raise self.fail(node, idx, f"its extra output {extra[0]!r} is used; only the first "
                                       f"output is supported")
        if op == "Constant":
            env[out] = self.constant(node, idx, a)
            return
        if op in ("Identity", "Dropout"):
            if op == "Dropout" and len(ins) > 2 and ins[2]:
                mode = self.const(env, ins[2], node, idx, "training_mode")
                if bool(np.asarray(mode).reshape(-1)[0]):
                    raise self.fail(node, idx, "training_mode=1")
            t = env.get(ins[0])
            env[out] = self.alias(t, ins[0], uses) if isinstance(t, _T) else t
            return
        if op in ("Softmax", "LogSoftmax"):
            t = self.tensor(env, ins[0], node, idx)
            axis = a.get("axis", -1)
            if len(t.shape) != 1 or axis not in (-1, 1):
                raise self.fail(node, idx, f"axis {axis} on a (N, {t.shape}) tensor; only "
                                           f"over the class scores of (N, classes)")
            env[out] = _T(t.layer, t.shape, softmax=True)
            if f"{op}" not in self.notes:
                self.notes.append(op)
            return
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            hint = (" (a shape computation: a dynamic shape hwgen cannot resolve; export with "
                    "constant shapes or fold it with onnxsim)" if op in _SHAPE_OPS else "")
            raise self.fail(node, idx, f"operator {op} is not supported{hint}")
        env[out] = handler(node, idx, a, ins, env, uses, outputs)

    def constant(self, node, idx, a):
        from onnx import numpy_helper
        if "value" in a:
            return numpy_helper.to_array(a["value"])
        for k in ("value_float", "value_int"):
            if k in a:
                return np.array(a[k])
        for k in ("value_floats", "value_ints"):
            if k in a:
                return np.array(list(a[k]))
        raise self.fail(node, idx, f"attribute {next(iter(a), 'none')!r}; supported are "
                                   f"value, value_float(s), value_int(s)")

    # -- operators -------------------------------------------------------------------------
    def op_Gemm(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        if a.get("transA", 0):
            raise self.fail(node, idx, "transA=1")
        b = self.const(env, ins[1], node, idx, "B").astype(np.float64)
        if b.ndim != 2:
            raise self.fail(node, idx, f"B of shape {b.shape}; a matrix is needed")
        w = (b if a.get("transB", 0) else b.T) * float(a.get("alpha", 1.0))
        if len(t.shape) != 1 or w.shape[1] != t.shape[0]:
            raise self.fail(node, idx, f"input (N, {', '.join(map(str, t.shape))}) does not "
                                       f"match weights of {w.shape[1]} inputs")
        bias = np.zeros(w.shape[0])
        if len(ins) > 2 and ins[2]:
            c = self.const(env, ins[2], node, idx, "C")
            bias = self.per_channel(c, (w.shape[0],), node, idx, "bias") * \
                float(a.get("beta", 1.0))
        return self.add_layer(dict(kind="dense", W=w, b=bias), [t], (w.shape[0],), mac=True)

    def op_MatMul(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        b = self.const(env, ins[1], node, idx, "the second operand (weights)")
        if b.ndim != 2 or len(t.shape) != 1 or b.shape[0] != t.shape[0]:
            raise self.fail(node, idx, f"(N, {', '.join(map(str, t.shape))}) x {b.shape}: "
                                       f"only (N, in) x (in, out) is supported")
        w = b.astype(np.float64).T
        return self.add_layer(dict(kind="dense", W=w, b=np.zeros(w.shape[0])), [t],
                              (w.shape[0],), mac=True)

    def op_Conv(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        w = self.const(env, ins[1], node, idx, "W").astype(np.float64)
        if w.ndim != 4 or len(t.shape) != 3:
            raise self.fail(node, idx, f"weights {w.shape} on input (N, "
                                       f"{', '.join(map(str, t.shape))}); only 2-D "
                                       f"convolutions of (N, C, H, W) are supported")
        if a.get("group", 1) != 1:
            raise self.fail(node, idx, f"group={a['group']}; only group=1 is supported")
        if w.shape[1] != t.shape[0]:
            raise self.fail(node, idx, f"weights {w.shape} do not match {t.shape[0]} input "
                                       f"channels")
        k = tuple(w.shape[2:])
        if "kernel_shape" in a and tuple(a["kernel_shape"]) != k:
            raise self.fail(node, idx, f"kernel_shape {list(a['kernel_shape'])} differs from "
                                       f"the weights' {list(k)}")
        s, p, hw = self.window(node, idx, a, t.shape, k, pool=False)
        bias = np.zeros(w.shape[0])
        if len(ins) > 2 and ins[2]:
            bias = self.per_channel(self.const(env, ins[2], node, idx, "B"), (w.shape[0],),
                                    node, idx, "bias")
        return self.add_layer(dict(kind="conv2d", W=w, b=bias, stride=s, pads=p), [t],
                              (w.shape[0],) + hw, mac=True)

    def op_Relu(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        return self.add_layer(dict(kind="relu"), [t], t.shape)

    def _pool(self, node, idx, a, ins, env, kind):
        t = self.tensor(env, ins[0], node, idx)
        if len(t.shape) != 3:
            raise self.fail(node, idx, f"input (N, {', '.join(map(str, t.shape))}); only "
                                       f"(N, C, H, W) is supported")
        k = tuple(int(v) for v in a.get("kernel_shape", []))
        if len(k) != 2:
            raise self.fail(node, idx, f"kernel_shape {list(k)}: only 2-D windows")
        s, p, hw = self.window(node, idx, a, t.shape, k, pool=True)
        layer = dict(kind=kind, kernel=k, stride=s, pads=p)
        if kind == "avgpool":
            layer["count_include_pad"] = int(a.get("count_include_pad", 0))
        return self.add_layer(layer, [t], (t.shape[0],) + hw)

    def op_MaxPool(self, node, idx, a, ins, env, uses, outputs):
        return self._pool(node, idx, a, ins, env, "maxpool")

    def op_AveragePool(self, node, idx, a, ins, env, uses, outputs):
        return self._pool(node, idx, a, ins, env, "avgpool")

    def op_GlobalAveragePool(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        if len(t.shape) != 3:
            raise self.fail(node, idx, f"input (N, {', '.join(map(str, t.shape))}); only "
                                       f"(N, C, H, W) is supported")
        return self.add_layer(dict(kind="globalavgpool"), [t], (t.shape[0], 1, 1))

    def op_GlobalMaxPool(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        if len(t.shape) != 3:
            raise self.fail(node, idx, f"input (N, {', '.join(map(str, t.shape))}); only "
                                       f"(N, C, H, W) is supported")
        return self.add_layer(dict(kind="maxpool", kernel=t.shape[1:], stride=(1, 1)), [t],
                              (t.shape[0], 1, 1))

    def op_Flatten(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        axis = a.get("axis", 1)
        if axis < 0:
            axis += len(t.shape) + 1
        if axis != 1:
            raise self.fail(node, idx, f"axis {a.get('axis')} mixes examples of the batch; "
                                       f"only axis=1 is supported")
        if len(t.shape) == 1:
            return self.alias(t, ins[0], uses)
        return self.add_layer(dict(kind="flatten"), [t], (int(np.prod(t.shape)),))

    def op_Reshape(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        target = [int(v) for v in self.const(env, ins[1], node, idx, "shape").reshape(-1)]
        full = [None] + list(t.shape)
        if a.get("allowzero", 0) and 0 in target:
            raise self.fail(node, idx, "allowzero=1 with a zero in the shape")
        target = [full[i] if v == 0 and i < len(full) else v for i, v in enumerate(target)]
        n = int(np.prod(t.shape))
        if not target:
            raise self.fail(node, idx, "an empty shape")
        first, rest = target[0], target[1:]
        batch_ok = first is None or (first == -1 and -1 not in rest) or \
            (first > 0 and first == self.batch)
        if not batch_ok or rest.count(-1) > 1 or any(v < -1 or v == 0 for v in rest):
            raise self.fail(node, idx, f"shape {target} leaves the batch dimension unclear "
                                       f"(a dynamic shape hwgen cannot resolve); the first "
                                       f"entry must be 0 or -1, the others fixed")
        if -1 in rest:
            known = int(np.prod([v for v in rest if v != -1]))
            if known == 0 or n % known:
                raise self.fail(node, idx, f"shape {target} does not divide {n} elements")
            rest = [n // known if v == -1 else v for v in rest]
        rest = tuple(rest)
        if int(np.prod(rest)) != n or len(rest) not in (1, 3):
            raise self.fail(node, idx, f"input (N, {', '.join(map(str, t.shape))}) to shape "
                                       f"(N, {', '.join(map(str, rest))}): only (N, n) or "
                                       f"(N, C, H, W) with the same number of elements")
        if rest == t.shape:
            return self.alias(t, ins[0], uses)
        if len(rest) == 1:
            return self.add_layer(dict(kind="flatten"), [t], rest)
        return self.add_layer(dict(kind="reshape", shape=rest), [t], rest)

    def _split(self, env, ins, node, idx):
        """``(tensor, name, constant, tensor_first)`` of a binary op with one constant, or
        ``(t0, t1)`` tensors when both are tensors."""
        v0, v1 = env.get(ins[0]), env.get(ins[1])
        if isinstance(v0, _T) and isinstance(v1, _T):
            return None
        if isinstance(v0, _T):
            return self.tensor(env, ins[0], node, idx), ins[0], v1, True
        if isinstance(v1, _T):
            return self.tensor(env, ins[1], node, idx), ins[1], v0, False
        raise self.fail(node, idx, "both operands are constants (fold constant subgraphs "
                                   "first, e.g. with onnxsim)")

    def _affine(self, node, idx, op, ins, env, uses, outputs):
        """Add/Sub/Mul/Div by a constant: a normalization of the input or a fold into the
        MAC layer before."""
        split = self._split(env, ins, node, idx)
        t, name, c, first = split
        c = np.asarray(c)
        if op in ("Sub", "Div") and not first:
            raise self.fail(node, idx, f"constant {op.lower()} tensor; only tensor "
                                       f"{op.lower()} constant is supported")
        if self.pre_open(t, name, uses):
            self.pre.append((op.lower(), self.pre_value(c, t.shape, node, idx)))
            return _T(-1, t.shape)
        if not self.foldable(t, name, uses, outputs):
            raise self.fail(node, idx, f"{op} with a constant is supported right after a "
                                       f"Gemm/MatMul/Conv that nothing else reads (folded) or "
                                       f"on the graph input (normalization)")
        layer = self.layers[t.layer]
        v = self.per_channel(c, t.shape, node, idx, "bias" if op in ("Add", "Sub") else "scale")
        if op == "Add":
            layer["b"] = layer["b"] + v
        elif op == "Sub":
            layer["b"] = layer["b"] - v
        else:
            if op == "Div":
                if np.any(v == 0):
                    raise self.fail(node, idx, "division by zero")
                v = 1.0 / v
            layer["W"] = layer["W"] * v.reshape((-1,) + (1,) * (layer["W"].ndim - 1))
            layer["b"] = layer["b"] * v
        return _T(t.layer, t.shape, mac=True)

    def op_Add(self, node, idx, a, ins, env, uses, outputs):
        if self._split(env, ins, node, idx) is None:
            t0 = self.tensor(env, ins[0], node, idx)
            t1 = self.tensor(env, ins[1], node, idx)
            if t0.shape != t1.shape:
                raise self.fail(node, idx, f"operands (N, {', '.join(map(str, t0.shape))}) and "
                                           f"(N, {', '.join(map(str, t1.shape))}); a residual "
                                           f"Add needs equal shapes (no broadcasting)")
            return self.add_layer(dict(kind="add"), [t0, t1], t0.shape)
        return self._affine(node, idx, "Add", ins, env, uses, outputs)

    def op_Sub(self, node, idx, a, ins, env, uses, outputs):
        if self._split(env, ins, node, idx) is None:
            raise self.fail(node, idx, "Sub of two tensors is not supported")
        return self._affine(node, idx, "Sub", ins, env, uses, outputs)

    def op_Mul(self, node, idx, a, ins, env, uses, outputs):
        if self._split(env, ins, node, idx) is None:
            raise self.fail(node, idx, "Mul of two tensors is not supported")
        return self._affine(node, idx, "Mul", ins, env, uses, outputs)

    def op_Div(self, node, idx, a, ins, env, uses, outputs):
        if self._split(env, ins, node, idx) is None:
            raise self.fail(node, idx, "Div of two tensors is not supported")
        return self._affine(node, idx, "Div", ins, env, uses, outputs)

    def op_BatchNormalization(self, node, idx, a, ins, env, uses, outputs):
        t = self.tensor(env, ins[0], node, idx)
        if a.get("training_mode", 0):
            raise self.fail(node, idx, "training_mode=1")
        scale, bias, mean, var = (self.const(env, n, node, idx, what).astype(np.float64)
                                  .reshape(-1) for n, what in
                                  zip(ins[1:5], ("scale", "B", "input_mean", "input_var")))
        ch = t.shape[0]
        if not all(v.shape == (ch,) for v in (scale, bias, mean, var)):
            raise self.fail(node, idx, f"parameters are not one per channel ({ch})")
        std = np.sqrt(var + float(a.get("epsilon", 1e-5)))
        shape = (ch,) + (1,) * (len(t.shape) - 1)
        if self.pre_open(t, ins[0], uses):
            self.pre += [("sub", mean.reshape(shape)), ("div", std.reshape(shape)),
                         ("mul", scale.reshape(shape)), ("add", bias.reshape(shape))]
            return _T(-1, t.shape)
        if not self.foldable(t, ins[0], uses, outputs):
            raise self.fail(node, idx, "supported right after a Conv/Gemm/MatMul that nothing "
                                       "else reads (folded into it) or on the graph input")
        layer = self.layers[t.layer]
        s = scale / std
        layer["W"] = layer["W"] * s.reshape((-1,) + (1,) * (layer["W"].ndim - 1))
        layer["b"] = (layer["b"] - mean) * s + bias
        return _T(t.layer, t.shape, mac=True)

    # -- the model -------------------------------------------------------------------------
    def finish(self, t, out_name):
        if not isinstance(t, _T) or t.layer == -1:
            raise ValueError(f"{self.where}: the graph output {out_name!r} is not computed "
                             f"from the input by any layer")
        if len(t.shape) == 3 and t.shape[1:] == (1, 1):
            t = self.add_layer(dict(kind="flatten"), [t], (t.shape[0],))
        if len(t.shape) != 1:
            raise ValueError(f"{self.where}: the graph output {out_name!r} has shape "
                             f"(N, {', '.join(map(str, t.shape))}); hwgen needs (N, classes)")
        if t.layer != len(self.layers) - 1:   # cannot happen: every layer leads to the output
            raise ValueError(f"{self.where}: the output is not the last layer")
        name = self.m.graph.name or Path(self.path).stem
        desc = f"ONNX {Path(self.path).name}"
        if self.m.producer_name:
            desc += f" from {self.m.producer_name}"
        if self.notes:
            desc += f"; trailing {'/'.join(self.notes)} left out (arg-max)"
        try:
            return Model(name, self.layers, self.input_shape, description=desc, pre=self.pre)
        except ValueError as e:
            raise ValueError(f"{self.where}: {str(e).splitlines()[0]}") from None


def import_onnx(path, *, input_shape=None, data_name="the data"):
    """Read an ONNX file into a :class:`~hwgen.explore.models.Model` without test data.

    ``input_shape`` (one example's shape, e.g. the data's ``x_test.shape[1:]``) fixes
    dynamic dimensions of the graph input other than the batch; ``data_name`` names its
    source in messages.

    Raises
    ------
    ValueError
        Not a readable ONNX model, an unsupported operator or attribute, or a shape the
        importer cannot resolve: one line naming the file and the node (see the module
        docstring).
    """
    onnx = _onnx()
    path = Path(path)
    where = f"Model file {str(path)!r}"
    if not path.exists():
        raise ValueError(f"{where} does not exist")
    if not path.is_file():
        raise ValueError(f"{where} is not a file")
    try:
        m = onnx.load(str(path))
    except Exception as e:   # noqa: BLE001 - DecodeError, OSError...: not an ONNX model
        raise ValueError(f"{where} is not an ONNX model ({type(e).__name__}: "
                         f"{(str(e).splitlines() or [''])[0]})") from None
    if not m.HasField("graph") or not m.graph.node or m.ir_version < 1:
        raise ValueError(f"{where} is not an ONNX model (no graph)")
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ValueError(f"{where} imports no ai.onnx opset; hwgen reads opset "
                         f"{MIN_OPSET} and later")
    if opset < MIN_OPSET:
        from onnx import version_converter
        try:
            m = version_converter.convert_version(m, MIN_OPSET)
        except Exception as e:   # noqa: BLE001 - the converter's own errors
            raise ValueError(f"{where} has opset {opset}, which onnx could not convert to "
                             f"{MIN_OPSET} ({(str(e).splitlines() or [''])[0]})") from None
    try:
        onnx.checker.check_model(m)
    except Exception as e:   # noqa: BLE001 - ValidationError
        raise ValueError(f"{where} is not a valid ONNX model "
                         f"({(str(e).splitlines() or [''])[0]})") from None
    model = _Importer(path, m, input_shape, data_name).run()
    # the name as written; hwgen.explore.models.load_model uses it if it names a data set
    model.dataset = {p.key: p.value for p in m.metadata_props}.get(DATASET_KEY)
    return model


#: The metadata key naming the bundled data set a model was trained on.
DATASET_KEY = "hwgen.dataset"


def export_onnx(model, path, *, opset=EXPORT_OPSET, dataset=None):
    """Write ``model`` as an ONNX file: ai.onnx ``opset`` (13), float32 weights, input
    ``input`` of shape ``(N,) + input_shape`` (dynamic ``N``) taking raw data (the ``pre``
    steps are the first nodes: ``Sub``/``Div``/...), output ``scores`` ``(N, classes)``.
    Layers map one to one: ``Gemm`` (``transB=1``, ``W`` is ``(out, in)``), ``Conv``,
    ``Relu``, ``MaxPool``, ``AveragePool``, ``GlobalAveragePool``, ``Flatten``, ``Reshape``,
    ``Add``. The file is checked with ``onnx.checker`` and written atomically. ``dataset``
    (a bundled data set's name) is kept in the metadata (:data:`DATASET_KEY`).
    """
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits = [], []

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    cur = "input"
    for s, (op, v) in enumerate(model.pre):
        nodes.append(helper.make_node(op.capitalize(), [cur, const(f"pre{s}_value", v)],
                                      [f"pre{s}"], name=f"pre{s}"))
        cur = f"pre{s}"
    names = {-1: cur}
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        kind = layer["kind"]
        ins = [names[j] for j in layer["inputs"]]
        out = names[i] = "scores" if i == last else f"t{i}"
        kw = {}
        if kind == "dense":
            op, ins = "Gemm", ins + [const(f"W{i}", layer["W"]), const(f"b{i}", layer["b"])]
            kw = dict(transB=1)
        elif kind == "conv2d":
            op, ins = "Conv", ins + [const(f"W{i}", layer["W"]), const(f"b{i}", layer["b"])]
            kw = dict(kernel_shape=list(layer["kernel"]), strides=list(layer["stride"]),
                      pads=list(layer["pads"]))
        elif kind in ("maxpool", "avgpool"):
            op = "MaxPool" if kind == "maxpool" else "AveragePool"
            kw = dict(kernel_shape=list(layer["kernel"]), strides=list(layer["stride"]),
                      pads=list(layer["pads"]))
            if kind == "avgpool":
                kw["count_include_pad"] = layer["count_include_pad"]
        elif kind == "reshape":
            op = "Reshape"
            ins = ins + [const(f"shape{i}", [-1, *layer["shape"]], np.int64)]
        else:
            op = {"relu": "Relu", "globalavgpool": "GlobalAveragePool", "flatten": "Flatten",
                  "add": "Add"}[kind]
            if kind == "flatten":
                kw = dict(axis=1)
        nodes.append(helper.make_node(op, ins, [out], name=f"layer{i}_{kind}", **kw))
    graph = helper.make_graph(
        nodes, model.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *model.input_shape])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", model.n_classes])],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="hwgen", doc_string=model.description)
    m.ir_version = helper.find_min_ir_version_for(m.opset_import)
    if dataset is not None:
        helper.set_model_props(m, {DATASET_KEY: str(dataset)})
    onnx.checker.check_model(m)
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    onnx.save(m, str(tmp))
    os.replace(tmp, path)
    return path
