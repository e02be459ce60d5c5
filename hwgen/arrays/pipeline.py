# amaranth: UnusedElaboratable=no
# (probe operators: only their delay estimates are used)
"""Frequency-directed PE pipelines: the ``mul_latency`` / ``add_latency`` of a systolic array
chosen for a requested clock (``hwgen build --target-mhz F``).

A weight-stationary float PE is a multiplier and an adder (``F:ACC:rounded``) or one FMA
(``F:ACC:fused``), each with the fixed pipeline table of :mod:`hwgen.units.floatop`
(``latency=N``). :func:`plan_pe_pipeline` takes the fewest stages whose every stage the
device's delay model (:mod:`hwgen.timing`) estimates to fit ``1000 / F`` ns. A rounded PE's
multiplier feeds its adder without a register between them, so its two latencies are chosen
together, on the chained datapath (:func:`rounded_pe_estimate`): the multiplier's last stage
and the adder's first are one clock period.
``F:exact`` PEs have two fixed tables instead: the product path (``mul_latency`` 0..2:
a register before the multiplier (arrays align the operands where they enter, so it only
pays for formats whose significands' product is shifted), the multiplier or shifter, the
Kulisch add) and the column read-out (``add_latency`` 0..3: the rounder,
:func:`~hwgen.arrays.pe.readout_cuts`); each gets the fewest stages the model says fit
(on an ECP5 with the routes to and from the DSP block that an array has,
:data:`ARRAY_DSP_ROUTE_NS`).
The estimate covers the PE's operators only (not the array's wiring, the skew registers or
the host link around it): the build still measures the achieved clock and says whether it
was met.
"""

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from ..arrayspec import check_pe_latency
from ..pespec import PESpec, parse_pe
from ..timing import (DelayModel, Plan, Segment, check_device, check_target_mhz, delay_model,
                      plan_cuts)

if TYPE_CHECKING:
    from ..formats import FloatFormat

__all__ = ["PEPipeline", "plan_pe_pipeline", "rounded_pe_estimate", "ARRAY_DSP_ROUTE_NS"]

#: Routing (ns) between a PE's logic and its DSP block in a routed array, on each side of the
#: block, beyond what the delay model's DSP products (a block between two registers, placed
#: alone) include; per device family. Read from the critical paths of routed ECP5 85F arrays
#: (docs/fast_pes.md): in a 9×9 ``e4m3:exact`` array the placer put a PE's DSP block 37
#: columns from its logic, 6.7 ns of routing into the block and 6.1 ns back, against about
#: 1.5 ns each way in the block measurements.
ARRAY_DSP_ROUTE_NS = {"ecp5": 5.0}


@dataclass(frozen=True)
class PEPipeline:
    """A PE pipeline chosen for a clock.

    Attributes
    ----------
    mul_latency, add_latency : int
        As :class:`~hwgen.arrays.systolic.SystolicArray` takes them.
    target_mhz : float
        The request.
    device : str
    estimate_mhz : float
        The delay model's estimate for the slowest operator with those latencies.
    """
    mul_latency: int
    add_latency: int
    target_mhz: float
    device: str
    estimate_mhz: float

    def summary(self) -> str:
        return (f"PE pipeline for {self.target_mhz:g} MHz on {self.device}: mul latency "
                f"{self.mul_latency}, add latency {self.add_latency} (operators estimated "
                f"{self.estimate_mhz:.1f} MHz)")


def _operators(pe):
    """``[(name, build(latency), latencies)]`` of a fused PE's pipelinable operator."""
    from ..units import FloatFMA
    from .pe import float_pe_product
    return [("fma", lambda n: FloatFMA(pe.a_fmt, b_fmt=pe.w_fmt, c_fmt=pe.acc_fmt,
                                       out_fmt=pe.acc_fmt, latency=n,
                                       product=float_pe_product(pe)), range(5))]


def _prefixed(segments, prefix):
    return [replace(s, cut=None if s.cut is None else prefix + s.cut) for s in segments]


def rounded_pe_estimate(pe: PESpec | str, mul_latency: int, add_latency: int,
                        device: "str") -> Plan:
    """The delay model's estimate of an ``F:ACC:rounded`` PE with these latencies: its
    multiplier and adder as one datapath, since the multiplier's result feeds the adder
    without a register (unless the multiplier's table puts one on its output): the stage
    after the multiplier's last register runs on into the adder's first."""
    from ..units import FloatAdder, FloatMultiplier
    from .pe import PE_ADDER_CUTS, float_pe_product
    spec = parse_pe(pe)
    a, w, acc = (cast("FloatFormat", f) for f in (spec.a_fmt, spec.w_fmt, spec.acc_fmt))
    mul = FloatMultiplier(a, out_fmt=acc, b_fmt=w, latency=mul_latency,
                          product=float_pe_product(spec))
    add = FloatAdder(acc, cuts=PE_ADDER_CUTS[add_latency])
    # the PE's own model: the operators' factors are fitted on them alone
    model = delay_model(device)
    segments = _prefixed(mul.segments(model), "mul.") + _prefixed(add.segments(model),
                                                                    "add.")
    cuts = [f"mul.{c}" for c in mul.cuts] + [f"add.{c}" for c in add.cuts]
    return plan_cuts(segments, cuts, device, model=model)


def _plan_rounded(spec: PESpec, target: float, device: str,
                  dataflow: str) -> PEPipeline:
    """``F:ACC:rounded``: the fewest registers in all (multiplier and adder latencies, 0..3
    each) whose chained estimate (:func:`rounded_pe_estimate`) reaches ``target``; among
    equally many, the highest estimate."""
    best = (0.0, 0, 0)
    for total in range(7):
        pairs = [(n, total - n) for n in range(4) if 0 <= total - n <= 3]
        ests = [(rounded_pe_estimate(spec, n, m, device).fmax_mhz, n, m) for n, m in pairs]
        est, n, m = max(ests, key=lambda e: (e[0], -e[1]))
        if est > best[0]:
            best = (est, n, m)
        if est >= target:
            check_pe_latency(spec, dataflow, n, m)
            return PEPipeline(n, m, target, device, est)
    raise ValueError(f"Target of {target:g} MHz is not reachable for {spec.spec} PEs on "
                     f"{device}: the highest estimate is {best[0]:.1f} MHz (mul latency "
                     f"{best[1]}, add latency {best[2]})")


class _Estimate:
    """What :func:`plan_pe_pipeline` asks of a pipeline choice: ``estimate(device)``."""

    def __init__(self, segments: list[Segment], cuts: tuple[str, ...]) -> None:
        self._segments, self._cuts = segments, cuts

    def estimate(self, model: DelayModel) -> Plan:
        return plan_cuts(self._segments, self._cuts, model.device, model=model)


def _exact_paths(pe, device):
    """The product path and the read-out of an ``F:exact`` PE as ``_operators`` gives them,
    each latency an estimate of its fixed cut set. On an ECP5 a :func:`~.pe.prealigned`
    PE's product path adds :data:`ARRAY_DSP_ROUTE_NS` on each side of its DSP block: the
    routes that the block measurements do not see, and that the product's registers (the
    block's own there, :func:`~hwgen.units.dsp.registered_product`) take out of the path."""
    from ..units.rounder import RounderGeometry
    from .pe import exact_aligned_width, prealigned, readout_cuts
    model = delay_model(device)
    wa, ww = exact_aligned_width(pe.a_fmt), exact_aligned_width(pe.w_fmt)
    pa, pw = pe.a_fmt.precision, pe.w_fmt.precision
    add = Segment("add", model.logic(2) + model.adder(pe.acc_bits + 1))
    if pe.accumulate == "window":
        # the significands' product, shifted into the window, then a saturating add
        width = pe.window[1] - pe.window[0]
        product = [Segment("product", model.multiplier(pa, pw), "align"),
                   Segment("shift", model.shifter(width + 2 * (pa + pw), width + pa + pw),
                           "product")]
        add = Segment("add", model.logic(2) + model.adder(width + 3) + model.mux(3))
    elif prealigned(pe):
        # the operands enter the PE aligned, from registers (the array aligns them where
        # they enter it): one product; the "align" cut only adds a register before it
        route = ARRAY_DSP_ROUTE_NS.get(model.family, 0.0)
        product = [Segment("align", route, "align"),
                   Segment("product", model.multiplier(wa, ww), "product")]
        add = Segment("add", route + add.delay)
    else:
        # the significands' product, then the shift to its place
        product = [Segment("product", model.multiplier(pa, pw), "align"),
                   Segment("shift", model.shifter(pe.acc_bits, wa + ww - pa - pw), "product")]
    product.append(add)
    geom = RounderGeometry(pe.out_fmt, pe.acc_bits, (pe.fixed_lsb, pe.fixed_lsb))
    readout = [Segment("abs", model.adder(pe.acc_bits) + model.mux(2), "abs"),
               *geom.segments(model)]
    product_cuts = {0: (), 1: ("product",), 2: ("align", "product")}
    return [("product path", lambda n: _Estimate(product, product_cuts[n]), range(3)),
            ("read-out", lambda n: _Estimate(readout, readout_cuts(pe, n)), range(4))]


def plan_pe_pipeline(pe: PESpec | str, target_mhz: float, device: "str",
                     dataflow: str = "ws") -> PEPipeline:
    """The :class:`PEPipeline` of the PE spec ``pe`` for ``target_mhz`` on ``device``.

    Raises
    ------
    ValueError
        A PE or dataflow without a pipeline (integer, ternary, bit-serial and dual-precision
        PEs, output-stationary arrays of rounded or fused PEs), a bad target or device, or
        a target that no pipeline of the table reaches (the message gives the best estimate).
    """
    target = check_target_mhz(target_mhz)
    device = cast(str, check_device(device))
    spec = parse_pe(pe)
    if spec.kind == "mx" and dataflow == "os":
        return _plan_mx(spec, target, device, dataflow)
    if spec.kind == "float" and spec.accumulate == "rounded" and dataflow == "ws":
        return _plan_rounded(spec, target, device, dataflow)
    if spec.kind != "float" or (dataflow != "ws" and not spec.fixed_point):
        raise ValueError(f"A target frequency pipelines the PEs of weight-stationary arrays "
                         f"of F:ACC:rounded, F:ACC:fused or F:exact PEs and of "
                         f"output-stationary arrays of F:exact or mx PEs; {spec.spec!r} "
                         f"({dataflow}) has no PE pipeline")
    chosen, slowest = {}, float("inf")
    for name, build, latencies in (_exact_paths(spec, device) if spec.fixed_point
                                   else _operators(spec)):
        best = None
        for n in latencies:
            est = build(n).estimate(delay_model(device)).fmax_mhz
            if best is None or est > best[1]:
                best = (n, est)
            if est >= target:
                chosen[name] = (n, est)
                break
        else:
            raise ValueError(f"Target of {target:g} MHz is not reachable for the {name} of "
                             f"{spec.spec} PEs on {device}: the highest estimate is "
                             f"{cast('tuple[int, float]', best)[1]:.1f} MHz (latency "
                             f"{cast('tuple[int, float]', best)[0]})")
        slowest = min(slowest, chosen[name][1])
    if spec.fixed_point:
        mul, add = chosen["product path"][0], chosen["read-out"][0]
    else:
        mul, add = 0, chosen["fma"][0]
    check_pe_latency(spec, dataflow, mul, add)
    return PEPipeline(mul, add, target, device, slowest)


def _plan_mx(spec: PESpec, target: float, device: str, dataflow: str) -> PEPipeline:
    """MX PEs: the fewest registers in the columns' FP32 accumulation (``add_latency``,
    :func:`~hwgen.arrays.mxpe.mx_acc_cuts`) whose estimate reaches ``target``; the PE's
    block-sum path (product and block add) has no register and must reach it as it is."""
    from ..arrayspec import MX_MAX_ACC_LATENCY
    from ..timing import delay_model
    from .mxpe import mx_acc_cuts, mx_pe_paths
    block, acc = mx_pe_paths(spec, delay_model(device))
    fixed = plan_cuts(block, (), device).fmax_mhz
    best = (0, 0.0)
    for n in range(MX_MAX_ACC_LATENCY + 1):
        est = min(fixed, plan_cuts(acc, mx_acc_cuts(spec, n), device).fmax_mhz)
        if est > best[1]:
            best = (n, est)
        if est >= target:
            check_pe_latency(spec, dataflow, 0, n)
            return PEPipeline(0, n, target, device, est)
    raise ValueError(f"Target of {target:g} MHz is not reachable for {spec.spec} PEs on "
                     f"{device}: the highest estimate is {best[1]:.1f} MHz (accumulation "
                     f"latency {best[0]})")
