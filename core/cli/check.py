"""`fixative check FILE...`: the declarations a file carries and whether they hold; with
`--original`, how far the pixels moved and how far each model family's autoencoder (FLUX.2's,
the one the protection aims at; SDXL's; FLUX.1's) reads them differently (`fixative.jobs.check`).

Exit status: 0 every file carries declarations that check out, 1 some file has none, has a
broken or mismatching C2PA manifest, 2 some file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..declarations.site import read_site
from ..errors import FixativeError
from ..jobs.check import CheckError, check_file
from ..protection import families


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "check",
        help="show the AI-training declarations in image files and whether they still hold",
        description=(
            "Report the IPTC Data Mining XMP declarations and the C2PA manifest (assertions, "
            "signature, trust, hash binding) of each FILE. With --original, also measure how "
            "much the protected pixels differ from the original and, for each model family "
            "(FLUX.2, aimed at; SDXL and FLUX.1, measured), how much the change moves its "
            "image encoder's reading of the picture and its reconstruction (also after colour "
            "matching), against noise of the same visibility."
        ),
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="image file(s) to check")
    p.add_argument(
        "--site",
        metavar="FILE",
        action="append",
        default=[],
        help="also report what a robots.txt or a headers configuration (plain, nginx, Apache, "
        "_headers) reserves, and for which agents; may be repeated",
    )
    p.add_argument("--json", action="store_true", help="print a JSON report instead of text")
    p.add_argument(
        "--original",
        "--against",
        dest="original",
        metavar="ORIG",
        help="the unprotected original: report PSNR, max difference, and per model family "
        "the latent distortion and what the AI sees (its reconstruction's PSNR, colour-matched "
        "PSNR and "
        "SSIM), each beside uniform noise of the same image PSNR, measured at the AI's view "
        "(about 1 megapixel, as trainers read pictures)",
    )
    p.add_argument(
        "--no-latent",
        action="store_true",
        help="with --original, skip the model families' measures (latent distortion and what "
        "the AI sees, each beside noise of the same visibility; about 20 s per family for a 1 MP "
        "picture on 2 CPU cores)",
    )
    p.add_argument(
        "--family",
        dest="families",
        action="append",
        choices=families.IDS,
        metavar="ID",
        help="with --original, measure this model family only ("
        + "; ".join(f"{f.id}: {f.name}" for f in families.FAMILIES)
        + "); may be repeated; default: all",
    )
    p.add_argument(
        "--trust-anchor",
        metavar="PEM",
        action="append",
        default=[],
        help="a root certificate (PEM) to trust for C2PA, e.g. your local Fixative CA "
        "(ca.pem in the Fixative config folder); may be repeated",
    )
    return p


# --- reading ------------------------------------------------------------------------------


def _fmt_text(report: dict[str, Any]) -> str:
    out = [f"{report['file']} ({report['format']})"]
    out += [f"  {line}" for line in report["verdict"]]
    xmp = report.get("xmp") or {}
    for key, label in (
        ("other_constraints", "other constraints"),
        ("digital_source_type", "digital source type"),
        ("creator", "creator"),
        ("rights", "copyright"),
        ("web_statement", "web statement"),
        ("tdm_reservation", "TDMRep tdm:reservation"),
        ("tdm_policy", "TDMRep tdm:policy"),
    ):
        if xmp.get(key):
            value = xmp[key]
            out.append(f"  {label}: {', '.join(value) if isinstance(value, list) else value}")
    c2 = report["c2pa"]
    if c2.get("present") and c2.get("training_mining"):
        entries = ", ".join(
            f"{k.split('.', 1)[-1]}={v.get('use')}"
            for k, v in sorted(c2["training_mining"].items())
        )
        out.append(f"  C2PA training-mining: {entries}")
    if c2.get("present") and c2.get("signer"):
        s = c2["signer"]
        out.append(f"  C2PA signer: {s.get('common_name', '?')} ({s.get('issuer', '?')})")
    prot = report.get("protection")
    if prot:
        psnr = prot["psnr_db"]
        out.append(
            f"  vs original {prot['original']}: PSNR "
            + ("inf (identical pixels)" if psnr is None else f"{psnr:.2f} dB")
            + f", max difference {prot['max_abs_diff_8bit']:.1f}/255"
        )
        for figures in prot.get("families", {}).values():
            out += [f"  {line}" for line in ai_lines(figures, prot)]
        if prot.get("alpha_unchanged") is False:
            out.append("  warning: alpha differs from the original")
    return "\n".join(out)


def ai_lines(fig: dict[str, Any], prot: dict[str, Any]) -> list[str]:
    """What one family's encoder and decoder see (`fig`, one entry of `prot["families"]`), each
    figure beside noise of the same visibility."""
    view = f"{prot['latent_view_width']}x{prot['latent_view_height']}"
    ratio = fig["latent_times_noise"]
    aimed = "aimed at" if fig["aimed_at"] else "measured, not aimed at"
    lines = [
        f"{fig['name']}, {fig['autoencoder']} ({aimed}): {fig['seen']} (colour-matched)",
        f"  latent distortion {fig['latent_distortion']:.4f} at the AI's view ({view}); noise "
        f"of the same visibility: {fig['noise_latent_distortion']:.4f}"
        + ("" if ratio is None else f" ({ratio:.2f}x noise's)"),
    ]
    matched, plain = fig["ai_view_colour_matched_db_below_noise"], fig["ai_view_db_below_noise"]
    if matched is not None and plain is not None:
        lines.append(
            "  its reconstruction vs the original's: PSNR "
            f"{fig['ai_view_psnr']:.1f} dB (noise: {fig['noise_ai_view_psnr']:.1f}; "
            f"{_worse(plain)} before colour matching), colour-matched "
            f"{fig['ai_view_psnr_colour_matched']:.1f} dB "
            f"(noise: {fig['noise_ai_view_psnr_colour_matched']:.1f}), SSIM "
            f"{fig['ai_view_ssim']:.3f} (noise: {fig['noise_ai_view_ssim']:.3f})"
        )
    return lines


def _worse(db: float) -> str:
    """dB below noise's PSNR, in words (positive = the AI sees the picture more wrongly)."""
    return f"{db:.1f} dB worse" if db >= 0 else f"{-db:.1f} dB better"


def run(args: argparse.Namespace) -> int:
    anchors: list[bytes] = []
    for a in args.trust_anchor or []:
        try:
            anchors.append(Path(a).read_bytes())
        except OSError as exc:
            print(f"fixative check: cannot read trust anchor {a}: {exc.strerror}", file=sys.stderr)
            return 2
    if not args.files and not args.site:
        print("fixative check: give an image FILE or --site FILE", file=sys.stderr)
        return 2
    reports: list[dict[str, Any]] = []
    status = 0
    for site_file in args.site:
        try:
            reports.append({**read_site(site_file), "ok": True})
        except FixativeError as exc:
            reports.append({"site": site_file, "error": str(exc), "ok": False})
            status = 2
    for f in args.files:
        try:
            report = check_file(
                f, anchors, args.original, latent=not args.no_latent, family_ids=args.families
            )
        except CheckError as exc:
            report = {"file": f, "error": str(exc), "ok": False}
            status = 2
        except OSError as exc:
            report = {"file": f, "error": f"{f}: {exc.strerror or exc}", "ok": False}
            status = 2
        if not report["ok"] and status == 0:
            status = 1
        reports.append(report)
    if args.json:
        print(json.dumps(reports, indent=2, default=_json_default))
    else:
        for r in reports:
            if "site" in r:
                print(
                    r.get("error")
                    or "\n".join(
                        [f"{r['site']} ({r['kind']})"] + [f"  {line}" for line in r["lines"]]
                    )
                )
            else:
                print(r["error"] if "error" in r and "verdict" not in r else _fmt_text(r))
    return status


def _json_default(value: Any) -> Any:
    return str(value)
