"""Protocol version 2 (networks chained on chip): the constants, the layer record, the
IDENTIFY payload and the golden model of the board's LOAD_NET table checker
(``check_layer_table``), one rule of docs/protocol.md at a time. Pure Python, fast."""


import pytest

from hwgen.host_link import protocol as P

# A 4x4 int8 board with small buffers, so every limit is easy to reach.
INFO = P.DeviceInfo(version=2, rows=4, cols=4, dataflow="ws", pe="int8",
                    word_bytes=dict(weights=4, acts=4, results=16),
                    depths=dict(weights=64, acts=16, results=8), max_payload=80,
                    clk_hz=12_000_000, divisor=12, timeout_cycles=600_000,
                    bias_depth=8, max_layers=3)
ACC_BITS = 32


def _info(**kw):
    d = INFO.to_dict()
    for k, v in kw.items():
        if k in ("weights", "acts", "results"):
            d["depths"] = dict(d["depths"], **{k: v})
        elif k == "result_bytes":
            d["word_bytes"] = dict(d["word_bytes"], results=v)
        else:
            d[k] = v
    return P.DeviceInfo(**d)


def test_constants():
    assert (P.CMD_LOAD_NET, P.CMD_INFER, P.BUF_BIAS) == (0x06, 0x07, 3)
    assert P.COMMANDS[0x06] == "load_net" and P.COMMANDS[0x07] == "infer"
    assert P.BUFFER_NAMES[3] == "bias"
    assert (P.LAYER_RECORD_BYTES, P.NET_SHIFT_MIN, P.NET_PROTOCOL_VERSION) == (24, -8, 2)
    assert (P.LAYER_RELU, P.LAYER_GATHER) == (0x01, 0x02)
    assert [P.gather_lane_bits(r) for r in (1, 2, 3, 4, 5, 8, 9, 16)] == [0, 1, 2, 2, 3, 3, 4, 4]
    assert [P.gather_entry_bits(a) for a in (12, 17, 18, 32)] == [11, 16, 16, 16]
    # version 1 unchanged
    assert (P.CMD_IDENTIFY, P.CMD_WRITE, P.CMD_RUN, P.CMD_READ, P.CMD_STATUS) == (1, 2, 3, 4, 5)
    assert P.PROTOCOL_VERSION == 1


# -- the layer record ---------------------------------------------------------------------------

def test_layer_record_bytes():
    # docs: w_base, k_tiles, n_tiles, a_in, a_out, b_base (2 bytes LE each), shift (int8),
    # flags (bit 0 ReLU, bit 1 gather), 2 zero bytes, g_tiles, pixels, pool (2 bytes LE
    # each), 2 zero bytes.
    r = P.LayerRecord(0x0102, 3, 0x0A04, 5, 6, 0x0307, -2, True)
    assert r.pack() == bytes([0x02, 0x01, 3, 0, 0x04, 0x0A, 5, 0, 6, 0, 0x07, 0x03, 0xFE, 1,
                              0, 0]) + bytes(8)
    assert not r.gather
    assert P.LayerRecord(0, 1, 1, 0, 0, 0).pack() == bytes([0, 0, 1, 0, 1, 0]) + bytes(18)
    assert P.LayerRecord(1, 1, 1, 1, 1, 1, 127, False).pack()[12:14] == bytes([127, 0])
    g = P.LayerRecord(0x0102, 3, 0x0A04, 5, 6, 0x0307, -2, True, g_tiles=0x0201, pixels=9,
                      pool=0x0403)
    assert g.gather
    assert g.pack() == bytes([0x02, 0x01, 3, 0, 0x04, 0x0A, 5, 0, 6, 0, 0x07, 0x03, 0xFE, 3,
                              0, 0, 0x01, 0x02, 9, 0, 0x03, 0x04, 0, 0])
    # the gather flag comes with any gather field, ReLU or not
    for kw in (dict(g_tiles=1), dict(pixels=1), dict(pool=1)):
        assert P.LayerRecord(0, 1, 1, 0, 0, 0, **kw).pack()[13] == P.LAYER_GATHER


@pytest.mark.parametrize("rec", [P.LayerRecord(0, 1, 1, 0, 0, 0),
                                 P.LayerRecord(65535, 65535, 65535, 65535, 65535, 65535, -128,
                                               True),
                                 P.LayerRecord(7, 2, 3, 4, 0, 9, 127, False),
                                 P.LayerRecord(7, 2, 3, 4, 5, 9, -3, True, 4, 9, 4),
                                 P.LayerRecord(0, 1, 1, 0, 0, 0, 0, False, 65535, 65535,
                                               65535)])
def test_layer_record_round_trip(rec):
    b = rec.pack()
    assert len(b) == P.LAYER_RECORD_BYTES
    assert P.LayerRecord.unpack(b) == rec


def test_layer_record_refuses_what_its_bytes_cannot_hold():
    with pytest.raises(ValueError, match=r"^Layer record w_base must be an integer 0\.\.65535"):
        P.LayerRecord(65536, 1, 1, 0, 0, 0).pack()
    with pytest.raises(ValueError, match=r"^Layer record a_in must be an integer"):
        P.LayerRecord(0, 1, 1, -1, 0, 0).pack()
    with pytest.raises(ValueError, match=r"^Layer record shift must be an integer -128\.\.127"):
        P.LayerRecord(0, 1, 1, 0, 0, 0, 128).pack()
    with pytest.raises(ValueError, match=r"^Layer record pool must be an integer 0\.\.65535"):
        P.LayerRecord(0, 1, 1, 0, 0, 0, pool=65536).pack()
    with pytest.raises(ValueError, match=r"^A layer record is 24 bytes, not 23$"):
        P.LayerRecord.unpack(bytes(23))
    with pytest.raises(ValueError, match=r"^A layer record is 24 bytes, not 16$"):
        P.LayerRecord.unpack(bytes(16))
    good = P.LayerRecord(0, 1, 1, 0, 0, 0, 0, True).pack()
    for i, v in ((13, 0x05), (13, 0x81), (14, 1), (15, 0x80), (22, 1), (23, 0x80)):
        bad = bytearray(good)
        bad[i] = v
        with pytest.raises(ValueError, match="reserved bits"):
            P.LayerRecord.unpack(bytes(bad))
    # the gather flag without its fields, and gather fields without the flag
    bad = bytearray(good)
    bad[13] = P.LAYER_GATHER
    with pytest.raises(ValueError, match="gather flag"):
        P.LayerRecord.unpack(bytes(bad))
    for off in (16, 18, 20):
        bad = bytearray(good)
        bad[off] = 1
        with pytest.raises(ValueError, match="gather flag"):
            P.LayerRecord.unpack(bytes(bad))


def test_load_net_payload():
    a, b = P.LayerRecord(0, 2, 3, 0, 2, 0, 5, True), P.LayerRecord(24, 3, 2, 2, 0, 3)
    assert P.load_net_payload([a, b]) == bytes([2]) + a.pack() + b.pack()
    with pytest.raises(ValueError, match="Layer count"):
        P.load_net_payload([])
    with pytest.raises(ValueError, match="Layer count"):
        P.load_net_payload([a] * 256)


# -- IDENTIFY ---------------------------------------------------------------------------------

V1 = dict(version=1, rows=2, cols=3, dataflow="ws", pe="int8",
          word_bytes=dict(weights=3, acts=2, results=12),
          depths=dict(weights=512, acts=16384, results=256), max_payload=512,
          clk_hz=12_000_000, divisor=12, timeout_cycles=600_000)


def _v1_bytes(d, tail=b""):
    """The version-1 IDENTIFY payload written out from docs/protocol.md."""
    pe = d["pe"].encode()
    wb, dp = d["word_bytes"], d["depths"]
    return (b"HWGN" + bytes([d["version"], d["rows"], d["cols"], 0, wb["weights"], wb["acts"],
                             wb["results"]])
            + dp["weights"].to_bytes(2, "little") + dp["acts"].to_bytes(2, "little")
            + dp["results"].to_bytes(2, "little") + d["max_payload"].to_bytes(2, "little")
            + d["clk_hz"].to_bytes(4, "little") + d["divisor"].to_bytes(2, "little")
            + d["timeout_cycles"].to_bytes(4, "little") + bytes([len(pe)]) + pe + tail)


def test_identify_v1_payload_unchanged():
    info = P.DeviceInfo(**V1)
    assert P.identify_payload(info) == _v1_bytes(V1)
    piped = P.DeviceInfo(**dict(V1, pe="e4m3:fp16:rounded", mul_latency=2, add_latency=1))
    assert P.identify_payload(piped) == _v1_bytes(dict(V1, pe="e4m3:fp16:rounded"),
                                                  bytes([2, 1]))
    for i in (info, piped):
        back = P.parse_identify(P.identify_payload(i))
        assert back == i and (back.bias_depth, back.max_layers) == (0, 0)
    assert info.to_dict()["bias_depth"] == 0 and info.to_dict()["max_layers"] == 0


def test_identify_v2_payload():
    d = dict(V1, version=2, bias_depth=0x1234, max_layers=9)
    info = P.DeviceInfo(**d)
    payload = P.identify_payload(info)
    # the pipeline bytes always (0, 0 here), then bias_depth (2, LE) and max_layers (1)
    assert payload == _v1_bytes(d, bytes([0, 0, 0x34, 0x12, 9]))
    back = P.parse_identify(payload)
    assert back == info
    assert (back.version, back.bias_depth, back.max_layers) == (2, 0x1234, 9)
    assert back.to_dict()["bias_depth"] == 0x1234 and back.to_dict()["max_layers"] == 9
    assert back != P.DeviceInfo(**dict(d, max_layers=8))
    assert back != P.DeviceInfo(**dict(d, bias_depth=64))
    assert "network: 9 layers" in repr(back)
    # a length that is neither v1 (+0, +2) nor v2 (+5)
    for extra in (b"\x00", b"\x00" * 3, b"\x00" * 4, b"\x00" * 6):
        with pytest.raises(ValueError, match="Not an hwgen IDENTIFY payload"):
            P.parse_identify(_v1_bytes(V1, extra))


# -- the LOAD_NET table checker -------------------------------------------------------------------

# A valid 2-layer table on INFO: layer 0 K = 2 tiles -> N = 3 tiles, layer 1 3 -> 2 tiles.
L0 = dict(w_base=0, k_tiles=2, n_tiles=3, a_in=0, a_out=2, b_base=0, shift=5, relu=True)
L1 = dict(w_base=24, k_tiles=3, n_tiles=2, a_in=2, a_out=0, b_base=3, shift=0, relu=False)


def _table(l0=None, l1=None, **kw):
    recs = [P.LayerRecord(**dict(L0, **(l0 or {}))), P.LayerRecord(**dict(L1, **(l1 or {})))]
    return P.load_net_payload(recs)


def _check(payload, info=INFO):
    return P.check_layer_table(payload, info, ACC_BITS)


def test_valid_tables():
    assert _check(_table()) == P.ST_OK
    # one layer (it is the last: no shift, no ReLU, a_out 0)
    assert _check(P.load_net_payload([P.LayerRecord(**L1)])) == P.ST_OK
    # three layers (max_layers) and every limit met exactly
    recs = [P.LayerRecord(0, 2, 3, 0, 2, 0, P.NET_SHIFT_MIN, True),
            P.LayerRecord(24, 3, 2, 2, 14, 3, ACC_BITS, False),
            P.LayerRecord(48, 2, 2, 14, 0, 6)]             # 48 + 16 = 64, 14 + 2 = 16, 6 + 2 = 8
    assert _check(P.load_net_payload(recs)) == P.ST_OK


@pytest.mark.parametrize("l0,l1,ok", [
    # at the limit / one past it
    (None, dict(w_base=40), True), (None, dict(w_base=41), False),          # weight depth 64
    (dict(w_base=40), None, True), (dict(w_base=41), None, False),          # 41 + 24 > 64
    (dict(a_in=14, a_out=2), None, True), (dict(a_in=15), None, False),     # act depth 16
    (None, dict(a_in=13), True), (None, dict(a_in=14), False),
    (None, dict(b_base=6), True), (None, dict(b_base=7), False),            # bias depth 8
    (dict(b_base=5), None, True), (dict(b_base=6), None, False),
    (dict(shift=-8), None, True), (dict(shift=-9), None, False),            # shift range
    (dict(shift=32), None, True), (dict(shift=33), None, False),
    (dict(a_out=13), None, True), (dict(a_out=14), None, False),            # a_out + n <= 16
    # overlap of [a_out, a_out + n) with [a_in, a_in + k)
    (dict(a_out=1), None, False), (dict(a_out=0), None, False),
    (dict(a_in=5, a_out=3), None, False), (dict(a_in=6, a_out=3), None, True),
    (dict(a_in=3, a_out=0), None, True), (dict(a_in=2, a_out=0), None, False),
    # chained shapes
    (None, dict(k_tiles=4), False), (dict(n_tiles=2), None, False),
    (dict(k_tiles=0), None, False), (None, dict(n_tiles=0), False),
    # the last layer: no a_out, shift or ReLU
    (None, dict(a_out=1), False), (None, dict(shift=1), False), (None, dict(shift=-1), False),
    (None, dict(relu=True), False),
    # ReLU and a_out on a hidden layer are fine; so is shift 0 there
    (dict(relu=False, shift=0), None, True),
])
def test_one_field_wrong(l0, l1, ok):
    assert _check(_table(l0, l1)) == (P.ST_OK if ok else P.ST_OUT_OF_RANGE)


def test_reserved_bits():
    good = _table()
    for layer in (0, 1):
        for off, v in ((13, 0x02), (13, 0x04), (13, 0x81), (14, 1), (15, 0x40), (22, 1),
                       (23, 0x40)):
            bad = bytearray(good)
            bad[1 + 24 * layer + off] |= v
            assert _check(bytes(bad)) == P.ST_OUT_OF_RANGE, (layer, off, v)


def test_last_layer_results():
    # scores: n_tiles(last) <= result depth, n_tiles * result word bytes <= max_payload
    assert _check(_table(), _info(results=2)) == P.ST_OK
    assert _check(_table(), _info(results=1)) == P.ST_OUT_OF_RANGE
    # (the table itself is 49 bytes)
    assert _check(_table(), _info(max_payload=49, result_bytes=24)) == P.ST_OK   # 48 <= 49
    assert _check(_table(), _info(max_payload=49, result_bytes=25)) == P.ST_OUT_OF_RANGE
    # the same limits on a hidden layer's n_tiles do not apply (it writes activations)
    assert _check(_table(), _info(results=2)) == P.ST_OK


def test_other_depths_from_info():
    assert _check(_table(), _info(weights=47)) == P.ST_OUT_OF_RANGE     # 24 + 24 = 48
    assert _check(_table(), _info(weights=48)) == P.ST_OK
    assert _check(_table(), _info(bias_depth=4)) == P.ST_OUT_OF_RANGE   # 3 + 2 = 5
    assert _check(_table(), _info(bias_depth=5)) == P.ST_OK
    assert _check(_table(), _info(acts=4)) == P.ST_OUT_OF_RANGE         # a_out 2 + 3
    assert _check(_table(), _info(acts=5)) == P.ST_OK
    assert P.check_layer_table(_table(l0=dict(shift=20)), INFO, 19) == P.ST_OUT_OF_RANGE
    assert P.check_layer_table(_table(l0=dict(shift=20)), INFO, 20) == P.ST_OK
    # weight rows count R = info.rows
    assert _check(_table(), _info(rows=5, weights=54)) == P.ST_OK        # 24 + 3*2*5 = 54
    assert _check(_table(), _info(rows=5, weights=53)) == P.ST_OUT_OF_RANGE


def test_bad_length():
    good = _table()
    assert _check(b"") == P.ST_BAD_LENGTH
    assert _check(good[:-1]) == P.ST_BAD_LENGTH
    assert _check(good + b"\x00") == P.ST_BAD_LENGTH
    assert _check(bytes([1]) + good[1:]) == P.ST_BAD_LENGTH             # count 1, 2 records
    assert _check(bytes([3]) + good[1:]) == P.ST_BAD_LENGTH
    assert _check(bytes([0])) == P.ST_BAD_LENGTH                        # n_layers 0
    four = P.load_net_payload([P.LayerRecord(**L1)] * 4)                # over max_layers
    assert _check(four) == P.ST_BAD_LENGTH
    assert _check(four, _info(max_layers=4, max_payload=97)) == P.ST_OUT_OF_RANGE  # 3 != 2
    assert _check(good, _info(max_layers=1)) == P.ST_BAD_LENGTH
    assert _check(good, _info(max_payload=48)) == P.ST_BAD_LENGTH       # 49 bytes
    assert _check(good, _info(max_payload=49)) == P.ST_OK
    # BAD_LENGTH comes before OUT_OF_RANGE
    bad = _table(l0=dict(k_tiles=0))
    assert _check(bad) == P.ST_OUT_OF_RANGE
    assert _check(bad + b"\x00") == P.ST_BAD_LENGTH
    assert _check(bad, _info(max_layers=1)) == P.ST_BAD_LENGTH


# -- gather layers (convolutions) ----------------------------------------------------------------

# A 4x4 board whose limits a gather layer G0 (k 4 input rows -> 2 output tiles x 2 pixels,
# 2 im2col tiles, pool 2: 4 result rows, 8 im2col rows) and a dense last layer D1 meet
# exactly: G0's weights end at row 16 + 2·2·4 = 32, its biases and entries at
# 1 + 2 + 8 = 11, its outputs and im2col rows at 4 + 2·2 + 8 = 16, its result rows
# 2·2 = 4.
GINFO = P.DeviceInfo(version=2, rows=4, cols=4, dataflow="ws", pe="int8",
                     word_bytes=dict(weights=4, acts=4, results=16),
                     depths=dict(weights=32, acts=16, results=4), max_payload=128,
                     clk_hz=12_000_000, divisor=12, timeout_cycles=600_000,
                     bias_depth=11, max_layers=3)
G0 = dict(w_base=16, k_tiles=4, n_tiles=2, a_in=0, a_out=4, b_base=1, shift=3, relu=True,
          g_tiles=2, pixels=2, pool=2)
D1 = dict(w_base=0, k_tiles=4, n_tiles=1, a_in=4, a_out=0, b_base=0)


def _gtable(g=None, d=None):
    return P.load_net_payload([P.LayerRecord(**dict(G0, **(g or {}))),
                               P.LayerRecord(**dict(D1, **(d or {})))])


def _ginfo(**kw):
    d = GINFO.to_dict()
    for k, v in kw.items():
        if k in ("weights", "acts", "results"):
            d["depths"] = dict(d["depths"], **{k: v})
        else:
            d[k] = v
    return P.DeviceInfo(**d)


def _gcheck(payload, info=GINFO, **kw):
    return P.check_layer_table(payload, info, ACC_BITS, **kw)


def test_gather_table_valid():
    assert _gcheck(_gtable()) == P.ST_OK
    # a gather layer reading a gather layer (k_tiles = n_tiles·pixels of the previous one)
    recs = [P.LayerRecord(0, 4, 1, 0, 4, 0, 2, True, 1, 3, 1),      # out 3 rows, 3 im2col
            P.LayerRecord(4, 3, 1, 4, 10, 4, 1, False, 1, 1, 2),    # reads 3, out 1, 2 im2col
            P.LayerRecord(8, 1, 1, 10, 0, 7)]
    assert _gcheck(P.load_net_payload(recs)) == P.ST_OK
    assert _gcheck(P.load_net_payload(recs[:1] + [P.LayerRecord(4, 2, 1, 4, 10, 4, 1, False,
                                                                 1, 1, 2)] + recs[2:])) == \
        P.ST_OUT_OF_RANGE                                             # k_tiles 2 != 3


@pytest.mark.parametrize("what,ok,bad", [
    # each limit at GINFO's depth, then one below it
    ("results", 4, 3),          # pixels·pool result rows
    ("weights", 32, 31),        # w_base + n_tiles·g_tiles·R (not k_tiles)
    ("bias_depth", 11, 10),     # b_base + n_tiles + g_tiles·pixels·pool
    ("acts", 16, 15),           # a_out + n_tiles·pixels + g_tiles·pixels·pool
])
def test_gather_buffer_limits(what, ok, bad):
    assert _gcheck(_gtable(), _ginfo(**{what: ok})) == P.ST_OK
    assert _gcheck(_gtable(), _ginfo(**{what: bad})) == P.ST_OUT_OF_RANGE


@pytest.mark.parametrize("g,d,ok", [
    # fields at the limit / one past it
    (dict(w_base=16), None, True), (dict(w_base=17), None, False),
    (dict(b_base=1), None, True), (dict(b_base=2), None, False),
    (dict(a_out=4), None, True), (dict(a_out=5), None, False),
    (dict(pool=1), None, True), (dict(pool=3), None, False),            # 6 result rows > 4
    (dict(g_tiles=1), None, True), (dict(g_tiles=3), None, False),      # 16 + 24 > 32
    # the gather fields must all be set
    (dict(g_tiles=0), None, False), (dict(pool=0), None, False),
    (dict(pixels=0), dict(k_tiles=0), False),
    # input rows: [a_in, a_in + k) must miss [a_out, a_out + outputs + im2col rows)
    (dict(a_in=0, a_out=4), None, True), (dict(a_in=1, a_out=4), None, False),
    (dict(a_in=12, a_out=0), None, True), (dict(a_in=11, a_out=0), None, False),  # im2col
    (dict(a_in=5, a_out=0), None, False),                                         # outputs
    (dict(a_in=13, a_out=0), None, False),                   # a_in + k_tiles > 16
    (dict(k_tiles=0), None, False), (dict(n_tiles=0), dict(k_tiles=0), False),
    # the next layer reads n_tiles·pixels rows
    (None, dict(k_tiles=4), True), (None, dict(k_tiles=5), False),
    (None, dict(k_tiles=3), False), (None, dict(k_tiles=2), False),
    # the shift range applies as to a dense layer; ReLU or not
    (dict(shift=ACC_BITS), None, True), (dict(shift=ACC_BITS + 1), None, False),
    (dict(shift=P.NET_SHIFT_MIN), None, True), (dict(shift=P.NET_SHIFT_MIN - 1), None, False),
    (dict(relu=False, shift=0), None, True),
])
def test_gather_one_field_wrong(g, d, ok):
    assert _gcheck(_gtable(g, d)) == (P.ST_OK if ok else P.ST_OUT_OF_RANGE)


def test_gather_layer_is_never_last_nor_on_a_float_board():
    last = P.LayerRecord(**dict(G0, a_out=0, shift=0, relu=False))
    assert _gcheck(P.load_net_payload([last])) == P.ST_OUT_OF_RANGE
    dense_last = P.LayerRecord(**dict(D1, k_tiles=4, a_in=0))
    assert _gcheck(P.load_net_payload([dense_last])) == P.ST_OK
    # a float board has no gather layers (and no shifts)
    assert _gcheck(_gtable(dict(shift=0)), float_pe=True) == P.ST_OUT_OF_RANGE
    dense = [P.LayerRecord(0, 4, 1, 0, 4, 0), P.LayerRecord(16, 1, 1, 4, 0, 1)]
    assert _gcheck(P.load_net_payload(dense), float_pe=True) == P.ST_OK


def test_gather_flag_and_fields_disagree():
    good = _gtable()
    assert good[1 + 13] == P.LAYER_RELU | P.LAYER_GATHER
    no_flag = bytearray(good)
    no_flag[1 + 13] = P.LAYER_RELU                            # fields without the flag
    assert _gcheck(bytes(no_flag)) == P.ST_OUT_OF_RANGE
    dense = bytearray(good)
    dense[1 + 24 + 13] |= P.LAYER_GATHER                       # the flag, no fields
    assert _gcheck(bytes(dense)) == P.ST_OUT_OF_RANGE
    for off in (22, 23):
        bad = bytearray(good)
        bad[1 + off] = 1
        assert _gcheck(bytes(bad)) == P.ST_OUT_OF_RANGE
