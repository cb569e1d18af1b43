"""`fixative site-snippets`: what an artist pastes into their website.

The W3C TDM Reservation Protocol (TDMRep) and the `noai` / `noimageai` directives have no in-file
form for images, so they belong on the site that serves the images: a `/.well-known/tdmrep.json`
file, HTTP response headers, and HTML `<meta>` tags.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ..errors import SettingsError

SECTIONS = ("tdmrep", "headers", "html")
ROBOTS_DIRECTIVES = "noai, noimageai"


class SnippetError(SettingsError):
    pass


def _check_url(url: str) -> str:
    if not re.match(r"^https?://[^\s\"'<>]+$", url):
        raise SnippetError(f"--policy {url!r} must be an http(s) URL without spaces or quotes")
    return url


def _check_location(location: str) -> str:
    if not location.startswith("/") or re.search(r"[\s\"]", location):
        raise SnippetError(f"--location {location!r} must be a path pattern starting with '/'")
    return location


def tdmrep_json(location: str = "/*", policy: str | None = None) -> str:
    """The content of /.well-known/tdmrep.json: one rule reserving TDM rights for `location`."""
    rule: dict[str, Any] = {"location": _check_location(location), "tdm-reservation": 1}
    if policy:
        rule["tdm-policy"] = _check_url(policy)
    return json.dumps([rule], indent=2) + "\n"


def header_lines(policy: str | None = None) -> str:
    lines = ["tdm-reservation: 1"]
    if policy:
        lines.append(f"tdm-policy: {_check_url(policy)}")
    lines.append(f"X-Robots-Tag: {ROBOTS_DIRECTIVES}")
    return "\n".join(lines) + "\n"


def meta_tags(policy: str | None = None) -> str:
    tags = ['<meta name="tdm-reservation" content="1">']
    if policy:
        tags.append(f'<meta name="tdm-policy" content="{html.escape(_check_url(policy))}">')
    tags.append(f'<meta name="robots" content="{ROBOTS_DIRECTIVES}">')
    return "\n".join(tags) + "\n"


def render(sections: tuple[str, ...] | list[str], location: str, policy: str | None) -> str:
    bare = len(sections) == 1
    parts: list[str] = []
    if "tdmrep" in sections:
        body = tdmrep_json(location, policy)
        parts.append(body if bare else f"# /.well-known/tdmrep.json (W3C TDMRep)\n{body}")
    if "headers" in sections:
        body = header_lines(policy)
        head = "# HTTP response headers for your pages and images (server or CDN configuration)\n"
        parts.append(body if bare else head + body)
    if "html" in sections:
        body = meta_tags(policy)
        parts.append(body if bare else f"# HTML, inside <head> of every page\n{body}")
    return "\n".join(parts)
