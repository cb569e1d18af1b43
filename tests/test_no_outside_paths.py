"""Nothing the test suite, the package, the plug-ins or the benchmark defaults use may come from
the development folder beside the clone (`DEV` below): it exists only on the development
machines, so a fresh clone would fail there (issue 11). `.ci/run` also runs the suite with that
folder hidden; this cheap check names the offending line before that long run does.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEV = "".join(("sha", "red"))  # the folder's name, spelt once and split: never a path here
# Everything under these folders, plus the scripts whose defaults the README's commands run.
SCANNED_DIRS = ("tests", "core", "plugins")
SCANNED_FILES = (
    "scripts/bench.py",
    "scripts/evaluate.py",
    "scripts/eval_trainer.py",
    "scripts/model_card.py",
)
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
# `../shared`, a "shared" path component in a string (`parent / "shared"`, "shared/models"),
# the development machines' absolute path, and shared/data or shared/models in any form.
OUTSIDE = re.compile(
    r"""\.\./shared\b|(["'])shared\1|["']shared/|/work/shared\b|\bshared/(?:data|models)\b"""
)


def _without_comments(path: Path, text: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines to check, comments blanked out."""
    if path.suffix == ".py":
        lines = text.splitlines()
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                lines[row - 1] = lines[row - 1][:col]
        return list(enumerate(lines, 1))
    if path.suffix in {".sh", ".toml", ".desktop", ".action", ""}:
        # A '#' at the start of a line or after blanks starts a comment (no quoting cases here).
        return [(n, re.sub(r"(^|\s)#.*", "", line)) for n, line in enumerate(text.splitlines(), 1)]
    return list(enumerate(text.splitlines(), 1))


def _scanned() -> list[Path]:
    files = [REPO / f for f in SCANNED_FILES]
    for folder in SCANNED_DIRS:
        files += sorted(
            p
            for p in (REPO / folder).rglob("*")
            if p.is_file() and not SKIPPED_PARTS & set(p.parts)
        )
    return [p for p in files if p != Path(__file__).resolve()]


def outside_references() -> list[str]:
    hits = []
    for path in _scanned():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images, archives: no paths in them
        for n, line in _without_comments(path, text):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    return hits


def test_the_pattern_catches_the_usual_spellings():
    for line in (
        f'REPO.parent / "{DEV}" / "data" / "dev"',
        f"x = Path('../{DEV}/models/taef2')",
        f'scripts.parent.parent / "{DEV}/models/taef2"',
        f'open("/work/{DEV}/data/dev/SOURCES.md")',
    ):
        assert OUTSIDE.search(line), line
    for line in ('"""Checks shared by the Krita and GIMP host tests."""', '".local/share/krita"'):
        assert not OUTSIDE.search(line), line


def test_comments_are_not_counted(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(f'A = 1  # was REPO.parent / "{DEV}"\n# ../{DEV}/data/dev\nB = "../{DEV}"\n')
    kept = [line for _, line in _without_comments(src, src.read_text()) if OUTSIDE.search(line)]
    assert kept == [f'B = "../{DEV}"']


def test_no_path_outside_the_clone():
    hits = outside_references()
    assert not hits, (
        f"paths outside the clone (../{DEV} exists only on development machines; commit the"
        " data under data/ or synthesise it in a fixture):\n" + "\n".join(hits)
    )
