"""bench/doc_sections.py: quoting one bench's section on another bench's page; and the pages
that quote issue 16's verdicts (docs/systolic.md, docs/boards.md) hold them as the measuring
pages (docs/fast_pes.md, docs/board_clocks.md) state them now."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("doc_sections",
                                               ROOT / "bench" / "doc_sections.py")
doc_sections = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(doc_sections)

PAGE = """# Title

intro

## Against the issue's targets

- one
- two

### detail

more

## Notes

- n
"""


def test_section_stops_at_the_next_heading_of_its_level(tmp_path):
    p = tmp_path / "a.md"
    p.write_text(PAGE)
    assert doc_sections.section(p, "## Against the issue's targets") == [
        "- one", "- two", "", "### detail", "", "more"]
    assert doc_sections.section(p, "### detail") == ["more"]
    assert doc_sections.section(p, "## Notes") == ["- n"]
    with pytest.raises(ValueError, match="no section '## Nothing'"):
        doc_sections.section(p, "## Nothing")
    with pytest.raises(ValueError, match="no such document"):
        doc_sections.section(tmp_path / "missing.md", "## Notes")


def test_rewrite_marked_inserts_then_replaces(tmp_path):
    p = tmp_path / "b.md"
    p.write_text(PAGE)
    doc_sections.rewrite_marked(p, "blk", ["x", "y"], after="intro")
    first = p.read_text()
    assert first == PAGE.replace("intro\n", "intro\n\n<!-- blk -->\nx\ny\n<!-- /blk -->\n")
    doc_sections.rewrite_marked(p, "blk", ["z"], after="intro")
    assert p.read_text() == PAGE.replace("intro\n", "intro\n\n<!-- blk -->\nz\n<!-- /blk -->\n")
    before = p.read_text()
    with pytest.raises(ValueError, match="neither the block"):
        doc_sections.rewrite_marked(p, "other", ["z"], after="no such line")
    assert p.read_text() == before


@pytest.mark.parametrize("page, source", [("systolic.md", "fast_pes.md"),
                                          ("boards.md", "board_clocks.md")])
def test_pages_quote_the_current_verdicts(page, source):
    """`python bench/systolic.py --targets-only` (boards.py) rewrites the quote; a rerun of the
    measuring bench without it leaves the page behind, which this catches."""
    docs = ROOT / "docs"
    text = (docs / page).read_text()
    block = text.split("<!-- issue-16-targets -->", 1)[1].split("<!-- /issue-16-targets -->")[0]
    quoted = doc_sections.section(docs / source, "## Against the issue's targets")
    assert quoted and any("**met**" in ln for ln in quoted)
    assert "\n".join(quoted) in block
