"""The GIMP 3 plug-in in real GIMP 3.0 (gimp-console batch mode), through the hosts harness.

Each test builds the plug-in with scripts/build_gimp_plugin.py, installs it into a fresh
profile, runs tests/hosts/gimp_case.py inside GIMP and judges the written files and the JSON
the case wrote (status and message of every operation), not GIMP's exit status alone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import adapter_checks as chk
import harness
import numpy as np
import pytest
from fixative.protection import families
from fixative.protection.refine import DEFAULT_STEPS
from fixative.protection.settings import (
    DECLARE_HELP,
    DECLARE_LABEL,
    MODE_HELP,
    MODES,
    STRENGTH_HELP,
    STRENGTHS,
)
from harness import ROOT_RESULTS, ROOT_SRC, run_host

sys.path.insert(0, str(chk.REPO / "scripts"))
import build_gimp_plugin
from fixative_host import help as host_help  # on sys.path through the build scripts

pytestmark = pytest.mark.hosts
CASE = Path(__file__).with_name("gimp_case.py")


def plugin_home() -> str:
    """Where GIMP looks for the plug-in: the profile folder is GIMP's version (3.0, 3.2)."""
    return f"{harness.gimp_profile()}/plug-ins/fixative"


# What GIMP fills itself or shows no widget for; every other argument is the artist's.
STANDARD_ARGUMENTS = {"run-mode", "image", "drawables", "file", "options", "metadata"}


@pytest.fixture(scope="module")
def gimp_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_gimp_plugin.build(
        tmp_path_factory.mktemp("gimp-build"),
        chk.models_dir(),
    )
    chk.assert_graphs_vendored(folder / "lib" / "fixative")
    return folder


def run_gimp(
    results: Path, plugin: Path, images: list[dict], *, env=None, files=None, extra=None
) -> dict:
    (results / "spec.json").write_text(json.dumps({"images": images, **(extra or {})}))
    shutil.copy(CASE, results / "gimp_case.py")
    gimp = [
        harness.gimp_console(),
        "-i",
        "--batch-interpreter",
        "python-fu-eval",
        "-b",
        f'exec(open("{ROOT_RESULTS}/gimp_case.py").read())',
        "--quit",
    ]
    if extra and extra.get("dialogs"):  # the dialogs need a display (Xvfb)
        gimp = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24 -nolisten tcp", *gimp]
    proc = run_host(
        gimp,
        timeout=400,
        results=results,
        env=env,
        files={plugin_home(): plugin, **(files or {})},
        home="gimp",
    )
    assert proc.returncode == 0, f"gimp-console failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    out = json.loads((results / "gimp-result.json").read_text())
    assert out["alive"], "GIMP stopped answering after the operations"
    out["stderr"] = proc.stderr  # GIMP's and the plug-in's warnings (e.g. duplicate mnemonics)
    return out


def layer(results: Path, name: str, pixels: np.ndarray, **extra) -> dict:
    """Write `pixels` for the case to load as one layer (babl format matching the dtype)."""
    path = results / f"{name}.raw"
    path.write_bytes(np.ascontiguousarray(pixels).tobytes())
    babl = {
        np.dtype(np.uint8): "R'G'B'A u8",
        np.dtype(np.uint16): "R'G'B'A u16",
        np.dtype(np.float32): "R'G'B'A float",
    }[pixels.dtype]
    h, w = pixels.shape[:2]
    return {"raw": f"{ROOT_RESULTS}/{path.name}", "babl": babl, "width": w, "height": h, **extra}


def image(
    name: str, layers: list[dict], ops: list[dict], precision="U8_NON_LINEAR", **extra
) -> dict:
    return {
        "name": name,
        "width": layers[0]["width"],
        "height": layers[0]["height"],
        "precision": precision,
        "layers": layers,
        "ops": ops,
        **extra,
    }


def save(key: str, path: str) -> dict:
    return {"key": key, "op": "file_save", "path": f"{ROOT_RESULTS}/{path}"}


def export_protected(key: str, path: str, **args) -> dict:
    """Export Protected... with these arguments: fast unless `mode` says otherwise (None: the
    procedure's own defaults, as a script that does not set them gets)."""
    args = {"format": "png", "strength": "medium", "declarations": True, "mode": "fast", **args}
    args = {k: v for k, v in args.items() if v is not None}
    return {
        "key": key,
        "op": "procedure",
        "procedure": "plug-in-fixative-export-protected",
        "args": {"path": f"{ROOT_RESULTS}/{path}", **args},
    }


def standard_ops(name: str) -> list[dict]:
    # Gimp.file_save takes no arguments: the protected types run with their defaults (thorough),
    # and so does the procedure here, so that both protect the same flattened pixels alike.
    return [
        save("plain_png", f"{name}-plain.png"),
        save("plain_jpg", f"{name}-plain.jpg"),
        save("protected_png", f"{name}.fixative-png"),
        save("protected_jpg", f"{name}.fixative-jpg"),
        export_protected("procedure_png", f"{name}-procedure.png", mode=None),
    ]


def assert_all_ok(record: dict, layers: int) -> None:
    for key, op in record.items():
        assert op.get("ok"), f"{key} failed: {op}"
        assert op["layers_after"] == layers, f"{key}: the image's layers changed"


def test_gimp_protected_png_and_jpeg_exports(rootfs, host_results: Path, gimp_plugin: Path) -> None:
    res = host_results
    eps = chk.model_epsilon("medium")
    rgba8 = chk.picture()
    rgba16 = chk.to_u16(rgba8)
    top = chk.picture((120, 90))
    top[..., 3] = 255
    images = [
        image(
            "rgba8",
            [layer(res, "rgba8", rgba8)],
            [
                *standard_ops("rgba8"),
                export_protected("procedure_jpg", "rgba8-procedure.jpg", format="jpeg", quality=90),
            ],
        ),
        image(
            "rgba16",
            [layer(res, "rgba16", rgba16)],
            standard_ops("rgba16"),
            precision="U16_NON_LINEAR",
        ),
        image(
            "layers",
            [
                layer(res, "bottom", rgba8),
                layer(res, "top", np.flipud(top).copy(), x=60, y=40, opacity=60.0),
            ],
            standard_ops("layers"),
        ),
    ]
    (res / "clay.icc").write_bytes(chk.root_file(chk.CLAY_ICC).read_bytes())
    images.append(
        image(
            "float",
            [layer(res, "float", rgba16.astype(np.float32) / 65535)],
            [
                save("protected_png", "float.fixative-png"),
                save("protected_webp", "float.fixative-webp"),
            ],
            precision="FLOAT_NON_LINEAR",
        )
    )
    images.append(
        image(
            "clay",
            [layer(res, "clay", rgba8)],
            [save("plain_png", "clay-plain.png"), save("protected_png", "clay.fixative-png")],
            icc=f"{ROOT_RESULTS}/clay.icc",
        )
    )
    # One thorough export with explicit settings (small, 2 steps) of an opaque picture, whose
    # pixels GIMP hands on unchanged: compared with the core's own result below.
    opaque = chk.picture(alpha=False)
    opaque = np.concatenate([opaque, np.full((*opaque.shape[:2], 1), 255, np.uint8)], axis=2)
    images.append(
        image(
            "opaque",
            [layer(res, "opaque", opaque)],
            [export_protected("thorough", "opaque-thorough.png", **chk.THOROUGH)],
        )
    )
    out = run_gimp(res, gimp_plugin, images)
    # Single-image exports default to thorough (the core's default number of steps).
    for name, values in out["defaults"].items():
        assert values == {"mode": "thorough", "view": "auto", "steps": 0}, (name, values)
    assert set(out["defaults"]) >= {
        "plug-in-fixative-export-protected",
        "file-fixative-png-export",
        "file-fixative-jpeg-export",
        "file-fixative-webp-export",
    }
    assert_all_ok(out["images"]["opaque"], 1)
    report = out["images"]["opaque"]["thorough"]["report"]
    assert (report["mode"], report["steps"]) == ("thorough", 2), report
    assert (report["view_width"], report["view_height"]) == (256, 256)
    settings = {"strength": "medium", **chk.THOROUGH}
    expected, _ = chk.core_in_root(res, gimp_plugin / "lib", opaque, settings)
    thorough = chk.load(res / "opaque-thorough.png")
    assert np.array_equal(thorough, expected), "GIMP's thorough file differs from the core's"
    chk.assert_declared(res / "opaque-thorough.png")
    figures = {}
    for name, layers in (("rgba8", 1), ("rgba16", 1), ("layers", 2)):
        assert_all_ok(out["images"][name], layers)
        report = out["images"][name]["procedure_png"]["report"]
        assert (report["mode"], report["steps"]) == ("thorough", DEFAULT_STEPS), report
        plain = chk.load(res / f"{name}-plain.png")
        for key in ("fixative-png", "-procedure.png"):
            path = res / (f"{name}.{key}" if key.startswith("fixative") else f"{name}{key}")
            protected = chk.load(path)
            chk.assert_within_budget(plain, protected, eps, name=path.name)
            chk.assert_declared(path)
            figures[path.name] = chk.measure(plain, protected, eps)
        # Export As and Export Protected... flatten the same way and protect the same pixels.
        a, b = chk.load(res / f"{name}.fixative-png"), chk.load(res / f"{name}-procedure.png")
        visible = a[..., 3] > 0
        assert np.array_equal(a[visible], b[visible]), f"{name}: the two protected PNGs differ"
        # JPEG: no alpha (GIMP flattens), 8-bit, declared, close to GIMP's own JPEG. (Its
        # protection is measured on the PNGs: two JPEG encoders differ by more than eps.)
        plain_jpg = chk.load(res / f"{name}-plain.jpg")
        jpg_path = res / f"{name}.fixative-jpg"
        protected_jpg = chk.load(jpg_path)
        assert protected_jpg.shape == plain_jpg.shape == (*plain.shape[:2], 3)
        chk.assert_declared(jpg_path)
        # Two encoders (GIMP's 4:4:4 and Pillow's 4:2:0 chroma) plus the perturbation: a loose
        # bound, which a wrong image, channel order or flattening would still fail by far.
        assert chk.psnr(plain_jpg, protected_jpg) > 25, f"{jpg_path.name} differs too much"
    assert chk.load(res / "rgba16.fixative-png").dtype == np.uint16, "16-bit precision was lost"
    # Export Protected... as JPEG: transparency flattened onto white, declared.
    jpg = chk.load(res / "rgba8-procedure.jpg")
    assert jpg.shape == (*rgba8.shape[:2], 3) and jpg[:, :10].min() > 230
    chk.assert_declared(res / "rgba8-procedure.jpg")
    # A 32-bit float image: read as float, written as 16-bit PNG; WebP keeps alpha.
    assert_all_ok(out["images"]["float"], 1)
    as_float = chk.load(res / "float.fixative-png")
    assert as_float.dtype == np.uint16
    chk.assert_within_budget(rgba16, as_float, eps, name="float.fixative-png")
    chk.assert_declared(res / "float.fixative-png")
    webp = chk.load(res / "float.fixative-webp")
    assert webp.shape == rgba8.shape and np.array_equal(webp[..., 3], rgba8[..., 3])
    chk.assert_declared(res / "float.fixative-webp")
    # A non-sRGB image keeps its values (read in its own space) and its profile.
    assert_all_ok(out["images"]["clay"], 1)
    plain, path = chk.load(res / "clay-plain.png"), res / "clay.fixative-png"
    chk.assert_within_budget(plain, chk.load(path), eps, name=path.name)
    assert "ClayRGB" in chk.icc_description(path)
    (res / "figures.json").write_text(json.dumps(figures, indent=1))
    chk.assert_measurable(figures)


def distinct_colours(path: Path) -> int:
    pixels = chk.load(path)[..., :3].reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def keep_screenshots(res: Path, names: list[str]) -> None:
    """FIXATIVE_SCREENSHOTS=docs/images refreshes the manual's screenshots from this run."""
    target = os.environ.get("FIXATIVE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(res / name, Path(target) / name)


def test_gimp_dialogs_explain_choices_and_advanced(
    rootfs, host_results: Path, gimp_plugin: Path
) -> None:
    """Both dialogs as the plug-in builds them (fixative_gimp/dialog.py), shown in real GIMP
    under Xvfb: every choice explained in the core's words, the view, steps and external Python
    in a folded Advanced expander, quality greyed out for lossless formats, no mnemonic used
    twice, the protected PNG type saying what it is, and Export Protected...'s button showing
    what the AI sees. Screenshots of each land in the results folder (and FIXATIVE_SCREENSHOTS)."""
    res = host_results
    out = run_gimp(
        res,
        gimp_plugin,
        [],
        extra={
            "dialogs": f"/home/fixative/{plugin_home()}",
            "screenshots": True,
            "sample": f"{ROOT_SRC}/samples/tiger.png",
        },
    )
    assert "duplicate mnemonic" not in out["stderr"], out["stderr"][-3000:]
    declare_help = DECLARE_HELP[:1].upper() + DECLARE_HELP[1:]
    for name, seen in out["dialogs"].items():
        [advanced] = seen["expanders"]
        radios = [
            *(f"{s.capitalize()}: {STRENGTH_HELP[s]}" for s in STRENGTHS),
            *(f"{m.capitalize()}: {MODE_HELP[m]}" for m in MODES),
        ]
        assert seen["radios"][: len(radios)] == radios, (name, seen["radios"])
        # GIMP 3.2 shows a two-choice argument (the view) as radio buttons, 3.0 as a combo box:
        # either way inside Advanced.
        for extra in seen["radios"][len(radios) :]:
            assert extra in advanced["contents"] or any(t in extra for t in advanced["contents"]), (
                name,
                extra,
                advanced,
            )
        assert advanced["title"] == "Advanced" and advanced["expanded"] is False, advanced
        for text in ("view", "steps", "External Python"):
            assert any(text in t for t in advanced["contents"]), (text, advanced)
        labels = " ".join(seen["labels"])
        assert "Mode" in labels and "Strength" in labels, seen["labels"]
        # the header says which family the protection is aimed at
        assert f"Aimed at {families.TARGET.short}" in labels, seen["labels"]
        assert DECLARE_LABEL in seen["labels"] and any(
            t.startswith(declare_help) for t in seen["labels"]
        ), seen["labels"]
        # Every argument a person sets has a tooltip, in the core's words where it has them.
        blurbs = {k: v for k, v in seen["blurbs"].items() if k not in STANDARD_ARGUMENTS}
        assert all(len(text) > 20 for text in blurbs.values()), blurbs
        assert all(STRENGTH_HELP[s] in blurbs["strength"] for s in STRENGTHS), blurbs
        assert all(MODE_HELP[m] in blurbs["mode"] for m in MODE_HELP), blurbs
        assert blurbs["declarations"].startswith(declare_help), blurbs
        keys = [key for key, _label in seen["mnemonics"]]
        assert len(keys) == len(set(keys)), f"{name}: mnemonics used twice: {seen['mnemonics']}"
    protected = out["dialogs"]["plug-in-fixative-export-protected"]
    assert protected["quality_sensitive"] == {
        "png": False,
        "jpeg": True,
        "webp": True,
        "tiff": False,
    }
    png = out["dialogs"]["file-fixative-png-export"]
    assert "protected PNG" in png["title"], png["title"]  # the menu label, as in Export As
    assert any(t.startswith("Fixative protected PNG") for t in png["labels"]), png["labels"]
    assert "File" not in png["labels"]  # chosen in GIMP's own Export dialog
    # The preview, as the button shows it: one window with the sheet and what it shows.
    assert protected["preview_windows"] == 1, protected
    [(width, height)] = protected["preview_images"]
    # the core's sheet (the picture's and the families' columns, two rows), scaled to the window
    assert 1.5 * height < width < 2.5 * height and height > 256, protected["preview_images"]
    assert any(all(f.short in t for f in families.FAMILIES) for t in protected["preview_labels"]), (
        protected["preview_labels"]
    )
    shots = {
        "gimp-dialog.png": (protected["screenshot"], 300),
        "gimp-export-png-dialog.png": (png["screenshot"], 300),
        "gimp-preview.png": (protected["preview_screenshot"], 5000),
    }
    for shot, ((w, h), colours) in shots.items():
        assert chk.load(res / shot).shape[:2] == (h, w), shot
        assert 300 <= w <= 1280 and 250 <= h <= 1024, (shot, w, h)
        assert distinct_colours(res / shot) > colours, f"{shot} looks blank"
    keep_screenshots(res, list(shots))
    if os.environ.get("FIXATIVE_SCREENSHOTS"):
        chk.record_screenshot_texts(
            Path(os.environ["FIXATIVE_SCREENSHOTS"]),
            "gimp-dialog.png",
            {"radios": protected["radios"][: len(STRENGTHS) + len(MODES)]},
        )


def test_gimp_bad_cases_leave_clear_errors(rootfs, host_results: Path, gimp_plugin: Path) -> None:
    res = host_results
    pixels = chk.picture((64, 64), alpha=True)
    locked = res / "locked"
    locked.mkdir()
    os.chown(locked, 1000, 1000)
    locked.chmod(0o555)
    images = [
        image(
            "indexed",
            [layer(res, "indexed", pixels)],
            [
                save("export", "indexed.fixative-png"),
                export_protected("procedure", "indexed-procedure.png"),
            ],
            indexed=True,
        ),
        image(
            "unwritable",
            [layer(res, "unwritable", pixels)],
            [
                save("export", "locked/x.fixative-png"),
                export_protected("procedure", "locked/y.png"),
            ],
        ),
    ]
    out = run_gimp(res, gimp_plugin, images)
    for key in ("export", "procedure"):
        op = out["images"]["indexed"][key]
        assert not op["ok"] and "indexed" in op["error"], op
        assert op["base_type_after"] == "indexed", "the image itself was converted"
        op = out["images"]["unwritable"][key]
        assert not op["ok"] and "locked" in op["error"] and "permission denied" in op["error"], op
    assert (
        not (res / "indexed.fixative-png").exists() and not (res / "indexed-procedure.png").exists()
    )
    assert list(locked.iterdir()) == [], "a partial file was left behind"


def test_gimp_missing_dependency_then_external_python(
    rootfs, host_results: Path, gimp_plugin: Path
) -> None:
    """onnxruntime hidden from GIMP's Python: a clear error; with an external Python set,
    the same file as in process."""
    res = host_results
    pixels = chk.picture((96, 80), alpha=True)
    normal = res / "normal"
    normal.mkdir()
    os.chown(normal, 1000, 1000)
    run_gimp(
        normal,
        gimp_plugin,
        [image("in", [layer(normal, "in", pixels)], [export_protected("procedure", "in.png")])],
    )
    hidden = {
        "/tmp/hide/onnxruntime/__init__.py": "raise ImportError('onnxruntime hidden by the test')\n"
    }
    out = run_gimp(
        res,
        gimp_plugin,
        [
            image(
                "out",
                [layer(res, "out", pixels)],
                [
                    save("no_python", "missing.fixative-png"),
                    export_protected(
                        "external", "external.png", **{"external-python": "/usr/bin/python3"}
                    ),
                ],
            )
        ],
        env={"PYTHONPATH": "/tmp/hide"},
        files=hidden,
    )
    failed = out["images"]["out"]["no_python"]
    assert (
        not failed["ok"]
        and "onnxruntime" in failed["error"]
        and "external Python" in failed["error"]
    ), failed
    assert not (res / "missing.fixative-png").exists()
    assert out["images"]["out"]["external"]["ok"], out["images"]["out"]["external"]
    in_process, external = chk.load(normal / "in.png"), chk.load(res / "external.png")
    assert np.array_equal(in_process, external), "the external Python gave different pixels"
    chk.assert_declared(res / "external.png")


def test_gimp_plain_png_stays_gimps_own_the_priority_decides(
    rootfs, host_results: Path, gimp_plugin: Path, tmp_path: Path
) -> None:
    """`Gimp.file_save` of a plain `foo.png` with the plug-in installed is GIMP's own PNG
    (unchanged pixels, no declarations), `foo.fixative-png` is protected; the same plug-in with
    a priority number below GIMP's 0 takes `foo.png` over. So GIMP prefers the LOWER number
    (libgimp/gimpfileprocedure.c), and fixative_gimp/formats.py's PRIORITY = 100 keeps `.png`
    GIMP's."""
    pixels = chk.picture((64, 64), alpha=True)
    visible = pixels[..., 3] > 0

    def export(folder: Path, plugin: Path, ops: list[dict]) -> dict:
        folder.mkdir()
        os.chown(folder, 1000, 1000)
        out = run_gimp(folder, plugin, [image("p", [layer(folder, "p", pixels)], ops)])
        assert_all_ok(out["images"]["p"], 1)
        return out

    shipped = host_results / "shipped"
    export(shipped, gimp_plugin, [save("plain", "foo.png"), save("own", "foo.fixative-png")])
    plain = chk.load(shipped / "foo.png")
    assert chk.DATA_MINING not in chk.xmp(shipped / "foo.png"), "foo.png was protected"
    assert np.array_equal(plain[visible], pixels[visible]), "foo.png is not GIMP's own PNG"
    chk.assert_declared(shipped / "foo.fixative-png")
    assert not np.array_equal(chk.load(shipped / "foo.fixative-png")[visible], pixels[visible])

    patched = tmp_path / "patched" / "fixative"
    shutil.copytree(gimp_plugin, patched, symlinks=True)
    formats = patched / "fixative_gimp" / "formats.py"
    text = formats.read_text()
    assert "\nPRIORITY = 100\n" in text
    formats.write_text(text.replace("\nPRIORITY = 100\n", "\nPRIORITY = -100\n"))
    taken = host_results / "priority-below-gimps"
    export(taken, patched, [save("plain", "foo.png")])
    chk.assert_declared(taken / "foo.png")  # now the protected type won `.png`
    eps = chk.model_epsilon("medium")
    chk.assert_within_budget(plain, chk.load(taken / "foo.png"), eps, name="foo.png")


def test_gimp_preview_argument_makes_the_sheet(rootfs, host_results: Path, gimp_plugin: Path):
    """Export Protected... with `preview` set: the file as usual, and what the AI sees as a
    new image (returned, here saved with GIMP's own PNG): the 256×256 picture's column and a
    labelled column per model family, original above protected, not blank. Without it: no
    image."""
    res = host_results
    pixels = chk.picture((256, 256), alpha=False)
    pixels = np.concatenate([pixels, np.full((256, 256, 1), 255, np.uint8)], axis=2)
    ops = [
        export_protected("preview", "with-preview.png", preview=True),
        export_protected("none", "without-preview.png"),
    ]
    out = run_gimp(res, gimp_plugin, [image("p", [layer(res, "p", pixels)], ops)])
    record = out["images"]["p"]
    assert_all_ok(record, 1)
    assert record["none"]["preview"] is None
    assert record["preview"]["preview"]["layers"] == 1
    chk.assert_declared(res / "with-preview.png")
    sheet = chk.load(res / "with-preview-sheet.png")
    assert sheet.ndim == 3 and sheet.shape[2] == 3, sheet.shape
    height, width = sheet.shape[:2]
    assert (width, height) == chk.sheet_size(256), sheet.shape
    chk.assert_family_columns(sheet, 256)
    assert sheet.std() > 20 and distinct_colours(res / "with-preview-sheet.png") > 1000
    # The first panel is the original picture itself.
    top = np.argwhere(np.all(sheet == pixels[0, 0, :3], axis=2))
    assert len(top), "the original's first pixel is not in the sheet"


# GIMP's help system, as the dialogs' Help button calls it (gimp_standard_help_func ->
# gimp_help with the plug-in's domain and the procedure's help id), from a batch command in
# GIMP with its interface: GIMP's help plug-in reads the package's gimp-help.xml and its
# web-browser plug-in opens the page (in the test's recorder). GIMP's own help browser is not
# installed, so the profile says to use the web browser, as its preferences would. GIMP runs
# until the page opened (help runs from GIMP's idle loop, after the batch command returned).
HELP_RUN = (
    "{gimp} --no-splash --console-messages --batch-interpreter python-fu-eval "
    '-b \'from gi.repository import Gimp; Gimp.help("{domain}", "{help_id}")\' & pid=$!; '
    "for i in $(seq 60); do sleep 1; [ -f {results}/help-page.html ] && break; done; "
    "kill $pid; wait $pid"
)


def test_gimp_help_opens_the_plugins_manual(rootfs, host_results: Path, gimp_plugin: Path) -> None:
    """Help in Fixative's dialogs opens the package's own copy of docs/gimp.md (rendered by
    scripts/manual.py), through GIMP's help system, in the web browser."""
    res = host_results
    env, files = chk.browser_recorder(res)
    run = HELP_RUN.format(
        gimp=harness.gimp_gui(),
        domain=host_help.GIMP_HELP_DOMAIN,
        help_id=host_help.GIMP_HELP_ID,
        results=ROOT_RESULTS,
    )
    xvfb = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24 -nolisten tcp"]
    gimprc = "(help-browser web-browser)\n(show-welcome-dialog no)\n"
    proc = run_host(
        [*xvfb, "sh", "-c", run],
        timeout=300,
        results=res,
        env=env,
        files={plugin_home(): gimp_plugin, f"{harness.gimp_profile()}/gimprc": gimprc, **files},
        home="gimp",
    )
    assert (res / "help-opened.txt").is_file(), (
        f"no page opened ({proc.returncode}):\n" + (proc.stderr[-3000:])
    )
    assert "Help ID" not in proc.stderr, proc.stderr[-3000:]  # "Help ID '...' unknown"
    assert f"{plugin_home()}/lib/" in chk.assert_help_opened(res, "gimp")
