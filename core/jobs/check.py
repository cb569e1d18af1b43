"""What `fixative check` reports: which "no AI training" declarations a file carries, and whether
they still hold (C2PA signature, trust, hash binding); given the original, how far the protected
pixels are from it, and how far each model family's encoder reading of them moved (with the
shipped ONNX encoders and decoders, at the AI's view). The command itself is `fixative.cli.check`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..declarations.xmp import CorruptXmpError, read_declarations
from ..errors import FixativeError

_HASH_CODES = ("assertion.dataHash", "assertion.boxesHash", "assertion.bmffHash")


def read_xmp(path: str | os.PathLike[str]) -> tuple[str, bytes | None]:
    """(Pillow format name, raw XMP packet or None) of an image file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            fmt = im.format or "unknown"
            xmp = im.info.get("xmp")
            if xmp is None and fmt == "TIFF":
                xmp = im.tag_v2.get(700)  # type: ignore[attr-defined]
            if xmp is None and "XML:com.adobe.xmp" in im.info:
                xmp = im.info["XML:com.adobe.xmp"]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CheckError(f"{path}: cannot read the image ({exc})") from exc
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    elif xmp is not None and not isinstance(xmp, bytes):
        xmp = bytes(xmp)
    return fmt, xmp


class CheckError(FixativeError):
    """A file could not be read at all."""


def _codes(results: dict[str, Any] | None) -> dict[str, list[dict[str, str]]]:
    active = (results or {}).get("activeManifest") or {}
    return {k: list(active.get(k) or []) for k in ("success", "informational", "failure")}


def _has_c2pa_marker(path: str | os.PathLike[str]) -> bool:
    """Whether the bytes contain a C2PA manifest store label (JUMBF box `c2pa`)."""
    return b"c2pa" in Path(path).read_bytes()


def inspect_c2pa(path: str | os.PathLike[str], trust_anchors: list[bytes]) -> dict[str, Any]:
    """The active C2PA manifest of a file: assertions, signature, trust and hash binding."""
    try:
        import c2pa
    except ImportError:
        has_marker = _has_c2pa_marker(path)
        return {
            "present": None if has_marker else False,
            "checked": False,
            "note": "c2pa-python is not installed (pip install 'fixative[c2pa]'); "
            + ("the file seems to contain a C2PA manifest" if has_marker else "no C2PA marker"),
        }
    context = None
    if trust_anchors:
        pem = b"\n".join(a.strip() for a in trust_anchors).decode("ascii", "replace")
        context = c2pa.Context.from_dict(
            {"verify": {"verify_trust": True}, "trust": {"trust_anchors": pem + "\n"}}
        )
    try:
        with open(path, "rb") as fh:
            reader = c2pa.Reader(fh, context=context) if context else c2pa.Reader(fh)
            with reader:
                manifest = reader.get_active_manifest()
                state = reader.get_validation_state()
                results = reader.get_validation_results()
    except c2pa.C2paError as exc:
        not_found = getattr(c2pa.C2paError, "ManifestNotFound", ())
        if isinstance(exc, not_found) or not _has_c2pa_marker(path):
            return {"present": False, "checked": True}
        return {"present": True, "checked": True, "error": str(exc), "signature_valid": False}
    if not manifest:
        return {"present": False, "checked": True}

    codes = _codes(results)
    success = {c["code"] for c in codes["success"]}
    failure = {c["code"] for c in codes["failure"]}
    assertions = manifest.get("assertions") or []
    training = next(
        (
            a.get("data", {}).get("entries", {})
            for a in assertions
            if a.get("label") in ("cawg.training-mining", "c2pa.training-mining")
        ),
        None,
    )
    actions = [
        act.get("action")
        for a in assertions
        if str(a.get("label", "")).startswith("c2pa.actions")
        for act in a.get("data", {}).get("actions", [])
    ]
    if any(c.startswith("claimSignature.") for c in failure):
        signature_valid: bool | None = False
    elif "claimSignature.validated" in success:
        signature_valid = True
    else:
        signature_valid = None
    if "signingCredential.trusted" in success:
        trusted: bool | None = True
    elif "signingCredential.untrusted" in failure:
        trusted = False
    else:
        trusted = None
    if any(c.startswith(_HASH_CODES) and c.endswith(".mismatch") for c in failure):
        hash_match: bool | None = False
    elif any(c.startswith(_HASH_CODES) and c.endswith(".match") for c in success):
        hash_match = True
    else:
        hash_match = None
    problems = [
        {"code": c["code"], "explanation": c.get("explanation", "")}
        for c in codes["failure"]
        if c["code"] != "signingCredential.untrusted"
    ]
    return {
        "present": True,
        "checked": True,
        "validation_state": state,
        "assertions": [a.get("label") for a in assertions],
        "training_mining": training,
        "actions": actions,
        "signer": manifest.get("signature_info") or {},
        "signature_valid": signature_valid,
        "trusted": trusted,
        "trust_anchors_given": bool(trust_anchors),
        "hash_match": hash_match,
        "problems": problems,
    }


# --- protection report ----------------------------------------------------------------------


def _load_unit(path: str | os.PathLike[str]) -> tuple[Any, int]:
    """RGB(A) float64 array in [0,1] and the bit depth, decoded by the core's reader (the same
    orientation, 16-bit and greyscale handling as protection itself)."""
    import numpy as np

    from ..errors import FixativeError
    from ..image.reading import read_image

    try:
        pixels = read_image(path).pixels
    except FixativeError as exc:
        raise CheckError(str(exc)) from exc
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float64) / 255.0, 8
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float64) / 65535.0, 16
    return pixels.astype(np.float64), 32


def compare(
    original: str | os.PathLike[str],
    protected: str | os.PathLike[str],
    *,
    latent: bool = True,
    family_ids: list[str] | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """PSNR and max difference of the RGB channels (alpha is never changed by Fixative); with
    `latent`, what each model family's encoder and decoder see (`measure_ai`; `family_ids`
    chooses, all of them by default)."""
    import numpy as np

    a, bits_a = _load_unit(original)
    b, bits_b = _load_unit(protected)
    if a.shape[:2] != b.shape[:2]:
        raise CheckError(
            f"{protected}: size {b.shape[1]}x{b.shape[0]} differs from the original "
            f"{original} ({a.shape[1]}x{a.shape[0]}); cannot compare"
        )
    diff = a[..., :3] - b[..., :3]
    mse = float(np.mean(diff**2))
    report: dict[str, Any] = {
        "original": os.fspath(original),
        # None when identical: JSON has no infinity.
        "psnr_db": None if mse == 0 else 10 * math.log10(1.0 / mse),
        "max_abs_diff": float(np.max(np.abs(diff))),
        "max_abs_diff_8bit": round(float(np.max(np.abs(diff))) * 255, 2),
        "mean_abs_diff": float(np.mean(np.abs(diff))),
        "bit_depth": [bits_a, bits_b],
    }
    if a.shape[2] == 4 and b.shape[2] == 4:
        report["alpha_unchanged"] = bool(np.array_equal(a[..., 3], b[..., 3]))
    if latent:
        levels = {8: 255, 16: 65535}.get(bits_b)  # the noise is quantised like the file
        report.update(measure_ai(a, b, protected, levels=levels, family_ids=family_ids))
    return report


def measure_ai(
    original: Any,
    protected: Any,
    name: str | os.PathLike[str],
    *,
    levels: int | None = 255,
    family_ids: list[str] | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """What each model family's encoder and decoder make of two (H, W, C) arrays in [0, 1], each
    figure beside its baseline: uniform noise of the protected picture's image PSNR
    (`measures`, quantised to `levels` like the file), added at the file's size.

    Per family (`families`; `family_ids` chooses, all by default), under "families": the latent
    distortion ‖E(p) − E(o)‖ / ‖E(o)‖ and the AI view (`measures.AIView`: the reconstructions'
    PSNR, plain and colour-matched, and SSIM), beside noise's. FLUX.2's figures, the family the
    protection aims at, also stand at the top level under their historical keys. Measured at the
    AI's view (about 1 MP, `fixative.protection.view`), as trainers read pictures and as
    protection aims; it also keeps a 4K check from needing the graphs' gigabytes at native
    size. `name` (the protected file) goes into error messages.
    """
    import numpy as np

    from ..errors import ModelError
    from ..protection import families, graphs, measures
    from ..protection import view as vw

    chosen = families.chosen(family_ids)
    h, w = original.shape[:2]
    v = vw.plan(h, w, vw.AUTO, graphs.LATENT_FACTOR)
    clean = np.asarray(original[..., :3], np.float32)
    image_psnr = measures.psnr(clean, protected[..., :3])
    noise = measures.matched_noise(clean, image_psnr, levels=levels)

    def at_view(x: Any) -> Any:
        rgb = np.ascontiguousarray(x[..., :3], dtype=np.float32)
        return rgb if v.native else vw.downscale(rgb, v)

    views = [at_view(x) for x in (clean, protected, noise)]
    per: dict[str, dict[str, Any]] = {}
    for family in chosen:
        try:
            z_o, z_p, z_n = (graphs.encode(x, family=family) for x in views)
            r_o, r_p, r_n = (graphs.decode(z, family=family) for z in (z_o, z_p, z_n))
        except ModelError as exc:
            msg = f"{name}: cannot measure what {family.label} sees: {exc}"
            raise CheckError(msg) from exc
        latent = graphs.relative_distance(z_p, z_o)
        noise_latent = graphs.relative_distance(z_n, z_o)
        seen, noise_seen = measures.AIView.of(r_p, r_o), measures.AIView.of(r_n, r_o)
        gaps = measures.gaps(seen, noise_seen)
        per[family.id] = {
            "name": family.name,
            "autoencoder": family.autoencoder,
            "aimed_at": family.target,
            "latent_distortion": latent,
            "noise_latent_distortion": noise_latent,
            "latent_times_noise": latent / noise_latent if noise_latent > 0 else None,
            **seen.to_dict(),
            **noise_seen.to_dict("noise_"),
            **gaps,
            "seen": families.seen_words(family, gaps["ai_view_colour_matched_db_below_noise"]),
        }
    noise_psnr = measures.psnr(noise, clean)
    report: dict[str, Any] = {}
    target = per.get(families.TARGET.id)
    if target is not None:  # FLUX.2's figures under the keys they always had
        report.update(
            taef2_latent_distortion=target["latent_distortion"],
            noise_taef2_latent_distortion=target["noise_latent_distortion"],
            **{
                k: v
                for k, v in target.items()
                if k.startswith(("ai_view_", "noise_ai_view_", "latent_times"))
            },
        )
    report.update(
        families=per,
        noise_psnr_db=None if math.isinf(noise_psnr) else noise_psnr,
        noise_seed=measures.NOISE_SEED,
        latent_view_width=v.view_width,
        latent_view_height=v.view_height,
    )
    return report


# --- verdict and output ---------------------------------------------------------------------


def check_file(
    path: str | os.PathLike[str],
    trust_anchors: list[bytes],
    original: str | None = None,
    *,
    latent: bool = True,
    family_ids: list[str] | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    fmt, xmp = read_xmp(path)
    report: dict[str, Any] = {"file": os.fspath(path), "format": fmt}
    if xmp is None:
        report["xmp"] = None
    else:
        try:
            report["xmp"] = read_declarations(xmp)
        except CorruptXmpError as exc:
            report["xmp"] = {"error": str(exc)}
    report["c2pa"] = inspect_c2pa(path, trust_anchors)
    report["verdict"], report["ok"] = _verdict(report)
    if original is not None:
        report["protection"] = compare(original, path, latent=latent, family_ids=family_ids)
    return report


def _verdict(report: dict[str, Any]) -> tuple[list[str], bool]:
    lines: list[str] = []
    ok = True
    xmp, c2 = report["xmp"], report["c2pa"]
    has_xmp_decl = bool(xmp and xmp.get("data_mining"))
    has_c2pa = bool(c2.get("present"))
    if not has_xmp_decl and not has_c2pa:
        ok = False
        if xmp is None:
            lines.append(
                "no declarations: the file has no XMP metadata and no C2PA manifest (never "
                "declared, or the metadata was stripped, e.g. by an upload platform or re-encode)"
            )
        elif "error" in xmp:
            lines.append("no readable declarations: the XMP packet is corrupt")
        else:
            lines.append(
                "no AI-training declaration: the file has XMP metadata but no IPTC Data Mining "
                "value and no C2PA manifest"
            )
        return lines, ok
    if has_xmp_decl:
        lines.append(f"IPTC Data Mining: {xmp.get('data_mining_code') or xmp['data_mining']}")
        if xmp.get("wrong_namespace"):
            lines.append(
                "warning: Data Mining written with a wrong namespace; readers will ignore it"
            )
    else:
        lines.append("no IPTC Data Mining value in XMP (stripped or never written)")
    if not c2.get("checked", True):
        lines.append("C2PA: " + c2.get("note", "not checked"))
    elif not has_c2pa:
        lines.append("no C2PA manifest")
    elif "error" in c2:
        ok = False
        lines.append(f"C2PA manifest present but unreadable: {c2['error']}")
    else:
        if c2.get("signature_valid") is False:
            ok = False
            lines.append("C2PA signature INVALID: the manifest was altered after signing")
        elif c2.get("signature_valid"):
            lines.append("C2PA signature valid")
        if c2.get("hash_match") is False:
            ok = False
            lines.append(
                "C2PA hash binding MISMATCH: the pixels or file data changed after signing "
                "(edited or re-encoded); the manifest no longer describes this file"
            )
        elif c2.get("hash_match"):
            lines.append("C2PA hash binding matches: the file is unchanged since signing")
        if c2.get("trusted"):
            lines.append("signer trusted (chains to a given trust anchor)")
        elif c2.get("trusted") is False:
            hint = (
                ""
                if c2.get("trust_anchors_given")
                else " — a Fixative local CA is never publicly trusted; pass "
                "--trust-anchor with its ca.pem to verify it is yours"
            )
            lines.append("signer untrusted: its certificate does not chain to a known root" + hint)
        for p in c2.get("problems", []):
            ok = False  # anything the validator failed, besides trust, breaks the manifest
            if p["code"] == "assertion.hashedURI.mismatch":
                lines.append(
                    "C2PA manifest ALTERED: an assertion no longer matches what was signed "
                    f"({p['explanation']})"
                )
            elif not p["code"].startswith((*_HASH_CODES, "claimSignature.")):
                lines.append(f"C2PA problem: {p['code']} {p['explanation']}".rstrip())
    return lines, ok
