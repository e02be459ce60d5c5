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


class _Laid:
    """A network laid out for the board (``wrows``, ``brows`` at ``w_base``/``b_base``,
    ``records``, ``n_out`` scores): upload, input words, scores."""
    w_base = b_base = 0

    def upload(self, acc):
        acc.write_buffer("weights", self.w_base, self.wrows)
        acc.write_buffer("bias", self.b_base, self.brows)
        acc.load_net(self.records)

    def input_words(self, x):
        flat = np.asarray(x).reshape(-1)
        k = -(-len(flat) // R)
        xp = np.zeros(k * R, dtype=np.int64)
        xp[:len(flat)] = flat
        return [_word(xp[t * R:(t + 1) * R], BITS) for t in range(k)]

    def scores(self, words):
        return [v for w in words for v in _unword(w, ACC, C)][:self.n_out]

    def _add_mac(self, W, b):
        """Append a K x N weight matrix (rows per output tile, padded to R and C) and its
        biases; their table addresses and tile counts ``(w_base, b_base, k_tiles,
        n_tiles)``."""
        K, N = W.shape
        k, n = -(-K // R), -(-N // C)
        Wp = np.zeros((k * R, n * C), dtype=np.int64)
        Wp[:K, :N] = W
        bp = np.zeros(n * C, dtype=np.int64)
        bp[:N] = b
        wb, bb = self.w_base + len(self.wrows), self.b_base + len(self.brows)
        for nt in range(n):
            for t in range(k):
                for r in range(R):
                    self.wrows.append(_word(Wp[t * R + r, nt * C:(nt + 1) * C], BITS))
        self.brows += [_word(bp[nt * C:(nt + 1) * C], ACC) for nt in range(n)]
        return wb, bb, k, n


class Net(_Laid):
    """A random integer network laid out for the board: sizes (multiples of 4 or not),
    weights, biases, per-layer shift and ReLU; its layer table and buffer words."""

    def __init__(self, rng, sizes, shifts, relus, *, w_base=0, b_base=0):
        self.sizes, self.shifts, self.relus = sizes, shifts, relus
        self.W = [rng.integers(-128, 128, (sizes[i], sizes[i + 1]))
                  for i in range(len(sizes) - 1)]
        self.b = [rng.integers(-3000, 3000, sizes[i + 1]) for i in range(len(sizes) - 1)]
        self.wrows, self.brows, self.records = [], [], []
        self.w_base, self.b_base = w_base, b_base
        a_in, a_out = 0, 32
        for n_layer, W in enumerate(self.W):
            wb, bb, k, n = self._add_mac(W, self.b[n_layer])
            last = n_layer == len(self.W) - 1
            self.records.append(P.LayerRecord(
                wb, k, n, a_in, 0 if last else a_out, bb, 0 if last else shifts[n_layer],
                False if last else relus[n_layer]))
            a_in, a_out = a_out, a_in
        self.n_out = sizes[-1]

    def expected(self, x):
        h = np.asarray(x, dtype=object)
        for i, W in enumerate(self.W):
            y = h @ W.astype(object) + self.b[i].astype(object)
            if i == len(self.W) - 1:
                return [int(v) for v in y]
            h = layer_epilogue(y, np.zeros_like(y), self.shifts[i], BITS, relu=self.relus[i])



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
    assert (info.version, info.max_layers, info.bias_depth) == (2, 16, 256)


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
        "bias past the buffer": at(0, b_base=256 - first.n_tiles + 1),
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
            ("flags bit 2", P.load_net_payload(good.records)[:14] + b"\x04" +
             P.load_net_payload(good.records)[15:], P.ST_OUT_OF_RANGE),
            ("gather flag without its fields", P.load_net_payload(good.records)[:14] +
             b"\x02" + P.load_net_payload(good.records)[15:], P.ST_OUT_OF_RANGE),
            ("bytes 22-23", P.load_net_payload(good.records)[:23] + b"\x01" +
             P.load_net_payload(good.records)[24:], P.ST_OUT_OF_RANGE),
            ("count 0", b"\x00", P.ST_BAD_LENGTH),
            ("count over the table", bytes([17]) + bytes(P.LAYER_RECORD_BYTES * 17),
             P.ST_BAD_LENGTH),
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
    gathers = 0
    for _ in range(120):
        n = int(rng.integers(1, 4))
        recs, k = [], int(rng.integers(1, 40))
        for i in range(n):
            nt = int(rng.choice([1, 2, 3, 64, 300, 1025])) if rng.random() < 0.3 else \
                int(rng.integers(1, 6))
            kk = k if rng.random() < 0.9 else k + 1
            last = i == n - 1
            if rng.random() < 0.4:           # a gather layer (refused when last)
                px = int(rng.choice([0, 1, 9, 40, 300])) if rng.random() < 0.3 else \
                    int(rng.integers(1, 10))
                pool = int(rng.choice([0, 1, 4, 9]))
                gt = int(rng.choice([0, 1, 3, 20]))
                recs.append(P.LayerRecord(
                    w_base=int(rng.integers(0, 2048)), k_tiles=kk, n_tiles=nt,
                    a_in=int(rng.integers(0, 2048)), a_out=int(rng.integers(0, 2048)),
                    b_base=int(rng.integers(0, 256)), shift=int(rng.integers(-9, 34)),
                    relu=bool(rng.random() < 0.5), g_tiles=gt, pixels=px, pool=pool))
                k = nt * px if rng.random() < 0.9 else nt
                continue
            recs.append(P.LayerRecord(
                w_base=int(rng.integers(0, 2048)), k_tiles=kk, n_tiles=nt,
                a_in=int(rng.integers(0, 2048)),
                a_out=0 if last and rng.random() < 0.9 else int(rng.integers(0, 2048)),
                b_base=int(rng.integers(0, 256)),
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
        gathers += any(r.gather for r in recs)
    assert seen == {P.ST_OK, P.ST_OUT_OF_RANGE}
    assert gathers > 20


def test_bias_buffer_reads_back(ulx3s):
    words = [(1 << 127) | 5, 7, (1 << 100) + 3]
    ulx3s.write_buffer("bias", 253, words)
    assert ulx3s.read_buffer("bias", 253, 3) == words
    with pytest.raises(DeviceError) as e:
        ulx3s.write_buffer("bias", 254, words)
    assert e.value.status == P.ST_OUT_OF_RANGE


# -- gather layers: convolutions (im2col on chip) with max pooling --------------------------------

def _conv_codes(x, W, b, stride, pads, shift, relu, pool):
    """A convolution computed directly (loops over output pixels, no im2col), then bias,
    the golden epilogue and max pooling (kernel = stride = ``pool``): the reference."""
    cin, H, Wd = x.shape
    cout, _, kh, kw = W.shape
    pt, pl, pb, pr = pads
    xp = np.zeros((cin, H + pt + pb, Wd + pl + pr), dtype=object)
    xp[:, pt:pt + H, pl:pl + Wd] = x
    Ho, Wo = (H + pt + pb - kh) // stride + 1, (Wd + pl + pr - kw) // stride + 1
    acc = np.zeros((cout, Ho, Wo), dtype=object)
    for oy in range(Ho):
        for ox in range(Wo):
            patch = xp[:, oy * stride:oy * stride + kh, ox * stride:ox * stride + kw]
            acc[:, oy, ox] = [int((patch * W[co].astype(object)).sum()) + int(b[co])
                              for co in range(cout)]
    h = layer_epilogue(acc, np.zeros_like(acc), shift, BITS, relu=relu)
    if pool > 1:
        Hp, Wp = Ho // pool, Wo // pool
        h = np.array([[[max(h[c, py * pool + i, px * pool + k]
                            for i in range(pool) for k in range(pool))
                        for px in range(Wp)] for py in range(Hp)] for c in range(cout)],
                     dtype=object)
    return h


class ConvNet(_Laid):
    """Conv layers (each: stride, pads, shift, ReLU, square max pool) then one dense layer,
    laid out for the board by hand from docs/protocol.md ("gather layers"): the im2col K
    order (c, dy, dx), output positions visited pooled pixel by pooled pixel, the gather
    entries in the bias rows after each layer's biases, the dense weights permuted from the
    C-H-W flatten order to the pixel-major layout of the last conv layer's output."""

    def __init__(self, rng, in_shape, convs, n_out):
        self.in_shape, self.convs = in_shape, convs
        self.layers = []
        shape = in_shape
        for cout, k, stride, pads, _shift, _relu, pool in convs:
            W = rng.integers(-20, 20, (cout, shape[0], k, k))
            b = rng.integers(-500, 500, cout)
            self.layers.append((W, b))
            Ho = (shape[1] + pads[0] + pads[2] - k) // stride + 1
            Wo = (shape[2] + pads[1] + pads[3] - k) // stride + 1
            shape = (cout, Ho // pool, Wo // pool)
        self.flat = int(np.prod(shape))
        self.Wd = rng.integers(-30, 30, (self.flat, n_out))
        self.bd = rng.integers(-3000, 3000, n_out)
        self.n_out = n_out
        self._lay_out()

    def _lay_out(self):
        lb = P.gather_lane_bits(R)
        self.wrows, self.brows, self.records = [], [], []
        shape = self.in_shape
        in_rows = -(-int(np.prod(shape)) // R)

        def where_flat(c, y, x, shp):               # C-H-W packed R per row
            e = (c * shp[1] + y) * shp[2] + x
            return e // R, e % R
        where = where_flat
        a_in, a_next = 0, 600
        for (W, b), (cout, k, stride, pads, shift, relu, pool) in zip(self.layers, self.convs):
            cin, H, Wd = shape
            Ho = (H + pads[0] + pads[2] - k) // stride + 1
            Wo = (Wd + pads[1] + pads[3] - k) // stride + 1
            Hp, Wp = Ho // pool, Wo // pool
            P_, g = Hp * Wp, pool * pool
            K = cin * k * k
            wb, bb, T, nt = self._add_mac(W.reshape(cout, -1).T, b)
            pos = [(py * pool + wy, px * pool + wx) for py in range(Hp) for px in range(Wp)
                   for wy in range(pool) for wx in range(pool)]
            for t in range(T):
                for oy, ox in pos:
                    ents = []
                    for j in range(R):
                        kidx = t * R + j
                        if kidx >= K:
                            ents.append(-1)
                            continue
                        c, dy, dx = kidx // (k * k), kidx // k % k, kidx % k
                        iy, ix = oy * stride + dy - pads[0], ox * stride + dx - pads[1]
                        if not (0 <= iy < H and 0 <= ix < Wd):
                            ents.append(-1)
                            continue
                        row, lane = where(c, iy, ix, shape)
                        ents.append((row << lb) | lane)
                    self.brows.append(_word(ents, ACC))
            a_out = a_next
            self.records.append(P.LayerRecord(wb, in_rows, nt, a_in, a_out, bb, shift, relu,
                                              g_tiles=T, pixels=P_, pool=g))
            shape, in_rows = (cout, Hp, Wp), nt * P_

            def where(c, y, x, shp, nt=nt):          # pixel-major: row p·nt + c//C
                return (y * shp[2] + x) * nt + c // C, c % C
            a_in, a_next = a_out, (0 if a_out else 600)
        # the dense layer: flatten index c·P + p of C-H-W at pixel-major row/lane
        cout, Hp, Wp = shape
        P_, nt_prev = Hp * Wp, -(-cout // C)
        K = nt_prev * C * P_
        Wb = np.zeros((K, self.n_out), dtype=np.int64)
        for c in range(cout):
            for p in range(P_):
                Wb[p * nt_prev * C + c] = self.Wd[c * P_ + p]
        wb, bb, T, nt = self._add_mac(Wb, self.bd)
        self.records.append(P.LayerRecord(wb, T, nt, a_in, 0, bb))

    def expected(self, x):
        h = np.asarray(x, dtype=object)
        for (W, b), (_, _, stride, pads, shift, relu, pool) in zip(self.layers, self.convs):
            h = _conv_codes(h, W, b, stride, pads, shift, relu, pool)
        y = h.reshape(-1) @ self.Wd.astype(object) + self.bd.astype(object)
        return [int(v) for v in y]



CONV_NETS = {
    # cnn-digits' shape: 1x8x8, conv 3x3 -> 8 channels, ReLU, max pool 2, dense -> 10
    "digits": ((1, 8, 8), [(8, 3, 1, (0, 0, 0, 0), 7, True, 2)], 10),
    # three channels, zero padding, stride 2, no pooling; then a second conv reading the
    # first one's pixel-major output, channels not a multiple of C, pooled
    "two convs": ((3, 5, 5), [(5, 3, 2, (1, 1, 1, 1), 6, True, 1),
                              (6, 3, 1, (1, 1, 1, 1), 8, False, 2)], 7),
    # a left shift (most codes saturate: ties at both ends), no ReLU, 3x3 windows: the board
    # pools the accumulators before the epilogue, the reference pools the codes
    "saturating": ((2, 6, 6), [(4, 3, 1, (1, 1, 1, 1), -2, False, 3)], 5),
}


@pytest.mark.parametrize("board", ["ulx3s", "icebreaker"])
@pytest.mark.parametrize("name", sorted(CONV_NETS))
def test_conv_networks(board, name, request):
    acc = request.getfixturevalue(board)
    rng = np.random.default_rng(sorted(CONV_NETS).index(name) + 40)
    in_shape, convs, n_out = CONV_NETS[name]
    net = ConvNet(rng, in_shape, convs, n_out)
    payload = P.load_net_payload(net.records)
    assert P.check_layer_table(payload, acc.info(), ACC) == P.ST_OK
    net.upload(acc)
    for _ in range(3):
        x = rng.integers(-128, 128, in_shape)
        assert net.scores(acc.infer_words(net.input_words(x))) == net.expected(x)


def test_malformed_gather_tables(ulx3s):
    """Each gather rule broken once: the board answers as the golden checker and the loaded
    network keeps working."""
    rng = np.random.default_rng(77)
    good = ConvNet(rng, *CONV_NETS["digits"])
    good.upload(ulx3s)
    info = ulx3s.info()
    g = good.records[0]
    L, S = g.pixels * g.pool, g.g_tiles * g.pixels * g.pool
    out = g.n_tiles * g.pixels

    def at(**kw):
        return [P.LayerRecord(**{**g.__dict__, **kw})] + good.records[1:]
    bad = {
        "pool 0": at(pool=0), "pixels 0": at(pixels=0, k_tiles=g.k_tiles),
        "g_tiles 0": at(g_tiles=0),
        "rows over the result buffer": at(pixels=info.depths["results"] // g.pool + 1),
        "entries over the bias buffer": at(b_base=256 - g.n_tiles - S + 1),
        "im2col over the activation buffer": at(a_out=info.depths["acts"] - out - S + 1),
        "im2col over the input": at(a_in=g.a_out + out + S - 1),
        "outputs over the input": at(a_in=g.a_out - g.k_tiles + 1),
        "weights over the buffer": at(w_base=info.depths["weights"] -
                                      g.n_tiles * g.g_tiles * R + 1),
        "gather layer last": [P.LayerRecord(**{**g.__dict__, "a_out": 0})],
        "next layer's k_tiles": [g, P.LayerRecord(**{**good.records[1].__dict__,
                                                     "k_tiles": out + 1})],
    }
    x = rng.integers(-128, 128, CONV_NETS["digits"][0])
    for what, recs in bad.items():
        payload = P.load_net_payload(recs)
        want = P.check_layer_table(payload, info, ACC)
        assert want == P.ST_OUT_OF_RANGE, what
        with pytest.raises(DeviceError) as e:
            ulx3s.request(P.CMD_LOAD_NET, payload)
        assert e.value.status == want, what
    # at the limits: accepted
    for what, recs in {"entries at the bias buffer's end": at(b_base=256 - g.n_tiles - S),
                       "im2col at the buffer's end": at(a_out=info.depths["acts"] - out - S),
                       "input after the im2col rows": at(a_in=g.a_out + out + S),
                       "input before the outputs": at(a_in=g.a_out - g.k_tiles)}.items():
        payload = P.load_net_payload(recs)
        assert P.check_layer_table(payload, info, ACC) == P.ST_OK, what
        ulx3s.request(P.CMD_LOAD_NET, payload)
    good.upload(ulx3s)
    assert good.scores(ulx3s.infer_words(good.input_words(x))) == good.expected(x)
    assert L <= info.depths["results"]
