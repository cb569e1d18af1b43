"""`fixative site-snippets`: what an artist pastes into their website
(`fixative.declarations.snippets`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import atomic
from ..declarations.robots import RobotsError, merge
from ..declarations.snippets import SECTIONS, SnippetError, render
from ..errors import FixativeError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "site-snippets",
        help="print the website snippets (robots.txt, tdmrep.json, HTTP headers, HTML tags)",
        description=(
            'Print what to add to your website so that AI crawlers see "no AI training": '
            "robots.txt groups refusing the AI-training crawlers with the IETF AI Preferences "
            "Content-Usage rule (train-ai=n), /.well-known/tdmrep.json (W3C TDMRep), HTTP "
            "response headers (tdm-reservation, Content-Usage, X-Robots-Tag) as plain lines "
            "and for nginx, Apache and a _headers file, and HTML <meta> tags. See "
            "docs/declarations.md."
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
    p.add_argument(
        "--merge",
        metavar="ROBOTS_TXT",
        help="with --only robots: merge the robots.txt groups into this existing file, in "
        "place (atomically; its own rules are kept; merging twice changes nothing)",
    )
    return p


def _merge(path_text: str) -> int:
    path = Path(path_text)
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
    except UnicodeDecodeError:
        print(f"fixative site-snippets: {path}: not UTF-8 text; nothing written", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fixative site-snippets: {path}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        merged, notes = merge(existing, str(path))
        if merged != existing:
            data = merged.encode("utf-8")
            atomic.write(path, lambda fh: fh.write(data), overwrite=True)
    except RobotsError as exc:
        print(f"fixative site-snippets: {exc}; nothing written", file=sys.stderr)
        return 2
    except FixativeError as exc:
        print(f"fixative site-snippets: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"fixative site-snippets: {path}: {note}", file=sys.stderr)
    print(f"{path}: {'merged' if merged != existing else 'already up to date'}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.merge:
        if args.only != ["robots"]:
            print("fixative site-snippets: --merge needs --only robots", file=sys.stderr)
            return 2
        return _merge(args.merge)
    sections = tuple(args.only) if args.only else SECTIONS
    try:
        text = render(sections, args.location, args.policy)
    except SnippetError as exc:
        print(f"fixative site-snippets: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    if not args.only:
        sys.stdout.write(
            "\n# These only speak for the site. Fixative also writes IPTC Data Mining and\n"
            "# TDMRep's tdm:reservation (XMP) and, optionally, a C2PA manifest into each\n"
            "# protected file; see docs/declarations.md.\n"
        )
    return 0
