"""`fixative site-snippets`: what an artist pastes into their website.

What AI crawlers read on the site that serves the images: robots.txt groups for the training
crawlers with the IETF AI Preferences `Content-Usage` rule (`robots`, see `robots.py`); a
`/.well-known/tdmrep.json` file (W3C TDMRep); HTTP response headers (`tdm-reservation`, the
AI Preferences `Content-Usage` field, `X-Robots-Tag: noai, noimageai`) as plain lines and as
nginx, Apache (.htaccess) and static-host `_headers` configuration; and HTML `<meta>` tags.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ..errors import SettingsError
from . import robots

SECTIONS = ("robots", "tdmrep", "headers", "nginx", "apache", "_headers", "html")
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


def headers(policy: str | None = None) -> list[tuple[str, str]]:
    """The response headers, as (name, value): TDMRep's, AI Preferences' and noai's."""
    fields = [("tdm-reservation", "1")]
    if policy:
        fields.append(("tdm-policy", _check_url(policy)))
    fields.append(("Content-Usage", robots.CONTENT_USAGE))
    fields.append(("X-Robots-Tag", ROBOTS_DIRECTIVES))
    return fields


def header_lines(policy: str | None = None) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers(policy))


def nginx_conf(policy: str | None = None) -> str:
    """For a `server` or `location` block; `always` also sends them with error responses."""
    return "".join(f'add_header {n} "{v}" always;\n' for n, v in headers(policy))


def apache_conf(policy: str | None = None) -> str:
    """For `.htaccess` or the server configuration (needs mod_headers)."""
    lines = [f'    Header set {n} "{v}"' for n, v in headers(policy)]
    return "<IfModule mod_headers.c>\n" + "\n".join(lines) + "\n</IfModule>\n"


def static_headers(policy: str | None = None) -> str:
    """A `_headers` file (Netlify, Cloudflare Pages): every path of the site."""
    return "/*\n" + "".join(f"  {n}: {v}\n" for n, v in headers(policy))


def meta_tags(policy: str | None = None) -> str:
    tags = ['<meta name="tdm-reservation" content="1">']
    if policy:
        tags.append(f'<meta name="tdm-policy" content="{html.escape(_check_url(policy))}">')
    tags.append(f'<meta name="robots" content="{ROBOTS_DIRECTIVES}">')
    return "\n".join(tags) + "\n"


# section -> (heading when printed with others, body)
_SECTION_TEXT = {
    "robots": (
        "# robots.txt (or merge: fixative site-snippets --only robots --merge robots.txt)",
        lambda location, policy: robots.block(),
    ),
    "tdmrep": ("# /.well-known/tdmrep.json (W3C TDMRep)", tdmrep_json),
    "headers": (
        "# HTTP response headers for your pages and images (server or CDN configuration)",
        lambda location, policy: header_lines(policy),
    ),
    "nginx": (
        "# nginx: inside the server { } or location { } block",
        lambda location, policy: nginx_conf(policy),
    ),
    "apache": (
        "# Apache: .htaccess or the server configuration",
        lambda location, policy: apache_conf(policy),
    ),
    "_headers": (
        "# Netlify or Cloudflare Pages: a file named _headers at the site's root",
        lambda location, policy: static_headers(policy),
    ),
    "html": ("# HTML, inside <head> of every page", lambda location, policy: meta_tags(policy)),
}


def render(sections: tuple[str, ...] | list[str], location: str, policy: str | None) -> str:
    bare = len(sections) == 1
    parts: list[str] = []
    for name in SECTIONS:
        if name not in sections:
            continue
        heading, make = _SECTION_TEXT[name]
        body = make(location, policy)
        parts.append(body if bare else f"{heading}\n{body}")
    return "\n".join(parts)
