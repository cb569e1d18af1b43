"""`fixative site-snippets`: what an artist pastes into their website
(`fixative.declarations.snippets`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..declarations.snippets import SECTIONS, SnippetError, render


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "site-snippets",
        help="print the website snippets (tdmrep.json, HTTP headers, HTML meta tags)",
        description=(
            "Print what to add to your website to reserve text-and-data-mining rights: "
            "/.well-known/tdmrep.json (W3C TDMRep), HTTP response headers and HTML <meta> tags "
            "(TDMRep and noai/noimageai). These have no in-file form for images."
        ),
    )
    p.add_argument(
        "--policy",
        metavar="URL",
        help="URL of a TDM licensing policy (TDMRep tdm-policy), e.g. your terms page",
    )
    p.add_argument(
        "--location",
        default="/*",
        metavar="PATTERN",
        help="path pattern the reservation covers in tdmrep.json (default: /*, the whole site)",
    )
    p.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="print only this section (may be repeated); output is then unadorned, "
        "ready to redirect into a file",
    )
    return p


def run(args: argparse.Namespace) -> int:
    sections = tuple(args.only) if args.only else SECTIONS
    try:
        text = render(sections, args.location, args.policy)
    except SnippetError as exc:
        print(f"fixative site-snippets: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    if not args.only:
        sys.stdout.write(
            "\n# These only speak for the site. Fixative also writes IPTC Data Mining (XMP) and,\n"
            "# optionally, a C2PA manifest into each protected file; see docs/declarations.md.\n"
        )
    return 0
