"""The precision explorer: model files, emulation against the golden model, searches, CLI."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from hwgen.cli import explore as ecli
from hwgen.explore.emulate import (FixedPoint, accuracy, exact_forward, fixed_forward,
                                   float_forward, forward, parse_candidate, r_squared,
                                   _int_dot)
from hwgen.explore.report import pe_commands
from hwgen.explore.models import (BUILTIN, Model, builtin_model, list_models, load_model,
                                  save_model)
from hwgen.explore.search import (Explorer, calibration_points, fit_r2_model, parse_space,
                                  parse_target)
from hwgen.formats import parse_format
from hwgen.golden import add, decode, encode, mul
from hwgen.golden.imac import int_mac


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(tmp_path / "cache"))


def _teacher(seed=0, n=120, hidden=8, inputs=6, classes=3, name="tiny"):
    """A small random MLP and test data labelled by itself (so float64 accuracy is 1)."""
    rng = np.random.default_rng(seed)
    layers = [dict(kind="dense", W=rng.standard_normal((hidden, inputs)),
                   b=rng.standard_normal(hidden) * 0.1),
              dict(kind="relu"),
              dict(kind="dense", W=rng.standard_normal((classes, hidden)),
                   b=rng.standard_normal(classes) * 0.1)]
    x = rng.standard_normal((n, inputs))
    m = Model(name, layers, (inputs,), x, np.zeros(n, dtype=np.int64), x[:32])
    m.y_test = np.argmax(exact_forward(m), axis=1)
    return m


def _tiny_cnn(seed=1):
    rng = np.random.default_rng(seed)
    layers = [dict(kind="conv2d", W=rng.standard_normal((3, 2, 2, 2)), b=rng.standard_normal(3)),
              dict(kind="relu"), dict(kind="maxpool", size=2), dict(kind="flatten"),
              dict(kind="dense", W=rng.standard_normal((4, 12)), b=np.zeros(4))]
    x = rng.standard_normal((5, 2, 5, 5))
    return Model("tiny-cnn", layers, (2, 5, 5), x, np.arange(5) % 4)


# -- model files ------------------------------------------------------------------------------

def test_model_file_round_trip(tmp_path):
    m = _tiny_cnn()
    path = tmp_path / "m.npz"
    save_model(m, path)
    back = load_model(path)
    assert back.name == m.name and back.input_shape == m.input_shape
    assert [layer["kind"] for layer in back.layers] == [layer["kind"] for layer in m.layers]
    for a, b in zip(m.layers, back.layers):
        for k in ("W", "b"):
            if k in a:
                np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(back.x_test, m.x_test)
    np.testing.assert_array_equal(back.y_test, m.y_test)
    np.testing.assert_array_equal(exact_forward(back), exact_forward(m))
    assert back.summary() == "2x5x5-conv2x2:3-pool2-4"


def _arrays(m):
    a = dict(format_version=np.array(1), name=np.array(m.name),
             input_shape=np.array(m.input_shape), n_layers=np.array(len(m.layers)),
             x_test=m.x_test, y_test=m.y_test)
    for i, layer in enumerate(m.layers):
        a[f"layer{i}_kind"] = np.array(layer["kind"])
        for k in ("W", "b", "size"):
            if k in layer:
                a[f"layer{i}_{k}"] = np.asarray(layer[k])
    return a


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("layer2_W"), "'layer2_W' is missing"),
    (lambda a: a.pop("x_test"), "'x_test' is missing"),
    (lambda a: a.pop("format_version"), "'format_version' is missing"),
    (lambda a: a.update(format_version=np.array(7)), "'format_version' must be 1 or 2, not 7"),
    (lambda a: a.update(layer1_kind=np.array("gelu")), "'layer1_kind' must be one of"),
    (lambda a: a.update(layer0_W=np.zeros((8, 5))), r"'layer0_W' must have shape \(out, 6\)"),
    (lambda a: a.update(layer2_b=np.zeros(2)), r"'layer2_b' must have shape \(3,\)"),
    (lambda a: a.update(y_test=a["y_test"] + 5), "'y_test' labels must be in 0..2"),
    (lambda a: a.update(y_test=a["y_test"].astype(float)), "'y_test' must be 120 integer"),
    (lambda a: a.update(n_layers=np.array(4)), "'layer3_kind' is missing"),
    (lambda a: a.update(x_test=a["x_test"][:, :5]), r"'x_test' must have shape \(N,\)"),
])
def test_malformed_model_file(tmp_path, change, message):
    a = _arrays(_teacher())
    change(a)
    path = tmp_path / "bad.npz"
    np.savez(path, **a)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_not_a_model_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_text("hello")
    with pytest.raises(ValueError, match="is not a NumPy .npz archive"):
        load_model(tmp_path / "junk.npz")


def test_builtin_models_ship_as_files_and_load_without_training():
    names = [n for n, _ in list_models()]
    assert names == list(BUILTIN) and len(names) >= 3
    assert {"mlp-digits-small", "mlp-digits", "cnn-digits"} <= set(names)
    a = builtin_model("mlp-iris")
    b = builtin_model("mlp-iris")
    for x, y in zip(a.layers, b.layers):
        for k in ("W", "b"):
            if k in x:
                np.testing.assert_array_equal(x[k], y[k])
    assert a.name == "mlp-iris" and "hwgen train --method plain" in a.description
    assert accuracy(exact_forward(a), a.y_test) > 0.9


# -- emulation --------------------------------------------------------------------------------

def test_fp32_emulation_is_float32_close_to_float64():
    for m in (_teacher(), _tiny_cnn()):
        ref = exact_forward(m)
        out = float_forward(m, "fp32")
        scale = np.max(np.abs(ref))
        assert np.max(np.abs(out - ref)) <= 1e-5 * scale
        margin = np.sort(ref, axis=1)[:, -1] - np.sort(ref, axis=1)[:, -2]
        sure = margin > 1e-4 * scale
        assert np.array_equal(np.argmax(out, 1)[sure], np.argmax(ref, 1)[sure])


def _golden_dense(fmt, x, w, b):
    """The reference: one golden mul and one golden add per term, element by element."""
    f = parse_format(fmt)
    xe, we, be = encode(f, x), encode(f, w), encode(f, b)
    out = np.zeros((x.shape[0], w.shape[0]), dtype=np.uint64)
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            acc = np.uint64(0)
            for k in range(x.shape[1]):
                p, _ = mul(f, xe[n, k], we[o, k])
                acc, _ = add(f, acc, p)
            out[n, o], _ = add(f, acc, be[o])
    return out


@pytest.mark.parametrize("fmt", ["e3m2", "e4m3", "e2m1", "e5m2"])
def test_narrow_dense_matches_per_element_golden(fmt):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((4, 5)) * 3, rng.standard_normal((3, 5)), rng.standard_normal(3)
    m = Model("one", [dict(kind="dense", W=w, b=b)], (5,), x, np.zeros(4, dtype=np.int64))
    expect = decode(parse_format(fmt), _golden_dense(fmt, x, w, b))
    np.testing.assert_array_equal(float_forward(m, fmt), expect)


def test_narrow_conv_matches_per_element_golden():
    m = _tiny_cnn()
    f = parse_format("e4m3")
    conv = m.layers[0]
    xe = encode(f, m.x_test)
    we = encode(f, conv["W"])
    be = encode(f, conv["b"])
    ref = np.zeros((5, 3, 4, 4), dtype=np.uint64)
    for o in range(3):                  # one golden mul + add per term, vectorized over n
        for i in range(4):
            for j in range(4):
                acc = np.zeros(5, dtype=np.uint64)
                for c in range(2):
                    for di in range(2):
                        for dj in range(2):
                            p, _ = mul(f, xe[:, c, i + di, j + dj], we[o, c, di, dj])
                            acc, _ = add(f, acc, p)
                ref[:, o, i, j], _ = add(f, acc, be[o])
    # The conv output is not a model output, so check it through the rest of the network:
    relu = np.where(decode(f, ref) > 0, decode(f, ref), 0.0)
    pooled = relu.reshape(5, 3, 2, 2, 2, 2).max(axis=(3, 5)).reshape(5, -1)
    dense = m.layers[-1]
    expect = decode(f, _golden_dense("e4m3", pooled, dense["W"], dense["b"]))
    np.testing.assert_array_equal(float_forward(m, "e4m3"), expect)


def test_exact_accumulation_matches_golden_mac():
    from hwgen.golden.fmac import mac
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((3, 7)), rng.standard_normal((2, 7))
    m = Model("e", [dict(kind="dense", W=w, b=np.zeros(2))], (7,), x, np.zeros(3, np.int64))
    f = parse_format("e3m2")
    acc, _ = mac(encode(f, x)[:, None, :], encode(f, w)[None], mul_fmt=f, accumulate="exact",
                 max_terms=7)
    expect, _ = add(f, acc, encode(f, np.zeros(2)))
    np.testing.assert_array_equal(float_forward(m, f, accumulate="exact"), decode(f, expect))


@pytest.mark.parametrize("bits", [6, 12, 30])
def test_fixed_point_dot_matches_intmac_golden(bits):
    rng = np.random.default_rng(bits)
    lim = 1 << (bits - 1)
    x = rng.integers(-lim, lim, (3, 9))
    w = rng.integers(-lim, lim, (4, 9))
    got = _int_dot(x, w, bits)
    a = np.repeat(x, 4, axis=0).ravel()            # (n, o) pairs, terms in order
    b = np.tile(w, (3, 1)).ravel()
    last = np.tile(np.arange(9) == 8, 12)
    acc_bits = min(64, 2 * bits + 5)
    expect = int_mac(a, b, last, a_bits=bits, b_bits=bits, acc_bits=acc_bits)
    if acc_bits < 64 or 2 * bits + 5 <= 64:
        assert [int(v) for v in np.ravel(got)] == [int(v) for v in np.ravel(expect)]
    # And always the exact integer sum:
    assert [int(v) for v in np.ravel(got)] == [sum(int(p) * int(q) for p, q in zip(r, c))
                                               for r in x for c in w]


def test_fixed_point_inference():
    m = _teacher()
    ref = exact_forward(m)
    out32 = fixed_forward(m, 32)
    assert np.max(np.abs(out32 - ref)) < 1e-6 * np.max(np.abs(ref))
    assert accuracy(fixed_forward(m, 16), m.y_test) > 0.97
    assert accuracy(fixed_forward(m, 3), m.y_test) < accuracy(fixed_forward(m, 12), m.y_test)
    np.testing.assert_array_equal(forward(m, "fx8"), fixed_forward(m, FixedPoint(8)))
    with pytest.raises(ValueError, match="between 2 and 32, not 40"):
        FixedPoint(40)


def test_r_squared():
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert r_squared(ref, ref) == 1.0
    assert r_squared(ref, ref + 0.1) < 1.0
    assert r_squared(ref, np.full((2, 2), np.nan)) == 0.0


# -- design space and target ------------------------------------------------------------------

def test_parse_space():
    names = [c.name for c in parse_space("e4m3,e5m2,fp16,e3-4m2-3,fx4-6,int8,e4m3")]
    assert names == ["e4m3", "e5m2", "fp16", "e3m2", "e3m3_none", "e4m2_none",
                     "e4m3_none", "fx4", "fx5", "fx6", "fx8"]
    assert parse_space("e4m3")[0].specials == "fn"          # a single name: the preset
    assert [c.name for c in parse_space("e4-5m3_ieee")] == ["e4m3_ieee", "e5m3"]
    default = parse_space(None)
    assert "e2m1" in [c.name for c in default] and "fp32" in [c.name for c in default]
    assert {"fx4", "fx32"} <= {c.name for c in default}


@pytest.mark.parametrize("spec, message", [
    ("e4m3,bogus", "Bad format 'bogus' in --formats"),
    ("e6-3m2", "exponent 6-3 is empty"),
    ("fx40", "between 2 and 32, not 40"),
    ("e4m3,,fp16", "Empty item"),
    ("e12m3", "Bad format 'e12m3'"),
])
def test_parse_space_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_space(spec)


def test_parse_target():
    assert parse_target("1%") == pytest.approx(0.01)
    assert parse_target("0.003") == pytest.approx(0.003)
    for bad in ("150%", "-1%", "abc", "1"):
        with pytest.raises(ValueError, match="Target loss must be"):
            parse_target(bad)


# -- searches ---------------------------------------------------------------------------------

def test_r2_fit_never_uses_the_searched_model():
    models = [_teacher(seed=s, name=f"t{s}") for s in range(3)]
    space = ["e2m1", "e3m2", "e4m3", "fx4", "fx8"]
    pts = calibration_points("t1", models=models, space=space)
    assert {p[0] for p in pts} == {"t0", "t2"}
    assert len(pts) == 2 * len(space)
    fit = fit_r2_model(pts, min_r2=0.0)
    assert fit["models"] == ["t0", "t2"] and fit["n"] == 10
    # The fit keeps the high-R² points when there are enough of them.
    synthetic = [("m", "c", r, 0.5 + 0.5 * r) for r in np.linspace(0.5, 1, 101)]
    high = fit_r2_model(synthetic, min_r2=0.9)
    assert high["n"] == sum(p[2] >= 0.9 for p in synthetic) and high["min_r2"] == 0.9
    assert high["slope"] == pytest.approx(0.5)
    assert fit_r2_model(synthetic[:60], min_r2=0.9)["min_r2"] == 0.0   # too few: all points
    # The CLI's fit for a built-in model excludes it by name.
    assert all(p[0] != "t0" for p in calibration_points("t0", models=models, space=space))


def test_fast_search_matches_exhaustive_on_small_space():
    m = _teacher(seed=7)
    space = parse_space("e2-5m1-6")
    exh = Explorer(m, space, 0.01)
    res_exh = exh.exhaustive()
    assert res_exh["evaluations"] == len(space) == 24
    fast = Explorer(m, space, 0.01)
    fit = dict(slope=1.0, intercept=0.0)      # predicted normalized accuracy = R²
    res = fast.fast(fit)
    assert res["chosen"] == res_exh["chosen"]
    assert res["evaluations"] == len(fast.results) < len(space)
    assert res["evaluations"] <= len(space) // 3
    # Without costs, the best is the narrowest format that meets the target.
    ok = [c for c in space if exh.meets(c)]
    assert res_exh["chosen"] == min(ok, key=lambda c: (c.width, c.man_bits)).name


def test_exhaustive_evaluations_on_dask_equal_the_serial_ones(monkeypatch):
    """The evaluations of an exhaustive search as a sweep (model and candidate as values, on
    two local Dask workers) give the serial search's accuracies, and a serial search whose
    first evaluation predicts a long run goes to the cluster by itself."""
    from hwgen.explore import search
    m = _teacher(seed=7)
    space = parse_space("e2-3m1-2,fx4-5")
    serial = Explorer(m, space, 0.01)
    want = serial.exhaustive()
    dask = Explorer(m, space, 0.01, workers=2)
    got = dask.exhaustive()
    assert got["chosen"] == want["chosen"] and got["evaluations"] == len(space) == 6
    assert {k: v["accuracy"] for k, v in dask.results.items()} == \
        {k: v["accuracy"] for k, v in serial.results.items()}
    used = []
    monkeypatch.setattr(search, "PARALLEL_MIN_S", 0.0)
    import hwgen.flow.sweep as sweep
    real = sweep.map_tasks
    monkeypatch.setattr(sweep, "map_tasks",
                        lambda *a, **k: used.append(len(a[1])) or real(*a, **k))
    auto = Explorer(m, space, 0.01)
    auto.evaluate_many(space)
    assert used == [len(space) - 1] and auto.evaluations == len(space)
    assert {k: v["accuracy"] for k, v in auto.results.items()} == \
        {k: v["accuracy"] for k, v in serial.results.items()}


def test_neighbours():
    ex = Explorer(_teacher(), parse_space("e3-5m2-4,e5m7,fx4-6,fx8"), 0.01)
    up = {c.name for c in ex.neighbours(parse_candidate("e4m3_none"), +1)}
    assert up == {"e5m3_none", "e4m4_none"}
    assert {c.name for c in ex.neighbours(parse_candidate("e5m4_none"), +1)} == {"e5m7"}
    assert {c.name for c in ex.neighbours(parse_candidate("fx6"), +1)} == {"fx8"}
    assert {c.name for c in ex.neighbours(parse_candidate("e3m2_none"), -1)} == set()


# -- command line -----------------------------------------------------------------------------

def _args(**kw):
    base = dict(list_models=False, model=None, data=None, formats=None, target_loss="1%",
                search="exhaustive", accumulate="rounded", device="up5k", no_synth=True,
                output=".", quiet=True, verify_rtl=None, rtl_array="4x4", rtl_dataflow="ws",
                scheduler=None, workers=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_cli_list_models(capsys):
    assert ecli.run(_args(list_models=True)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(BUILTIN)


@pytest.mark.parametrize("kw, message", [
    (dict(model="no-such-model"), "Unknown model 'no-such-model'"),
    (dict(model="mlp-iris", target_loss="150%"), "Target loss must be at least 0%"),
    (dict(model="mlp-iris", formats="e4m3,zz"), "Bad format 'zz'"),
    (dict(model="mlp-iris", device="xc7"), "Device must be one of"),
    (dict(), "explore needs --model"),
])
def test_cli_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        ecli.run(_args(**kw))


def test_cli_run_writes_report_and_plot(tmp_path, capsys):
    m = _teacher(seed=7)
    path = tmp_path / "teacher.npz"
    save_model(m, path)
    out = tmp_path / "out"
    assert ecli.run(_args(model=str(path), formats="e2-4m1-3,fx4-8",
                                  output=str(out))) == 0
    text = capsys.readouterr().out
    assert "cost: not measured" in text
    assert "hwgen generate" in text and "hwgen build" in text
    report = json.loads((out / "explore_tiny.json").read_text())
    assert report["cost_measured"] is False
    assert len(report["candidates"]) == 14
    assert report["exhaustive"]["evaluations"] == 14
    chosen = report["chosen"]
    assert chosen in text and report["commands"]["generate"].startswith("hwgen generate")
    assert (out / "explore_tiny.png").read_bytes()[:4] == b"\x89PNG"


def test_pe_commands_name_the_emulated_unit():
    gen, build = pe_commands("e4m3_none", "rounded", "up5k")
    assert gen == ("hwgen generate fmac --format e4m3_none --acc-format e4m3_none "
                   "--accumulate rounded -o fmac_e4m3_none.v")
    # An 8-bit float PE: the 2x2 measured to fit the iCEBreaker (docs/boards.md).
    assert build.endswith("--board icebreaker --rows 2 --cols 2 --pe e4m3_none:e4m3_none:rounded")
    gen, build = pe_commands("fx6", device="ecp5-85f")
    assert gen == "hwgen generate imac --a-bits 6 --b-bits 6 --acc-bits 23 -o imac_s6x6_a23.v"
    assert build == "hwgen build --board ulx3s-85f --rows 4 --cols 4 --pe int6"
    # int8 on the iCEBreaker: 4x4 needs 5,369 of 5,280 cells; 3x3 fits.
    assert pe_commands("fx8", device="up5k")[1] == ("hwgen build --board icebreaker --rows 3 "
                                                    "--cols 3 --pe int8")
    # No board carries these devices: no build line (the generate line stays).
    for device in ("hx8k", "ecp5-25f"):
        gen, build = pe_commands("fx8", device=device)
        assert gen.startswith("hwgen generate imac") and build is None


def test_suggested_sizes_fit_the_measured_boards():
    """Every size the explorer suggests is at most the largest array docs/boards.md reports
    as placed, routed and meeting the board clock for that board and PE."""
    from pathlib import Path
    from hwgen.explore.report import BOARD_MAX_SQUARE
    doc = (Path(__file__).resolve().parent.parent / "docs" / "boards.md").read_text()
    measured = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 10 and cells[0] in ("icebreaker", "ulx3s-85f"):
            pe = cells[1].split(" (")[0]
            n = int(cells[2].split("×")[0])
            met = cells[9] == "met"
            measured[cells[0], pe] = n if met else n - 1     # missed timing: one smaller
    assert set(BOARD_MAX_SQUARE) == set(measured)
    for key, n in BOARD_MAX_SQUARE.items():
        assert n <= measured[key], (key, n, measured[key])


def test_cost_cache_and_iso_area_speedup():
    from hwgen.explore.cost import CostModel, speedup
    cm = CostModel("up5k", synthesize=False)
    entries = {"fp32": dict(lut=1500, ff=180, carry=0, dsp=4, fmax=6.5, area=0.5),
               "e4m3_none": dict(lut=300, ff=54, carry=0, dsp=0, fmax=13.0, area=300 / 5280)}
    for name, e in entries.items():
        cm._cache[cm._key(cm.module_name(name))] = e
    assert cm.cost("e4m3_none") == dict(entries["e4m3_none"], macs_per_cycle=1.0)
    assert cm.cost("e5m2_none") is None and "not in the cost cache" in cm.errors["e5m2_none"]
    expect = (0.5 / (300 / 5280)) * (13.0 / 6.5)
    assert speedup(entries["e4m3_none"], entries["fp32"]) == pytest.approx(expect)
    ex = Explorer(_teacher(), parse_space("e4m3_none,e5m2_none"), 0.01, cost_model=cm)
    ex.measure_costs()
    assert ex.cost_measured and ex.speedup("e4m3_none") == pytest.approx(expect)
    # A candidate without a measured cost ranks after every measured one.
    assert ex.best(ex.space).name == "e4m3_none"


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_emulated_layer_equals_systolic_array_golden(dataflow):
    """A dense layer of the emulation is what the systolic array computes (its golden model,
    which the array's cocotb tests check against the RTL): same products, same k order."""
    from hwgen.golden.matmul import matmul
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((5, 7)) * 2, rng.standard_normal((3, 7))
    m = Model("l", [dict(kind="dense", W=w, b=np.zeros(3))], (7,), x, np.zeros(5, np.int64))
    f = parse_format("e4m3_none")
    got = float_forward(m, f)
    arr = matmul(encode(f, x), encode(f, w).T, "e4m3_none:e4m3_none:rounded", dataflow,
                 rows=2, cols=2)
    np.testing.assert_array_equal(got, decode(f, arr))


# -- bit-serial candidates --------------------------------------------------------------------

def test_bitserial_candidates_parse():
    from hwgen.explore.emulate import BitSerial
    assert parse_candidate("bs8") == BitSerial(8, 8, 8)
    assert parse_candidate("bs8x4@3").name == "bs8x4@3"
    assert [c.name for c in parse_space("bs4-5,bs8@6-7,bs6x4")] == \
        ["bs4", "bs5", "bs8@6", "bs8@7", "bs6x4"]
    assert len(parse_space("bitserial")) == 15
    for spec, message in (("bs20", "weight width must be 2..16, not 20"),
                          ("bs8@9", "run-time bits must be 1..8, not 9")):
        with pytest.raises(ValueError, match=message):
            parse_space(spec)


def test_bitserial_layer_is_the_bitserial_golden_dot():
    """A bit-serial layer's dot products are hwgen.golden.bsmac.bitserial_dot of the
    quantized weights (all planes, or the top ``bits`` planes), checked against plain Python
    integers with the low weight bits cleared."""
    from hwgen.explore.rtl import layer_trace
    from hwgen.golden.bsmac import bitserial_dot
    m = _teacher(seed=3)
    _, full = layer_trace(m, "bs8", 6)
    _, part = layer_trace(m, "bs8@3", 6)
    a, wq = full[0]["A"], full[0]["B"].T                # (M, K) activations, (O, K) weights
    np.testing.assert_array_equal(a, part[0]["A"])      # same input quantization
    shape = (a.shape[0], wq.shape[0], a.shape[1])        # one dot product per (m, o)
    w3, a3 = np.broadcast_to(wq[None], shape), np.broadcast_to(a[:, None], shape)
    np.testing.assert_array_equal(full[0]["acc"], bitserial_dot(w3, a3, 8))
    np.testing.assert_array_equal(part[0]["acc"], bitserial_dot(w3, a3, 8, bits=3))
    ref = [[sum(int(p) * ((int(q) >> 5) << 5) for p, q in zip(r, c)) for c in wq] for r in a]
    assert part[0]["acc"].tolist() == ref
    # With all planes the network is the fixed-point one with 8-bit weights and activations.
    np.testing.assert_array_equal(forward(m, "bs8"), forward(m, "fx8"))
    assert accuracy(forward(m, "bs8@2"), m.y_test) < accuracy(forward(m, "bs8"), m.y_test)


@pytest.mark.parametrize("accumulate", ["rounded", "fused", "exact"])
def test_float_cost_names_are_the_units(accumulate):
    """The cost cache's key of a float candidate is the module name of the MAC it stands for,
    without building it."""
    from hwgen.explore.cost import CostModel
    cm = CostModel("up5k", accumulate=accumulate, max_terms=256, synthesize=False)
    for cand in ("e4m3", "bf16", "e5m7_none"):
        unit = cm.unit(cand)
        unit._MustUse__used = True          # built for its name only (here, not in cost.py)
        assert cm.module_name(cand) == unit.module_name


def test_bitserial_cost_counts_cycles():
    from hwgen.explore.cost import CostModel, speedup
    from hwgen.units.bsmac import BitSerialMac
    cm = CostModel("up5k", synthesize=False)
    units = [BitSerialMac(8, 6, 4), cm.unit("bs6x4")]
    for u in units:
        u._MustUse__used = True          # built for their names only
    assert cm.module_name("bs6x4@2") == units[0].module_name == units[1].module_name
    assert units[1].module_name == "bsmac_k8_w6_a4_s"
    entry = dict(lut=200, ff=100, carry=0, dsp=0, fmax=40.0, area=200 / 5280)
    cm._cache[cm._key(cm.module_name("bs8"))] = entry
    ref = dict(lut=1482, ff=177, dsp=4, fmax=6.5, area=0.5, macs_per_cycle=1.0)
    full, half = cm.cost("bs8"), cm.cost("bs8@4")        # one unit, 8 or 4 cycles per op
    assert (full["macs_per_cycle"], half["macs_per_cycle"]) == (1.0, 2.0)
    assert speedup(half, ref) == pytest.approx(0.5 / (200 / 5280) * (40.0 / 6.5) * 8 / 4)
    assert speedup(half, ref) == pytest.approx(2 * speedup(full, ref))
    gen, build = pe_commands("bs6x4@2")
    assert gen == ("hwgen generate bsmac --lanes 8 --weight-bits 6 --act-bits 4 "
                   "-o bsmac_k8_w6_a4_s.v") and build is None


# -- the RTL check's mapping and comparison (the simulation itself: rtl_tests/) ---------------

def test_rtl_pe_mapping():
    from hwgen.explore.rtl import rtl_pe
    assert rtl_pe("fx6") == "int6"
    assert rtl_pe("e4m3_none") == "e4m3_none:e4m3_none:rounded"
    assert rtl_pe("e3m4", "fused") == "e3m4:e3m4:fused"
    assert rtl_pe("e3m4", "exact") == "e3m4:exact:e3m4"
    assert rtl_pe("bs8") == "bs8x8" and rtl_pe("bs6x4@2") == "bs6x4"


@pytest.mark.parametrize("cand, acc, dataflow", [
    ("fx6", "rounded", "ws"), ("e3m2_none", "rounded", "ws"), ("e3m2_none", "rounded", "os"),
    ("e4m3", "fused", "ws"), ("e2m3", "exact", "ws"), ("bs6x5@3", "rounded", "ws")])
def test_traced_layers_equal_array_golden(cand, acc, dataflow):
    """Every layer of the emulation (dense and conv) is the array's golden GEMM, and the
    comparison notices a single flipped bit."""
    from hwgen.explore.rtl import _compare, golden_check, layer_trace, rtl_pe
    for m in (_teacher(seed=5), _tiny_cnn()):
        scores, trace = layer_trace(m, cand, 3, accumulate=acc)
        np.testing.assert_array_equal(scores, forward(m, cand, m.x_test[:3], accumulate=acc))
        assert len(trace) == 2 and trace[0]["A"].shape[1] == trace[0]["B"].shape[0]
        bits = parse_candidate(cand).bits if cand.startswith("bs") else None
        res = golden_check(trace, rtl_pe(cand, acc), dataflow, rows=3, cols=2, bits=bits)
        assert [r["mismatches"] for r in res] == [0, 0], res
        bad = trace[1]["acc"].copy()
        bad[0, 0] ^= 1
        assert _compare(trace[1]["acc"], bad)[0] == 1


@pytest.mark.parametrize("kw, message", [
    (dict(formats="e3-5m2-4", verify_rtl=2), "at most 8, not 9"),
    (dict(formats="bs8", verify_rtl=2, rtl_dataflow="os"), "need a weight-stationary array"),
    (dict(formats="fx8", verify_rtl=0), "takes 1..64 inputs, not 0"),
    (dict(formats="fx8", verify_rtl=2, rtl_array="4by4"), "Array shape must be RxC"),
])
def test_cli_verify_rtl_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        ecli.run(_args(model="mlp-iris", **kw))


def test_fast_search_restarts_when_a_line_tops_out():
    """Every bit-serial candidate misses the target: the climb reaches bs4, the widest of its
    line, and restarts from the best-predicted candidate not yet evaluated (fx4), instead of
    giving up."""
    acc = {"bs2": 0.5, "bs3": 0.6, "bs4": 0.7, "fx4": 0.8, "fx5": 1.0, "fx6": 1.0}

    class Fake(Explorer):
        def evaluate(self, c):
            c = parse_candidate(c)
            if c.name not in self.results:
                self.results[c.name] = dict(accuracy=acc[c.name], seconds=0.0)
                self.evaluations += 1
            return self.results[c.name]["accuracy"]

    ex = Fake(_teacher(), parse_space("bs2-4,fx4-6"), 0.01)
    ex.exact_accuracy = 1.0
    res = ex.fast(dict(intercept=1.0, slope=0.0))      # every candidate predicted to meet
    assert res["path"] == ["bs2", "bs3", "bs4", "fx4", "fx5"]
    assert res["chosen"] == "fx5" == ex.exhaustive()["chosen"]
    assert res["evaluations"] == 5


def test_cost_syntheses_run_as_one_sweep(tmp_path):
    # The uncached candidates' units are synthesized together (hwgen.flow.sweep; here
    # serially, --workers 1), then every cost comes from the flow's cache: equal to the cost
    # of the same unit synthesized on its own.
    from hwgen.explore.cost import CostModel
    from hwgen.flow.synth import synthesize
    cm = CostModel("up5k", workers=1)
    cands = [parse_candidate("fx2"), parse_candidate("fx3")]
    cm.prefetch(cands)
    cache = sorted((tmp_path / "cache" / "synth" / "cache").glob("*.json"))
    assert len([p for p in cache if not p.name.startswith("dsp-")]) == 2
    for c in cands:
        alone = synthesize(cm.unit(c), "up5k", progress=False)
        assert alone.cached                                  # the sweep put it there
        cost = cm.cost(c)
        assert cost["module"] == alone.module and cost["lut"] == alone.unit["lut"]
        assert cost["fmax"] == alone.fmax_mhz


@pytest.mark.parametrize("kw, message", [
    (dict(scheduler="nowhere"), "--scheduler: Scheduler address 'nowhere' is not of the form"),
    (dict(workers=0), "--workers must be a positive integer, not 0"),
    (dict(scheduler="tcp://127.0.0.1:8786", workers=2), "give one"),
])
def test_cli_sweep_options_are_checked(kw, message):
    with pytest.raises(ValueError, match=message):
        ecli.run(_args(model="digits", **kw))
