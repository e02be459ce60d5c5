"""The plain description of an array (:class:`hwgen.arrayspec.ArraySpec`) agrees with the
Amaranth layouts of :mod:`hwgen.arrays.systolic` field by field, and its plain-integer
packing (what the host driver uses) with packing through those layouts
(``Layout.const``/``from_bits``), for every PE kind and both dataflows."""

import random

import pytest
from amaranth.lib import data

from hwgen.arrays.systolic import (act_layout, pack_acts, pack_weights, result_elem,
                                   result_layout, unpack_results, weight_layout)
from hwgen.arrayspec import ArraySpec
from hwgen.golden.bsmac import clamp_bits

PES = ["int8", "uint4", "int16", "e4m3:fp16:rounded", "bf16:fp32:fused", "e4m3:exact",
       "e5m2:exact:bf16", "bs8x8", "bs4x6", "dp8", "dp6:split", "ternary", "ternary4"]
CASES = [(pe, df, rows, cols) for pe in PES for df in ("ws", "os")
         for rows, cols in ((1, 1), (2, 3), (4, 2))]
CASES += [(pe, "os", rows, cols) for pe in ("mx:e4m3", "mx:e2m1:int8")      # OS only
          for rows, cols in ((1, 1), (2, 3), (4, 2))]


@pytest.mark.parametrize("pe, dataflow, rows, cols", CASES)
def test_widths_and_offsets_match_the_layouts(pe, dataflow, rows, cols):
    spec = ArraySpec(rows, cols, pe, dataflow)
    assert spec.weight_word_bits == weight_layout(spec).size
    acts = act_layout(spec)
    assert spec.act_word_bits == acts.size
    assert spec.act_fields == {name: (f.offset, f.width) for name, f in acts}
    assert spec.result_word_bits == result_layout(spec).size
    elem = result_elem(spec)
    if isinstance(elem, data.Layout):           # exact PEs, weight-stationary: y and acc
        assert spec.result_elem == (elem.size, False) and spec.exact_results
        assert spec.y_elem.width == elem["y"].width
    else:
        assert spec.result_elem == (elem.width, elem.signed) and not spec.exact_results
    for mine, shape in ((spec.w_elem, weight_layout(spec).elem_shape),
                        (spec.a_elem, acts["a"].shape.elem_shape)):
        assert mine == (shape.width, shape.signed)


@pytest.mark.parametrize("pe, dataflow, rows, cols", CASES)
def test_packing_matches_the_layouts(pe, dataflow, rows, cols):
    spec = ArraySpec(rows, cols, pe, dataflow)
    rng = random.Random(f"{pe}{dataflow}{rows}{cols}")

    def values(elem, n):
        lo, hi = (-(1 << (elem.width - 1)), 1 << (elem.width - 1)) if elem.signed else \
            (0, 1 << elem.width)
        return [rng.randrange(lo, hi) for _ in range(n)]

    for _ in range(20):
        w = values(spec.w_elem, cols)
        assert spec.pack_weights(w) == pack_weights(spec, w)
        a = values(spec.a_elem, rows)
        kw = dict(last=rng.random() < 0.5)
        if dataflow == "ws":
            kw["psum"] = [rng.randrange(1 << spec.psum_elem.width) for _ in range(cols)]
        if spec.serial:
            kw["bits"] = rng.randrange(1 << spec.bits_width)
        if spec.pe.kind == "dualprec":
            kw["low"] = rng.random() < 0.5
        assert spec.pack_acts(a, **kw) == pack_acts(spec, a, **kw)
        word = rng.randrange(1 << spec.result_word_bits)
        assert spec.unpack_results(word) == unpack_results(spec, word)
        # and the values survive: packing what unpacks gives the word back
        vals, psums = spec.unpack_results(word)
        if not spec.exact_results:
            assert vals == values_of(spec, word)


def values_of(spec, word):
    """The result elements of ``word`` read one by one (two's complement if signed)."""
    w, out = spec.result_elem.width, []
    for j in range(spec.cols):
        v = (word >> (j * w)) & ((1 << w) - 1)
        out.append(v - (1 << w) if spec.result_elem.signed and v >> (w - 1) else v)
    return out


def test_planes_follow_the_golden_rule():
    spec = ArraySpec(2, 2, "bs8x8")
    for b in range(0, 20):
        assert spec.cycles_per_row(b) == int(clamp_bits(b, 8))
    assert ArraySpec(2, 2, "int8").cycles_per_row() == 1


@pytest.mark.parametrize("args, kw, exc, msg", [
    ((0, 4), {}, ValueError, r"^Rows must be between 1 and 64, not 0$"),
    ((4, 65), {}, ValueError, r"^Columns must be between 1 and 64, not 65$"),
    ((4.0, 4), {}, TypeError, r"^Rows must be an integer, not 4.0$"),
    ((4, 4, "int8", "xs"), {}, ValueError, r"^Dataflow must be one of ws, os, not 'xs'$"),
    ((2, 2, "int8"), dict(add_latency=1), ValueError, r"^A PE pipeline needs a "
     r"weight-stationary array of F:ACC:rounded, F:ACC:fused or F:exact PEs or an "
     r"output-stationary array of F:exact PEs, not 'int8' \(ws\)$"),
    ((2, 2, "e4m3:fp16:rounded"), dict(add_latency="1"), TypeError,
     r"^Adder latency must be an integer, not '1'$"),
])
def test_checks_as_the_array(args, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        ArraySpec(*args, **kw)


def test_pipeline_facts():
    spec = ArraySpec(3, 2, "e4m3:fp16:rounded", "ws", 2, 1)
    assert spec.latency == (3 + 2 - 1) + 4 + 3 * 1 + 2
    assert spec.module_name == "systolic_ws_3x2_e4m3_fp16_rounded_l2_1"
