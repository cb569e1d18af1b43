"""What a site's robots.txt or headers configuration reserves (`fixative check --site FILE`).

A robots.txt (any `User-agent` line) is read by `robots.reservation`: which crawlers are
refused the whole site, which training crawlers of the table are not, and the Content-Usage
preferences per agent. Anything else is read as response headers in any of the forms
`site-snippets` prints (plain `Name: value`, nginx `add_header`, Apache `Header set`, a
`_headers` file): the TDMRep, AI Preferences and noai fields it sets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import FixativeError
from . import robots

HEADER_NAMES = ("tdm-reservation", "tdm-policy", "content-usage", "x-robots-tag")
_HEADER = re.compile(
    r"(?im)^\s*(?:add_header\s+|header\s+(?:always\s+)?set\s+)?"
    r"(tdm-reservation|tdm-policy|content-usage|x-robots-tag)\b\s*:?\s*\"?([^\"\n;]*)"
)


class SiteFileError(FixativeError):
    """A --site file that cannot be read."""


def read_site(path: str | os.PathLike[str]) -> dict[str, Any]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SiteFileError(f"{source}: not UTF-8 text") from None
    except OSError as exc:
        raise SiteFileError(f"{source}: {exc.strerror or exc}") from None
    if re.search(r"(?im)^\s*user-agent\s*:", text):
        found = robots.reservation(text, source)
        lines = []
        if found.refused:
            lines.append("refuses the whole site to: " + ", ".join(found.refused))
        if found.allowed_training:
            lines.append(
                "AI-training crawlers it does not refuse: " + ", ".join(found.allowed_training)
            )
        for agent, values in found.content_usage.items():
            lines.append(f"Content-Usage for {agent}: {'; '.join(values)}")
        if not lines:
            lines.append("reserves nothing for AI training")
        return {
            "site": source,
            "kind": "robots.txt",
            "refused": found.refused,
            "training_crawlers_not_refused": found.allowed_training,
            "content_usage": found.content_usage,
            "lines": lines,
        }
    fields: dict[str, list[str]] = {}
    for match in _HEADER.finditer(text):
        fields.setdefault(match.group(1).lower(), []).append(match.group(2).strip())
    if not fields:
        raise SiteFileError(
            f"{source}: neither a robots.txt (no User-agent line) nor headers naming "
            + ", ".join(HEADER_NAMES)
        )
    return {
        "site": source,
        "kind": "headers",
        "headers": fields,
        "lines": [f"{name}: {'; '.join(values)}" for name, values in fields.items()],
    }
