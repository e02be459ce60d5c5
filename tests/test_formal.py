"""Formal proofs (SymbiYosys + Yices, :mod:`hwgen.verify`): pipelining never changes a result,
and the combinational e2m1 operators compute the golden model's table.

Every pipeline proof is k-induction (``mode prove``: a pass holds for every reachable state
and every input sequence, unbounded). The table proofs are of combinational designs, where one
step covers every input. Each kind of check is also run on a deliberately wrong miter (the
reference delayed one cycle too few, rounding in another mode, a table in another mode) and
must then fail with a counterexample trace: the checks can fail."""

import pytest

from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier
from hwgen.verify import PipelineMiter, TableMiter, prove


def _all_cuts(cls, fmt):
    return dict(cuts=list(cls(fmt).cut_points))


PIPELINES = [
    ("fmul", "e4m3", "dynamic", dict(latency=3)),
    ("fmul", "e4m3", "rne", _all_cuts(FloatMultiplier, "e4m3")),
    ("fadd", "e3m2", "dynamic", dict(latency=2)),
    ("fadd", "e4m3", "rne", _all_cuts(FloatAdder, "e4m3")),
    ("fadd", "e4m3", "dynamic", dict(target_mhz=66, device="ecp5-85f")),
    ("ffma", "e2m1", "dynamic", dict(latency=2)),
    ("ffma", "e3m2", "rne", _all_cuts(FloatFMA, "e3m2")),
    # without flags (y alone), the product from conditional adds (the lean fmul's operands
    # normalized first)
    ("fmul", "e4m3", "rne", dict(latency=2, flags=False, product="shiftadd")),
    # ffma e4m3 (27 s) is proven by docs/verification.md's command, not in every CI run
]


@pytest.mark.parametrize("op, fmt, rounding, pipe", PIPELINES,
                         ids=[f"{o}-{f}-{r}-{'-'.join(f'{k}{v}' for k, v in p.items())[:24]}"
                              for o, f, r, p in PIPELINES])
def test_pipelined_equals_unpipelined(tmp_path, op, fmt, rounding, pipe):
    m = PipelineMiter(op, fmt, rounding=rounding, dut_kwargs=pipe)
    r = prove(m, tmp_path, mode="prove", depth=m.dut.latency + 2)
    assert r.status == "pass", r.log
    assert "successful proof by k-induction" in (tmp_path / "miter" / "logfile.txt").read_text()


@pytest.mark.parametrize("mistake", [dict(ref_delay=1), dict(ref_kwargs=dict(rounding="rtz"))],
                         ids=["valid-shift-one-short", "other-rounding"])
def test_pipeline_check_catches_a_mistake(tmp_path, mistake):
    m = PipelineMiter("fmul", "e4m3", rounding="rne", dut_kwargs=dict(latency=2), **mistake)
    r = prove(m, tmp_path, mode="prove", depth=4)
    assert r.status == "fail", r.log
    assert r.trace is not None and r.trace.endswith(".vcd")


@pytest.mark.parametrize("op, rounding, kw", [("fadd", "dynamic", {}),
                                              ("fmul", "rtz", dict(flags=False))])
def test_e2m1_units_compute_the_golden_table(tmp_path, op, rounding, kw):
    m = TableMiter(op, "e2m1", rounding=rounding, unit_kwargs=kw)
    n_ops = 3 if op == "ffma" else 2
    assert len(m.table()) == (16 ** n_ops) * (5 if rounding == "dynamic" else 1)
    r = prove(m, tmp_path, mode="bmc", depth=1)
    assert r.status == "pass", r.log


@pytest.mark.parametrize("kw", [{}, dict(flags=False)], ids=["flags", "no-flags"])
def test_table_check_catches_a_mistake(tmp_path, kw):
    m = TableMiter("fmul", "e2m1", rounding="rne", table_kwargs=dict(rounding="rtz"),
                   unit_kwargs=kw)
    r = prove(m, tmp_path, mode="bmc", depth=1)
    assert r.status == "fail" and r.trace is not None


def test_no_flags_pipeline_check_catches_a_mistake(tmp_path):
    """Without flags the check is on y alone, and still fails on a wrong reference."""
    m = PipelineMiter("fmul", "e4m3", rounding="rne", dut_kwargs=dict(latency=2, flags=False),
                      ref_kwargs=dict(rounding="rtz"))
    assert not m.ref.has_flags
    r = prove(m, tmp_path, mode="prove", depth=4)
    assert r.status == "fail" and r.trace is not None


def test_bad_arguments():
    with pytest.raises(ValueError, match="Mode must be one of prove, bmc, not 'sim'"):
        prove("", "/nonexistent", mode="sim")
    with pytest.raises(ValueError, match="Depth must be a positive integer, not 0"):
        prove("", "/nonexistent", depth=0)
    with pytest.raises(ValueError, match="Operator must be one of fmul, fadd, ffma"):
        PipelineMiter("fdiv", "e4m3", dut_kwargs=dict(latency=1))
    with pytest.raises(ValueError, match="must be pipelined"):
        PipelineMiter("fmul", "e4m3", dut_kwargs=dict(latency=0))


def test_cli_prove(tmp_path, capsys):
    from hwgen.cli import main
    assert main(["prove", "fmul", "--format", "e3m2", "--rounding", "dynamic", "--latency", "2",
                 "-o", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "proving fmul_e3m2_dyn_l2 equal to the unpipelined unit (k-induction, depth 4)" in out
    assert "proven in" in out


@pytest.mark.parametrize("argv, msg", [
    (["fdiv", "--latency", "1"], "the operator must be one of fmul, fadd, ffma, not 'fdiv'"),
    (["fmul"], "give one of --latency N, --target-mhz F --device D, --all-cuts, --table"),
    (["fmul", "--latency", "1", "--table"], "(got --latency and --table)"),
    (["fmul", "--format", "fp16", "--table"], "has 2**32 inputs"),
    (["fmul", "--target-mhz", "50"], "--target-mhz needs --device"),
    (["fmul", "--device", "up5k", "--latency", "1"], "--device up5k: only used with"),
    (["fmul", "--latency", "1", "--depth", "0"], "--depth must be a positive integer, not 0"),
])
def test_cli_prove_bad_options(capsys, argv, msg):
    from hwgen.cli import main
    assert main(["prove", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1


def _catalog_unit(name):
    import argparse

    from hwgen.catalog import all_units
    spec = all_units()[name]
    p = argparse.ArgumentParser()
    spec.add_arguments(p)
    return spec.build(p.parse_args([]))


@pytest.mark.parametrize("name", ["imac", "requant", "hdec", "array-ws-int8", "array-os-int4",
                                  "array-os-mx:e2m1"])
def test_streams_hold_until_ready(tmp_path, name):
    # Every output stream of the unit (catalog defaults) or 2x2 array: once valid, valid and
    # payload hold until ready, for any inputs whose streams follow the same rule; proven by
    # k-induction.
    from hwgen.arrays.systolic import SystolicArray
    from hwgen.verify import StreamMiter
    if name.startswith("array"):
        _, df, pe = name.split("-")
        comp = SystolicArray(2, 2, pe, df)
    else:
        comp = _catalog_unit(name)
    m = StreamMiter(comp)
    outs = [s for s, parts in m.streams.items() if not parts["payload"][0]]
    assert outs, "no output stream to check"
    r = prove(m, tmp_path, mode="prove", depth=10)
    assert r.status == "pass", r.log
    assert "successful proof by k-induction" in (tmp_path / "miter" / "logfile.txt").read_text()


def test_stream_check_catches_a_changing_payload(tmp_path):
    from hwgen.units.imac import IntMac
    from hwgen.verify import StreamMiter
    r = prove(StreamMiter(IntMac(4, 4, 12), corrupt={"o"}), tmp_path, mode="prove", depth=10)
    assert r.status == "fail" and r.trace is not None


def _count_cases():
    from hwgen.units.bsmac import BitSerialMac
    from hwgen.units.dpmac import DualPrecisionMac
    from hwgen.units.fmac import FloatMac
    from hwgen.units.imac import IntMac
    from hwgen.units.requant import Requantize
    from hwgen.units.tmac import TernaryMac
    return {"imac": (lambda: IntMac(4, 4, 12), dict(capacity=3, drain=4)),
            "requant": (lambda: Requantize(8, 4), dict(capacity=5, drain=6, group=False)),
            "dpmac": (lambda: DualPrecisionMac(4), dict(capacity=3, drain=4)),
            "bsmac": (lambda: BitSerialMac(2, 3, 3), dict(capacity=3, drain=8)),
            "tmac": (lambda: TernaryMac(2), dict(capacity=3, drain=4)),
            # a pipelined product path: its registers stall with the unit
            "fmac-mul2": (lambda: FloatMac("e2m1", acc_fmt="e3m2", mul_latency=2),
                          dict(capacity=6, drain=8))}


@pytest.mark.parametrize("name", sorted(_count_cases()))
def test_streams_count(tmp_path, name):
    # Nothing duplicated (results <= groups in), occupancy bounded, nothing lost or stuck
    # (after `drain` ready cycles with no new group, every result is out): bounded model
    # checking, 20 cycles from reset, any input and any ready pattern.
    from hwgen.verify import CountMiter
    make, kw = _count_cases()[name]
    r = prove(CountMiter(make(), **kw), tmp_path, mode="bmc", depth=20)
    assert r.status == "pass", r.log


def test_count_check_catches_a_lost_result(tmp_path):
    from hwgen.units.imac import IntMac
    from hwgen.verify import CountMiter
    r = prove(CountMiter(IntMac(4, 4, 12), capacity=3, drain=4, corrupt="drop"), tmp_path,
              mode="bmc", depth=20)
    assert r.status == "fail" and r.trace is not None


# -- the host link: buffer writes in range, back to idle once the line is quiet ------------

#: BMC depth of the write-range checks in CI: past the frames that write each buffer's last word
#: (a WRITE of a whole buffer and its copy, a maximal frame into the staging buffer, a short
#: RUN). The proof for every depth (PDR) is bench/hostlink_formal.py's (docs/verification.md).
HOST_LINK_DEPTH = 40
#: BMC depth of the idle checks' mistakes, past the quiet bound Q (91 cycles here): every
#: input in the first IDLE_SLACK cycles, then a quiet line (a frame cut short, the slowest case).
IDLE_SLACK = 2


def test_host_link_writes_stay_in_their_buffers(tmp_path):
    """Whatever bytes arrive (any value on any cycle, valid CRCs included), no buffer write of
    the host-link engine is outside its buffer's depth (BMC, ABC's bmc3)."""
    from hwgen.verify.hostlink import HostLinkMiter
    r = prove(HostLinkMiter(), tmp_path, mode="bmc", depth=HOST_LINK_DEPTH, engine="abc bmc3")
    assert r.status == "pass", r.log
    assert f"No output asserted in {HOST_LINK_DEPTH} frames." in \
        (tmp_path / "miter" / "logfile.txt").read_text()


def test_host_link_check_catches_an_out_of_range_write(tmp_path):
    """Held to a weight buffer one word shorter than the engine's, the check finds the
    request that writes the last word (a counterexample trace)."""
    from hwgen.verify.hostlink import HostLinkMiter
    r = prove(HostLinkMiter(assert_depths=dict(weights=2)), tmp_path, mode="bmc", depth=30,
              engine="abc bmc3")
    assert r.status == "fail" and r.trace, r.log


def test_host_link_returns_to_idle(tmp_path):
    """Once the line has been quiet for Q cycles, the core is idle, whatever bytes came before:
    proven for every input history by k-induction, with the miter's helper invariants (each
    of them proven too)."""
    from hwgen.verify.hostlink import IDLE_DEPTH, HostLinkMiter
    m = HostLinkMiter(properties=("idle",))
    assert m.quiet_bound == m.core.timeout_cycles + 11 == 91
    r = prove(m, tmp_path, mode="prove", depth=IDLE_DEPTH)
    assert r.status == "pass", r.log
    assert "successful proof by k-induction" in (tmp_path / "miter" / "logfile.txt").read_text()


@pytest.mark.parametrize("mistake", [dict(sink_stalls=True), dict(quiet_bound=90)],
                         ids=["stuck-transmitter", "quiet-bound-one-short"])
def test_host_link_idle_check_catches_a_mistake(tmp_path, mistake):
    """A byte sink that never takes a byte (a transmitter that never finishes its frame)
    leaves the core busy, and Q - 1 quiet cycles are too few for a frame cut short: bounded
    model checking finds each counterexample (the idle assertion alone)."""
    from hwgen.verify.hostlink import HostLinkMiter
    m = HostLinkMiter(properties=("idle",), invariants=False, **mistake)
    r = prove(m, tmp_path, mode="bmc", depth=91 + IDLE_SLACK, engine="abc bmc3")
    assert r.status == "fail" and r.trace, r.log


def test_host_link_idle_proof_needs_the_whole_bound(tmp_path):
    """The proof is not vacuous: with Q - 1 (and the same invariants) the induction fails."""
    from hwgen.verify.hostlink import IDLE_DEPTH, HostLinkMiter
    m = HostLinkMiter(properties=("idle",), quiet_bound=90)
    r = prove(m, tmp_path, mode="prove", depth=IDLE_DEPTH)
    assert r.status == "unknown", r.log


def test_host_link_miter_bad_arguments(tmp_path):
    from hwgen.verify.hostlink import HostLinkMiter
    with pytest.raises(ValueError, match="Properties must be some of writes, idle"):
        HostLinkMiter(properties=("hang",))
    with pytest.raises(ValueError, match="idle invariants are written for a weight-stationary"):
        HostLinkMiter(properties=("idle",), pe="int8", depths=dict(weights=3, acts=5,
                                                                   results=3), rows=2)
    with pytest.raises(ValueError, match="Engine 'abc pdr' runs in mode prove, not bmc"):
        prove("", tmp_path, mode="bmc", engine="abc pdr")
    with pytest.raises(ValueError, match="Engine must be 'smtbmc SOLVER' or one of"):
        prove("", tmp_path, engine="abc int")


def test_cli_prove_no_flags(tmp_path, capsys):
    from hwgen.cli import main
    assert main(["prove", "ffma", "--format", "e2m1", "--no-flags", "--product", "logic",
                 "--latency", "2", "-o", str(tmp_path / "p")]) == 0
    assert "ffma_e2m1_rne_noflags_logic_l2" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["fadd", "--product", "booth", "--latency", "1"],
     "--product booth: fadd has no significand product (fmul and ffma have)"),
    (["fmul", "--product", "wallace", "--latency", "1"],
     "--product must be one of auto, booth, logic, shiftadd, not 'wallace'"),
])
def test_cli_prove_bad_product(args, message, tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "hwgen", "prove", *args], capture_output=True,
                       text=True, cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"hwgen: error: {message}\n")
