"""Cases run inside Blender 4.3 by tests/hosts/test_blender.py (not collected by pytest).

    blender -b --factory-startup [--addons bl_ext.user_default.fixative] --python-exit-code 1 \
        --python /src/tests/hosts/blender_case.py -- CASE OUTDIR [ARGS...]

Each case writes `OUTDIR/<case>.json` (and images); the test judges those. A case that reaches
its end writes `"alive": true`: Blender survived whatever the extension did.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import bpy

ADDON = "bl_ext.user_default.fixative"


def scene_setup(size: int, transparent: bool, samples: int = 4) -> bpy.types.Scene:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = size
    scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = transparent
    # Something with texture for the latent check: a displaced, coloured plane behind the cube.
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(1.2, 0.5, 0.8))
    mat = bpy.data.materials.new("checker")
    use_nodes(mat)
    nodes = mat.node_tree.nodes
    checker = nodes.new("ShaderNodeTexChecker")
    checker.inputs["Scale"].default_value = 12.0
    checker.inputs["Color1"].default_value = (0.8, 0.2, 0.1, 1.0)
    checker.inputs["Color2"].default_value = (0.1, 0.3, 0.9, 1.0)
    bsdf = nodes["Principled BSDF"]
    mat.node_tree.links.new(checker.outputs["Color"], bsdf.inputs["Base Color"])
    bpy.context.active_object.data.materials.append(mat)
    return scene


def use_nodes(mat: bpy.types.Material) -> None:
    """Node materials: Blender 5 always uses them (setting `use_nodes` is deprecated there)."""
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True


def artwork_scene(size: int, transparent: bool, texture: str) -> bpy.types.Scene:
    """An illustration on an emissive plane seen by an orthographic camera: the render is the
    artwork (with a transparent border when the film is transparent), as an artist would export."""
    scene = bpy.context.scene
    for obj in list(scene.objects):
        bpy.data.objects.remove(obj)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = transparent
    scene.view_settings.view_transform = "Standard"
    bpy.ops.mesh.primitive_plane_add(size=2.0)
    mat = bpy.data.materials.new("artwork")
    use_nodes(mat)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(texture)
    emit = nodes.new("ShaderNodeEmission")
    out = nodes.new("ShaderNodeOutputMaterial")
    links.new(tex.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    bpy.context.active_object.data.materials.append(mat)
    cam = bpy.data.cameras.new("cam")
    cam.type = "ORTHO"
    cam.ortho_scale = 2.3  # the plane fills 87%: a border of background around it
    cam_obj = bpy.data.objects.new("cam", cam)
    cam_obj.location = (0.0, 0.0, 5.0)
    scene.collection.objects.link(cam_obj)
    scene.camera = cam_obj
    return scene


def image_settings(scene: bpy.types.Scene) -> list:
    s = scene.render.image_settings
    return [s.file_format, s.color_mode, s.color_depth]


def call_save(**props: object) -> dict:
    """Run the operator as a script would; Blender turns an ERROR report into RuntimeError.
    Fast unless the case asks for a mode (thorough is the operator's default)."""
    props.setdefault("mode", "fast")
    try:
        result = bpy.ops.image.fixative_save_protected_as(**props)
        return {"result": sorted(result), "error": None, "last": last_save()}
    except RuntimeError as exc:
        return {"result": None, "error": str(exc), "last": last_save()}


def last_save() -> dict:
    """What the operator says its last run did (how it ran, progress messages, report)."""
    return sys.modules[ADDON + ".operators"].last_save()


def case_save(out: Path, transparent: str, fmt: str, size: str, texture: str) -> dict:
    scene = artwork_scene(int(size), transparent == "1", texture)
    bpy.ops.render.render()
    image = bpy.data.images["Render Result"]
    # A plain save of the same render with the same colour management, for comparison.
    s = scene.render.image_settings
    s.file_format, s.color_depth = "PNG", "8"
    s.color_mode = "RGBA" if transparent == "1" else "RGB"
    before = image_settings(scene)
    image.save_render(str(out / "plain.png"), scene=scene)
    ext = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp"}[fmt]
    call = call_save(
        image_name="Render Result",
        filepath=str(out / f"protected{ext}"),
        file_format=fmt,
        strength="medium",
        declarations=True,
    )
    return {
        "call": call,
        "settings_before": before,
        "settings_after": image_settings(scene),
        "view_transform": scene.view_settings.view_transform,
    }


def case_save_image(
    out: Path, texture: str, depth: str = "8", mode: str = "fast", steps: str = "0"
) -> dict:
    """An ordinary image (a loaded PNG), saved as is: no view transform, as Blender's Save As.
    A 16-bit PNG is held by Blender as a float (linear, premultiplied) buffer."""
    image = bpy.data.images.load(texture)
    bpy.context.scene.view_settings.view_transform = "AgX"  # must not be applied
    call = call_save(
        image_name=image.name,
        filepath=str(out / "protected.png"),
        color_depth=depth,
        mode=mode,
        steps=int(steps),
    )
    operator = bpy.ops.image.fixative_save_protected_as.get_rna_type()
    return {
        "call": call,
        "size": list(image.size),
        "depth": image.depth,
        "float": image.is_float,
        "default_mode": operator.properties["mode"].default,
    }


def case_animation(out: Path, file_format: str, mode: str) -> dict:
    scene = scene_setup(64, transparent=False, samples=2)
    scene.frame_start, scene.frame_end = 1, 3
    settings = scene.render.image_settings
    if file_format == "FFMPEG" and hasattr(settings, "media_type"):
        settings.media_type = "VIDEO"  # Blender 5: a movie is a media type before a format
    settings.file_format = file_format
    scene.render.filepath = str(out / "frames" / "f_")
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.protect_frames = True
    prefs.frame_output = mode
    bpy.ops.render.render(animation=True)
    frames = sys.modules[ADDON + ".frames"]
    reports = [r.__dict__ for r in frames.last_reports()]
    scene_mode = scene.fixative.mode  # the panel's choice, left at its default
    if scene.render.is_movie_format:  # Blender writes no still in a movie format
        return {"reports": reports, "still": None, "scene_mode": scene_mode}
    # A still with Write Still: Blender adds the extension to the output path itself.
    scene.render.filepath = str(out / "still" / "s")
    bpy.ops.render.render(write_still=True)
    still = [r.__dict__ for r in frames.last_reports()]
    return {"reports": reports, "still": still, "scene_mode": scene_mode}


def case_scene_off(out: Path) -> dict:
    """Preference on, but this scene says Off: nothing is protected."""
    scene = scene_setup(32, transparent=False, samples=1)
    scene.frame_start, scene.frame_end = 1, 1
    scene.render.filepath = str(out / "off" / "f_")
    bpy.context.preferences.addons[ADDON].preferences.protect_frames = True
    scene.fixative.protect_frames = "OFF"
    bpy.ops.render.render(animation=True)
    frames = sys.modules[ADDON + ".frames"]
    return {"reports": [r.__dict__ for r in frames.last_reports()]}


def case_bad(out: Path) -> dict:
    scene_setup(64, transparent=False, samples=1)
    bpy.ops.render.render()
    exr = call_save(image_name="Render Result", filepath=str(out / "chosen.exr"))
    hdr = call_save(image_name="Render Result", filepath=str(out / "chosen.hdr"))
    locked = out / "locked"  # a folder the user may not write in
    locked.mkdir()
    locked.chmod(0o555)
    unwritable = call_save(image_name="Render Result", filepath=str(locked / "protected.png"))
    nofolder = call_save(image_name="Render Result", filepath=str(out / "nope" / "p.png"))
    noimage = call_save(image_name="No Such Image", filepath=str(out / "x.png"))
    # Nothing lost: the render is still there and still saves.
    image = bpy.data.images["Render Result"]
    image.save_render(str(out / "after.png"), scene=bpy.context.scene)
    return {
        "exr": exr,
        "hdr": hdr,
        "unwritable": unwritable,
        "nofolder": nofolder,
        "noimage": noimage,
    }


def case_missing_dep(out: Path) -> dict:
    """onnxruntime unimportable (as in a Blender without it): the add-on still loads."""
    import addon_utils

    sys.modules["onnxruntime"] = None  # makes `import onnxruntime` raise ImportError
    mod = addon_utils.enable(ADDON, default_set=True)
    loaded = mod is not None and hasattr(bpy.types, "IMAGE_OT_fixative_save_protected_as")
    scene_setup(64, transparent=False, samples=1)
    bpy.ops.render.render()
    call = call_save(image_name="Render Result", filepath=str(out / "protected.png"))
    # The frames handler reports, and the animation still completes.
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 2
    scene.render.filepath = str(out / "frames" / "f_")
    bpy.context.preferences.addons[ADDON].preferences.protect_frames = True
    bpy.ops.render.render(animation=True)
    frames = sys.modules[ADDON + ".frames"]
    return {"loaded": loaded, "call": call, "reports": [r.__dict__ for r in frames.last_reports()]}


def case_save_alpha_jpeg(out: Path, texture: str) -> dict:
    """A loaded RGBA image saved as JPEG: flattened onto white, as Krita and GIMP do."""
    image = bpy.data.images.load(texture)
    call = call_save(image_name=image.name, filepath=str(out / "protected.jpg"), file_format="JPEG")
    return {"call": call, "depth": image.depth}


def rna_texts(rna: bpy.types.Struct, base: type | None = None) -> dict:
    """Each visible property's name, tooltip and enum items (name, tooltip), as Blender shows;
    those of Blender's `base` class (bl_idname, name) left out."""
    inherited = {"rna_type"} | {p.identifier for p in base.bl_rna.properties} if base else set()
    texts = {}
    for prop in rna.properties:
        if prop.identifier in inherited | {"rna_type"} or prop.is_hidden:
            continue
        entry = {"name": prop.name, "description": prop.description}
        if prop.type == "ENUM":
            entry["items"] = {i.identifier: [i.name, i.description] for i in prop.enum_items}
        texts[prop.identifier] = entry
    return texts


def case_texts(out: Path) -> dict:
    """The words the UI shows: tooltips, the panel's summary, the Image menu's draw order."""
    prefs = bpy.context.preferences.addons[ADDON].preferences
    frames = sys.modules[ADDON + ".frames"]
    operators = sys.modules[ADDON + ".operators"]
    entries = bpy.types.IMAGE_MT_image._dyn_ui_initialize()
    summaries = {}
    for where in ("SIBLING", "IN_PLACE"):
        prefs.frame_output = where
        summaries[where] = frames.output_summary(prefs)
    return {
        "operator": rna_texts(bpy.ops.image.fixative_save_protected_as.get_rna_type()),
        "prefs": rna_texts(prefs.bl_rna, bpy.types.AddonPreferences),
        "scene": rna_texts(bpy.context.scene.fixative.bl_rna, bpy.types.PropertyGroup),
        "menu": [getattr(f, "__qualname__", repr(f)) for f in entries],
        "menu_ours": entries.index(operators.menu_entry),
        "summaries": summaries,
        "suffix": prefs.suffix,
        "modules": sorted(m for m in sys.modules if m.startswith(ADDON + ".")),
    }


def case_bundled(out: Path) -> dict:
    """The per-platform zip: onnxruntime and Pillow come from its wheels, numpy from Blender."""
    import numpy
    import onnxruntime
    import PIL

    scene_setup(64, transparent=False, samples=1)
    bpy.ops.render.render()
    call = call_save(image_name="Render Result", filepath=str(out / "protected.png"))
    return {
        "call": call,
        "modules": {"onnxruntime": onnxruntime.__file__, "PIL": PIL.__file__},
        "numpy": numpy.__file__,
    }


def case_manual(out: Path) -> dict:
    """The panels' Help: the extension's own copy of docs/blender.md, in the web browser."""
    return {"result": sorted(bpy.ops.fixative.manual())}


CASES = {
    "manual": case_manual,
    "save": case_save,
    "save_image": case_save_image,
    "animation": case_animation,
    "scene_off": case_scene_off,
    "bad": case_bad,
    "missing_dep": case_missing_dep,
    "bundled": case_bundled,
    "save_alpha_jpeg": case_save_alpha_jpeg,
    "texts": case_texts,
}


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1 :]
    name, out, args = argv[0], Path(argv[1]), argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    try:
        if name != "missing_dep":  # that case enables the add-on itself, after hiding onnxruntime
            import addon_utils

            # As a user's enabling does (`--addons` would not record the add-on's preferences).
            if addon_utils.enable(ADDON, default_set=True) is None:
                raise RuntimeError("the Fixative extension failed to load")
        data = CASES[name](out, *args)
        data["exception"] = None
    except Exception:
        data = {"exception": traceback.format_exc()}
    data["alive"] = True
    (out / f"{name}.json").write_text(json.dumps(data, indent=2))


main()
