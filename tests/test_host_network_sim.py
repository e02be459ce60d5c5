"""The chained-network host path against the simulated board with the network extension
(``Accelerator.simulate(..., network=True)``: the gateware under Verilator): scores equal to
the explorer's emulation bit for bit, one INFER frame per inference, a GEMM in between, a
refused table."""

import dataclasses

import numpy as np
import pytest

from hwgen.explore.graph import Model
from hwgen.explore.models import builtin_model
from hwgen.golden.matmul import matmul, random_operands
from hwgen.host import Accelerator, CountingTransport, DeviceError
from hwgen.host_link import protocol as P


@pytest.fixture(scope="module")
def ulx3s():
    with Accelerator.simulate("ulx3s-85f", 4, 4, "int8", network=True, timeout=2.0) as acc:
        yield acc


def _counted_infer(acc, net, x):
    """``acc.infer(x)`` equal to the emulation, and one INFER frame per input: its activation
    words out, the last layer's result words back."""
    counting = CountingTransport(acc.transport)
    acc.transport = counting
    try:
        got = acc.infer(x, raw=False)
    finally:
        acc.transport = counting.inner
    assert np.array_equal(got, net.emulate(x))
    info = acc.info()
    wa, wr = info.word_bytes["acts"], info.word_bytes["results"]
    assert counting.sent == len(x) * (6 + net.records[0].k_tiles * wa)
    assert counting.received == len(x) * (7 + net.records[-1].n_tiles * wr)


def test_mlp_digits_bit_exact_one_frame_per_inference(ulx3s):
    acc = ulx3s
    info = acc.info()
    assert info.version == 2 and info.max_layers > 0 and info.bias_depth > 0
    net = acc.load_network("mlp-digits")           # 64-64-32-10: three layers
    assert net.path == "chained" and len(net.records) == 3
    # per inference: INFER with 16 activation words of 4 bytes, 3 result words of 16 back
    _counted_infer(acc, net, builtin_model("mlp-digits").x_test[:64])


def test_gemm_in_between_and_a_refused_table(ulx3s):
    acc = ulx3s
    net = acc.load_network("mlp-iris")
    assert net.path == "chained"
    x = builtin_model("mlp-iris").x_test[:8]
    expected = net.emulate(x)
    assert np.array_equal(acc.infer(x, raw=False), expected)
    A, B = random_operands(np.random.default_rng(1), acc.array.pe, 3, 9, 5)
    assert np.array_equal(acc.matmul(A, B), matmul(A, B, acc.array.pe, "ws", 4, 4))
    assert np.array_equal(acc.infer(x, raw=False), expected)   # weights written again
    # a bad table is refused and the loaded one stays
    bad = [net.records[0], dataclasses.replace(net.records[1], shift=3)]   # last: no shift
    with pytest.raises(DeviceError) as e:
        acc.load_net(bad)
    assert e.value.status == P.ST_OUT_OF_RANGE
    words = [acc.infer_words(net.input_words(row)) for row in x]
    assert words == net.golden_infer_words(x)
    with pytest.raises(DeviceError) as e:
        acc.infer_words(net.input_words(x[0]) + [0])
    assert e.value.status == P.ST_BAD_LENGTH


def test_cnn_chains_with_one_frame_per_inference(ulx3s):
    """cnn-digits (conv3x3x8-relu-maxpool2-dense10) chained on chip: the im2col gather, the
    pooled conv epilogue and the dense layer in one INFER; every score the emulation's."""
    acc = ulx3s
    net = acc.load_network("cnn-digits")
    assert net.path == "chained" and len(net.records) == 2 and net.records[0].gather
    _counted_infer(acc, net, builtin_model("cnn-digits").x_test[:8])


def _with_avgpool(name):
    """The built-in CNN with its max pool replaced by an average pool of the same window."""
    m = builtin_model(name)
    layers = [dict(layer, kind="avgpool") if layer["kind"] == "maxpool" else dict(layer)
              for layer in m.layers]
    return Model(f"{name}-avg", layers, m.input_shape, m.x_test, m.y_test, m.x_calib)


def test_layer_by_layer_where_the_layers_do_not_chain(ulx3s):
    """A model with an average pool on the network board, and a board without the extension:
    the layer-by-layer path, saying why, bit-exact."""
    acc = ulx3s
    model = _with_avgpool("cnn-digits")
    net = acc.load_network(model)
    assert net.path == "layer-by-layer"
    assert net.not_chained.startswith("Layer 2 (avgpool) does not chain on chip")
    x = model.x_test[:1]
    assert np.array_equal(acc.infer(x, raw=False), net.emulate(x))
    with pytest.raises(ValueError, match=r"^Layer 2 \(avgpool\) does not chain on chip"):
        acc.load_network(model, chain=True)
    assert acc.load_network("mlp-iris", chain=False).path == "layer-by-layer"
    # the board the simulated-board tests use: version 1
    with Accelerator.simulate("icebreaker", 2, 2, "int8") as v1:
        net = v1.load_network("mlp-iris")
        assert net.path == "layer-by-layer" and "no network extension" in net.not_chained
        x = builtin_model("mlp-iris").x_test[:2]
        assert np.array_equal(v1.infer(x, raw=False), net.emulate(x))
        with pytest.raises(ValueError, match=r"^Cannot chain 'mlp-iris' on chip: the board "
                                             r"has no network extension"):
            v1.load_network("mlp-iris", chain=True)


@pytest.fixture(scope="module")
def ulx3s_e4m3():
    # with a PE pipeline: the layers' runs wait for result rows by count
    with Accelerator.simulate("ulx3s-85f", 4, 4, "e4m3:e4m3:rounded", network=True,
                              mul_latency=2, add_latency=3, timeout=2.0) as acc:
        yield acc


@pytest.mark.parametrize("name", ["mlp-iris", "mlp-digits"])
def test_float_networks_chain(ulx3s_e4m3, name):
    """An F:F:rounded array chains too, pipelined: the bias added with one rounded add in F
    and ReLU on the encodings, in hardware; every score equal to the explorer's e4m3
    emulation."""
    acc = ulx3s_e4m3
    assert (acc.info().mul_latency, acc.info().add_latency) == (2, 3)
    net = acc.load_network(name)
    assert net.path == "chained" and net.candidate.name == "e4m3"
    x = builtin_model(name).x_test[:16]
    got, exp = acc.infer(x, raw=False), net.emulate(x)
    assert np.array_equal(got, exp, equal_nan=True)
    # a float board's epilogue has no shift: a table with one is refused (and stays loaded)
    bad = [dataclasses.replace(net.records[0], shift=1)] + net.records[1:]
    want = P.check_layer_table(P.load_net_payload(bad), acc.info(), 0, float_pe=True)
    assert want == P.ST_OUT_OF_RANGE
    with pytest.raises(DeviceError) as e:
        acc.load_net(bad)
    assert e.value.status == want
    words = [acc.infer_words(net.input_words(row)) for row in x[:2]]
    assert words == net.golden_infer_words(x[:2])
