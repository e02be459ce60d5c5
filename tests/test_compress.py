"""The compressed-weight golden model (hwgen.golden.compress), the compress command and the
parameter checks of the hdec/shamdec/spmv units."""

import argparse
import heapq
import itertools
import struct
import zlib
from fractions import Fraction

import numpy as np
import pytest

from hwgen.golden import compress as gc
from hwgen.golden.compress import CanonicalCode

# components built only to check parameters and properties are never elaborated (Amaranth
# warns when they are garbage-collected, which may happen during any later test)
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def random_sparse(rng, shape, density):
    w = rng.normal(0, 0.1, size=shape).astype(np.float32)
    mask = np.zeros(w.size, dtype=bool)
    mask[rng.choice(w.size, size=int(round(density * w.size)), replace=False)] = True
    w[~mask.reshape(shape)] = 0
    return w


def unbounded_huffman(freqs):
    """Textbook Huffman (heap of subtrees): the reference for the unbounded optimum."""
    heap = [(int(f), i, [i]) for i, f in enumerate(freqs)]
    heapq.heapify(heap)
    lengths, tie = [0] * len(freqs), len(freqs)
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        for s in a[2] + b[2]:
            lengths[s] += 1
        heapq.heappush(heap, (a[0] + b[0], tie, a[2] + b[2]))
        tie += 1
    return np.array(lengths)


def fibonacci(n):
    f = [1, 1]
    while len(f) < n:
        f.append(f[-1] + f[-2])
    return np.array(f[:n], dtype=np.int64)


# -- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["ham", "sham"])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.5, 1.0])
@pytest.mark.parametrize("quant", ["none", "kmeans", "pq"])
def test_round_trip(fmt, density, quant):
    rng = np.random.default_rng(int(density * 100) + len(quant))
    for shape, ww in (((40, 30), 32), ((1, 1), 8), ((7, 64), 64), ((65, 3), 16)):
        w = random_sparse(rng, shape, density)
        if quant == "kmeans":
            w, _ = gc.kmeans_share(w, 8)
        elif quant == "pq":
            w, _ = gc.pq_quantize(w, 2, seed=1)
        c = gc.compress(w, fmt, word_width=ww, max_len=16)
        assert np.array_equal(gc.decompress(c), w)
        c2 = gc.read_container(gc.write_container(c))
        assert np.array_equal(gc.decompress(c2), w)
        assert c2.code == c.code and c2.format == fmt and c2.shape == shape
        expect_coded = w.size if fmt == "ham" else np.count_nonzero(w)
        assert c.n_coded == expect_coded


def test_negative_zero_is_coded_as_zero():
    w = np.array([[-0.0, 1.0], [0.0, -1.0]], dtype=np.float32)
    for fmt in ("ham", "sham"):
        d = gc.decompress(gc.compress(w, fmt))
        assert np.array_equal(d, w) and not np.signbit(d[0, 0])


def test_pack_bits_msb_first():
    bits = [1, 0, 1, 1, 0, 0, 0, 0, 1]
    assert gc.pack_bits(bits, 8).tolist() == [0b10110000, 0b10000000]
    assert gc.unpack_bits(gc.pack_bits(bits, 5), 5)[:9].tolist() == bits
    assert gc.pack_fields([2, 0, 3], 2, 8).tolist() == [0b10001100]
    assert gc.unpack_fields(gc.pack_fields([5, 1, 7], 3, 4), 3, 4, 3).tolist() == [5, 1, 7]


def test_archive_round_trip_and_crc():
    rng = np.random.default_rng(0)
    items = [(f"layer{i}", gc.sham_encode(random_sparse(rng, (9, 5 + i), 0.4)))
             for i in range(3)]
    blob = gc.write_archive(items)
    back = gc.read_archive(blob)
    assert [n for n, _ in back] == ["layer0", "layer1", "layer2"]
    for (_, a), (_, b) in zip(items, back):
        assert np.array_equal(gc.decompress(a), gc.decompress(b))
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(ValueError, match="CRC-32"):
        gc.read_archive(bytes(bad))


# -- canonical, length-limited codes ----------------------------------------------------------

def test_canonical_code_properties():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(2, 300))
        freqs = rng.integers(1, 10_000, size=n) ** int(rng.integers(1, 3))
        lengths = gc.huffman_lengths(freqs, 16)
        code = CanonicalCode.from_lengths(lengths, 16)
        lens, codes = code.lengths, code.codes
        assert np.all(np.diff(lens) >= 0)  # ranks in order of length
        strings = [format(int(c), f"0{int(l)}b") for c, l in zip(codes, lens)]
        # prefix-free and, at equal length, consecutive; canonical order is lexicographic
        assert strings == sorted(strings)
        for a, b in zip(strings, strings[1:]):
            assert not b.startswith(a)
        for length in range(1, 17):
            at = codes[lens == length]
            if at.size:
                assert at[0] == code.first[length - 1]
                assert np.array_equal(at, at[0] + np.arange(at.size))
        assert code.kraft_sum == 1  # an optimal code is complete
        ranks = rng.integers(0, n, size=500)
        assert np.array_equal(code.decode(code.encode(ranks), ranks.size), ranks)


def test_first_code_recurrence():
    code = CanonicalCode((0, 1, 3, 4))  # lengths 2, 3, 3, 3, 4 x4
    assert code.first.tolist() == [0, 0, 2, 10]
    assert [format(int(c), f"0{int(l)}b") for c, l in zip(code.codes, code.lengths)] == \
        ["00", "010", "011", "100", "1010", "1011", "1100", "1101"]


@pytest.mark.parametrize("max_len", [16, 12, 8, 6])
def test_length_bound_on_skewed_distributions(max_len):
    for n in (max_len + 1, 30, 45):
        if n > 1 << max_len:
            continue
        freqs = fibonacci(n)[::-1].copy()  # unbounded Huffman: lengths up to n - 1
        assert unbounded_huffman(freqs).max() == n - 1
        lengths = gc.huffman_lengths(freqs, max_len)
        assert lengths.max() <= max_len
        assert CanonicalCode.from_lengths(lengths, max_len).kraft_sum <= 1
        if n - 1 > max_len:
            assert lengths.max() == max_len  # the bound binds
    geo = (2.0 ** (60 - np.arange(min(256, 1 << max_len)) * 0.25)).astype(np.int64) \
        // 2 ** 30 + 1
    lengths = gc.huffman_lengths(geo, max_len)
    assert lengths.max() <= max_len and \
        CanonicalCode.from_lengths(lengths, max_len).kraft_sum == 1


def test_fibonacci_gives_every_length():
    lengths = gc.huffman_lengths(fibonacci(17), 16)
    assert sorted(set(lengths.tolist())) == list(range(1, 17))


def test_package_merge_is_optimal():
    rng = np.random.default_rng(2)
    # unbounded: same total cost as textbook Huffman
    for _ in range(100):
        f = rng.integers(1, 1000, size=int(rng.integers(2, 50)))
        assert (gc.huffman_lengths(f, 32) * f).sum() == (unbounded_huffman(f) * f).sum()
    # bounded: same cost as the best of every length vector that obeys the bound and Kraft
    for _ in range(60):
        n = int(rng.integers(2, 7))
        L = int(rng.integers((n - 1).bit_length(), 5))
        f = rng.integers(1, 200, size=n) ** 2
        best = min((np.dot(ls, f) for ls in itertools.product(range(1, L + 1), repeat=n)
                    if sum(Fraction(1, 2 ** x) for x in ls) <= 1))
        got = gc.huffman_lengths(f, L)
        assert got.max() <= L and np.dot(got, f) == best


def test_huffman_edge_cases():
    assert gc.huffman_lengths(np.array([5]), 16).tolist() == [1]
    assert gc.huffman_lengths(np.zeros(0, dtype=np.int64), 16).size == 0
    assert gc.huffman_lengths(np.ones(256, dtype=np.int64), 8).tolist() == [8] * 256
    with pytest.raises(ValueError, match="257 symbols do not fit in codes of at most 8 bits"):
        gc.huffman_lengths(np.ones(257, dtype=np.int64), 8)
    with pytest.raises(ValueError, match="Frequencies must be positive integers"):
        gc.huffman_lengths(np.array([1, 0]), 8)
    with pytest.raises(ValueError, match="Kraft"):
        CanonicalCode((3,))


def test_decoder_rejects_invalid_stream():
    code = CanonicalCode((1,))  # one code, "0"
    with pytest.raises(ValueError, match="Invalid code at bit 1"):
        code.decode(np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="ends before"):
        code.decode(np.array([0]), 2)


# -- container --------------------------------------------------------------------------------

def test_container_crc_detects_every_single_bit_flip():
    rng = np.random.default_rng(3)
    c = gc.sham_encode(random_sparse(rng, (6, 5), 0.5), max_len=4)
    blob = gc.write_container(c)
    for i in range(len(blob)):
        for bit in (0, 7):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            with pytest.raises(ValueError):
                gc.read_container(bytes(bad))


def test_container_header_layout_and_errors():
    w = np.array([[0, 1.5], [0, 0], [2.5, 1.5]], dtype=np.float32)
    blob = gc.write_container(gc.sham_encode(w, word_width=16, max_len=2))
    assert blob[:4] == b"HWGC"
    assert struct.unpack_from("<HBBII", blob, 4) == (1, 1, 16, 3, 2)
    assert struct.unpack_from("<I", blob, len(blob) - 4)[0] == zlib.crc32(blob[:-4])
    with pytest.raises(ValueError, match="too short"):
        gc.read_container(blob[:10])
    # a well-formed CRC over a wrong magic / version: still rejected, by name
    for offset, new in ((0, b"XXXX"), (4, b"\x02\x00")):
        body = bytearray(blob[:-4])
        body[offset:offset + len(new)] = new
        with pytest.raises(ValueError, match="magic|version"):
            gc.read_container(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))))


# -- psi from first principles ----------------------------------------------------------------

def test_psi_by_hand_sham():
    # 3 x 2, non-zeros in CSC order: (2, 0) = 2.5, (0, 1) = 1.5, (2, 1) = 1.5
    w = np.array([[0, 1.5], [0, 0], [2.5, 1.5]], dtype=np.float32)
    c = gc.sham_encode(w, word_width=32, max_len=2)
    # two symbols, one bit each; canonical order by (length, bit pattern): 1.5 < 2.5
    assert c.values.tolist() == [1.5, 2.5] and c.code.counts == (2, 0)
    assert c.words.tolist() == [0b100 << 29]               # 2.5, 1.5, 1.5 -> "1", "0", "0"
    assert c.row_bits == 2 and c.rows.tolist() == [2, 0, 2]
    assert c.row_words.tolist() == [0b100010 << 26]
    assert c.count_bits == 2 and c.count_words.tolist() == [0b0110 << 28]  # counts 1, 2
    # code table 2 lengths x 64 + 2 values x 32 + 3 words x 32, over 6 x 32 dense bits
    assert gc.psi(c) == Fraction(2 * 64 + 2 * 32 + 3 * 32, 6 * 32) == Fraction(3, 2)
    assert gc.plain_ratio(c) == Fraction(2, 3)


def test_psi_by_hand_ham():
    w = np.array([[0, 1.5], [0, 0], [2.5, 1.5]], dtype=np.float32)
    c = gc.ham_encode(w, word_width=32, max_len=2)
    # column-major 0, 0, 2.5, 1.5, 0, 1.5: 0.0 x3 -> "0", 1.5 x2 -> "10", 2.5 x1 -> "11"
    assert c.values.tolist() == [0.0, 1.5, 2.5] and c.code.counts == (1, 2)
    assert c.words.tolist() == [0b001110010 << 23]
    assert gc.psi(c) == Fraction(2 * 64 + 3 * 32 + 32, 192) == Fraction(4, 3)


def test_psi_large_sparse_matrix_is_small():
    rng = np.random.default_rng(4)
    w, _ = gc.kmeans_share(gc.prune(rng.normal(size=(300, 100)), 99), 4)
    c = gc.sham_encode(w)
    bits = c.size_bits()
    assert gc.psi(c) == Fraction(sum(bits.values()), 32 * w.size)
    assert gc.plain_ratio(c) > 100


# -- pruning and quantization -----------------------------------------------------------------

def test_prune_counts_and_order():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(37, 23)).astype(np.float32)
    for p in (0, 12.5, 50, 90, 99.9, 100):
        wp = gc.prune(w, p)
        n = int(Fraction(p) * w.size // 100)
        assert np.count_nonzero(wp == 0) == n
        kept, gone = np.abs(w[wp != 0]), np.abs(w[wp == 0])
        if kept.size and gone.size:
            assert kept.min() >= gone.max()
        assert np.array_equal(wp[wp != 0], w[wp != 0])
    with pytest.raises(ValueError, match=r"Pruning percentage must be in \[0, 100\], not 101"):
        gc.prune(w, 101)
    with pytest.raises(ValueError, match="Weights must be a 2-D matrix"):
        gc.prune(np.zeros(3), 10)
    with pytest.raises(ValueError, match="finite"):
        gc.prune(np.array([[np.nan]]), 10)


def test_kmeans_properties():
    rng = np.random.default_rng(6)
    w = gc.prune(rng.normal(size=(50, 40)), 60)
    wq, cents = gc.kmeans_share(w, 16)
    assert np.array_equal(wq == 0, w == 0)         # zeros stay, non-zeros stay non-zero
    assert np.unique(wq[wq != 0]).size <= 16
    assert set(np.unique(wq[wq != 0]).tolist()) == set(cents.tolist())
    wq2, _ = gc.kmeans_share(w, 16)
    assert np.array_equal(wq, wq2)                   # deterministic
    # a Lloyd fixed point: every value at its nearest centroid, every centroid a mean
    x = w[w != 0].astype(np.float64)
    c, labels = gc.kmeans_1d(x, 16)
    assert np.array_equal(labels, np.argmin(np.abs(x[:, None] - c[None, :]), axis=1))
    for j in range(c.size):
        assert np.isclose(c[j], x[labels == j].mean())
    # at most k distinct values: exact
    small = np.array([[0, 1, 2], [2, 3, 0]], dtype=np.float32)
    assert np.array_equal(gc.kmeans_share(small, 3)[0], small)
    assert np.unique(gc.kmeans_share(small, 1)[0][small != 0]).tolist() == [2.0]


def test_pq_levels_and_unbiasedness():
    rng = np.random.default_rng(7)
    w = gc.prune(rng.normal(size=(8, 8)), 25)
    nz = w != 0
    wq, levels = gc.pq_quantize(w, 2)
    assert levels.size == 4 and levels[0] == w[nz].min() and levels[-1] == w[nz].max()
    assert np.array_equal(wq == 0, w == 0)
    # each value goes to one of its two neighbouring levels
    lv = levels.astype(np.float64)
    x = w[nz].astype(np.float64)
    lo = lv[np.clip(np.searchsorted(lv, x, side="right") - 1, 0, 2)]
    hi = lv[np.clip(np.searchsorted(lv, x, side="right") - 1, 0, 2) + 1]
    assert np.all((np.isclose(wq[nz], lo)) | (np.isclose(wq[nz], hi)))
    # unbiased: the mean over many seeds approaches x within 5 standard errors
    trials = 3000
    acc = np.zeros_like(x)
    for s in range(trials):
        acc += gc.pq_quantize(w, 2, seed=s)[0][nz].astype(np.float64)
    mean = acc / trials
    step = lv[1] - lv[0]
    p = (x - lo) / step
    stderr = np.sqrt(p * (1 - p)) * step / np.sqrt(trials) + 1e-6
    assert np.all(np.abs(mean - x) <= 5 * stderr + 1e-6)
    # and the rounding-to-nearest alternative would be biased: a sanity check of the test
    assert np.abs(mean - x).max() < 0.25 * step


# -- golden of the spmv unit ------------------------------------------------------------------

def test_spmv_csc_matches_dense_product():
    rng = np.random.default_rng(8)
    for density in (0.0, 0.01, 0.5, 1.0):
        w = rng.integers(-128, 128, size=(30, 12))
        w[rng.random(w.shape) >= density] = 0
        x = rng.integers(-128, 128, size=30)
        rows, counts, values = gc.csc(w)
        assert gc.spmv_csc(x, rows, counts, values) == (x.astype(object) @ w.astype(object)
                                                        ).tolist()
    assert gc.spmv_csc([3], [0], [1], [100], acc_width=8) == [gc.wrap_signed(300, 8)] == [44]


# -- compress command -------------------------------------------------------------------------

def run_compress_cli(*argv):
    from hwgen.cli import build_parser
    from hwgen.cli.compress import run as run_compress
    return run_compress(build_parser().parse_args(["compress", *argv]))


def test_compress_command(tmp_path, capsys):
    rng = np.random.default_rng(9)
    model = tmp_path / "m.npz"
    np.savez(model, w1=rng.normal(size=(64, 32)).astype(np.float32), b1=np.zeros(32),
             w2=rng.normal(size=(32, 10)))
    out = tmp_path / "m.hwga"
    assert run_compress_cli(str(model), "--prune", "90", "--quant", "kmeans:8", "-o",
                            str(out)) == 0
    text = capsys.readouterr().out
    assert "total: psi = " in text and "left out (not 2-D matrices): b1" in text
    items = gc.read_archive(out.read_bytes())
    assert [n for n, _ in items] == ["w1", "w2"]
    z = np.load(model)
    for name, c in items:
        # W[out, in] in the file; the array's K x N operand is W.T
        ref, _ = gc.kmeans_share(gc.prune(z[name].T, 90), 8)
        assert np.array_equal(gc.decompress(c), ref)
    psi_printed = float(text.split("total: psi = ")[1].split(",")[0])
    bits = sum(sum(c.size_bits().values()) for _, c in items)
    assert psi_printed == pytest.approx(bits / (32 * (64 * 32 + 32 * 10)), abs=1e-4)
    assert run_compress_cli("gauss:20,10,5", "--quant", "pq:2", "--format", "ham", "-o",
                            str(tmp_path / "g")) == 0
    assert "untrained" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--prune", "101"], "--prune must be a number in 0..100, not '101'"),
    (["--prune", "x"], "--prune must be a number in 0..100, not 'x'"),
    (["--quant", "kmeans:0"], "--quant must be none, kmeans:K (K >= 1) or pq:B"),
    (["--quant", "pq:17"], "--quant must be none, kmeans:K (K >= 1) or pq:B"),
    (["--word-width", "12"], "--word-width must be 8, 16, 32 or 64, not 12"),
    (["--max-len", "0"], "--max-len must be in 1..32, not 0"),
])
def test_compress_command_errors(tmp_path, capsys, args, message):
    model = tmp_path / "m.npz"
    np.savez(model, w=np.ones((3, 3)))
    assert run_compress_cli(str(model), *args, "-o", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwgen: error: {message}") and err.count("\n") == 1


def test_compress_command_bad_models(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("hello")
    for model in (str(tmp_path / "missing.npz"), str(tmp_path / "t.txt"), "gauss:3"):
        assert run_compress_cli(model, "-o", str(tmp_path / "o")) == 2
        err = capsys.readouterr().err
        assert err.startswith("hwgen: error: ") and err.count("\n") == 1
    np.savez(tmp_path / "big.npz", w=np.arange(70_000, dtype=np.float32).reshape(700, 100))
    assert run_compress_cli(str(tmp_path / "big.npz"), "-o", str(tmp_path / "o")) == 2
    assert "quantize (--quant) or raise --max-len" in capsys.readouterr().err


def _teacher_model(seed=3, n=200):
    """A random 6-12-3 MLP whose labels are its own float64 predictions (accuracy 1)."""
    from hwgen.explore.emulate import exact_forward
    from hwgen.explore.models import Model
    rng = np.random.default_rng(seed)
    layers = [dict(kind="dense", W=rng.standard_normal((12, 6)), b=rng.standard_normal(12) * .1),
              dict(kind="relu"),
              dict(kind="dense", W=rng.standard_normal((3, 12)), b=rng.standard_normal(3) * .1)]
    x = rng.standard_normal((n, 6))
    m = Model("teacher", layers, (6,), x, np.zeros(n, dtype=np.int64))
    m.y_test = np.argmax(exact_forward(m), axis=1)
    return m


def _printed_accuracy(text):
    line = next(ln for ln in text.splitlines() if ln.startswith("accuracy ("))
    before = float(line.split("before ")[1].split(",")[0])
    after = float(line.split("after ")[1].split(" ")[0])
    return before, after


def test_compress_model_file_accuracy(tmp_path, capsys):
    from hwgen.explore.models import save_model
    m = _teacher_model()
    path = tmp_path / "teacher.npz"
    save_model(m, path)
    out = tmp_path / "t.hwga"
    assert run_compress_cli(str(path), "--prune", "40", "--quant", "kmeans:4", "--format",
                            "ham", "-o", str(out)) == 0
    text = capsys.readouterr().out
    before, after = _printed_accuracy(text)
    # independent: the same steps by hand, the network written out in numpy
    w1 = gc.kmeans_share(gc.prune(m.layers[0]["W"].T, 40), 4)[0].astype(np.float64)
    w2 = gc.kmeans_share(gc.prune(m.layers[2]["W"].T, 40), 4)[0].astype(np.float64)
    h = np.maximum(m.x_test @ w1 + m.layers[0]["b"], 0)
    pred = np.argmax(h @ w2 + m.layers[2]["b"], axis=1)
    assert before == 1.0
    assert after == pytest.approx(np.mean(pred == m.y_test), abs=5e-5)
    assert after < 1.0            # 4 shared weights and 40 % pruning cost something here
    items = gc.read_archive(out.read_bytes())
    assert [n for n, _ in items] == ["layer0", "layer2"]
    assert np.array_equal(gc.decompress(items[0][1]), w1.astype(np.float32))
    assert items[0][1].format == "ham" and gc.decompress(items[0][1]).shape == (6, 12)
    psi_printed = float(text.split("total: psi = ")[1].split(",")[0])
    bits = sum(sum(c.size_bits().values()) for _, c in items)
    assert psi_printed == pytest.approx(bits / (32 * (6 * 12 + 12 * 3)), abs=1e-4)


def test_compress_builtin_name_and_arith(tmp_path, capsys):
    from hwgen.explore import models as em
    from hwgen.explore.emulate import fixed_forward
    assert run_compress_cli("mlp-iris", "--arith", "fx6", "-o", str(tmp_path / "a")) == 0
    before, after = _printed_accuracy(capsys.readouterr().out)
    model = em.builtin_model("mlp-iris")
    acc = float(np.mean(np.argmax(fixed_forward(model, 6), axis=1) == model.y_test))
    assert before == pytest.approx(acc, abs=5e-5)
    # no pruning, no quantization: the decoded weights are the float32 originals (the
    # model's own: it ships as ONNX), which do not move a 6-bit fixed-point network
    assert after == before


@pytest.mark.parametrize("model, args, message", [
    ("no-such-model", [], "unknown model 'no-such-model': give a built-in model (mlp-"),
    ("teacher", ["--arith", "e9m9x"], "--arith must be float64 or an explorer candidate"),
    ("teacher", ["--prune", "-1"], "--prune must be a number in 0..100, not '-1'"),
    ("broken", [], "'layer0_W' must have shape"),
])
def test_compress_model_errors(tmp_path, capsys, model, args, message):
    from hwgen.explore.models import save_model
    m = _teacher_model()
    save_model(m, tmp_path / "teacher.npz")
    z = dict(np.load(tmp_path / "teacher.npz"))
    z["layer0_W"] = z["layer0_W"][:, :5]
    np.savez(tmp_path / "broken.npz", **z)
    spec = model if model == "no-such-model" else str(tmp_path / f"{model}.npz")
    assert run_compress_cli(spec, *args, "-o", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwgen: error: ") and err.count("\n") == 1
    assert message in err


# -- unit parameters --------------------------------------------------------------------------

def test_unit_parameter_checks():
    from hwgen.units.hdec import HuffmanDecoder
    from hwgen.units.shamdec import ShamDecoder
    from hwgen.units.spmv import SparseMatVec
    with pytest.raises(ValueError, match=r"^Word width must be at least the maximum code "
                                         r"length \(16\), not 8$"):
        HuffmanDecoder(word_width=8)
    with pytest.raises(TypeError, match=r"^Maximum code length must be an integer in 1\.\.24, "
                                        r"not '4'$"):
        HuffmanDecoder(max_len="4")
    with pytest.raises(ValueError, match=r"^Rank width must be an integer in 1\.\.12, not 0$"):
        HuffmanDecoder(rank_bits=0)
    with pytest.raises(ValueError, match=r"^Row index width must be an integer in 1\.\.16, "
                                         r"not 17$"):
        ShamDecoder(row_bits=17)
    with pytest.raises(ValueError, match=r"^Accumulator width must be an integer in 2\.\.96, "
                                         r"not 1$"):
        SparseMatVec(acc_width=1)
    h = HuffmanDecoder()
    assert h.module_name == "hdec_w32_l16_r8_v8_c24"
    assert (h.buffer_bits, h.table_depth, h.latency, h.symbols_per_cycle) == \
        (32 + 2 * 16 - 1, 256, 1, 1)
    assert ShamDecoder().module_name == "shamdec_r10_c10_w32_l16_k8_v8_n24"
    s = SparseMatVec()
    assert s.module_name == "spmv_r10_c10_x8_v8_a26_n24" and s.acc_width == 26


def test_table_writes_match_the_code():
    from hwgen.units.hdec import HuffmanDecoder
    h = HuffmanDecoder(max_len=6, word_width=8, rank_bits=4)
    code = CanonicalCode((0, 1, 3))  # "00", "010", "011", "100"
    writes = h.table_writes(code, [7, 8, 9, 10])
    limits = [w["data"] for w in writes if w["kind"] == h.CFG_LIMIT]
    bases = [w["data"] for w in writes if w["kind"] == h.CFG_BASE]
    assert limits == [0, 1, 5, 10, 20, 40]  # first + count, first continuing to double
    # rank = base + prefix: "00" -> 0, "010" -> 1, "100" -> 3
    assert (bases[1] + 0b00) % 16 == 0 and (bases[2] + 0b010) % 16 == 1 \
        and (bases[2] + 0b100) % 16 == 3
    assert [w["data"] for w in writes if w["kind"] == h.CFG_VALUE] == [7, 8, 9, 10]
    with pytest.raises(ValueError, match="exceed the value table"):
        h.table_writes(CanonicalCode.from_lengths([5] * 17, 6), list(range(17)))


# The defaults the CLI documents for the bare `hwgen generate UNIT` (its --help), written out.
_HDEC_BARE = dict(word_width=32, max_len=16, rank_bits=8, value_width=8, count_width=24)
_BARE_SIM_PARAMS = {
    "hdec": _HDEC_BARE,
    "shamdec": dict(row_bits=10, col_bits=10, **_HDEC_BARE),
    # acc_width: x-width + value-width + row-bits (exact)
    "spmv": dict(row_bits=10, col_bits=10, x_width=8, value_width=8, count_width=24,
                 acc_width=8 + 8 + 10),
    "wload": dict(rows=2, cols=2, pe="int8", fmt="sham", transfer_bits=12, word_width=16,
                  max_len=12, rank_bits=8, count_width=24),
}


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_catalog_builds_every_unit_bare():
    from hwgen.catalog.compression import UNITS
    assert sorted(spec.name for spec in UNITS) == sorted(_BARE_SIM_PARAMS)
    for spec in UNITS:
        p = argparse.ArgumentParser()
        spec.add_arguments(p)
        comp = spec.build(p.parse_args([]))
        # What `hwgen sim` hands the cocotb test: the documented defaults, nothing else.
        assert spec.sim_params(p.parse_args([]), comp) == _BARE_SIM_PARAMS[spec.name], spec.name


@pytest.mark.parametrize("unit", ["hdec", "shamdec", "spmv", "wload"])
def test_generate_bare(tmp_path, capsys, unit):
    from hwgen.cli import main
    out = tmp_path / f"{unit}.v"
    assert main(["generate", unit, "-o", str(out)]) == 0
    assert f"module {unit}_" in out.read_text()
    assert "clk" in capsys.readouterr().out


# -- compressed weights into the systolic array's weight stream --------------------------------

def test_stream_matrix_is_the_tilers_weight_stream():
    from hwgen.golden.tiling import Tiling
    rng = np.random.default_rng(5)
    for (k, n), (r, c) in [((7, 5), (2, 2)), ((4, 9), (4, 3)), ((1, 1), (3, 2)), ((8, 8), (1, 1))]:
        w = rng.integers(-9, 10, (k, n))
        t = Tiling(3, k, n, r, c, "ws")
        ref = np.array(t.weight_transfers(t.pad(np.zeros((3, k), dtype=w.dtype), w)[1]))
        s = gc.stream_matrix(w, r, c)
        assert s.shape == (c, len(ref))
        assert np.array_equal(s.T, ref)
        for fmt in ("ham", "sham"):
            got = gc.weight_stream_rows(gc.compress(s.astype(np.float32), fmt))
            assert np.array_equal(got, ref)


def _simulate_loader(ld, c, *, idle, backpressure, seed=0):
    """Drive a WeightLoader in the Amaranth simulator with container ``c``; return the rows."""
    import random

    from amaranth.hdl import Value
    from amaranth.sim import Simulator
    rng = random.Random(seed)
    T = c.shape[1]
    rows = []

    async def put(ctx, port, payload):
        while rng.random() < idle:
            await ctx.tick()
        ctx.set(Value.cast(port.payload), payload)
        ctx.set(port.valid, 1)
        await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)

    def pack(fields, layout):
        from sim.streams import pack_struct
        return pack_struct(fields, layout)

    async def control(ctx):
        for tw in ld.table_writes(c.code, [int(v) for v in c.values]):
            await put(ctx, ld.cfg, pack(tw, ld.cfg_layout))
        await put(ctx, ld.start, pack(ld.start_fields(c), ld.start_layout))

    def feeder(name):
        async def run(ctx):
            await ctx.tick().repeat(2 + len(c.values) * 2)   # after the table writes
            for x in getattr(c, name).tolist():
                await put(ctx, getattr(ld, name), int(x))
        return run

    async def sink(ctx):
        vw = ld.weight_shape.width
        for _ in range(40 * (T + c.n_coded) + 200):
            ready = rng.random() >= backpressure
            ctx.set(ld.weights.ready, ready)
            _, _, valid, word = await ctx.tick().sample(ld.weights.valid,
                                                        ld.weights.payload.as_value())
            if valid and ready:
                rows.append([(word >> (j * vw)) & ((1 << vw) - 1) for j in range(ld.cols)])
            if len(rows) == T:     # then nothing more may come out
                for _ in range(8):
                    ctx.set(ld.weights.ready, 1)
                    _, _, valid = await ctx.tick().sample(ld.weights.valid)
                    assert not valid, "a row after the last one"
                return

    sim = Simulator(ld)
    sim.add_clock(1e-6)
    sim.add_testbench(control, background=True)
    for name in ("words", "row_words", "count_words") if ld.fmt == "sham" else ("words",):
        sim.add_testbench(feeder(name), background=True)
    sim.add_testbench(sink)
    sim.run()
    return rows


@pytest.mark.parametrize("fmt", ["ham", "sham"])
def test_weight_loader_amaranth_sim(fmt):
    from amaranth import signed

    from hwgen.arrays.wload import WeightLoader
    ld = WeightLoader(3, signed(6), fmt, transfer_bits=6, word_width=8, max_len=8,
                      rank_bits=5, count_width=12)
    rng = np.random.default_rng(11)
    for i, (density, idle, bp) in enumerate([(0.4, 0.3, 0.4), (1.0, 0.0, 0.0),
                                              (0.05, 0.2, 0.2)]):
        w = rng.integers(-32, 32, (5, 7))
        w[rng.random(w.shape) >= density] = 0
        s = gc.stream_matrix(w, 2, 3)
        c = gc.compress(s.astype(np.float32), fmt, word_width=8, max_len=8)
        expected = (gc.weight_stream_rows(c).astype(np.int64) % 64).tolist()
        got = _simulate_loader(ld, c, idle=idle, backpressure=bp, seed=i)
        assert got == expected, (density, idle, bp)


def test_weight_loader_errors():
    from amaranth import signed

    from hwgen.arrays.systolic import SystolicArray
    from hwgen.arrays.wload import CompressedSystolic, WeightLoader
    with pytest.raises(ValueError, match="Format must be one of ham, sham, not 'x'"):
        WeightLoader(2, signed(8), "x")
    with pytest.raises(ValueError, match="Columns must be an integer in 1..64, not 0"):
        WeightLoader(0, signed(8))
    with pytest.raises(ValueError, match="weight-stationary array"):
        WeightLoader.for_array(SystolicArray(2, 2, "int8", "os"))
    ld = CompressedSystolic(2, 2, "int8", "sham", transfer_bits=3).loader
    c = gc.sham_encode(np.ones((2, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="8 transfers need a transfer index wider than 3"):
        ld.start_fields(c)
    with pytest.raises(ValueError, match="Loader decodes sham, not ham"):
        ld.start_fields(gc.ham_encode(np.ones((2, 2), dtype=np.float32)))
