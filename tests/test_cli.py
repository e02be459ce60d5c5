"""The CLI's contract: one-line errors with exit status 2, the formats table, --version."""

import re
import subprocess
import sys

import pytest

from hwgen import __version__
from hwgen.cli import main
from hwgen.formats import PRESETS


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hwgen", *args], capture_output=True,
                          text=True)


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"hwgen {__version__}"


def test_formats_table_lists_every_preset(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    names = [line.split()[0] for line in lines[2:]]
    assert names == list(PRESETS)
    # The derived facts printed are the format's own (max finite of e4m3 is 448).
    e4m3 = next(line for line in lines if line.startswith("e4m3"))
    assert str(float(PRESETS["e4m3"].max_finite)).rstrip("0").rstrip(".") in e4m3


def test_formats_one(capsys):
    assert main(["formats", "e6m7"]) == 0
    header, _, row = capsys.readouterr().out.splitlines()
    fields = dict(zip(re.split(r"\s{2,}", header.strip()), row.split()))
    # e6m7: 1 + 6 + 7 bits, bias 2**5 - 1
    assert (fields["name"], fields["bits"], fields["exp"], fields["man"], fields["bias"]) == \
        ("e6m7", "14", "6", "7", "31")


@pytest.mark.parametrize("args, needle", [
    (["formats", "e0m3"], "e0m3"),
    (["formats", "e9m99"], "Mantissa width must be between 0 and 23, not 99"),
    (["formats", "fp99"], "fp99"),
    (["formats", "e4m3_bogus"], "bogus"),
    (["nosuchcommand"], "nosuchcommand"),
    # A bad unit option is named even when -o is missing too.
    (["generate", "bsmac", "--weight-bits", "0"], "not 0"),
    (["generate", "fmul", "--format", "e4m3", "--rounding", "nope"], "nope"),
    (["generate", "array", "--rows", "2", "--cols", "2", "--pe", "bogus"], "bogus"),
    (["generate", "tmac"], "-o/--output"),
    (["compress", "no-such-model"], "no-such-model"),
    # (compress without -o writes <model>.hwga: tests/test_train.py)
    (["compress", "mlp-iris", "-o", "no_such_dir/x.hwga"], "does not exist"),
])
def test_bad_arguments_exit_2_with_one_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1, r.stderr
    assert needle in err[0]
    assert "Traceback" not in r.stderr


# -- the command package ----------------------------------------------------------------------

def test_bare_hwgen_lists_the_commands():
    from hwgen.cli import commands
    r = run_cli()
    assert r.returncode == 2
    assert r.stderr.startswith("usage: hwgen ")
    # The command list: one line per command, its name indented by 4 (help lines wrap deeper).
    listed = [line.split()[0] for line in r.stderr.splitlines()
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == [c.name for c in commands()] == sorted(listed)
    assert {"build", "compress", "demo", "explore", "formats", "generate", "sim",
            "synth"} <= set(listed)


def test_help_imports_no_heavy_library():
    # `hwgen --help` and the full parser (every command, every unit) need only argparse: the
    # commands import Amaranth, numpy, cocotb... when they run.
    code = ("import sys\nfrom hwgen.cli import build_parser, main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "build_parser()\n"
            "heavy = {'amaranth', 'numpy', 'sklearn', 'cocotb', 'matplotlib', 'sim', 'boards',\n"
            "         'torch'}\n"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "[]"


def _cli_imports():
    """``{module: set of hwgen modules it imports}`` for every module of hwgen/ (imports inside
    functions included), read from the source."""
    import ast
    from pathlib import Path

    import hwgen
    root = Path(hwgen.__file__).parent
    names = {}
    for path in root.rglob("*.py"):
        parts = ["hwgen", *path.relative_to(root).with_suffix("").parts]
        is_pkg = parts[-1] == "__init__"
        names[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    graph = {}
    for mod, (path, is_pkg) in names.items():
        package = mod if is_pkg else mod.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in names else base)
        graph[mod] = {d for d in deps if d in names and d != mod}
    return graph


def test_cli_is_the_top_layer_without_circle():
    graph = _cli_imports()
    cli = {m for m in graph if m == "hwgen.cli" or m.startswith("hwgen.cli.")}
    assert {"hwgen.cli._command", "hwgen.cli.generate", "hwgen.cli.demo"} <= cli
    # Nothing below the command line imports it (``python -m hwgen`` runs it).
    assert [m for m in graph if m not in cli and graph[m] & cli] == ["hwgen.__main__"]
    # The package imports every command module (by discovery); no command module imports the
    # package back, and the command modules import one another without a cycle.
    from hwgen.cli import commands
    assert len(commands()) >= 8
    edges = {m: graph[m] & cli for m in cli}
    edges["hwgen.cli"] |= {m for m in cli if not m.rpartition(".")[2].startswith("_")} - {
        "hwgen.cli"}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", " -> ".join([*path, m])
        state[m] = "open"
        for d in sorted(edges[m]):
            visit(d, [*path, m])
        state[m] = "done"

    for m in sorted(edges):
        visit(m, [])


@pytest.mark.parametrize("args, space", [
    (["fmul", "--format", "fp16"], "4,294,967,296"),
    (["fadd", "--format", "bf16", "--subtract", "dynamic"], "8,589,934,592"),   # x2 for op
    (["ffma", "--format", "e5m2", "--rounding", "dynamic"], "83,886,080"),      # 2**24 x 5
])
def test_sim_exhaustive_refused_above_the_limit(args, space):
    """The input space is counted from the options (operands, rounding codes, add/subtract)
    and refused before anything is built or simulated."""
    r = run_cli("sim", *args, "--exhaustive")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == (f"hwgen: error: --exhaustive: {args[0]} --format {args[2]} has {space} "
                   f"input combinations, more than 2**26 = 67,108,864; use --vectors N\n")


def test_generate_lists_ports_in_verilog_order(tmp_path):
    """The port list follows the module header, so a positional instantiation built from
    it connects the right signals."""
    out = tmp_path / "f.v"
    r = run_cli("generate", "fmul", "--format", "e4m3", "--latency", "1", "-o", str(out))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == "ports (in the order of the module header):"
    listed = [ln.split()[-1] for ln in lines[2:]]
    header = re.search(r"^module fmul_e4m3_rne_l1\((.*)\);", out.read_text(), re.M).group(1)
    assert listed == [p.strip() for p in header.split(",")]
    assert sorted(listed) == ["a", "b", "clk", "flags", "in_valid", "out_valid", "rst", "y"]


def test_generate_no_flags_leaves_out_the_port(tmp_path):
    """``--no-flags``: the module has no ``flags`` port and its name says so; the same unit
    with flags is larger (the flag logic is gone, not just unconnected)."""
    sizes = {}
    for extra in ([], ["--no-flags"]):
        out = tmp_path / f"f{len(extra)}.v"
        r = run_cli("generate", "ffma", "--format", "e4m3", "--latency", "1", *extra,
                    "-o", str(out))
        assert r.returncode == 0, r.stderr
        name = r.stdout.splitlines()[0].rsplit(" ", 1)[1]
        listed = sorted(ln.split()[-1] for ln in r.stdout.splitlines()[2:])
        sizes[bool(extra)] = len(out.read_text())
        if extra:
            assert name == "ffma_e4m3_rne_noflags_l1"
            assert listed == ["a", "b", "c", "clk", "in_valid", "out_valid", "rst", "y"]
            assert not re.search(r"\bflags\b", out.read_text())
        else:
            assert name == "ffma_e4m3_rne_l1" and "flags" in listed
    assert sizes[True] < sizes[False]


def test_sim_waves_names_the_waveform_file(tmp_path):
    r = subprocess.run([sys.executable, "-m", "hwgen", "sim", "fmul", "--format", "e2m1",
                        "--vectors", "50", "--waves"], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[-1]
    assert line.startswith("waveforms: ") and line.endswith((".vcd", ".fst")), line
    path = line.split(": ", 1)[1]
    assert path.startswith(str(tmp_path / "build" / "sim"))
    with open(path, "rb") as f:
        assert f.read(1) in (b"$", b"\x00", b"\x01")   # a VCD header or an FST block
