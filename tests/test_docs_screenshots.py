"""The dialog screenshots in docs/images show today's texts: the host tests that take them
(`FIXATIVE_SCREENSHOTS=docs/images`, tests/hosts) record beside them, in
docs/images/screenshot-texts.json, the mode and strength texts the dialog showed; these must be
the core's current ones, so changing a text without retaking the pictures fails here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fixative.protection.settings import MODE_HELP, MODES, STRENGTH_HELP, STRENGTHS

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT / "tests" / "hosts"))
from adapter_checks import SCREENSHOT_TEXTS  # noqa: E402

RETAKE = (
    "retake the screenshots: FIXATIVE_SCREENSHOTS=docs/images python -m pytest "
    "tests/hosts -k '(dialog_preview_and_menu or dialogs_explain or user_interface) and newest'"
)


def recorded() -> dict:
    return json.loads((IMAGES / SCREENSHOT_TEXTS).read_text(encoding="utf-8"))


def test_every_dialog_screenshot_has_its_texts() -> None:
    texts = recorded()
    assert {"krita-dialog.png", "gimp-dialog.png", "blender-save-dialog.png"} <= set(texts), RETAKE
    for shot in texts:
        assert (IMAGES / shot).is_file(), shot


def test_krita_screenshot_shows_the_cores_texts() -> None:
    # The dialog as the host test opens it: fast mode, medium strength, each worded below its box.
    shown = recorded()["krita-dialog.png"]
    assert shown["mode"] == f"Fast: {MODE_HELP['fast']}", RETAKE
    assert shown["strength"] == f"Medium: {STRENGTH_HELP['medium']}", RETAKE


def test_blender_screenshot_shows_the_cores_texts() -> None:
    # Save Protected As… in its file browser: the help lines under strength and mode.
    shown = recorded()["blender-save-dialog.png"]
    assert STRENGTH_HELP[shown["strength"]] in shown["lines"], RETAKE
    assert MODE_HELP[shown["mode"]] in shown["lines"], RETAKE


def test_gimp_screenshot_shows_the_cores_texts() -> None:
    shown = recorded()["gimp-dialog.png"]
    expected = [
        *(f"{s.capitalize()}: {STRENGTH_HELP[s]}" for s in STRENGTHS),
        *(f"{m.capitalize()}: {MODE_HELP[m]}" for m in MODES),
    ]
    assert shown["radios"] == expected, RETAKE
