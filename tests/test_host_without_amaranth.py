"""The host side runs without Amaranth: in a Python where ``import amaranth`` fails, the host
driver (:mod:`hwgen.host`) identifies a board, frames requests, decodes responses and packs
and unpacks buffer words, and the words are those the gateware's layouts make (computed here,
with Amaranth, by :mod:`hwgen.arrays.systolic`)."""

import json
import random
import subprocess
import sys
import textwrap

from hwgen.arrays.systolic import pack_acts, pack_weights, unpack_results
from hwgen.arrayspec import ArraySpec
from hwgen.host_link import protocol as P

BOARDS = [  # rows, cols, pe, dataflow, mul_latency, add_latency
    (2, 3, "int8", "ws", 0, 0),
    (3, 2, "e4m3:exact", "ws", 0, 0),
    (2, 2, "e4m3:fp16:rounded", "ws", 2, 1),
    (4, 2, "bs8x8", "os", 0, 0),
    (2, 2, "dp8", "os", 0, 0),
    (2, 2, "ternary", "ws", 0, 0),
]

CHILD = textwrap.dedent('''
    import json, sys

    class NoAmaranth:
        def find_spec(self, name, path=None, target=None):
            if name == "amaranth" or name.startswith("amaranth."):
                raise ImportError(f"{name} is blocked in this test")

    sys.meta_path.insert(0, NoAmaranth())
    try:
        import amaranth  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the blocker does not block")

    from hwgen.host import Accelerator, DeviceError
    from hwgen.host_link import divisor_for, protocol as P

    class Scripted:
        def __init__(self, responses):
            self.rx, self.sent = bytearray(b"".join(responses)), bytearray()
        def write(self, data):
            self.sent += data
        def read(self, n, timeout):
            out, self.rx = bytes(self.rx[:n]), self.rx[n:]
            return out
        def discard_input(self):
            self.rx.clear()

    job = json.load(sys.stdin)
    out = []
    for board in job["boards"]:
        info = P.DeviceInfo(**board["info"])
        words = [bytes.fromhex(w) for w in board["read_back"]]
        n = len(words)
        t = Scripted([P.encode_response(P.ST_OK, P.CMD_IDENTIFY, P.identify_payload(info)),
                      P.encode_response(P.ST_OK, P.CMD_WRITE),
                      P.encode_response(P.ST_OK, P.CMD_READ, b"".join(words)),
                      P.encode_response(P.ST_OUT_OF_RANGE, P.CMD_RUN)])
        acc = Accelerator(t)
        got_info = acc.info()
        w = [acc._weight_word(r) for r in board["weight_rows"]]
        a = [acc._act_word(r) for r in board["act_rows"]]
        acc.write_buffer("weights", 0, w)
        back = acc.read_buffer("results", 0, n)
        try:
            acc.run(1, 1)
        except DeviceError as e:
            err = e.status
        out.append(dict(info=got_info.to_dict(), weights=w, acts=a,
                        results=acc._result_rows(back), sent=t.sent.hex()))
    mods = sorted(m for m in sys.modules if m.split(".")[0] == "amaranth")
    json.dump(dict(boards=out, amaranth=mods, divisor=divisor_for(25e6, 1e6), err=err),
              sys.stdout)
''')


def test_host_side_without_amaranth():
    rng = random.Random(7)
    job, expected = [], []
    for rows, cols, pe, dataflow, ml, al in BOARDS:
        spec = ArraySpec(rows, cols, pe, dataflow, ml, al)
        bits = P.buffer_word_bits(spec)
        info = P.DeviceInfo(version=1, rows=rows, cols=cols, dataflow=dataflow, pe=spec.pe.spec,
                            word_bytes=P.word_bytes(bits), depths=dict(weights=64, acts=64,
                                                                       results=32),
                            max_payload=512, clk_hz=12_000_000, divisor=12,
                            timeout_cycles=600_000, mul_latency=ml, add_latency=al)

        def elems(elem, n):
            lo = -(1 << (elem.width - 1)) if elem.signed else 0
            return [rng.randrange(lo, lo + (1 << elem.width)) for _ in range(n)]

        w_rows = [elems(spec.w_elem, cols) for _ in range(3)]
        a_rows = [elems(spec.a_elem, rows) for _ in range(3)]
        res = [rng.randrange(1 << bits["results"]) for _ in range(3)]
        nb = P.word_bytes(bits)["results"]
        job.append(dict(info=info.to_dict(), weight_rows=w_rows, act_rows=a_rows,
                        read_back=[r.to_bytes(nb, "little").hex() for r in res]))
        # what the gateware's layouts make of the same values (Amaranth, in this process)
        a_mask = (1 << bits["acts"]) - 1
        w_words = [pack_weights(spec, r) for r in w_rows]
        payload = b"".join(x.to_bytes(P.word_bytes(bits)["weights"], "little")
                           for x in w_words)
        expected.append(dict(
            info=info.to_dict(), weights=w_words,
            acts=[pack_acts(spec, r) & a_mask for r in a_rows],
            results=[unpack_results(spec, r)[0] for r in res],
            sent=(P.encode_request(P.CMD_IDENTIFY) +
                  P.encode_request(P.CMD_WRITE, bytes([0, 0, 0, 3, 0]) + payload) +
                  P.encode_request(P.CMD_READ, bytes([2, 0, 0, 3, 0])) +
                  P.encode_request(P.CMD_RUN, bytes([1, 0, 1, 0, 0]))).hex()))
    proc = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(dict(boards=job)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["amaranth"] == [] and got["divisor"] == 25 and got["err"] == P.ST_OUT_OF_RANGE
    for g, e, board in zip(got["boards"], expected, BOARDS):
        assert g == json.loads(json.dumps(e)), board
