"""The host-link fuzzer (:mod:`sim.link_fuzz`) in CI: 10^4 random and mutated frames into the
simulated board (the real gateware under Verilator), every one followed by an IDENTIFY that
must be answered correctly, then a bit-exact GEMM; and a board that garbles its answers is
caught."""

from hwgen.host import Accelerator
from sim.link_fuzz import KINDS, LinkFuzzer, fuzz_core, run_fuzz
from hwgen.flow.simulated_board import SimulatedBoard


def test_ten_thousand_frames():
    r = run_fuzz(10_000, seed=1)
    assert r["frames"] == 10_000 and r["hangs"] == 0 and r["gemm_mismatches"] == 0
    assert all(r["by_kind"][k] == 10_000 // len(KINDS) for k in KINDS)
    # Every error path of the protocol was taken, and only well-formed answers came back.
    assert set(r["replies"]) == {"ok", "bad CRC", "bad length", "out of range",
                                 "truncated frame (timeout)", "unknown command"}, r["replies"]
    assert all(n >= 50 for n in r["replies"].values()), r["replies"]


class _Garbling:
    """The board's transport with every 97th byte it sends flipped: a broken link."""

    def __init__(self, inner):
        self.inner, self.n = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read(self, n, timeout):
        out = bytearray(self.inner.read(n, timeout))
        for i in range(len(out)):
            self.n += 1
            if self.n % 97 == 0:
                out[i] ^= 0x10
        return bytes(out)


def test_the_fuzzer_catches_a_broken_link():
    with Accelerator(SimulatedBoard(fuzz_core()), timeout=0.01) as acc:
        info = acc.info()
        acc.transport = _Garbling(acc.transport)
        fz = LinkFuzzer(acc, seed=2)
        fz.info = info
        r = fz.run(300)
    assert r["hangs"] > 0 or r["replies"].get("garbage", 0) > 0, r
