"""Sections one bench's page quotes from another's: read a section, rewrite a marked block.

A page that holds another bench's verdicts (docs/systolic.md the fast PEs' targets from
docs/fast_pes.md, docs/boards.md the PLL clocks' from docs/board_clocks.md) quotes the
section as that bench wrote it, between ``<!-- name -->`` and ``<!-- /name -->``, so the
quoting bench can rewrite the block in place without measuring anything again.
"""

from pathlib import Path

__all__ = ["section", "marked", "rewrite_marked", "targets_only"]


def section(path, heading):
    """The lines under the Markdown heading ``heading`` (the whole line, e.g. ``"## Notes"``)
    of the document at ``path``, up to the next heading of the same or a higher level, with
    the blank lines at both ends dropped. ValueError when the document or the heading is
    missing (a quote of nothing would be a silent hole in the page)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such document to quote from")
    lines = path.read_text().splitlines()
    if heading not in lines:
        raise ValueError(f"{path}: no section {heading!r}")
    level = len(heading) - len(heading.lstrip("#"))
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if lines[i].startswith("#") and
                len(lines[i]) - len(lines[i].lstrip("#")) <= level), len(lines))
    body = lines[start:end]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return body


def marked(name, lines):
    """``lines`` between the markers of the block ``name``."""
    return [f"<!-- {name} -->", *lines, f"<!-- /{name} -->"]


def rewrite_marked(path, name, lines, after):
    """Replace the block ``name`` of the document at ``path`` by ``lines`` (markers added);
    a page written before the block had it gets it after its line ``after`` (the whole line).
    ValueError when the page has neither."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such page to write the block into")
    text = path.read_text()
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = "\n".join(marked(name, lines))
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        rows = text.split("\n")
        if after not in rows:
            raise ValueError(f"{path}: neither the block {begin} nor the line to put it "
                             f"after")
        i = rows.index(after) + 1
        text = "\n".join(rows[:i] + ["", block] + rows[i:])
    path.write_text(text)


def targets_only(parser, path, name, lines, after):
    """A bench's ``--targets-only``: rewrite the block (:func:`rewrite_marked`), or stop with
    the parser's one-line error (exit 2). Returns the exit status."""
    try:
        rewrite_marked(path, name, lines, after)
    except ValueError as e:
        parser.error(str(e))
    print(f"wrote the {name} block of {path}")
    return 0
