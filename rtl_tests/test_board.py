"""End to end through the board link (the testbench of :mod:`sim.board`: host driver → UART
model → simulated :class:`hwgen.host_link.HostLinkCore` → numpy, bit for bit against
:func:`hwgen.golden.matmul.matmul`): the GEMM test of :mod:`sim.board`, malformed frames,
run-time precision and the RUN watchdog, on four arrays.

Malformed frames (bad CRC, truncated at several points, unknown command, bad length, oversized
length, out-of-range buffer/address/count/run shape, leading garbage) each get their error
response, change nothing (checked by reading both writable buffers back whole), and are
followed by a command that works; a frame abandoned mid-way with its answer never read is
cleared by the driver's ``resync()``.

The RUN watchdog (fault injection): ``run_watchdog`` forces the array's input ``valid`` lines
low through VPI partway into a RUN (Verilator needs them marked forceable:
:data:`sim.board.FORCEABLE_VLT`, a build-time configuration; the generated Verilog is the
board's own) and checks the ``RUN_TIMEOUT`` answer, its timing against the last stream
transfer, the driver's ``DeviceError`` and a bit-exact GEMM once the force is released.
"""

import struct

import cocotb
import numpy as np
from cocotb.handle import Force, Release
from cocotb.task import bridge
from cocotb.triggers import FallingEdge

from hwgen.golden.matmul import dualprec_pack
from hwgen.host import DeviceError
from hwgen.host_link import protocol as P
from sim.board import (FORCEABLE_VLT, STALLED, TB, compare, gemm_end_to_end,  # noqa: F401
                       gemms, make_core, random_operands, scoreboard)
from sim.params import get_params

MODULE = "rtl_tests.test_board"


@cocotb.test()
async def malformed_frames(dut):
    """Every malformed frame gets its error response, changes nothing, and the next good
    command works."""
    p = get_params()
    sb = scoreboard()
    tb = TB(dut, p)
    await tb.start()
    acc = tb.acc
    rows = tb.array.rows
    rng = np.random.default_rng(p.get("seed", 1) + 1)

    @bridge
    def host():
        info = acc.info()
        wb = info.word_bytes["weights"]
        dw = info.depths["weights"]
        mask = (1 << (8 * wb)) - 1
        known = [int(x) & mask for x in rng.integers(0, 1 << 30, dw)]
        acc.write_buffer("weights", 0, known)
        da = info.depths["acts"]
        known_a = [int(x) & ((1 << (8 * info.word_bytes["acts"])) - 1)
                   for x in rng.integers(0, 1 << 30, da)]
        acc.write_buffer("acts", 0, known_a)
        checked = []

        def unchanged(label):
            # Both writable buffers read back whole: a write that wrapped around or
            # landed past the end of either would show up here.
            assert acc.read_buffer("weights", 0, dw) == known, f"{label}: weights changed"
            assert acc.read_buffer("acts", 0, da) == known_a, f"{label}: acts changed"

        def expect(status, raw, label):
            acc.send_raw(raw)
            try:
                acc.receive()
            except DeviceError as e:
                assert e.status == status, f"{label}: got {e}, expected status {status}"
            else:
                raise AssertionError(f"{label}: no error response")
            # The link still works and nothing was written.
            assert acc.info(refresh=True) == info, label
            unchanged(label)
            checked.append(label)

        good_write = P.encode_request(P.CMD_WRITE, struct.pack("<BHH", 0, 0, 1) +
                                      bytes(wb * [0x5C]))
        bad_crc = good_write[:-1] + bytes([good_write[-1] ^ 0x01])
        expect(P.ST_BAD_CRC, bad_crc, "bad CRC")
        expect(P.ST_BAD_CRC, good_write[:6] + bytes([good_write[6] ^ 0x80]) + good_write[7:],
               "corrupted payload byte")
        expect(P.ST_TIMEOUT, good_write[:7], "truncated frame")
        expect(P.ST_TIMEOUT, good_write[:1], "sync byte only")
        expect(P.ST_TIMEOUT, good_write[:3], "truncated in the length field")
        expect(P.ST_TIMEOUT, good_write[:-2], "whole payload, no CRC")
        expect(P.ST_TIMEOUT, good_write[:-1], "CRC cut after one byte")
        expect(P.ST_UNKNOWN_CMD, P.encode_request(0x7E), "unknown command")
        expect(P.ST_BAD_LENGTH, P.encode_request(P.CMD_IDENTIFY, b"\x00"),
               "IDENTIFY with a payload")
        expect(P.ST_BAD_LENGTH, P.encode_request(P.CMD_WRITE, struct.pack("<BHH", 0, 0, 2) +
                                                 bytes(wb)), "WRITE shorter than its count")
        expect(P.ST_BAD_LENGTH, P.encode_request(P.CMD_WRITE, b"\x00\x00"), "WRITE header cut")
        oversized = bytes([P.SYNC_REQUEST, P.CMD_WRITE]) + struct.pack(
            "<H", info.max_payload + 1) + bytes(range(40))
        expect(P.ST_BAD_LENGTH, oversized, "length above the maximum payload")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", 0, dw - 1, 2) + bytes(2 * wb)),
            "WRITE past the end of the weights")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", 0, 0xFFFF, 1) + bytes(wb)),
            "WRITE at address 65535")
        wa = info.word_bytes["acts"]
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", P.BUF_ACTS, da - 2, 3) + bytes(3 * wa)),
            "WRITE past the end of the activations")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", P.BUF_ACTS, da, 1) + bytes(wa)),
            "WRITE just after the activations")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", P.BUF_ACTS, 0xFFFF, 2) + bytes(2 * wa)),
            "WRITE whose address + count wraps 16 bits")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", 3, 0, 1) + bytes(wb)), "WRITE to buffer 3")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_WRITE, struct.pack("<BHH", P.BUF_RESULTS, 0, 1) +
            bytes(info.word_bytes["results"])), "WRITE to the result buffer")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(P.CMD_READ, struct.pack("<BHH", 3, 0, 1)),
               "READ of buffer 3")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(P.CMD_READ, struct.pack("<BHH", 0, 0, 0)),
               "READ of 0 words")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(
            P.CMD_READ, struct.pack("<BHH", P.BUF_ACTS, info.depths["acts"], 1)),
            "READ past the end of the activations")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(P.CMD_RUN, struct.pack(
            "<HHB", dw // rows + 1, 1, 0)), "RUN with more tiles than the weights hold")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(P.CMD_RUN, struct.pack("<HHB", 0, 1, 0)),
               "RUN of 0 tiles")
        expect(P.ST_OUT_OF_RANGE, P.encode_request(P.CMD_RUN, struct.pack(
            "<HHB", 1, 0xFFFF, 0)), "RUN with tiles longer than the buffers")

        # Line noise before a frame is skipped.
        acc.send_raw(b"\x00\x13\x37\xff")
        assert acc.info(refresh=True) == info
        st = acc.status()
        assert st["errors"] == len(checked), st
        assert st["last_error"] == P.ST_OUT_OF_RANGE, st

        # A host that stops mid-frame and never reads the answer (a crashed program): the
        # next host's resync() waits out the frame timeout and drops the stale TIMEOUT
        # response; after that the board answers normally and nothing was written.
        acc.send_raw(good_write[:8])
        acc.resync()
        assert acc.info(refresh=True) == info
        st = acc.status()
        assert st["errors"] == len(checked) + 1, st
        assert st["last_error"] == P.ST_TIMEOUT, st
        unchanged("abandoned frame")
        checked.append("abandoned frame")
        # The accelerator still computes.
        A, B = random_operands(rng, tb.pe, 3, 5, 3)
        return checked, A, B, acc.matmul(A, B)

    checked, A, B, got = await host()
    sb.add(errors_checked=len(checked))
    bad = compare(sb, tb, A, B, got, "after errors")
    sb.finish()
    assert bad == 0, sb.lines


@cocotb.test()
async def run_precision(dut):
    """Run-time precision through the RUN flags: bit-serial PEs with fewer weight planes
    equal the GEMM with the weights truncated to their top ``bits`` bits; dual-precision PEs
    in low mode equal the integer GEMM of the (H/2)-bit halves (both also the golden model's,
    bit for bit). Flags a PE cannot honour get ``OUT_OF_RANGE`` and change nothing; the host
    refuses them before any I/O."""
    p = get_params()
    sb = scoreboard()
    tb = TB(dut, p)
    await tb.start()
    acc = tb.acc
    PE = tb.pe
    rng = np.random.default_rng(p.get("seed", 1) + 3)
    M, K, N = gemms(p)[0]
    checks = []          # (label, got, golden, independent reference)

    def raw_run(flags):
        try:
            acc.request(P.CMD_RUN, struct.pack("<HHB", 1, 1, flags))
        except DeviceError as e:
            return e.status
        return P.ST_OK

    @bridge
    def host():
        refused, codes = [], []
        if PE.kind == "bitserial":
            W = PE.w_fmt.bits
            A, B = random_operands(rng, PE, M, K, N)
            for b in (1, 3, W):
                trunc = (B >> (W - b)) << (W - b)
                checks.append((f"bits={b}", acc.matmul(A, B, bits=b),
                               tb.matmul(A, B, bits=b), A @ trunc))
            bad_flags = [(W + 1) << P.RUN_BITS_SHIFT, P.RUN_LOW] if W < 15 else [P.RUN_LOW]
            bad_host = [dict(bits=0), dict(bits=W + 1), dict(low=True)]
        elif PE.kind == "dualprec":
            half = PE.w_fmt.bits // 2
            lo, hi = -(1 << (half - 1)), 1 << (half - 1)
            A, B = rng.integers(lo, hi, (M, 2 * K)), rng.integers(lo, hi, (2 * K, N))
            Ap, Bp = dualprec_pack(A, B, PE)
            checks.append(("low", acc.matmul(Ap, Bp, low=True),
                           tb.matmul(Ap, Bp, low=True), A @ B))
            Ah, Bh = random_operands(rng, PE, M, K, N)
            s = lambda x: x - ((x >> (PE.w_fmt.bits - 1)) << PE.w_fmt.bits)  # noqa: E731
            checks.append(("high", acc.matmul(Ah, Bh, low=False),
                           tb.matmul(Ah, Bh, low=False), s(Ah) @ s(Bh)))
            bad_flags = [1 << P.RUN_BITS_SHIFT]
            bad_host = [dict(bits=1)]
        else:
            bad_flags = [1 << P.RUN_BITS_SHIFT, P.RUN_LOW]
            bad_host = [dict(bits=1), dict(low=True)]
        for f in bad_flags:
            codes.append(raw_run(f))
        A, B = random_operands(rng, PE, 2, 2, 2)
        for kw in bad_host:
            try:
                acc.matmul(A, B, **kw)
            except ValueError:
                refused.append(True)
            else:
                refused.append(False)
        return codes, refused, acc.status()

    sent0 = tb.src.sent
    codes, refused, st = await host()
    bad = 0
    for label, got, gold, ref in checks:
        got = np.asarray(got).astype(np.int64)
        sb.add(vectors=got.size)
        for name, exp in (("golden", gold), ("reference", ref)):
            wrong = np.argwhere(got != np.asarray(exp).astype(np.int64))
            bad += len(wrong)
            sb.add(mismatches=len(wrong), first_mismatches=[
                f"{label} vs {name}: C[{m},{n}]" for m, n in wrong[:5]])
    sb.set(precision=dict(checks=[c[0] for c in checks], refused_flags=codes,
                          host_refused=refused))
    sb.finish()
    assert bad == 0, sb.lines
    assert codes == [P.ST_OUT_OF_RANGE] * len(codes), codes
    assert st["errors"] == len(codes), st
    assert all(refused), refused
    assert tb.src.sent > sent0


# Fault injection: sim.board.STALLED are the array's two input streams as the engine drives
# them, marked forceable for Verilator by sim.board.FORCEABLE_VLT.
STALL_AFTER = 3      # activation rows the stalled RUN streams before its inputs stop
RESPONSE_SLACK = 32  # cycles from the watchdog's expiry to the response's start bit, at most


async def stall_run(dut, watchdog):
    """Watch a RUN cycle by cycle (at the falling edge, where the handshakes are settled):
    once ``STALL_AFTER`` activation rows went in, force both input streams' ``valid`` low
    (a stalled feeder: from then on only results still in the array can come out). Returns
    the cycles of the last stream transfer and of the response's start bit, the cycles
    ``busy`` was high, and whether the stall was applied."""
    cyc, acts_in, busy_cycles, last, forced, ran = 0, 0, 0, None, False, False
    sig = {n: getattr(dut, n) for n in ("weights__valid", "weights__ready", "acts__valid",
                                        "acts__ready", "results__valid", "busy", "tx")}
    limit = 20 * watchdog + 100_000                   # bounded: a missing abort fails
    while cyc < limit:
        await FallingEdge(dut.clk)
        cyc += 1
        v = {n: int(h.value) for n, h in sig.items()}
        if v["busy"]:
            ran = True
            busy_cycles += 1
            acts = v["acts__valid"] & v["acts__ready"]
            if (v["weights__valid"] & v["weights__ready"]) | acts | v["results__valid"]:
                last = cyc
            acts_in += acts
            if acts_in >= STALL_AFTER and not forced:
                for n in STALLED:
                    sig[n].value = Force(0)
                forced = True
        elif ran and v["tx"] == 0:                    # the response's first start bit
            return dict(last_transfer=last, response=cyc, busy_cycles=busy_cycles,
                        forced=forced)
    return dict(last_transfer=last, response=None, busy_cycles=busy_cycles, forced=forced)


@cocotb.test()
async def run_watchdog(dut):
    """A RUN whose input streams stall mid-way (forced through VPI) is aborted with
    ``RUN_TIMEOUT`` no earlier than ``watchdog_cycles`` after its last stream transfer and
    soon after that; the driver raises :class:`hwgen.host.DeviceError` with that status; the
    counters record it; after the force is released a GEMM is bit-exact again."""
    p = get_params()
    sb = scoreboard()
    tb = TB(dut, p)
    await tb.start()
    acc = tb.acc
    wd = tb.core.watchdog_cycles
    info = await bridge(acc.info)()
    D = info.depths
    tile_len = (min(D["acts"], D["results"]) if tb.array.dataflow == "ws"
                else min(D["weights"], D["acts"]))
    assert tile_len > STALL_AFTER

    watch = cocotb.start_soon(stall_run(dut, wd))

    @bridge
    def stalled_run():
        try:
            acc.run(1, tile_len)
        except DeviceError as e:
            return e
        return None

    err = await stalled_run()
    seen = await watch
    for n in STALLED:
        getattr(dut, n).value = Release()
    assert seen["forced"], f"the run ended before its inputs were stalled: {seen}"
    assert isinstance(err, DeviceError), "a stalled RUN was answered with status ok"
    assert err.status == P.ST_RUN_TIMEOUT and err.cmd == P.CMD_RUN, str(err)
    assert "watchdog" in str(err), str(err)
    assert seen["response"] is not None and seen["last_transfer"] is not None, seen
    idle = seen["response"] - seen["last_transfer"]
    assert wd <= idle <= wd + RESPONSE_SLACK, (
        f"response {idle} cycles after the last transfer, watchdog {wd}: {seen}")
    (cycles,) = struct.unpack("<I", err.payload)     # the documented payload: run cycles
    assert wd <= cycles <= seen["busy_cycles"], (cycles, seen)

    rng = np.random.default_rng(p.get("seed", 1) + 2)
    A, B = random_operands(rng, tb.pe, *gemms(p)[0])

    @bridge
    def after():
        return acc.status(), acc.matmul(A, B), acc.status()

    st, got, st2 = await after()
    assert st["errors"] == 1 and st["last_error"] == P.ST_RUN_TIMEOUT, st
    assert st["last_run_status"] == P.ST_RUN_TIMEOUT, st
    assert st2["last_run_status"] == P.ST_OK and st2["errors"] == 1, st2
    bad = compare(sb, tb, A, B, got, "after the watchdog")
    sb.set(watchdog=dict(idle_cycles=idle, run_cycles=cycles, watchdog=wd))
    sb.finish()
    assert bad == 0, sb.lines


# -- pytest ------------------------------------------------------------------------------------

def _run(**params):
    from sim.runner import run
    result = run(make_core(params), test_module=MODULE, params=params,
                 verilator_config=FORCEABLE_VLT)
    assert result.passed, result.report
    assert result.report.get("mismatches") == 0, result.report.get("first_mismatches")
    return result


def _check_all(result):
    """The module's four tests ran in ``result``, each once: GEMMs (sim.board's), the 26
    malformed frames, run-time precision, and the stalled RUN aborted by the watchdog."""
    assert (result.tests, result.failed) == (4, 0), (result.tests, result.failed)
    rep = result.report
    assert rep["vectors"] > 0 and rep["errors_checked"] == 26, rep
    assert rep["watchdog"]["idle_cycles"] >= rep["watchdog"]["watchdog"], rep["watchdog"]


def test_board_link_ws_int8():
    _check_all(_run(dataflow="ws", pe="int8"))


def test_board_link_os_int8():
    _check_all(_run(dataflow="os", pe="int8"))


def test_board_link_ws_bs8x8():
    """A bit-serial array behind the link: at full precision (every weight plane, the
    default) its GEMMs equal the integer golden model's; with run-time ``bits`` (RUN flags)
    the weights count with their top ``bits`` bits."""
    result = _run(dataflow="ws", pe="bs8x8")
    _check_all(result)
    assert result.report["precision"]["checks"] == ["bits=1", "bits=3", "bits=8"]


def test_board_link_os_dp8():
    """A dual-precision array behind the link, output-stationary: high mode and (RUN flag)
    low mode, two 4-bit products per PE per clock."""
    result = _run(dataflow="os", pe="dp8")
    _check_all(result)
    assert result.report["precision"]["checks"] == ["low", "high"]
