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
    (["compress", "mlp-iris"], "-o/--output"),
])
def test_bad_arguments_exit_2_with_one_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1, r.stderr
    assert needle in err[0]
    assert "Traceback" not in r.stderr
