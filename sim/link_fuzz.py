"""A host-link fuzzer: random and mutated frames into the simulated board, each followed by an
IDENTIFY that must be answered correctly; a final GEMM must be bit-exact.

The board is the real gateware (:class:`~hwgen.host_link.HostLinkCore`) under Verilator
behind :class:`hwgen.flow.simulated_board.SimulatedBoard` (the C++ harness: millions of clocks per
second, where a cocotb testbench manages tens of thousands), built small so that every error
path is reachable and every case is short: a 2x2 int8 array, buffers of 8/16/8 words, a
64-byte payload limit, the shortest UART divider (4) and inter-byte timeout (20 bit times)
and a 256-clock run watchdog.

Each case sends one fuzzed byte string (:data:`KINDS`), then lets the board answer (the
simulated clock runs until every byte has been sent, the frame timeout has passed twice and a
run could have been stopped, then for as long as bytes keep coming); every response frame in
what came back is parsed
(its status counted by name; bytes that are no response frame are counted as ``garbage``).
Then IDENTIFY must return the board's :class:`~hwgen.host_link.protocol.DeviceInfo`: a
timeout or a wrong answer is a ``hang``.

::

    python -m sim.link_fuzz 1000000          # a bench run: the report as JSON
"""

import struct
import sys
from collections import Counter

import numpy as np

from hwgen.host_link import protocol as P

__all__ = ["KINDS", "fuzz_core", "LinkFuzzer", "run_fuzz"]

#: The kinds of fuzzed input, drawn in turn.
KINDS = ("random bytes", "bit flips", "truncated", "length off by one", "bad CRC",
         "valid CRC over nonsense", "garbage between frames", "back-to-back frames")

_DEPTHS = dict(weights=8, acts=16, results=8)
_MAX_PAYLOAD = 64
_WATCHDOG = 256          # clocks without progress before a run is aborted
_QUIET_BYTES = 12        # byte times of silence that end the board's answers


def fuzz_core():
    """The small board the fuzzer drives (see the module docstring)."""
    from hwgen.host_link import HostLinkCore
    return HostLinkCore(2, 2, "int8", "ws", divisor=4, clk_hz=1_000_000, depths=_DEPTHS,
                        max_payload=_MAX_PAYLOAD, timeout_cycles=80, watchdog_cycles=_WATCHDOG)


class LinkFuzzer:
    """Fuzz ``acc`` (a :class:`hwgen.host.Accelerator` on a :func:`fuzz_core` board) with
    frames from ``seed``."""

    def __init__(self, acc, seed=0):
        self.acc = acc
        self.rng = np.random.default_rng(seed)
        self.info = acc.info()
        self.counts = Counter()
        self.replies = Counter()

    # -- frames ----------------------------------------------------------------------------
    def _bytes(self, n):
        return bytes(self.rng.integers(0, 256, n, dtype=np.uint8).tolist())

    def valid_frame(self):
        """A well-formed request of a random command with plausible (in or out of range)
        fields."""
        r = self.rng
        cmd = int(r.choice([P.CMD_IDENTIFY, P.CMD_STATUS, P.CMD_WRITE, P.CMD_READ, P.CMD_RUN]))
        if cmd == P.CMD_WRITE:
            n = int(r.integers(1, 6))
            payload = struct.pack("<BHH", int(r.integers(0, 4)), int(r.integers(0, 20)), n)
            payload += self._bytes(n * 2)
        elif cmd == P.CMD_READ:
            payload = struct.pack("<BHH", int(r.integers(0, 4)), int(r.integers(0, 20)),
                                  int(r.integers(0, 12)))
        elif cmd == P.CMD_RUN:
            payload = struct.pack("<HHB", int(r.integers(0, 5)), int(r.integers(0, 10)),
                                  int(r.integers(0, 4)))
        else:
            payload = b""
        return P.encode_request(cmd, payload)

    def case(self, kind):
        """The byte string of one case of ``kind``."""
        r = self.rng
        f = bytearray(self.valid_frame())
        if kind == "random bytes":
            return self._bytes(int(r.integers(1, 40)))
        if kind == "bit flips":
            for _ in range(int(r.integers(1, 4))):
                i = int(r.integers(0, len(f)))
                f[i] ^= 1 << int(r.integers(0, 8))
            return bytes(f)
        if kind == "truncated":
            return bytes(f[:int(r.integers(1, len(f)))])
        if kind == "length off by one":
            n = struct.unpack("<H", f[2:4])[0] + int(r.choice([-1, 1]))
            body = bytes(f[1:2]) + struct.pack("<H", n & 0xFFFF) + bytes(f[4:-2])
            if r.integers(0, 2):                      # the CRC over the changed header too
                return bytes([P.SYNC_REQUEST]) + body + struct.pack(">H", P.crc16(body))
            return bytes([P.SYNC_REQUEST]) + body + bytes(f[-2:])
        if kind == "bad CRC":
            f[-1 - int(r.integers(0, 2))] ^= int(r.integers(1, 256))
            return bytes(f)
        if kind == "valid CRC over nonsense":
            return P.encode_request(int(r.integers(0, 256)), self._bytes(int(r.integers(0, 24))))
        if kind == "garbage between frames":
            junk = bytes(b for b in self._bytes(int(r.integers(1, 12))) if b != P.SYNC_REQUEST)
            return junk + bytes(f) + junk
        return bytes(f) + self.valid_frame() + self.valid_frame()   # back-to-back

    # -- running ---------------------------------------------------------------------------
    def _drain(self, sent):
        """Everything the board sends back after ``sent`` bytes: the first byte may come
        once they are all sent, the frame timeout has passed twice and a run has been
        stopped by the watchdog; then bytes follow until the line is quiet for as long as
        the case took to send (at least :data:`_QUIET_BYTES` byte times)."""
        info, t = self.info, self.acc.transport
        byte = 10.0 / info.baud
        first = byte * sent + 2 * info.timeout_seconds + _WATCHDOG / info.clk_hz + 8 * byte
        data = t.read(1, first)
        # Bytes that arrive while the board answers are dropped (one request at a time,
        # docs/protocol.md), so the next answer can wait for a whole later frame to come in.
        quiet = max(_QUIET_BYTES, sent + 8) * byte
        while data:
            more = t.read(1 << 16, quiet)
            if not more:
                break
            data += more
        return data

    def _count_responses(self, data):
        i = 0
        while i < len(data):
            if data[i] != P.SYNC_RESPONSE or i + P.RESPONSE_HEADER_BYTES > len(data):
                self.replies["garbage"] += 1
                i += 1
                continue
            n = struct.unpack("<H", data[i + 3:i + 5])[0]
            end = i + P.RESPONSE_HEADER_BYTES + n + P.CRC_BYTES
            if end > len(data) or P.crc16(data[i + 1:end]) != 0:
                self.replies["garbage"] += 1
                i += 1
                continue
            self.replies[P.STATUS_NAMES.get(data[i + 1], f"status {data[i + 1]}")] += 1
            i = end

    def step(self, kind):
        data = self.case(kind)
        self.acc.send_raw(data)
        self._count_responses(self._drain(len(data)))
        self.counts[kind] += 1
        try:
            ok = self.acc.info(refresh=True) == self.info
        except Exception:                   # noqa: BLE001 - a timeout or a garbled answer
            ok = False
            self.acc.resync()
        if not ok:
            self.counts["hangs"] += 1

    def run(self, frames):
        for k in range(frames):
            self.step(KINDS[k % len(KINDS)])
        return self.report()

    def final_gemm(self):
        """A GEMM after the fuzzing: the number of results that differ from the golden
        model's."""
        from hwgen.golden.matmul import matmul, random_operands
        a = self.acc.array
        A, B = random_operands(self.rng, a.pe, 5, 9, 3)
        got = np.asarray(self.acc.matmul(A, B))
        return int(np.count_nonzero(got != matmul(A, B, a.pe, a.dataflow, a.rows, a.cols)))

    def report(self):
        frames = sum(self.counts[k] for k in KINDS)
        return dict(frames=frames, by_kind={k: self.counts[k] for k in KINDS},
                    replies=dict(sorted(self.replies.items())), hangs=self.counts["hangs"],
                    cycles=self.acc.transport.stats()["cycles"])


def run_fuzz(frames, seed=0):
    """Fuzz a fresh simulated :func:`fuzz_core` board with ``frames`` cases; the report
    with ``gemm_mismatches`` (the final GEMM)."""
    from hwgen.host import Accelerator

    from hwgen.flow.simulated_board import SimulatedBoard
    with Accelerator(SimulatedBoard(fuzz_core()), timeout=0.01) as acc:
        fz = LinkFuzzer(acc, seed)
        report = fz.run(frames)
        report["gemm_mismatches"] = fz.final_gemm()
    return report


if __name__ == "__main__":
    import json
    import time
    t0 = time.monotonic()
    rep = run_fuzz(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
    rep["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(rep, indent=2))
