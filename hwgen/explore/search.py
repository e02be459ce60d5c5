"""The design space, the exhaustive sweep and the fast precision search of Hill et al.

Design-space SPEC grammar
-------------------------
A comma-separated list of items; the space is their union, in order, without repeats:

``fp32``, ``e4m3``, ``e6m7_none`` ...
    one float format, any name :func:`hwgen.formats.parse_format` reads (a preset keeps its
    specials; a bare ``eXmY`` that is not a preset has IEEE specials);
``eA-BmC-D``
    every float format with exponent ``A..B`` and mantissa ``C..D`` (either side may be one
    number: ``e5m2-7``, ``e3-6m3``). A range is one consistent family: without a suffix its
    formats have no Inf/NaN and saturate (specials ``none``, the formats of Hill et al.:
    every encoding is a number), so ``e4-5m3`` is ``e4m3_none, e5m3_none``; a suffix applies
    to all of them (``e3-6m2-7_ieee`` for IEEE-style ones);
``fxN``, ``fxA-B`` (also ``intN``, ``intA-B``)
    fixed point of ``N`` (``A..B``) bits (see :func:`hwgen.explore.emulate.fixed_forward`);
``bsW``, ``bsA-B``, ``bsWxA``, ``bsW@B``, ``bsW@A-B``
    bit-serial PEs (:class:`hwgen.explore.emulate.BitSerial`): W-bit weights (A..B), A-bit
    activations (default 8), the top B bit-planes used at run time (default all);
``bitserial``
    ``bs2`` .. ``bs16`` (:data:`DEFAULT_BITSERIAL`); never part of ``default``;
``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e3m2``, ``mxfp6_e2m3``, ``mxfp4_e2m1``, ``mxint8``, ``mx``
    OCP MX block formats (:class:`hwgen.explore.emulate.MX`: 32-element blocks along K with
    E8M0 scales, exact block sums, FP32 accumulation), one or all six; never part of
    ``default``;
``floats``, ``fixed``, ``default``
    the default float grid (:data:`DEFAULT_FLOATS`: the ``none`` family with exponent 2..8 x
    mantissa 1..10, plus mantissa 12, 14, 16, 19, 23 for exponent 5..8 — a narrow exponent
    cannot use a long mantissa — and IEEE ``fp32``), the default fixed-point widths
    (:data:`DEFAULT_FIXED`: 4..16, 18, 20, 24, 28, 32 bits), or both (the space used when no
    SPEC is given).

A single name keeps the meaning :func:`~hwgen.formats.parse_format` gives it: ``e4m3`` alone is
the OCP format (specials ``fn``), ``fp16`` is IEEE.

Accuracy target
---------------
``target_loss`` is relative: a candidate meets the target when its test accuracy is at least
``(1 - target_loss)`` times the float64 network's (its *normalized accuracy* is at least
``1 - target_loss``).

Which candidate is best
-----------------------
The one with the highest iso-area speedup against fp32 (:func:`hwgen.explore.cost.speedup`;
ties: smaller area). When costs are not measured (no synthesis flow) candidates are ordered by
total bits, then mantissa bits — an ordering, not a cost, and the report says so.

Fast search
-----------
1. Run 10 random test inputs (seed 0) through the float64 and every candidate network; take
   R² between their last-layer outputs (:func:`hwgen.explore.emulate.r_squared`). This costs
   10/N of a full evaluation per candidate and is not counted as one.
2. Predict normalized accuracy from R² with a straight line fitted by least squares on the
   (R², normalized accuracy) points of the *other* built-in models (never the searched one)
   over :data:`CALIBRATION_SPACE` (evaluated once, cached under ``explore/`` of the build folder,
   :mod:`hwgen.paths`).
   Only points with R² >= :data:`FIT_MIN_R2` (0.9) enter the fit: accuracy targets of a few
   percent lie there, and far below it the relation is not linear. Fitted on all points,
   the line came out too flat (slope ~0.15): no R² <= 1 predicted a 0.3 % target, and the
   search started from the widest format.
3. Start from the best candidate predicted to meet the target (the best-predicted one if
   none is).
4. Refine with full evaluations, one bit at a time: while the current candidate misses the
   target, move to the best neighbour with one more bit (exponent or mantissa; the next width
   in the space for a subsampled axis) that meets it, or else the most accurate of them (when
   there is no wider neighbour, restart from the best-predicted candidate not yet evaluated);
   then,
   while a neighbour with one bit less meets the target, move to the best such one. Every
   full evaluation is counted once.
"""

import hashlib
import json
import os
import re
import time

import numpy as np

from ..formats import parse_format
from .emulate import (MX, MX_CANDIDATES, BitSerial, FixedPoint, accuracy, exact_forward,
                      forward, parse_candidate, r_squared, tensor_ranges)
from .graph import pool_size
from .models import BUILTIN, builtin_model, cache_dir

__all__ = ["parse_space", "parse_target", "DEFAULT_FLOATS", "DEFAULT_FIXED",
           "CALIBRATION_SPACE", "Explorer", "fit_r2_model", "calibration_points",
           "N_R2_INPUTS", "FIT_MIN_R2", "bits_of", "kind_of", "DEFAULT_BITSERIAL"]

N_R2_INPUTS = 10
#: Without ``scheduler``/``workers``, an exhaustive search's evaluations go to a local Dask
#: cluster only when they would take at least this long serially (the first one is timed):
#: below it, starting the cluster's processes costs more than it saves.
PARALLEL_MIN_S = 20.0
#: Calibration points below this R² are left out of the fit (see the module docstring).
FIT_MIN_R2 = 0.9
FIT_MIN_POINTS = 10


def _evaluate_task(item):
    """On a worker: ``item`` = ``(model, candidate name, accumulate, scales)`` → the
    candidate's ``dict(accuracy=..., seconds=...)`` (:meth:`Explorer.evaluate`)."""
    model, name, accumulate, scales = item
    t = time.monotonic()
    acc = accuracy(forward(model, parse_candidate(name), accumulate=accumulate,
                           scales=scales), model.y_test)
    return dict(accuracy=acc, seconds=time.monotonic() - t)


def _grid(exps, mans, suffix="_none"):
    return [f"e{e}m{m}{suffix}" for e in exps for m in mans]


DEFAULT_FLOATS = (_grid(range(2, 9), range(1, 11)) +
                  _grid(range(5, 9), (12, 14, 16, 19, 23)) + ["fp32"])
DEFAULT_FIXED = [f"fx{b}" for b in list(range(4, 17)) + [18, 20, 24, 28, 32]]
#: Candidates evaluated on the other models to fit R² -> normalized accuracy.
CALIBRATION_SPACE = (_grid((2, 3, 4, 5, 6, 8), (1, 2, 3, 5, 7, 10)) +
                     [f"fx{b}" for b in (4, 5, 6, 8, 10, 12)])

_RANGE = re.compile(r"e(\d+)(?:-(\d+))?m(\d+)(?:-(\d+))?((?:_[a-z0-9]+)*)")
_FX = re.compile(r"(?:fx|int)(\d+)(?:-(\d+))?")
_BSR = re.compile(r"bs(\d+)(?:-(\d+))?(?:x(\d+))?(?:@(\d+)(?:-(\d+))?)?")
#: The ``bitserial`` group: bit-serial PEs with 2..16-bit weights, 8-bit activations.
DEFAULT_BITSERIAL = [f"bs{b}" for b in range(2, 17)]


def _span(lo, hi, what, spec):
    lo = int(lo)
    hi = lo if hi is None else int(hi)
    if hi < lo:
        raise ValueError(f"Bad range {spec!r} in --formats: {what} {lo}-{hi} is empty")
    return range(lo, hi + 1)


def parse_space(spec=None):
    """Candidates named by ``spec`` (see the module docstring): a list of float formats and
    :class:`FixedPoint` s, without repeats.

    Raises
    ------
    ValueError
        An item is not understood or names an invalid format; the message names the item.
    """
    if spec is None or not str(spec).strip():
        spec = "default"
    out = []
    for item in str(spec).split(","):
        item = item.strip().lower()
        if not item:
            raise ValueError(f"Empty item in --formats {spec!r}")
        if item in ("default", "floats", "fixed", "bitserial", "mx"):
            names = {"default": DEFAULT_FLOATS + DEFAULT_FIXED, "floats": DEFAULT_FLOATS,
                     "fixed": DEFAULT_FIXED, "bitserial": DEFAULT_BITSERIAL,
                     "mx": list(MX_CANDIDATES)}[item]
            cands = [parse_candidate(n) for n in names]
        else:
            m_fx, m_rng, m_bs = _FX.fullmatch(item), _RANGE.fullmatch(item), _BSR.fullmatch(item)
            try:
                if m_fx:
                    cands = [FixedPoint(b) for b in _span(m_fx[1], m_fx[2], "width", item)]
                elif m_bs and (m_bs[2] or m_bs[5]):
                    act = int(m_bs[3] or 8)
                    cands = [BitSerial(w, act, None if m_bs[4] is None else b)
                             for w in _span(m_bs[1], m_bs[2], "weight width", item)
                             for b in (_span(m_bs[4], m_bs[5], "run-time bits", item)
                                       if m_bs[4] else [w])]
                elif m_rng and (m_rng[2] or m_rng[4]):
                    cands = [parse_format(f"e{e}m{m}{m_rng[5] or '_none'}")
                             for e in _span(m_rng[1], m_rng[2], "exponent", item)
                             for m in _span(m_rng[3], m_rng[4], "mantissa", item)]
                else:
                    cands = [parse_candidate(item)]
            except (ValueError, TypeError) as e:
                raise ValueError(f"Bad format {item!r} in --formats: "
                                 f"{str(e).splitlines()[0]}") from None
        for c in cands:
            if c not in out:
                out.append(c)
    return out


def parse_target(text):
    """``"1%"`` or ``"0.01"`` → 0.01. The loss must be in ``[0, 100%)``.

    Raises
    ------
    ValueError
        Not a number, or out of range.
    """
    s = str(text).strip()
    try:
        value = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise ValueError(f"Target loss must be a percentage such as 1% or a fraction such as "
                         f"0.01, not {text!r}") from None
    if not 0 <= value < 1 or value != value:
        raise ValueError(f"Target loss must be at least 0% and below 100%, not {text!r}")
    return value


def _model_key(model):
    h = hashlib.sha256()
    for i, (layer, shapes) in enumerate(zip(model.layers, model.input_shapes)):
        h.update(layer["kind"].encode())
        for k in ("W", "b"):
            if k in layer:
                h.update(np.ascontiguousarray(layer[k]).tobytes())
        # Fields beyond version 1 enter the key only when they are used, so the cached
        # calibrations of version-1 models keep their keys.
        kind, extra = layer["kind"], {}
        if kind == "conv2d" and (layer["stride"] != (1, 1) or any(layer["pads"])):
            extra.update(stride=layer["stride"], pads=layer["pads"])
        elif kind == "avgpool" or (kind == "maxpool" and pool_size(layer, shapes[0]) is None):
            extra.update({k: layer.get(k) for k in ("kernel", "stride", "pads",
                                                    "count_include_pad")})
        elif kind == "reshape":
            extra["shape"] = layer["shape"]
        if layer["inputs"] != [i - 1]:
            extra["inputs"] = layer["inputs"]
        if extra:
            h.update(repr(sorted(extra.items())).encode())
    h.update(np.ascontiguousarray(model.x_test).tobytes())
    return f"{model.name}-{h.hexdigest()[:16]}"


def _r2_inputs(model):
    rng = np.random.default_rng(0)
    n = len(model.x_test)
    return model.x_test[np.sort(rng.choice(n, min(N_R2_INPUTS, n), replace=False))]


def _cand_key(c):
    """Neighbour structure: ``("f", exp, man)``, ``("x", bits)`` or, bit-serial,
    ``("b", planes, act_bits)``."""
    if isinstance(c, FixedPoint):
        return ("x", c.bits)
    if isinstance(c, BitSerial):
        return ("b", c.bits, c.act_bits)
    if isinstance(c, MX):
        return ("m", c.width, c.elem)
    return ("f", c.exp_bits, c.man_bits)


def kind_of(c):
    """``"fixed"``, ``"bitserial"``, ``"mx"`` or ``"float"``."""
    return "fixed" if isinstance(c, FixedPoint) else \
        "bitserial" if isinstance(c, BitSerial) else "mx" if isinstance(c, MX) else "float"


def bits_of(c):
    """Bits per value (bit-serial: the weight bit-planes used; MX: per element)."""
    return c.bits if isinstance(c, (FixedPoint, BitSerial)) else c.width


def calibration_points(exclude, accumulate="rounded", *, models=None, space=None,
                       progress=None):
    """``[(model, candidate, r2, normalized_accuracy), ...]`` of the built-in models other
    than ``exclude`` over ``space`` (default :data:`CALIBRATION_SPACE`).

    ``models`` (optional) are :class:`~hwgen.explore.models.Model` objects to use instead
    of the built-in ones; a model named ``exclude`` is always left out. Results of built-in
    models are cached on disk.
    """
    space = [parse_candidate(c) for c in (space or CALIBRATION_SPACE)]
    if models is None:
        models = [builtin_model(n) for n in BUILTIN if n != exclude]
    models = [m for m in models if m.name != exclude]
    points = []
    for mi, model in enumerate(models):
        path = cache_dir() / "explore" / "calib" / f"{_model_key(model)}.json"
        try:
            cache = json.loads(path.read_text())
        except (OSError, ValueError):
            cache = {}
        ref = exact_forward(model)
        acc0 = accuracy(ref, model.y_test)
        xr = _r2_inputs(model)
        ref_r = exact_forward(model, xr)
        scales = tensor_ranges(model)
        dirty = False
        for ci, c in enumerate(space):
            key = f"{c.name}|{accumulate}"
            if key not in cache:
                if progress:
                    progress(f"calibrating on {model.name}", mi * len(space) + ci,
                             len(models) * len(space))
                acc = accuracy(forward(model, c, accumulate=accumulate, scales=scales),
                               model.y_test)
                r2 = r_squared(ref_r, forward(model, c, xr, accumulate=accumulate,
                                              scales=scales))
                cache[key] = dict(accuracy=acc, r2=r2)
                dirty = True
            e = cache[key]
            points.append((model.name, c.name, e["r2"], e["accuracy"] / acc0 if acc0 else 0.0))
        if dirty:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
            os.replace(tmp, path)
    return points


def fit_r2_model(points, min_r2=None):
    """Least-squares line ``normalized_accuracy = intercept + slope * R²`` through the
    ``points`` with R² >= ``min_r2`` (default :data:`FIT_MIN_R2`; all points when fewer than
    :data:`FIT_MIN_POINTS` are that high).

    Returns ``dict(slope, intercept, n, models, min_r2)``.

    Raises
    ------
    ValueError
        Fewer than two distinct R² values to fit.
    """
    min_r2 = FIT_MIN_R2 if min_r2 is None else min_r2
    high = [p for p in points if p[2] >= min_r2]
    if len(high) >= FIT_MIN_POINTS:
        points = high
    else:
        min_r2 = 0.0
    x = np.array([p[2] for p in points], dtype=np.float64)
    y = np.array([p[3] for p in points], dtype=np.float64)
    if len(np.unique(x)) < 2:
        raise ValueError("Need calibration points with at least two distinct R² values to "
                         "fit the R² -> accuracy model")
    slope, intercept = np.polyfit(x, y, 1)
    return dict(slope=float(slope), intercept=float(intercept), n=len(points),
                models=sorted({p[0] for p in points}), min_r2=min_r2)


class Explorer:
    """Accuracy and cost of candidates for one model.

    Parameters
    ----------
    model : Model
    space : list
        Candidates (from :func:`parse_space`).
    target_loss : float
        See the module docstring.
    cost_model : CostModel or None
        Measured costs; ``None`` means costs are not measured.
    accumulate : str
        Float accumulation mode (``rounded`` by default).
    progress : callable or None
        ``progress(label, done, total)``.
    """

    def __init__(self, model, space, target_loss=0.01, *, cost_model=None,
                 accumulate="rounded", progress=None, scheduler=None, workers=None):
        self.model = model
        self.scheduler, self.workers = scheduler, workers
        self.space = list(space)
        self.target_loss = float(target_loss)
        self.cost_model = cost_model
        self.accumulate = accumulate
        self.progress = progress
        self._scales = tensor_ranges(model)
        self.exact_accuracy = accuracy(exact_forward(model), model.y_test)
        self.results = {}        # name -> dict(accuracy=..., seconds=...)
        self.evaluations = 0     # full evaluations performed
        self.costs = {}
        self._ref_cost = None
        self._cost_done = False
        self.r2 = {}

    # -- accuracy ----------------------------------------------------------------------------
    def evaluate(self, c):
        """Test accuracy of candidate ``c`` (a full evaluation, counted once)."""
        c = parse_candidate(c)
        if c.name not in self.results:
            self.results[c.name] = _evaluate_task((self.model, c.name, self.accumulate,
                                                   self._scales))
            self.evaluations += 1
        return self.results[c.name]["accuracy"]

    def evaluate_many(self, cands):
        """Full evaluations of ``cands`` not evaluated yet, as one sweep
        (:func:`hwgen.flow.sweep.map_tasks`: the model and each candidate travel as values):
        on :attr:`scheduler` or :attr:`workers` when given; otherwise in this process unless
        the first evaluation shows the rest would take :data:`PARALLEL_MIN_S` or more and
        this machine has several cores (then a local Dask cluster)."""
        todo = list({c.name: c for c in map(parse_candidate, cands)
                     if c.name not in self.results}.values())
        if not todo:
            return
        if self.scheduler is None and self.workers is None:
            n = len(todo)
            for i, c in enumerate(todo):
                if self.progress:
                    self.progress("exhaustive", i, n)
                self.evaluate(c)
                if i == 0 and (n - 1) * self.results[c.name]["seconds"] >= PARALLEL_MIN_S \
                        and (os.cpu_count() or 1) >= 2:
                    break                   # the rest is worth a local cluster
            else:
                return
            todo = todo[1:]
        from ..flow.sweep import map_tasks
        out = map_tasks(_evaluate_task, [(self.model, c.name, self.accumulate, self._scales)
                                         for c in todo],
                        scheduler=self.scheduler, workers=self.workers,
                        progress=self.progress is not None)
        for c, (ok, value) in zip(todo, out):
            if not ok:
                raise RuntimeError(f"evaluation of {c.name} failed: {value}")
            self.results[c.name] = value
            self.evaluations += 1

    def normalized(self, c):
        acc = self.results[parse_candidate(c).name]["accuracy"]
        return acc / self.exact_accuracy if self.exact_accuracy else 0.0

    def meets(self, c):
        self.evaluate(c)
        return self.normalized(c) >= 1 - self.target_loss - 1e-12

    def compute_r2(self):
        xr = _r2_inputs(self.model)
        ref = exact_forward(self.model, xr)
        for i, c in enumerate(self.space):
            if self.progress:
                self.progress("R² on 10 inputs", i, len(self.space))
            if c.name not in self.r2:
                self.r2[c.name] = r_squared(ref, forward(self.model, c, xr,
                                                         accumulate=self.accumulate,
                                                         scales=self._scales))
        if self.progress:
            self.progress("R² on 10 inputs", len(self.space), len(self.space))
        return self.r2

    # -- cost --------------------------------------------------------------------------------
    def measure_costs(self, candidates=None):
        """Cost of fp32 (the reference) and of ``candidates`` (default: the whole space)."""
        if self.cost_model is None:
            return
        cands = self.space if candidates is None else candidates
        todo = [parse_candidate("fp32")] + [c for c in cands if c.name not in self.costs]
        prefetch = getattr(self.cost_model, "prefetch", None)
        if prefetch is not None:               # the missing syntheses as one sweep
            prefetch(todo)
        for i, c in enumerate(todo):
            if self.progress:
                self.progress(f"cost on {self.cost_model.device.name}", i, len(todo))
            self.costs[c.name] = self.cost_model.cost(c)
        if self.progress:
            self.progress(f"cost on {self.cost_model.device.name}", len(todo), len(todo))
        self._ref_cost = self.costs.get("fp32")

    @property
    def cost_measured(self):
        return self._ref_cost is not None and any(
            self.costs.get(c.name) for c in self.space)

    def speedup(self, c):
        from .cost import speedup
        return speedup(self.costs.get(parse_candidate(c).name), self._ref_cost)

    def rank(self, c):
        """Sort key, best first (see the module docstring)."""
        c = parse_candidate(c)
        man = c.man_bits if kind_of(c) == "float" else 0
        proxy = (bits_of(c), man, c.name)
        if self.cost_measured:
            s = self.speedup(c)
            if s is None:
                return (1, 0.0, 0.0) + proxy
            return (0, -s, self.costs[c.name]["area"]) + proxy
        return (0, 0.0, 0.0) + proxy

    def best(self, cands):
        cands = list(cands)
        return min(cands, key=self.rank) if cands else None

    # -- searches ----------------------------------------------------------------------------
    def exhaustive(self):
        """Evaluate every candidate; the best one meeting the target (or ``None``)."""
        t = time.monotonic()
        before = self.evaluations
        self.evaluate_many(self.space)
        if self.progress:
            self.progress("exhaustive", len(self.space), len(self.space))
        ok = [c for c in self.space if self.meets(c)]
        return dict(chosen=(self.best(ok).name if ok else None),
                    evaluations=self.evaluations - before, seconds=time.monotonic() - t)

    def neighbours(self, c, direction):
        """Candidates of the space one bit wider (``+1``) or narrower (``-1``) than ``c``:
        the next exponent or mantissa width present in the space (same other parameters), or
        the next fixed-point width."""
        key = _cand_key(c)
        found = []
        if key[0] in ("x", "b", "m"):
            # Fixed point: the next width; bit-serial: the next number of planes (same
            # activation width), every candidate of the space with it.
            line = [(k, s) for s, k in ((s, _cand_key(s)) for s in self.space)
                    if k[0] == key[0] and k[2:] == key[2:]]
            nxt = [k[1] for k, _ in line if (k[1] - key[1]) * direction > 0]
            if nxt:
                w = min(nxt) if direction > 0 else max(nxt)
                found = [s for k, s in line if k[1] == w]
            return found
        _, e, m = key
        same = [(k, s) for s, k in ((s, _cand_key(s)) for s in self.space) if k[0] == "f"]
        for axis in (1, 2):   # exponent, mantissa
            line = [(k, s) for k, s in same if k[3 - axis] == (e, m)[2 - axis]]
            vals = [k[axis] for k, _ in line if (k[axis] - key[axis]) * direction > 0]
            if vals:
                v = min(vals) if direction > 0 else max(vals)
                found += [s for k, s in line if k[axis] == v]
        return found

    def fast(self, fit):
        """The fast precision search with the fitted line ``fit`` (:func:`fit_r2_model`)."""
        t = time.monotonic()
        before = self.evaluations
        self.compute_r2()
        pred = {c.name: fit["intercept"] + fit["slope"] * self.r2[c.name] for c in self.space}
        goal = 1 - self.target_loss
        ok = [c for c in self.space if pred[c.name] >= goal]
        start = self.best(ok) if ok else max(self.space, key=lambda c: pred[c.name])
        path = [start.name]
        cur = start
        # Fallback starts, should a climb end at the top of its line below the target: the
        # unevaluated candidates, best predicted first.
        others = sorted(self.space, key=lambda c: (pred[c.name] < goal,
                                                   self.rank(c) if pred[c.name] >= goal
                                                   else (-pred[c.name],)))
        while not self.meets(cur):
            up = sorted(self.neighbours(cur, +1), key=self.rank)
            if not up:
                cur = next((c for c in others if c.name not in self.results), None)
                if cur is None:
                    cur = start
                    break
                path.append(cur.name)
                continue
            nxt = next((u for u in up if self.meets(u)), None)
            cur = nxt if nxt is not None else max(up, key=lambda u: (self.evaluate(u),
                                                                     -bits_of(u)))
            path.append(cur.name)
        if self.meets(cur):
            while True:
                down = sorted(self.neighbours(cur, -1), key=self.rank)
                nxt = next((d for d in down if self.meets(d)), None)
                if nxt is None:
                    break
                cur = nxt
                path.append(cur.name)
        chosen = cur.name if self.meets(cur) else None
        return dict(chosen=chosen, start=start.name, path=path, predicted=pred,
                    evaluations=self.evaluations - before, seconds=time.monotonic() - t)

    # -- report ------------------------------------------------------------------------------
    def rows(self):
        """One dict per candidate (evaluated or not), in space order."""
        out = []
        for c in self.space:
            r = self.results.get(c.name)
            cost = self.costs.get(c.name)
            out.append(dict(
                name=c.name, kind=kind_of(c), bits=bits_of(c),
                exp_bits=c.exp_bits if kind_of(c) == "float" else None,
                man_bits=c.man_bits if kind_of(c) == "float" else None,
                accuracy=None if r is None else r["accuracy"],
                normalized=None if r is None else self.normalized(c),
                meets=None if r is None else self.meets(c),
                r2=self.r2.get(c.name), cost=cost, speedup=self.speedup(c),
                eval_seconds=None if r is None else round(r["seconds"], 3)))
        return out
