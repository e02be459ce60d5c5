# amaranth: UnusedElaboratable=no
# (probe operators: only their delay estimates are used)
"""Frequency-directed PE pipelines: the ``mul_latency`` / ``add_latency`` of a systolic array
chosen for a requested clock (``hwgen build --target-mhz F``).

A weight-stationary float PE is a multiplier and an adder (``F:ACC:rounded``) or one FMA
(``F:ACC:fused``), each with the fixed pipeline table of :mod:`hwgen.units.floatop`
(``latency=N``). :func:`plan_pe_pipeline` takes, for each operator, the fewest stages whose
every stage the device's delay model (:mod:`hwgen.timing`) estimates to fit ``1000 / F`` ns.
The estimate covers the PE's operators only (not the array's wiring, the skew registers or
the host link around it): the build still measures the achieved clock and says whether it
was met.
"""

from dataclasses import dataclass

from ..arrayspec import check_pe_latency
from ..pespec import parse_pe
from ..timing import check_device, check_target_mhz

__all__ = ["PEPipeline", "plan_pe_pipeline"]


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

    def summary(self):
        return (f"PE pipeline for {self.target_mhz:g} MHz on {self.device}: mul latency "
                f"{self.mul_latency}, add latency {self.add_latency} (operators estimated "
                f"{self.estimate_mhz:.1f} MHz)")


def _operators(pe):
    """``[(name, build(latency), max latency)]`` of a float PE's pipelinable operators."""
    from ..units import FloatAdder, FloatFMA, FloatMultiplier
    if pe.accumulate == "rounded":
        return [("multiplier", lambda n: FloatMultiplier(pe.a_fmt, out_fmt=pe.acc_fmt,
                                                         b_fmt=pe.w_fmt, latency=n), 3),
                ("adder", lambda n: FloatAdder(pe.acc_fmt, latency=n), 3)]
    return [("fma", lambda n: FloatFMA(pe.a_fmt, b_fmt=pe.w_fmt, c_fmt=pe.acc_fmt,
                                       out_fmt=pe.acc_fmt, latency=n), 4)]


def plan_pe_pipeline(pe, target_mhz, device, dataflow="ws"):
    """The :class:`PEPipeline` of the PE spec ``pe`` for ``target_mhz`` on ``device``.

    Raises
    ------
    ValueError
        A PE or dataflow without a pipeline (integer, ternary, bit-serial, dual-precision and
        exact PEs, output-stationary arrays), a bad target or device, or a target that no
        pipeline of the table reaches (the message gives the best estimate).
    """
    target = check_target_mhz(target_mhz)
    device = check_device(device)
    spec = parse_pe(pe)
    if dataflow != "ws" or spec.kind != "float" or spec.accumulate not in ("rounded", "fused"):
        raise ValueError(f"A target frequency pipelines the PEs of weight-stationary arrays "
                         f"of F:ACC:rounded or F:ACC:fused PEs; {spec.spec!r} ({dataflow}) "
                         f"has no PE pipeline")
    chosen, slowest = {}, float("inf")
    for name, build, hi in _operators(spec):
        best = None
        for n in range(hi + 1):
            est = build(n).estimate(device).fmax_mhz
            if best is None or est > best[1]:
                best = (n, est)
            if est >= target:
                chosen[name] = (n, est)
                break
        else:
            raise ValueError(f"Target of {target:g} MHz is not reachable for the {name} of "
                             f"{spec.spec} PEs on {device}: the highest estimate is "
                             f"{best[1]:.1f} MHz (latency {best[0]})")
        slowest = min(slowest, chosen[name][1])
    if spec.accumulate == "rounded":
        mul, add = chosen["multiplier"][0], chosen["adder"][0]
    else:
        mul, add = 0, chosen["fma"][0]
    check_pe_latency(spec, dataflow, mul, add)
    return PEPipeline(mul, add, target, device, slowest)
