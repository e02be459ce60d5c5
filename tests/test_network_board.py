"""Networks chained on chip (protocol version 2) on the simulated boards.

The board cores ``hwgen build --network`` makes (:class:`hwgen.host_link.HostLinkCore` with
``network=True``) run under Verilator behind the host driver. Each inference's scores are
compared with a plain integer model written here: numpy integer products of the layers'
weights and :func:`hwgen.golden.epilogue.layer_epilogue` between layers (the golden model,
itself checked against ``fractions.Fraction``). The board's table checker is compared with
its golden model :func:`hwgen.host_link.protocol.check_layer_table` on malformed and random
tables, and a refused table must leave the loaded one working.
"""

import numpy as np
import pytest

from hwgen.golden.epilogue import layer_epilogue
from hwgen.host import Accelerator, CountingTransport, DeviceError
from hwgen.host_link import protocol as P

R = C = 4
BITS, ACC = 8, 32


def _word(vals, bits):
    w = 0
    for i, v in enumerate(vals):
        w |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return w


def _unword(w, bits, n):
    out = []
    for i in range(n):
        v = (w >> (i * bits)) & ((1 << bits) - 1)
        out.append(v - (1 << bits) if v >> (bits - 1) else v)
    return out


class Net:
    """A random integer network laid out for the board: sizes (multiples of 4 or not),
    weights, biases, per-layer shift and ReLU; its layer table and buffer words."""

    def __init__(self, rng, sizes, shifts, relus, *, w_base=0, b_base=0):
        self.sizes, self.shifts, self.relus = sizes, shifts, relus
        self.W = [rng.integers(-128, 128, (sizes[i], sizes[i + 1]))
                  for i in range(len(sizes) - 1)]
        self.b = [rng.integers(-3000, 3000, sizes[i + 1]) for i in range(len(sizes) - 1)]
        self.wrows, self.brows, self.records = [], [], []
        a_in, a_out = 0, 32
        for n_layer, W in enumerate(self.W):
            K, N = W.shape
            k, n = -(-K // R), -(-N // C)
            Wp = np.zeros((k * R, n * C), dtype=np.int64)
            Wp[:K, :N] = W
            bp = np.zeros(n * C, dtype=np.int64)
            bp[:N] = self.b[n_layer]
            wb, bb = w_base + len(self.wrows), b_base + len(self.brows)
            for nt in range(n):
                for t in range(k):
                    for r in range(R):
                        self.wrows.append(_word(Wp[t * R + r, nt * C:(nt + 1) * C], BITS))
                self.brows.append(_word(bp[nt * C:(nt + 1) * C], ACC))
            last = n_layer == len(self.W) - 1
            self.records.append(P.LayerRecord(
                wb, k, n, a_in, 0 if last else a_out, bb, 0 if last else shifts[n_layer],
                False if last else relus[n_layer]))
            a_in, a_out = a_out, a_in
        self.w_base, self.b_base = w_base, b_base

    def upload(self, acc):
        acc.write_buffer("weights", self.w_base, self.wrows)
        acc.write_buffer("bias", self.b_base, self.brows)
        acc.load_net(self.records)

    def input_words(self, x):
        k = -(-len(x) // R)
        xp = np.zeros(k * R, dtype=np.int64)
        xp[:len(x)] = x
        return [_word(xp[t * R:(t + 1) * R], BITS) for t in range(k)]

    def expected(self, x):
        h = np.asarray(x, dtype=object)
        for i, W in enumerate(self.W):
            y = h @ W.astype(object) + self.b[i].astype(object)
            if i == len(self.W) - 1:
                return [int(v) for v in y]
            h = layer_epilogue(y, np.zeros_like(y), self.shifts[i], BITS, relu=self.relus[i])

    def scores(self, words):
        return [v for w in words for v in _unword(w, ACC, C)][:self.sizes[-1]]


@pytest.fixture(scope="module")
def ulx3s():
    with Accelerator.simulate("ulx3s-85f", R, C, "int8", network=True) as acc:
        yield acc


@pytest.fixture(scope="module")
def icebreaker():
    with Accelerator.simulate("icebreaker", R, C, "int8", network=True) as acc:
        yield acc


def test_identify_is_version_2(ulx3s):
    info = ulx3s.info()
    assert (info.version, info.max_layers, info.bias_depth) == (2, 16, 64)


def test_infer_before_any_table_and_bad_lengths(icebreaker):
    with pytest.raises(DeviceError) as e:
        icebreaker.infer_words([0, 0])
    assert e.value.status == P.ST_OUT_OF_RANGE
    net = Net(np.random.default_rng(3), [8, 4], [0], [False])
    net.upload(icebreaker)
    with pytest.raises(DeviceError) as e:
        icebreaker.infer_words([0])                     # one word short
    assert e.value.status == P.ST_BAD_LENGTH
    x = np.arange(-4, 4)
    assert net.scores(icebreaker.infer_words(net.input_words(x))) == net.expected(x)


@pytest.mark.parametrize("board", ["ulx3s", "icebreaker"])
def test_two_and_three_layer_networks(board, request):
    """Ragged sizes (padding in every dimension), right and left shifts, ReLU on and off:
    every score equal to the integer model, and the bytes of an inference are its input,
    its scores and the two frames' 13 bytes of framing."""
    acc = request.getfixturevalue(board)
    rng = np.random.default_rng(11)
    for sizes, shifts, relus in [([10, 7, 5], [9], [True]),
                                 ([16, 12, 8, 3], [10, -2], [True, False]),
                                 ([5, 9, 6, 4], [0, 12], [False, True])]:
        net = Net(rng, sizes, shifts, relus, w_base=3, b_base=2)
        net.upload(acc)
        for _ in range(4):
            x = rng.integers(-128, 128, sizes[0])
            counting = CountingTransport(acc.transport)
            a = Accelerator(counting, timeout=acc.timeout)
            a._info = acc.info()
            words = net.input_words(x)
            got = net.scores(a.infer_words(words))
            assert got == net.expected(x), (sizes, x)
            n_last = net.records[-1].n_tiles
            assert counting.sent + counting.received == len(words) * (BITS * R // 8) + \
                n_last * (ACC * C // 8) + 13
    st = acc.status()
    assert st["last_run_status"] == P.ST_OK and st["last_run_cycles"] > 0


def test_stalled_input_bytes(ulx3s):
    """An INFER frame whose bytes arrive with idle gaps (shorter than the frame timeout)."""
    rng = np.random.default_rng(5)
    net = Net(rng, [8, 8, 4], [8], [True])
    net.upload(ulx3s)
    x = rng.integers(-128, 128, 8)
    payload = b"".join(w.to_bytes(4, "little") for w in net.input_words(x))
    frame = P.encode_request(P.CMD_INFER, payload)
    t = ulx3s.transport
    for i, byte in enumerate(frame):
        t.write(bytes([byte]))
        if i < len(frame) - 1:
            assert t.read(1, 5e-5 * (1 + i % 3)) == b""  # the line idles between bytes
    data = ulx3s.receive(P.CMD_INFER)
    words = [int.from_bytes(data[k:k + 16], "little") for k in range(0, len(data), 16)]
    assert net.scores(words) == net.expected(x)


def _bad_tables(good):
    """Tables each with one thing wrong."""
    r = good.records
    first, last = r[0], r[-1]

    def at(i, **kw):
        recs = list(r)
        recs[i] = P.LayerRecord(**{**recs[i].__dict__, **kw})
        return recs
    return {
        "k_tiles 0": at(0, k_tiles=0),
        "n_tiles 0": at(0, n_tiles=0),
        "weights past the buffer": at(0, w_base=2048 - first.k_tiles * first.n_tiles * R + 1),
        "input past the buffer": at(0, a_in=2048 - first.k_tiles + 1),
        "output past the buffer": at(0, a_out=2048 - first.n_tiles + 1),
        "output over the input": at(0, a_out=first.a_in + first.k_tiles - 1),
        "bias past the buffer": at(0, b_base=64 - first.n_tiles + 1),
        "shift too large": at(0, shift=ACC + 1),
        "shift too small": at(0, shift=P.NET_SHIFT_MIN - 1),
        "chained shapes differ": at(1, k_tiles=first.n_tiles + 1),
        "last layer with a shift": at(len(r) - 1, shift=1),
        "last layer with ReLU": at(len(r) - 1, relu=True),
        "last layer with a_out": at(len(r) - 1, a_out=5),
        "scores past the result buffer": at(len(r) - 1, n_tiles=1025, k_tiles=last.k_tiles),
    }


def test_malformed_tables_are_refused_and_change_nothing(ulx3s):
    rng = np.random.default_rng(8)
    good = Net(rng, [12, 8, 8], [9], [True])
    good.upload(ulx3s)
    info = ulx3s.info()
    x = rng.integers(-128, 128, 12)
    for what, recs in _bad_tables(good).items():
        payload = P.load_net_payload(recs)
        want = P.check_layer_table(payload, info, ACC)
        assert want != P.ST_OK, what
        with pytest.raises(DeviceError) as e:
            ulx3s.request(P.CMD_LOAD_NET, payload)
        assert e.value.status == want, what
        assert good.scores(ulx3s.infer_words(good.input_words(x))) == good.expected(x), what
    # reserved bits, and lengths that do not match the count
    for what, payload, want in [
            ("flags bit 1", P.load_net_payload(good.records)[:14] + b"\x02" +
             P.load_net_payload(good.records)[15:], P.ST_OUT_OF_RANGE),
            ("count 0", b"\x00", P.ST_BAD_LENGTH),
            ("count over the table", bytes([17]) + bytes(16 * 17), P.ST_BAD_LENGTH),
            ("one byte short", P.load_net_payload(good.records)[:-1], P.ST_BAD_LENGTH)]:
        if len(payload) <= info.max_payload:
            assert P.check_layer_table(payload, info, ACC) == want, what
        with pytest.raises(DeviceError) as e:
            ulx3s.request(P.CMD_LOAD_NET, payload)
        assert e.value.status == want, what
    assert good.scores(ulx3s.infer_words(good.input_words(x))) == good.expected(x)


def test_random_tables_against_the_golden_checker(ulx3s):
    """Tables with fields drawn near the limits: the board's answer is the golden one's."""
    rng = np.random.default_rng(21)
    info = ulx3s.info()
    seen = set()
    for _ in range(120):
        n = int(rng.integers(1, 4))
        recs, k = [], int(rng.integers(1, 40))
        for i in range(n):
            nt = int(rng.choice([1, 2, 3, 64, 300, 1025])) if rng.random() < 0.3 else \
                int(rng.integers(1, 6))
            kk = k if rng.random() < 0.9 else k + 1
            last = i == n - 1
            recs.append(P.LayerRecord(
                w_base=int(rng.integers(0, 2048)), k_tiles=kk, n_tiles=nt,
                a_in=int(rng.integers(0, 2048)),
                a_out=0 if last and rng.random() < 0.9 else int(rng.integers(0, 2048)),
                b_base=int(rng.integers(0, 64)),
                shift=0 if last and rng.random() < 0.9 else int(rng.integers(-9, 34)),
                relu=bool(rng.random() < 0.5) and not (last and rng.random() < 0.9)))
            k = nt
        payload = P.load_net_payload(recs)
        want = P.check_layer_table(payload, info, ACC)
        try:
            ulx3s.request(P.CMD_LOAD_NET, payload)
            got = P.ST_OK
        except DeviceError as e:
            got = e.status
        assert got == want, recs
        seen.add(want)
    assert seen == {P.ST_OK, P.ST_OUT_OF_RANGE}


def test_bias_buffer_reads_back(ulx3s):
    words = [(1 << 127) | 5, 7, (1 << 100) + 3]
    ulx3s.write_buffer("bias", 61, words)
    assert ulx3s.read_buffer("bias", 61, 3) == words
    with pytest.raises(DeviceError) as e:
        ulx3s.write_buffer("bias", 62, words)
    assert e.value.status == P.ST_OUT_OF_RANGE
