"""Every relative link and image in the project's Markdown points at something that exists,
and every heading anchor it names is a heading of the target (GitHub's anchor rules)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from manual import FENCE, LINK  # noqa: E402  what a Markdown link is, as the build reads it


def markdown_files() -> list[Path]:
    """The Markdown files git tracks or would add (not build output, not ignored files)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(ROOT / line for line in out.splitlines() if (ROOT / line).is_file())


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for match in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        base = anchor(match.group(1))
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    found |= set(re.findall(r'<a\s+(?:name|id)="([^"]+)"', text))
    return found


def links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return [m.group(1) for m in LINK.finditer(text)]


FILES = markdown_files()


def test_the_docs_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "docs/index.md", "docs/cli.md", "docs/strength.md"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file {dest}")
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading #{fragment} in {dest.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(broken)


def test_anchor_rule() -> None:
    assert anchor("On your website: `fixative site-snippets`") == (
        "on-your-website-fixative-site-snippets"
    )
    assert anchor("Protection strength (measured)") == "protection-strength-measured"


def test_help_points_at_pages_that_exist(capsys) -> None:
    from fixative.cli import HELP_PAGES, main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for page in HELP_PAGES:
        assert f"docs/{page}" in out and (ROOT / "docs" / page).is_file()
