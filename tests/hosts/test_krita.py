"""The Krita plug-in in real Krita 5.2, through the hosts harness.

The zip from scripts/build_krita_plugin.py is installed with Krita's own importer into a
fresh profile and enabled; Krita then runs in its full GUI under Xvfb (plug-ins load only
there), where a small driver plug-in (tests/hosts/krita_driver) opens the test documents,
writes Fixative's settings and triggers its actions in non-interactive mode. The tests judge
the written files and the JSON the driver and the plug-in wrote, since Krita's exit status
says nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import adapter_checks as chk
import harness
import numpy as np
import pytest
from fixative.protection import families
from fixative.protection.refine import DEFAULT_STEPS
from fixative.protection.settings import DECLARE_LABEL, MODE_HELP, MODES, STRENGTH_HELP
from fixative.protection.view import VIEW_HELP
from harness import ROOT_RESULTS, run_host
from PIL import Image

sys.path.insert(0, str(chk.REPO / "scripts"))
import build_krita_plugin

pytestmark = pytest.mark.hosts
HERE = Path(__file__).resolve().parent
RESOURCES = ".local/share/krita"
XVFB_KRITA = 'xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" krita --nosplash'
# Now and then Krita starts before it can reach xvfb-run's display ("qt.qpa.xcb: could not
# connect to display :99", then abort; seen in both roots, under load): that exact failure,
# and only it, is retried, twice.
NO_DISPLAY = "could not connect to display"


def krita_gui(out: str) -> str:
    """A shell command running Krita's GUI under Xvfb, its output in `out`."""
    return (
        f"for attempt in 1 2 3; do {XVFB_KRITA} > {out} 2>&1; "
        f'grep -q "{NO_DISPLAY}" {out} || break; sleep 2; done'
    )


@pytest.fixture(scope="module")
def krita_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    zip_path = build_krita_plugin.build(tmp_path_factory.mktemp("krita-build"), chk.models_dir())
    chk.assert_graphs_vendored(
        build_krita_plugin.stage_of(zip_path) / "fixative_krita" / "lib" / "fixative"
    )
    return zip_path


def _line(name: str, table: dict) -> str:
    """'Medium: barely visible ...': how the dialog words one choice under its box."""
    return f"{name.capitalize()}: {table[name]}"


def assert_beside_export(menu: list[str]) -> None:
    """The two entries come right after Krita's own Export entries in File, in order."""
    at = menu.index("file_export_advanced") + 1
    assert menu[at : at + 2] == ["fixative_export_protected", "fixative_export_all_protected"], menu
    assert menu.count("fixative_export_protected") == 1, menu


def vendored_lib(krita_zip: Path) -> Path:
    """The folder holding the core (and glue) the built plug-in vendors."""
    return build_krita_plugin.stage_of(krita_zip) / "fixative_krita" / "lib"


@pytest.fixture(scope="module")
def krita_home(rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME in which Krita's GUI has started once: the first start builds its resource
    database (minutes on a busy 2-core machine). Kept beside the root filesystem, stamped
    with the root's recipe hash, and reused while that matches."""
    stamp = (rootfs / ".fixative" / "recipe.sha256").read_text()
    cache = rootfs.parent / "krita-gui-home"
    if (cache / ".stamp").is_file() and (cache / ".stamp").read_text() == stamp:
        return cache / "home"
    results = tmp_path_factory.mktemp("krita-warm")
    (results / "krita-spec.json").write_text(json.dumps({"documents": [], "steps": []}))
    gui = (
        f"{krita_gui(f'{ROOT_RESULTS}/krita-stdout.txt')}; "
        f'mkdir -p {ROOT_RESULTS}/home && cp -a "$HOME/." {ROOT_RESULTS}/home/'
    )
    proc = run_host(
        ["sh", "-c", gui],
        timeout=900,
        results=results,
        env={"QT_QPA_PLATFORM": "xcb"},
        files={
            ".config/kritarc": "[python]\nenable_fixative_test_driver=true\n",
            f"{RESOURCES}/pykrita": HERE / "krita_driver",
        },
        home="krita",
    )
    assert (results / "krita-result.json").exists(), f"Krita did not start ({proc.returncode})"
    (results / "home" / ".config" / "kritarc").unlink(missing_ok=True)
    shutil.rmtree(cache, ignore_errors=True)
    shutil.copytree(results / "home", cache / "home", symlinks=True)
    (cache / ".stamp").write_text(stamp)
    return cache / "home"


def _install_and(command: str) -> list[str]:
    """Shell: install the zip with Krita's importer into the profile, then run `command`."""
    install = (
        f"python3 {ROOT_RESULTS}/krita_install.py {ROOT_RESULTS}/fixative-krita.zip "
        f'"$HOME/{RESOURCES}" > {ROOT_RESULTS}/installed.json'
    )
    return ["sh", "-c", f'mkdir -p "$HOME/{RESOURCES}" && {install} && {command}']


def run_krita(
    results: Path,
    setup: tuple[Path, Path],
    documents: list[dict],
    steps: list[dict],
    env=None,
    home_files=None,
    **spec,
):
    krita_zip, krita_home = setup
    (results / "krita-spec.json").write_text(
        json.dumps({"documents": documents, "steps": steps, **spec})
    )
    (results / "fixative-krita.zip").write_bytes(krita_zip.read_bytes())
    (results / "krita_install.py").write_text((HERE / "krita_install.py").read_text())
    kritarc = "[python]\nenable_fixative_krita=true\nenable_fixative_test_driver=true\n"
    gui = krita_gui(f"{ROOT_RESULTS}/krita-stdout.txt")
    proc = run_host(
        _install_and(gui),
        timeout=400,
        results=results,
        env={
            "QT_QPA_PLATFORM": "xcb",
            "FIXATIVE_KRITA_NONINTERACTIVE": "1",
            "FIXATIVE_KRITA_LOG": f"{ROOT_RESULTS}/fixative-log.jsonl",
            **(env or {}),
        },
        files={
            ".": krita_home,
            ".config/kritarc": kritarc,
            f"{RESOURCES}/pykrita": HERE / "krita_driver",
            **(
                {"/tmp/hide/onnxruntime/__init__.py": HIDDEN} if env and "PYTHONPATH" in env else {}
            ),
            **(home_files or {}),
        },
        home="krita",
    )
    result_path = results / "krita-result.json"
    assert result_path.exists(), (
        f"the driver wrote no result (exit {proc.returncode}):\n"
        + (results / "krita-stdout.txt").read_text(errors="replace")[-3000:]
    )
    result = json.loads(result_path.read_text())
    assert "exception" not in result, result["exception"]
    assert result["alive"], "Krita lost its window or documents"
    return {step["name"]: step for step in result["steps"]}, result


HIDDEN = "raise ImportError('onnxruntime hidden by the test')\n"


def export_step(name: str, doc: str, output: str, **settings) -> dict:
    # Every step writes every setting (Krita remembers them between steps); fast unless a
    # step asks for thorough, to keep the suite's time down.
    values = {
        "output_path": f"{ROOT_RESULTS}/{output}",
        "fmt": "png",
        "strength": "medium",
        "mode": "fast",
        "view": "auto",
        "steps": 0,
        "declarations": True,
        "png_alpha": True,
        "jpeg_quality": 90,
        "external_python": "",
        **settings,
    }
    return {"name": name, "doc": doc, "action": "fixative_export_protected", "settings": values}


def ok_entry(step: dict) -> dict:
    assert step["activated"], f"{step['name']}: the driver could not activate the document"
    entries = step["log"]
    assert len(entries) == 1 and entries[0]["kind"] == "ok", f"{step['name']}: {entries}"
    assert step["pixels_unchanged"] and not step["modified_after"], (
        f"{step['name']}: document changed"
    )
    return entries[0]


def error_message(step: dict) -> str:
    assert step["activated"], f"{step['name']}: the driver could not activate the document"
    entries = step["log"]
    assert len(entries) == 1 and entries[0]["kind"] == "error", f"{step['name']}: {entries}"
    assert step["pixels_unchanged"] and not step["modified_after"], (
        f"{step['name']}: document changed"
    )
    return entries[0]["message"]


def write_sources(results: Path) -> dict[str, np.ndarray]:
    rgba8 = chk.picture()
    rgba16 = chk.to_u16(rgba8)
    clay = chk.picture(alpha=False)
    Image.fromarray(rgba8, "RGBA").save(results / "rgba8.png")
    chk.write_png16(results / "rgba16.png", rgba16)
    Image.fromarray(clay, "RGB").save(
        results / "clay.png", icc_profile=chk.root_file(chk.CLAY_ICC).read_bytes()
    )
    return {"rgba8": rgba8, "rgba16": rgba16, "clay": clay}


def write_opaque(results: Path) -> np.ndarray:
    """An opaque sRGB picture for the thorough export: Krita hands the plug-in exactly the
    file's pixels (it drops the opaque alpha), so the result can be compared with the core's."""
    opaque = chk.picture(alpha=False)
    Image.fromarray(opaque, "RGB").save(results / "opaque.png")
    return opaque


def test_krita_zip_matches_krita_importer(rootfs, host_results: Path, krita_zip: Path) -> None:
    """Krita's own importer finds the plug-in, its action file, and the vendored core and model."""
    (host_results / "fixative-krita.zip").write_bytes(krita_zip.read_bytes())
    (host_results / "krita_install.py").write_text((HERE / "krita_install.py").read_text())
    proc = run_host(
        _install_and(f'cd "$HOME/{RESOURCES}" && find . -type f | sort > {ROOT_RESULTS}/tree.txt'),
        timeout=120,
        results=host_results,
    )
    assert proc.returncode == 0, proc.stderr
    installed = json.loads((host_results / "installed.json").read_text())
    assert [p["name"] for p in installed] == ["fixative_krita"]
    assert (
        installed[0]["module"] == "fixative_krita/"
        and installed[0]["action"] == "fixative_krita.action"
    )
    tree = set((host_results / "tree.txt").read_text().split())
    model = json.loads((chk.models_dir() / "manifest.json").read_text())["default"]
    for path in (
        "./pykrita/fixative_krita.desktop",
        "./pykrita/fixative_krita/__init__.py",
        "./pykrita/fixative_krita/qt.py",
        "./pykrita/fixative_krita/Manual.html",
        "./pykrita/fixative_krita/lib/fixative/__init__.py",
        "./pykrita/fixative_krita/lib/fixative_host/runner.py",
        "./pykrita/fixative_krita/lib/fixative_host/preview.py",
        "./pykrita/fixative_krita/lib/fixative/models/manifest.json",
        f"./pykrita/fixative_krita/lib/fixative/models/{model}",
        "./actions/fixative_krita.action",
    ):
        assert path in tree, f"{path} missing after Krita's importer ran"


def test_krita_export_protected(
    rootfs, host_results: Path, krita_zip: Path, krita_home: Path
) -> None:
    res = host_results
    eps = chk.model_epsilon("medium")
    sources = write_sources(res)
    opaque = write_opaque(res)
    (res / "all").mkdir()
    os.chown(res / "all", 1000, 1000)
    documents = [{"key": key, "path": f"{ROOT_RESULTS}/{key}.png"} for key in sources]
    documents.append({"key": "opaque", "path": f"{ROOT_RESULTS}/opaque.png"})
    steps = [
        export_step("rgba8", "rgba8", "rgba8-protected.png"),
        export_step("rgba16", "rgba16", "rgba16-protected.png"),
        export_step("clay", "clay", "clay-protected.png"),
        export_step("jpeg", "rgba8", "rgba8-protected.jpg", fmt="jpeg"),
        {**export_step("cancel", "rgba8", "cancelled.png"), "cancel": True},
        # One real thorough export (small, 2 steps); then one cancelled between its steps.
        export_step("thorough", "opaque", "opaque-thorough.png", **chk.THOROUGH),
        {
            **export_step("cancel_thorough", "opaque", "cancelled-thorough.png", **chk.THOROUGH),
            "cancel_at": "step 1/2",
        },
        {
            "name": "all",
            "doc": "rgba8",
            "action": "fixative_export_all_protected",
            # steps 0: the thorough step before left 2 remembered, which fast now takes too
            "settings": {
                "output_dir": f"{ROOT_RESULTS}/all",
                "fmt": "png",
                "mode": "fast",
                "steps": 0,
            },
        },
    ]
    steps_done, result = run_krita(res, (krita_zip, krita_home), documents, steps)
    # File > Export Protected... sits right after Krita's own Export entries, also once
    # documents are open.
    assert_beside_export(result["file_menu"])
    assert_beside_export(result["file_menu_after"])
    assert result["documents"]["rgba16"]["depth"] == "U16"
    # The export dialog, built in the real Krita: a format change updates the file name and
    # which options apply. Strength and mode (the core's, thorough by default) are explained
    # in a line under each that follows the choice; the view and steps are folded under
    # Advanced.
    assert result["dialog"] == {
        "fresh": {
            "mode": "thorough",
            "modes": list(MODES),
            "mode_help": _line("thorough", MODE_HELP),
            "strength": "medium",
            "strength_help": _line("medium", STRENGTH_HELP),
            "declare": DECLARE_LABEL,
            "views": ["auto", "native"],
            "view_labels": [VIEW_HELP["auto"][0], VIEW_HELP["native"][0]],
            "steps_text": f"Default ({DEFAULT_STEPS})",
            "advanced_visible": False,
            "preview_offered": False,
        },
        "output_path": f"{ROOT_RESULTS}/a.jpg",
        "fmt": "jpeg",
        "strength": "high",
        "mode": "fast",
        "view": "native",
        "steps": 4,
        "quality_enabled": True,
        "alpha_enabled": False,
        "high_help": _line("high", STRENGTH_HELP),
        "fast_help": _line("fast", MODE_HELP),
        "steps_enabled_when_fast": True,  # fast takes a gradient step too
        "steps_enabled_when_generator": False,
        "advanced_shown": True,
    }
    # The fast exports say so in their reports.
    assert ok_entry(steps_done["rgba8"])["report"]["mode"] == "fast"
    # Thorough: the report says so, the progress dialog showed each of the core's steps, and
    # the file holds exactly what the core gives for the document's pixels and these settings.
    report = ok_entry(steps_done["thorough"])["report"]
    assert (report["mode"], report["steps"]) == ("thorough", 2), report
    assert (report["view_width"], report["view_height"]) == (256, 256)
    labels = steps_done["thorough"]["progress_labels"]
    for text in ("step 1/2", "step 2/2"):
        assert any(text in label for label in labels), labels
    # The progress dialog names the document's file, not its whole path.
    assert all("opaque.png" in label and ROOT_RESULTS not in label for label in labels), labels
    thorough = chk.load(res / "opaque-thorough.png")
    settings = {"strength": "medium", **chk.THOROUGH}
    expected, _ = chk.core_in_root(res, vendored_lib(krita_zip), opaque, settings)
    assert np.array_equal(thorough, expected), "Krita's thorough file differs from the core's"
    chk.assert_declared(res / "opaque-thorough.png")
    # Cancelled between thorough steps: reported, nothing written.
    cancelled = steps_done["cancel_thorough"]
    assert [e["kind"] for e in cancelled["log"]] == ["cancelled"], cancelled["log"]
    assert not any("step 2/2" in label for label in cancelled["progress_labels"])
    assert not (res / "cancelled-thorough.png").exists()
    figures = {}
    for key, reference in sources.items():
        ok_entry(steps_done[key])
        path = res / f"{key}-protected.png"
        protected = chk.load(path)
        chk.assert_within_budget(reference, protected, eps, name=path.name)
        chk.assert_declared(path)
        figures[path.name] = chk.measure(reference, protected, eps)
    # A non-sRGB document keeps its profile: the written file embeds ClayRGB, pixels unconverted.
    assert "ClayRGB" in chk.icc_description(res / "clay-protected.png")
    # JPEG: flattened onto white (no alpha), declared, measurably protected.
    ok_entry(steps_done["jpeg"])
    jpg = chk.load(res / "rgba8-protected.jpg")
    assert jpg.shape == (*sources["rgba8"].shape[:2], 3)
    chk.assert_declared(res / "rgba8-protected.jpg")
    # Cancel in the progress dialog: reported, nothing written.
    cancel = steps_done["cancel"]
    assert [e["kind"] for e in cancel["log"]] == ["cancelled"], cancel["log"]
    assert not (res / "cancelled.png").exists()
    # Export All: one protected file per open document, same pixels as the single exports.
    assert len(steps_done["all"]["log"]) == len(documents)
    assert all(entry["kind"] == "ok" for entry in steps_done["all"]["log"])
    assert {entry["report"]["mode"] for entry in steps_done["all"]["log"]} == {"fast"}
    for key in sources:
        assert np.array_equal(
            chk.load(res / "all" / f"{key}-protected.png"), chk.load(res / f"{key}-protected.png")
        )
    (res / "figures.json").write_text(json.dumps(figures, indent=1))
    chk.assert_measurable(figures)


def test_krita_bad_cases_then_external_python(
    rootfs, host_results: Path, krita_zip: Path, krita_home: Path
) -> None:
    """Unwritable folder, float depth, missing onnxruntime: a message each, Krita keeps going;
    with an external Python set, the same file as in process."""
    res = host_results
    write_sources(res)
    for name in ("locked", "normal", "hidden"):
        (res / name).mkdir()
        os.chown(res / name, 1000, 1000)
    (res / "locked").chmod(0o555)
    documents = [
        {"key": "rgba8", "path": f"{ROOT_RESULTS}/rgba8.png"},
        {"key": "float", "create": [64, 48, "RGBA", "F32"]},
    ]
    steps = [
        export_step("unwritable", "rgba8", "locked/x.png"),
        export_step("float", "float", "float.png"),
        export_step("after", "rgba8", "normal/in-process.png"),
    ]
    done, _ = run_krita(res, (krita_zip, krita_home), documents, steps)
    message = error_message(done["unwritable"])
    assert "locked/x.png" in message and "permission denied" in message, message
    assert list((res / "locked").iterdir()) == []
    message = error_message(done["float"])
    assert "F32" in message and "not supported" in message, message
    assert not (res / "float.png").exists()
    ok_entry(done["after"])

    hidden = res / "hidden"
    (hidden / "rgba8.png").write_bytes((res / "rgba8.png").read_bytes())
    steps = [
        export_step("missing", "rgba8", "missing.png"),
        export_step("external", "rgba8", "external.png", external_python="/usr/bin/python3"),
    ]
    done, _ = run_krita(
        hidden, (krita_zip, krita_home), documents[:1], steps, env={"PYTHONPATH": "/tmp/hide"}
    )
    message = error_message(done["missing"])
    assert "onnxruntime" in message and "external Python" in message, message
    assert not (hidden / "missing.png").exists()
    ok_entry(done["external"])
    assert np.array_equal(
        chk.load(hidden / "external.png"), chk.load(res / "normal" / "in-process.png")
    )


# The screenshots the interactive test takes, and the documentation's copies of them.
SCREENSHOTS = ("krita-dialog.png", "krita-menu.png")


def assert_real_screenshot(path: Path, size: tuple[range, range], colours: int) -> None:
    """A real grab of Krita's GUI: plausible size, many distinct colours, no flat frame."""
    with Image.open(path) as im:
        assert im.width in size[0] and im.height in size[1], (path.name, im.size)
        rgb = np.asarray(im.convert("RGB"))
    distinct = len(np.unique(rgb.reshape(-1, 3), axis=0))
    assert distinct >= colours, (path.name, distinct)
    assert rgb.std() > 20, (path.name, float(rgb.std()))  # not blank or one colour


def test_krita_dialog_preview_and_menu(
    rootfs, host_results: Path, krita_zip: Path, krita_home: Path
) -> None:
    """The real dialogs, used as an artist would: every control explains itself, Advanced
    holds the external Python, the view and the steps, quality applies only to lossy formats
    and the alpha option only to formats with alpha; "Preview what the AI sees" shows the
    sheet; Help opens the plug-in's own copy of docs/krita.md in the web browser; Export writes
    the file and a message names it. The dialog and the File menu are grabbed as screenshots
    (FIXATIVE_SCREENSHOTS=DIR copies them there, e.g. docs/images)."""
    res = host_results
    rgba8 = write_sources(res)["rgba8"]
    documents = [{"key": "rgba8", "path": f"{ROOT_RESULTS}/rgba8.png"}]
    step = {**export_step("dialog", "rgba8", "dialog-protected.png"), "interactive": {}}
    browser_env, browser_files = chk.browser_recorder(res)
    done, result = run_krita(
        res,
        (krita_zip, krita_home),
        documents,
        [step],
        env=browser_env,
        home_files=browser_files,
        menu_shot=True,
    )
    artist = done["dialog"]["artist"]
    assert "exceptions" not in artist, "\n".join(artist["exceptions"])
    assert set(artist["tooltips"]) >= {"format", "strength", "mode", "python", "preview_button"}
    empty = [name for name, tip in artist["tooltips"].items() if not tip.strip()]
    assert not empty, f"controls without a tooltip: {empty}"
    assert artist["tooltips"]["output"] == f"{ROOT_RESULTS}/dialog-protected.png"
    assert artist["output_shows_end"], "the file field does not show the end of the name"
    assert artist["in_advanced"] == ["python", "view", "steps"]
    # [quality enabled, alpha option shown] per format, from the core's format table.
    assert artist["options"] == {
        "png": [False, True],
        "jpeg": [True, False],
        "tiff": [False, True],
        "webp": [True, True],
    }
    assert artist["mode_help"] == _line("fast", MODE_HELP)
    assert artist["strength_help"] == _line("medium", STRENGTH_HELP)
    # The preview: the core's sheet of the 256x256 document (the picture's column and one
    # labelled column per model family, panels at its own size), scaled to the dialog's width.
    preview = artist["preview"]
    sheet_w, sheet_h = chk.sheet_size(256)
    assert preview["shown"] and preview["width"] == 540, preview
    assert abs(preview["height"] - 540 * sheet_h / sheet_w) <= 1, preview
    assert preview["caption"].startswith("Top row: the original"), preview
    assert all(f.short in preview["caption"] for f in families.FAMILIES), preview
    chk.assert_family_columns(chk.load(res / "krita-preview-sheet.png"), 256)
    aimed = families.TARGET.short
    assert any(f"Aimed at {aimed}" in label for label in artist["labels"]), artist["labels"]
    assert artist["caption_after_change"].startswith("The settings changed"), artist
    labels = done["dialog"]["progress_labels"]
    assert any("for the preview: what the AI sees" in label for label in labels), labels
    assert not any(ROOT_RESULTS in label for label in labels), labels
    # Export: the file is written and one message, which stays until closed, names it.
    assert [entry["kind"] for entry in done["dialog"]["log"]] == ["preview", "ok"]
    assert "pykrita/fixative_krita/lib/" in chk.assert_help_opened(res, "krita")
    (message,) = artist["messages"]
    assert "dialog-protected.png" in message and ROOT_RESULTS in message, message
    path = res / "dialog-protected.png"
    chk.assert_within_budget(rgba8, chk.load(path), chk.model_epsilon("medium"), name=path.name)
    chk.assert_declared(path)
    # The File menu as the artist sees it, with the entries beside Export.
    assert result["menu_shot"]["visible"], result["menu_shot"]
    texts = [text.replace("&", "") for text in result["menu_shot"]["texts"]]
    at = texts.index("Export Advanced...")
    assert texts[at + 1 : at + 3] == [
        "Export Protected...",
        "Export All Open Documents Protected...",
    ], texts
    assert_real_screenshot(res / "krita-dialog.png", (range(560, 1100), range(350, 1000)), 2000)
    assert_real_screenshot(res / "krita-menu.png", (range(250, 1280), range(300, 1024)), 40)
    target = os.environ.get("FIXATIVE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for name in SCREENSHOTS:
            shutil.copyfile(res / name, Path(target) / name)
        chk.record_screenshot_texts(
            Path(target),
            "krita-dialog.png",
            {"mode": artist["mode_help"], "strength": artist["strength_help"]},
        )


# What the AppImage's Python does with the plug-in: no site-packages of the system (-S), so
# numpy, onnxruntime and Pillow can only come from the zip's deps/; the plug-in's own
# __init__ sets the path (Krita is absent, so it registers nothing).
APPIMAGE_PYTHON_CASE = """
import json, sys
sys.path.insert(0, "/results/pykrita")
import fixative_krita
import numpy, onnxruntime, PIL
from fixative import ProtectSettings, protect_file
from fixative_host.abi import mismatch
report = protect_file("/results/art.png", "/results/art-protected.png",
                      ProtectSettings(strength="medium", mode="fast"))
json.dump({"python": sys.version.split()[0], "site": "site" in sys.modules,
           "modules": {m.__name__: m.__file__ for m in (numpy, onnxruntime, PIL)},
           "mismatch": mismatch(fixative_krita._HERE, "Krita"),
           "report": report.to_dict()}, open("/results/appimage.json", "w"))
"""


def test_linux_py313_zip_protects_in_a_bare_python_313(
    rootfs, host_results: Path, wheel_cache: Path
) -> None:
    """The Krita 5.3/6 AppImage package: its deps/ (PyPI's cp313 wheels) import and protect an
    image in Python 3.13 with nothing else on the path, through the plug-in's own set-up (the
    trixie root's python3 is 3.13). In a root whose python3 is another, the same package must
    say so instead: that Python is the one loading a package that is not for it."""
    python = _root_python()
    zip_path = build_krita_plugin.build(
        host_results / "build", chk.models_dir(), "linux-x86_64", "3.13", cache=wheel_cache
    )
    assert zip_path.name == "fixative-krita-py313-linux-x86_64.zip"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(host_results / "pykrita")
    picture = chk.picture(alpha=False)
    Image.fromarray(picture, "RGB").save(host_results / "art.png")
    if python != "3.13":
        case = "import sys; sys.path.insert(0, '/results/pykrita'); import fixative_krita\n"
        case += "from fixative_host.abi import mismatch\n"
        case += "print(mismatch(fixative_krita._HERE, 'Krita'))\n"
        (host_results / "case.py").write_text(case)
        proc = run_host(["python3", "-S", "/results/case.py"], timeout=120, results=host_results)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "is for Python 3.13" in proc.stdout and f"runs Python {python}" in proc.stdout
        return
    (host_results / "case.py").write_text(APPIMAGE_PYTHON_CASE)
    proc = run_host(["python3", "-S", "/results/case.py"], timeout=300, results=host_results)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((host_results / "appimage.json").read_text())
    assert data["python"].startswith("3.13.") and not data["site"], data
    for name, path in data["modules"].items():
        assert path.startswith("/results/pykrita/fixative_krita/deps/"), (name, path)
    assert data["mismatch"] is None
    assert data["report"]["mode"] == "fast"
    protected = chk.load(host_results / "art-protected.png")
    assert protected.shape[:2] == picture.shape[:2]
    assert not np.array_equal(protected[..., :3], picture)
    chk.assert_declared(host_results / "art-protected.png")


def _root_python() -> str:
    """The root's python3 as major.minor ("3.13")."""
    version = harness.host_versions()["python3"].split(":")[-1]
    return ".".join(version.split(".")[:2])


def test_krita_says_which_zip_when_loaded_by_another_python(
    rootfs, host_results: Path, krita_home: Path, wheel_cache: Path
) -> None:
    """A package for Python 3.10 (Krita 5.2's official builds) in a Krita whose Python is not
    3.10: Krita starts, the plug-in says which zip to install, the export entry says it again
    instead of a traceback, and nothing is written."""
    res = host_results
    zip_path = build_krita_plugin.build(
        res / "build", chk.models_dir(), "linux-x86_64", "3.10", cache=wheel_cache
    )
    write_sources(res)
    python = _root_python()
    steps = [export_step("wrong", "rgba8", "wrong.png")]
    documents = [{"key": "rgba8", "path": f"{ROOT_RESULTS}/rgba8.png"}]
    done, _ = run_krita(res, (zip_path, krita_home), documents, steps)
    message = error_message(done["wrong"])
    assert "is for Python 3.10" in message and f"your Krita runs Python {python}" in message
    right = f"fixative-krita-py{python.replace('.', '')}-linux-x86_64.zip"
    if python in ("3.10", "3.13"):
        assert f"install {right} instead" in message, message
    else:
        assert "External Python" in message, message
    assert not (res / "wrong.png").exists()
    at_start = [
        json.loads(line)
        for line in (res / "fixative-log.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert [e["message"] for e in at_start if e["kind"] == "package"] == [message]
    stdout = (res / "krita-stdout.txt").read_text(errors="replace")
    assert "Traceback" not in stdout and "ImportError" not in stdout, stdout[-3000:]
