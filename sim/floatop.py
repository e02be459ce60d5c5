"""Shared cocotb driver/checker for the float operators (fmul, fadd, ffma): the cocotb test
of :mod:`sim.fmul`, :mod:`sim.fadd` and :mod:`sim.ffma`, and the group runner of their
``rtl_tests``.

Parameters (``sim.params.get_params()``), all JSON. A unit is described by

``op``            ``fmul`` | ``fadd`` | ``ffma``
``fmt``, ``b_fmt``, ``c_fmt``, ``out_fmt``   format names (``None``: as ``fmt``)
``rounding``      a mode or ``"dynamic"``; ``subtract`` (fadd) ``False``/``True``/``"dynamic"``
``latency``       pipeline stages of the build
``flags``         ``False`` for a unit built without flags (no ``flags`` port; checked as 0)
``sets``          what to check: ``"exhaustive"``, ``"directed"``, ``"random:N"``
``seed``          random seed

The pytest functions simulate a *group wrapper* (:func:`group_wrapper`): several units, each in
``lanes`` side-by-side copies, under one top, described by ``units`` (a list of such dicts plus
``prefix`` and ``lanes``). One build then covers many variants (a Verilator build costs far
more than the simulation of a narrow unit) and one simulator step checks ``lanes`` vectors of
every unit (the per-step VPI cost dominates otherwise). ``hwgen sim`` simulates the unit itself
with ``mode: "cli"`` (``vectors``/``exhaustive`` replace ``sets``).

Expected results come in bulk from the vectorized golden model before anything is driven; the
dynamic-rounding builds cycle through all rounding codes (0..4, plus 5..7 in random sets).
Combinational units get one vector (per lane) per 1 ns step; pipelined units one per clock,
with a random ``in_valid`` pattern, and the checker verifies that each result comes out exactly
``latency`` cycles after its operands.
"""

import time

import numpy as np

from hwgen import golden
from hwgen.formats import parse_format

from .params import get_params, write_report

__all__ = ["cocotb_check", "build_unit", "has_flags", "unit_params", "input_space", "expected",
           "cli_top", "CLI_LANES",
           "directed_values", "make_vectors", "INPUTS", "check", "group_wrapper", "run_group",
           "assert_passed", "MAX_EXHAUSTIVE", "plain_word_fields", "plain_vectors", "plain_hex",
           "plain_defines"]

#: Largest input space ``hwgen sim --exhaustive`` accepts (operands x rounding modes x ops).
MAX_EXHAUSTIVE = 1 << 26

#: Operand names of each operator.
INPUTS = {"fmul": ("a", "b"), "fadd": ("a", "b"), "ffma": ("a", "b", "c")}


# -- parameters <-> components -------------------------------------------------------------

def build_unit(p):
    """The component described by the parameter dict ``p``."""
    from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier
    kw = dict(out_fmt=p.get("out_fmt"), b_fmt=p.get("b_fmt"), rounding=p.get("rounding", "rne"),
              flags=has_flags(p))
    if p.get("cuts") is not None:            # a planned pipeline (target_mhz=) or explicit cuts
        kw["cuts"] = p["cuts"]
    else:
        kw["latency"] = p.get("latency", 0)
    if p["op"] == "fmul":
        return FloatMultiplier(p["fmt"], product=p.get("product", "auto"), **kw)
    if p["op"] == "fadd":
        return FloatAdder(p["fmt"], subtract=p.get("subtract", False), **kw)
    return FloatFMA(p["fmt"], c_fmt=p.get("c_fmt"), product=p.get("product", "auto"), **kw)


def has_flags(p):
    """Whether the unit ``p`` has a ``flags`` port (``p["flags"]``, default true)."""
    return p.get("flags", True)


def unit_params(comp):
    """The parameter dict that rebuilds ``comp`` (and its golden expectations); ``hwgen sim``
    passes it to the cocotb test."""
    fm = comp.input_formats
    p = {"op": {"FloatMultiplier": "fmul", "FloatAdder": "fadd", "FloatFMA": "ffma"}[
            type(comp).__name__],
         "fmt": fm["a"].name, "b_fmt": fm["b"].name, "out_fmt": comp.out_fmt.name,
         "rounding": comp.rounding, "latency": comp.latency}
    if comp.latency and tuple(comp.cuts) != tuple(type(comp)._cuts.get(comp.latency) or ()):
        p["cuts"] = list(comp.cuts)
    if "c" in fm:
        p["c_fmt"] = fm["c"].name
    if hasattr(comp, "subtract"):
        p["subtract"] = comp.subtract
    if comp.product != "auto":
        p["product"] = comp.product
    if not comp.has_flags:
        p["flags"] = False
    return p


def input_space(p):
    """Input combinations of the unit ``p``: every operand encoding, times the rounding codes
    0..4 of a dynamic-rounding unit, times both operations of a run-time add/subtract."""
    space = 1
    for f in INPUTS[p["op"]]:
        space <<= _formats(p)[f].width
    space *= 5 if p.get("rounding") == "dynamic" else 1
    space *= 2 if p.get("subtract") == "dynamic" else 1
    return space


def _formats(p):
    fa = parse_format(p["fmt"])
    return {"a": fa, "b": parse_format(p.get("b_fmt") or fa),
            "c": parse_format(p.get("c_fmt") or fa), "y": parse_format(p.get("out_fmt") or fa)}


def expected(p, ops, rm, sub=None):
    """Golden ``(y, flags)`` arrays for operand arrays ``ops`` and rounding codes ``rm``; the
    flags all 0 for a unit without them (``p["flags"]`` false)."""
    y, flags = _golden(p, ops, rm, sub)
    if not has_flags(p):
        flags = np.zeros_like(flags)
    return y, flags


def _golden(p, ops, rm, sub):
    f = _formats(p)
    rounding = rm if p.get("rounding") == "dynamic" else p.get("rounding", "rne")
    if p["op"] == "fmul":
        return golden.mul(f["a"], ops["a"], ops["b"], rounding, out_fmt=f["y"], b_fmt=f["b"])
    if p["op"] == "fadd":
        if sub is None:
            return golden.add(f["a"], ops["a"], ops["b"], rounding, out_fmt=f["y"], b_fmt=f["b"],
                              subtract=bool(p.get("subtract", False)))
        y1, f1 = golden.add(f["a"], ops["a"], ops["b"], rounding, out_fmt=f["y"], b_fmt=f["b"])
        y2, f2 = golden.add(f["a"], ops["a"], ops["b"], rounding, out_fmt=f["y"], b_fmt=f["b"],
                            subtract=True)
        return np.where(sub != 0, y2, y1), np.where(sub != 0, f2, f1)
    return golden.fma(f["a"], ops["a"], ops["b"], ops["c"], rounding, out_fmt=f["y"],
                      b_fmt=f["b"], c_fmt=f["c"])


# -- vectors ---------------------------------------------------------------------------------

def directed_values(fmt, small=False):
    """Encodings worth testing in every combination: zeros, subnormals, min/max normal,
    neighbours of 1 and of the range ends, powers of two that make halfway cases, Inf, NaNs."""
    f = parse_format(fmt)
    m, w = f.man_bits, f.width
    u = 1 << m if m else 1
    vals = set()
    enc = lambda field, mant: (field << m) | mant
    top_field = f.max_exp_field
    one_field = f.bias if 0 < f.bias <= top_field else max(1, min(top_field, 1))
    fields = {1, 2, one_field - 1, one_field, one_field + 1, top_field - 1, top_field}
    mants = {0, 1, u >> 1, (u >> 1) | 1, u - 1, u - 2} if m else {0}
    if small:
        fields = {1, one_field, top_field}
        mants = {0, u - 1} if m else {0}
    for fe in fields:
        if 1 <= fe <= top_field:
            for mt in mants:
                if 0 <= mt < u:
                    vals.add(enc(fe, mt))
    vals.add(f.max_bits)
    vals |= {0, 1, u - 1, u >> 1} if m else {0}          # zero and subnormals
    # Powers of two a few places below one (sums with them are exact ties).
    for k in (m + 1, m + 2) if not small else (m + 1,):
        if 1 <= one_field - k <= top_field:
            vals.add(enc(one_field - k, 0))
    if f.has_inf:
        vals.add(f.inf_bits)
    if f.has_nan:
        vals.add(f.nan_bits)
        if f.specials == "ieee" and m >= 2:
            vals.add(enc((1 << f.exp_bits) - 1, 1))     # signaling NaN
    vals = {v & ((1 << (w - 1)) - 1) for v in vals}
    out = sorted(vals | {v | f.sign_mask for v in vals})
    return np.array(out, dtype=np.int64)


def _grid(*arrays):
    mesh = np.meshgrid(*arrays, indexing="ij")
    return [x.ravel() for x in mesh]


def _modes(p, n, rng, codes=5):
    if p.get("rounding") != "dynamic":
        return np.zeros(n, dtype=np.int64)
    return rng.integers(0, codes, n)


def make_vectors(p, kind, rng):
    """Operand arrays, rounding codes and op bits for one ``kind`` of vector set."""
    f = _formats(p)
    names = INPUTS[p["op"]]
    dyn = p.get("rounding") == "dynamic"
    modes = np.arange(5) if dyn else np.zeros(1, dtype=np.int64)
    subs = np.arange(2) if p.get("subtract") == "dynamic" else np.zeros(1, dtype=np.int64)
    if kind in ("exhaustive", "directed"):
        if kind == "exhaustive":
            axes = [np.arange(1 << f[n].width) for n in names]
        else:
            small = p["op"] == "ffma"
            axes = [directed_values(f[n], small=small) for n in names]
        cols = _grid(*axes, modes, subs)
        ops = dict(zip(names, cols[:len(names)]))
        return ops, cols[len(names)], cols[len(names) + 1]
    assert kind.startswith("random:"), kind
    n = int(kind.split(":")[1])
    ops = {nm: _random_operands(f[nm], n, rng) for nm in names}
    if p["op"] == "fadd":
        # A quarter: b close to -a (or a), for cancellation.
        sel = rng.random(n) < 0.25
        near = golden.add(f["a"], ops["a"], np.zeros(n, dtype=np.int64), "rne",
                          out_fmt=f["b"])[0].astype(np.int64)
        near ^= rng.integers(0, 4, n) | (rng.integers(0, 2, n) << (f["b"].width - 1))
        ops["b"] = np.where(sel, near, ops["b"])
    if p["op"] == "ffma":
        sel = rng.random(n) < 0.25
        prod = golden.mul(f["a"], ops["a"], ops["b"], "rne", b_fmt=f["b"],
                          out_fmt=f["c"])[0].astype(np.int64)
        prod ^= rng.integers(0, 4, n) | (1 << (f["c"].width - 1))
        ops["c"] = np.where(sel, prod, ops["c"])
    return ops, _modes(p, n, rng, codes=8), (rng.integers(0, 2, n) if len(subs) == 2
                                              else np.zeros(n, dtype=np.int64))


def _random_operands(f, n, rng):
    """Half uniform encodings, half with the exponent field near its ends or near the bias."""
    w, m = f.width, f.man_bits
    uni = rng.integers(0, 1 << w, n)
    top = (1 << f.exp_bits) - 1
    pick = rng.integers(0, 3, n)
    near = np.select([pick == 0, pick == 1],
                     [rng.integers(0, min(4, top + 1), n),
                      rng.integers(max(0, top - 3), top + 1, n)],
                     default=np.clip(f.bias + rng.integers(-3, 4, n), 0, top))
    enc = (rng.integers(0, 2, n) << (w - 1)) | (near << m) | rng.integers(0, 1 << m, n)
    return np.where(rng.random(n) < 0.5, uni, enc).astype(np.int64)


# -- driving ---------------------------------------------------------------------------------

def _describe(p, ops, rm, sub, got, want):
    f = _formats(p)
    parts = []
    for nm, v in ops.items():
        parts.append(f"{nm}=0x{int(v):x} ({_num(f[nm], v)})")
    if p.get("rounding") == "dynamic":
        parts.append(f"rm={int(rm)}")
    if p.get("subtract") == "dynamic":
        parts.append(f"op={int(sub)}")
    (gy, gf), (wy, wf) = got, want
    return (", ".join(parts) + f": got y=0x{gy:x} ({_num(f['y'], gy)}) flags={gf:04b}, "
            f"expected y=0x{int(wy):x} ({_num(f['y'], wy)}) flags={int(wf):04b}")


def _num(fmt, bits):
    v = float(golden.decode(fmt, np.array([int(bits)]))[0])
    return repr(v)


class _Unit:
    """One unit under test inside the simulated top: its port handles, vectors and results.

    ``prefix`` names its ports in a group wrapper (``u3_a``); ``lanes`` copies of the unit sit
    side by side on concatenated ports, so one simulator step checks ``lanes`` vectors.
    """

    def __init__(self, dut, p, sets, rng, prefix="", lanes=1):
        self.p, self.lanes, self.prefix = p, lanes, prefix
        self.f = _formats(p)
        self.names = list(INPUTS[p["op"]])
        self.dyn = p.get("rounding") == "dynamic"
        self.dsub = p.get("subtract") == "dynamic"
        self.lat = int(p.get("latency", 0))
        h = lambda nm: getattr(dut, prefix + nm)
        self.h_in = [h(nm) for nm in self.names]
        self.h_rm = h("rm") if self.dyn else None
        self.h_op = h("op") if self.dsub else None
        self.h_y = h("y")
        self.h_f = h("flags") if has_flags(p) else None
        if self.lat:
            self.h_iv, self.h_ov = h("in_valid"), h("out_valid")
        parts = [make_vectors(p, kind, rng) for kind in sets]
        self.ops = {nm: np.concatenate([q[0][nm] for q in parts]) for nm in self.names}
        self.rm = np.concatenate([q[1] for q in parts])
        self.sub = np.concatenate([q[2] for q in parts])
        self.want_y, self.want_f = expected(p, self.ops, self.rm,
                                            self.sub if self.dsub else None)
        self.n = len(self.rm)
        # Inputs per step: packed lanes (the tail padded with copies of vector 0).
        cols = [self.ops[nm] for nm in self.names]
        widths = [self.f[nm].width for nm in self.names]
        if self.dyn:
            cols.append(self.rm)
            widths.append(3)
        if self.dsub:
            cols.append(self.sub)
            widths.append(1)
        self.handles = self.h_in + ([self.h_rm] if self.dyn else []) + (
            [self.h_op] if self.dsub else [])
        self.steps = -(-self.n // lanes)
        self.all_lanes = (1 << lanes) - 1       # in_valid/out_valid of every lane
        self.inputs = [_pack(c, wd, lanes, self.steps) for c, wd in zip(cols, widths)]
        self.raw_y, self.raw_f = [], []
        self.widths = widths

    def put(self, step):
        for hd, col in zip(self.handles, self.inputs):
            hd.value = col[step]

    def put_garbage(self, rng):
        for hd, wd in zip(self.handles, self.widths):
            hd.value = int(rng.integers(0, 1 << wd))

    def flags(self):
        """The flags output now (0 for a unit without one: its expectations are 0)."""
        return int(self.h_f.value) if self.h_f is not None else 0

    def get(self):
        self.raw_y.append(int(self.h_y.value))
        self.raw_f.append(self.flags())

    def results(self):
        yw = self.f["y"].width
        if self.lanes == 1:
            gy, gf = self.raw_y, self.raw_f
        else:
            gy = [(v >> (yw * k)) & ((1 << yw) - 1) for v in self.raw_y
                  for k in range(self.lanes)]
            gf = [(v >> (4 * k)) & 0xF for v in self.raw_f for k in range(self.lanes)]
        return np.array(gy[:self.n], dtype=np.int64), np.array(gf[:self.n], dtype=np.int64)


def _pack(col, width, lanes, steps):
    col = np.concatenate([col, np.repeat(col[:1], steps * lanes - len(col))])
    if lanes == 1:
        return col.tolist()
    out = []
    for row in col.reshape(-1, lanes).tolist():
        v = 0
        for k, x in enumerate(row):
            v |= x << (width * k)
        out.append(v)
    return out


async def _drive_comb(units):
    """All units in lockstep, one step (one vector per lane) per nanosecond."""
    from cocotb.triggers import Timer
    for step in range(max(u.steps for u in units)):
        live = [u for u in units if step < u.steps]
        for u in live:
            u.put(step)
        await Timer(1, "ns")
        for u in live:
            u.get()
    return []


async def _drive_pipe(dut, units, rng):
    """One step per clock per unit (a vector in each of its lanes) with a random in_valid
    pattern shared by its lanes; each result must come out exactly ``latency`` cycles after
    its operands, in every lane at once (checked from the out_valid timing)."""
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for u in units:
        u.h_iv.value = 0
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    errors = []
    state = [{"next": 0, "issued": [], "out": 0, "got": {}} for _ in units]
    cycle = 0
    limit = 4 * max(u.steps for u in units) + 100
    while any(st["next"] < u.steps or st["out"] < len(st["issued"])
              for u, st in zip(units, state)):
        for u, st in zip(units, state):
            ov = int(u.h_ov.value)
            if ov not in (0, u.all_lanes):
                errors.append(f"{u.prefix}lanes disagree on out_valid at cycle {cycle}: "
                              f"{ov:0{u.lanes}b}")
            if ov:                       # results of the rising edge just past
                if st["out"] >= len(st["issued"]):
                    errors.append(f"{u.prefix}out_valid at cycle {cycle} with nothing in flight")
                else:
                    c0, idx = st["issued"][st["out"]]
                    st["out"] += 1
                    if cycle - c0 != u.lat:
                        errors.append(f"{u.prefix}vector {idx} came out after {cycle - c0} "
                                      f"cycles, expected latency {u.lat}")
                    st["got"][idx] = (int(u.h_y.value), u.flags())
            if st["next"] < u.steps and rng.random() >= 0.3:
                u.put(st["next"])
                u.h_iv.value = u.all_lanes
                st["issued"].append((cycle, st["next"]))
                st["next"] += 1
            else:
                u.put_garbage(rng)       # operands of idle cycles must not matter
                u.h_iv.value = 0
        await FallingEdge(dut.clk)
        cycle += 1
        if cycle > limit:
            errors.append("timeout waiting for out_valid")
            break
    for u, st in zip(units, state):
        u.raw_y = [st["got"].get(i, (-1, -1))[0] for i in range(u.steps)]
        u.raw_f = [st["got"].get(i, (-1, -1))[1] for i in range(u.steps)]
    return errors


def cocotb_check(op, module):
    """The cocotb test of operator ``op`` for the test module ``module`` (its ``__name__``):
    ``check = cocotb_check("fmul", __name__)`` registers it there."""
    import cocotb

    async def check_op(dut):
        await check(dut, op)
    check_op.__name__ = check_op.__qualname__ = "check"
    check_op.__module__ = module
    return cocotb.test()(check_op)


async def check(dut, op):
    """The body of every float-operator cocotb test: drive, compare, report.

    ``params["units"]`` lists the units of a group wrapper (each with its ``prefix``,
    ``lanes``, ``sets`` and ``seed``); without it the top is the unit itself (``hwgen sim``).
    """
    p = dict(get_params())
    seed = int(p.get("seed") or 1)
    rng = np.random.default_rng(seed)
    if "units" in p:
        specs = p["units"]
    else:
        p.setdefault("op", op)
        specs = [dict(p, sets=_cli_sets(p) if p.get("mode") == "cli"
                      else p.get("sets", ["directed"]))]
    t0 = time.monotonic()
    units = [_Unit(dut, sp, sp["sets"], np.random.default_rng(int(sp.get("seed") or seed)),
                   prefix=sp.get("prefix", ""), lanes=int(sp.get("lanes", 1))) for sp in specs]
    t_golden = time.monotonic() - t0
    if any(u.lat for u in units):
        errors = await _drive_pipe(dut, units, rng)
    else:
        errors = await _drive_comb(units)
    total = bad = 0
    first, per_unit = [], {}
    for u, sp in zip(units, specs):
        got_y, got_f = u.results()
        wrong = np.nonzero((got_y != u.want_y.astype(np.int64)) |
                           (got_f != u.want_f.astype(np.int64)))[0]
        total += u.n
        bad += len(wrong)
        label = sp.get("label", sp.get("prefix", ""))
        per_unit[label or "unit"] = {"vectors": u.n, "mismatches": int(len(wrong))}
        for idx in wrong[:max(0, 10 - len(first))]:
            first.append((f"{label}: " if label else "") + _describe(
                u.p, {nm: u.ops[nm][idx] for nm in u.names}, u.rm[idx], u.sub[idx],
                (int(got_y[idx]), int(got_f[idx])), (u.want_y[idx], u.want_f[idx])))
    secs = time.monotonic() - t0
    write_report({"vectors": total, "mismatches": bad, "first_mismatches": first,
                  "seconds": secs, "golden_seconds": t_golden, "units": per_unit,
                  "errors": errors[:10]})
    dut._log.info("%d vectors, %d mismatches, %.1f s (%.0f vectors/s)", total, bad, secs,
                  total / secs if secs else 0)
    assert not errors, errors[:3]
    assert bad == 0, f"{bad} mismatches of {total}; first: {first[:3]}"


#: Copies of a combinational operator ``hwgen sim`` checks side by side (vectors per
#: simulator step): the step's cost is mostly cocotb's, so lanes multiply the rate.
CLI_LANES = 16


def cli_top(comp, params):
    """``(verilog, toplevel, params)`` of ``hwgen sim``'s top for ``comp``: the unit in
    :data:`CLI_LANES` lanes of a :func:`group_wrapper` (the same vectors, split over the
    lanes; a pipelined unit's lanes share the random in_valid pattern, and each lane's
    results must come out exactly ``latency`` cycles after its operands)."""
    sets = _cli_sets(params)
    spec = dict(unit_params(comp), prefix="u0_", lanes=CLI_LANES, sets=sets,
                seed=int(params.get("seed") or 1), label=comp.module_name)
    name = f"{comp.module_name}_x{CLI_LANES}"
    top_params = dict(params, units=[spec])
    return group_wrapper(name, [(comp, CLI_LANES)]), name, top_params


def _cli_sets(p):
    space = input_space(p)
    if p.get("exhaustive"):
        if space > MAX_EXHAUSTIVE:
            msg = (f"exhaustive check refused: {space:,} input combinations exceed the limit "
                   f"of 2**26 = {MAX_EXHAUSTIVE:,}; use --vectors N")
            write_report({"vectors": 0, "mismatches": 0, "first_mismatches": [msg],
                          "seconds": 0})
            raise AssertionError(msg)
        return ["exhaustive"]
    return [f"random:{int(p.get('vectors') or 100000)}"]


# -- pytest side -----------------------------------------------------------------------------

def group_wrapper(name, entries):
    """Verilog of a top module ``name`` holding several units, each in ``lanes`` copies.

    ``entries`` is a list of ``(component, lanes)``. Unit ``i``'s ports appear as ``u<i>_<port>``
    (``lanes`` times as wide: lane ``k`` in bits ``[k*w, (k+1)*w)``); clocked units share the
    top's ``clk`` and ``rst``. The units are the unchanged generated modules: the wrapper only
    slices ports, so one build and one simulator step cover many vectors of many variants.
    """
    from amaranth.lib import wiring
    from hwgen.export import check_identifier, to_verilog
    check_identifier(name)
    texts, seen, decls, insts, ports = [], set(), [], [], []
    clocked = any(comp.latency for comp, _ in entries)
    if clocked:
        ports += ["clk", "rst"]
        decls += ["  input clk;", "  input rst;"]
    for i, (comp, lanes) in enumerate(entries):
        mod, text = to_verilog(comp)
        if mod not in seen:
            seen.add(mod)
            texts.append(text)
        sig = [(path[0], member.flow == wiring.In, len(value))
               for path, member, value in comp.signature.flatten(comp)]
        for nm, is_in, width in sig:
            ports.append(f"u{i}_{nm}")
            decls.append(f"  {'input' if is_in else 'output'} [{width * lanes - 1}:0] u{i}_{nm};")
        for k in range(lanes):
            conns = [f".{nm}(u{i}_{nm}[{width * (k + 1) - 1}:{width * k}])"
                     for nm, _, width in sig]
            if comp.latency:
                conns = [".clk(clk)", ".rst(rst)"] + conns
            insts.append(f"  {mod} u{i}_lane{k} ({', '.join(conns)});")
    body = [f"module {name}({', '.join(ports)});"] + decls + insts + ["endmodule"]
    return "\n".join(texts) + "\n" + "\n".join(body) + "\n"


def run_group(name, test_module, entries, seed=1):
    """Build one wrapper ``name`` holding every unit of ``entries`` and run the cocotb test.

    ``entries``: dicts with ``comp`` and optional ``sets`` (default ``["directed"]``),
    ``lanes`` (default 1, combinational units only) and ``seed``. Returns the SimResult.
    """
    from .runner import run
    specs, wrap = [], []
    for i, e in enumerate(entries):
        comp = e["comp"]
        lanes = 1 if comp.latency else int(e.get("lanes", 1))
        sp = unit_params(comp)
        sp.update(prefix=f"u{i}_", lanes=lanes, sets=list(e.get("sets", ["directed"])),
                  seed=int(e.get("seed", seed + i)), label=comp.module_name)
        specs.append(sp)
        wrap.append((comp, lanes))
    res = run(verilog=group_wrapper(name, wrap), toplevel=name, test_module=test_module,
              params={"units": specs, "seed": seed})
    if res.build_dir is not None and res.report:
        # The runner keeps only failing runs' logs; keep the last report (vectors, seconds).
        import json
        (res.build_dir / "last_report.json").write_text(
            json.dumps(dict(res.report, total_seconds=res.seconds), sort_keys=True))
    return res


def assert_passed(res):
    rep = res.report
    bad_units = {k: v for k, v in rep.get("units", {}).items() if v.get("mismatches")}
    assert res.passed and rep.get("mismatches") == 0 and rep.get("vectors", 0) > 0, (
        f"{res.toplevel}: {res.failed}/{res.tests} tests failed, "
        f"{rep.get('mismatches')} mismatches of {rep.get('vectors')} (by unit: {bad_units}): "
        f"{rep.get('first_mismatches', [])[:3]} {rep.get('errors', '')}; logs in {res.build_dir}")


# -- golden vectors for the plain Verilog testbench (hwgen vectors) ------------------------

def plain_word_fields(p):
    """``[(name, width), ...]`` of one vector word of ``rtl_tests/plain/float_tb.v``, high
    bits first: ``{rm, c, b, a, flags, y}`` (``rm`` 3 bits, 0 for a static rounding; ``c`` 1
    bit, 0, for the two-input operators)."""
    f = _formats(p)
    wc = f["c"].width if p["op"] == "ffma" else 1
    return [("rm", 3), ("c", wc), ("b", f["b"].width), ("a", f["a"].width), ("flags", 4),
            ("y", f["y"].width)]


def plain_vectors(p, sets, seed=1):
    """Golden vector words of the unit ``p`` for the plain testbench, one int per vector.

    ``sets`` are vector-set kinds as :func:`make_vectors` takes them (``"directed"``,
    ``"exhaustive"``, ``"random:N"``), concatenated in order from one generator seeded with
    ``seed``. Raises ValueError for a run-time add/subtract (the testbench has no ``op``
    input)."""
    if p.get("subtract") == "dynamic":
        raise ValueError("the plain testbench has no op input: give fadd a fixed "
                         "--subtract, not dynamic")
    rng = np.random.default_rng(seed)
    parts = [make_vectors(p, kind, rng) for kind in sets]
    names = INPUTS[p["op"]]
    ops = {nm: np.concatenate([q[0][nm] for q in parts]) for nm in names}
    rm = np.concatenate([q[1] for q in parts])
    y, flags = expected(p, ops, rm)
    if p.get("rounding") != "dynamic":
        rm = np.zeros_like(rm)
    cols = {"rm": rm, "c": ops.get("c", np.zeros_like(rm)), "b": ops["b"], "a": ops["a"],
            "flags": flags, "y": y}
    words = [0] * len(rm)
    for name, width in plain_word_fields(p):
        col = cols[name]
        words = [(w << width) | int(v) for w, v in zip(words, col)]
    return words


def plain_hex(words, p):
    """The words as the testbench ``$readmemh``s them: one per line, zero-padded hex."""
    digits = -(-sum(w for _, w in plain_word_fields(p)) // 4)
    return "".join(f"{w:0{digits}x}\n" for w in words)


def plain_defines(p, module_name, nmax):
    """The ``-D`` defines of the plain testbench for the unit ``p`` named ``module_name``."""
    f = _formats(p)
    d = {"DUT": module_name, "WA": f["a"].width, "WB": f["b"].width, "WY": f["y"].width,
         "LATENCY": p.get("latency", 0), "NMAX": nmax}
    if p["op"] == "ffma":
        d.update(HAS_C=1, WC=f["c"].width)
    if p.get("rounding") == "dynamic":
        d["HAS_RM"] = 1
    if p.get("latency", 0):
        d["CLOCKED"] = 1
    if not has_flags(p):
        d["NO_FLAGS"] = 1
    return d
