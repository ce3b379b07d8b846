"""Checks on the guide in docs/ that its doctests cannot make themselves.

The `>>>` examples run as doctests (pytest collects docs/*.md). Code the guide
quotes from the library, in a fenced block whose first line is
`# From trio_dns/...:`, is not run; instead it must still appear, verbatim, in
the file it names, so a listing cannot go stale. Links between chapters must
point at files that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHAPTERS = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_QUOTE = re.compile(r"\A# From (trio_dns/[\w/.]+\.py):\n")
_LINK = re.compile(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)")


def _quoted_listings() -> list[tuple[str, str, str]]:
    listings = []
    for chapter in CHAPTERS:
        for block in _FENCE.findall(chapter.read_text(encoding="utf-8")):
            match = _QUOTE.match(block)
            if match:
                listings.append((chapter.name, match.group(1), block[match.end() :]))
    return listings


def test_guide_has_chapters() -> None:
    names = {chapter.name for chapter in CHAPTERS}
    assert {"README.md", "01-wire-protocol.md", "03-record-types.md"} <= names


def test_there_are_quoted_listings() -> None:
    # Guards the check below against a regex that silently matches nothing.
    assert _quoted_listings()


@pytest.mark.parametrize(
    ("chapter", "path", "listing"),
    _quoted_listings(),
    ids=[f"{chapter}:{path}" for chapter, path, _ in _quoted_listings()],
)
def test_quoted_listing_matches_source(chapter: str, path: str, listing: str) -> None:
    source = (ROOT / path).read_text(encoding="utf-8")
    assert listing in source, f"{chapter} quotes {path}, but the file no longer contains it"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[chapter.name for chapter in CHAPTERS])
def test_links_between_chapters_resolve(chapter: Path) -> None:
    for target in _LINK.findall(chapter.read_text(encoding="utf-8")):
        assert (chapter.parent / target).is_file(), f"{chapter.name} links to missing {target}"
