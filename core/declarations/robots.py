"""robots.txt for "no AI training": the block Fixative prints, its merge into an existing file,
and what a robots.txt reserves (for `fixative check --site`).

Syntax: RFC 9309 (groups of `User-agent` lines followed by rules) with the `Content-Usage` rule
of the IETF AI Preferences drafts: draft-ietf-aipref-attach-05 (19 August 2026) adds
`Content-Usage: [path] usage-pref` to a group, and draft-ietf-aipref-vocab-08 (14 September
2026) defines the preference `train-ai=n` (no training of generative AI models). Per the
attach draft a preference applies only to paths a crawler may fetch, so the refused training
crawlers get `Disallow: /` and every other crawler (`User-agent: *`) gets the `Content-Usage`
line: search crawlers keep crawling, and are told not to train on what they fetch.

The merge keeps the existing file's text as it is and adds to it: Fixative's groups between
`# BEGIN fixative` and `# END fixative` at the end (replaced, not repeated, by a second merge),
and, when the file already has a `User-agent: *` group, the `Content-Usage` line inside that
group (a second `*` group would be ignored by crawlers that take the first, as Python's
urllib.robotparser does). A crawler the file already names keeps the file's own group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import FixativeError
from .crawlers import AI_TRAINING_CRAWLERS

AIPREF_ATTACH = "draft-ietf-aipref-attach-05"
AIPREF_VOCAB = "draft-ietf-aipref-vocab-08"
CONTENT_USAGE = "train-ai=n"
BEGIN = "# BEGIN fixative: no AI training (fixative site-snippets --only robots)"
END = "# END fixative"
OURS = "# fixative"  # the tail of the one line Fixative adds inside an existing group
_RULES = ("allow", "disallow", "content-usage")
_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s*:\s*(.*?)\s*$")


class RobotsError(FixativeError):
    """An existing robots.txt that cannot be merged safely."""


@dataclass
class Group:
    agents: list[str]
    rules: list[tuple[str, str]] = field(default_factory=list)  # (field, value), lower-case field
    start: int = 0  # index of its first User-agent line
    agents_end: int = 0  # index after its last User-agent line


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0]


def parse(text: str, source: str = "robots.txt") -> list[Group]:
    """The groups of a robots.txt, checking each line is a comment, empty or `field: value`,
    and that no rule comes before the first User-agent line; else `RobotsError` naming the
    file and line."""
    groups: list[Group] = []
    current: Group | None = None
    in_agents = False
    for index, raw in enumerate(text.splitlines()):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            msg = f"{source}, line {index + 1}: {raw.strip()!r} is not a 'field: value' line"
            raise RobotsError(msg)
        key, value = match.group(1).lower(), match.group(2)
        if key == "user-agent":
            if not value:
                msg = f"{source}, line {index + 1}: User-agent without a product token"
                raise RobotsError(msg)
            if current is None or not in_agents:
                current = Group(agents=[], start=index)
                groups.append(current)
            current.agents.append(value)
            current.agents_end = index + 1
            in_agents = True
        elif key in _RULES:
            if current is None:
                msg = (
                    f"{source}, line {index + 1}: {match.group(1)} comes before any "
                    "User-agent line (RFC 9309 rules belong to a group)"
                )
                raise RobotsError(msg)
            current.rules.append((key, value))
            in_agents = False
        else:  # Sitemap, Crawl-delay, Host...: not group rules, kept as they are
            in_agents = False if current is not None else in_agents
    return groups


def _named(groups: list[Group]) -> set[str]:
    return {a.lower() for g in groups for a in g.agents}


def block(skip: set[str] | None = None, *, wildcard: bool = True) -> str:
    """Fixative's groups: `Disallow: /` for each training crawler not in `skip` (lower-case
    tokens), and, with `wildcard`, a `User-agent: *` group carrying the Content-Usage rule."""
    skip = skip or set()
    lines = [
        BEGIN,
        "# AI-training crawlers are refused the whole site; search crawlers are not named",
        "# and stay allowed. Content-Usage: IETF AI Preferences",
        f"# ({AIPREF_ATTACH}, {AIPREF_VOCAB}).",
    ]
    for crawler in AI_TRAINING_CRAWLERS:
        if crawler.token.lower() in skip:
            continue
        lines += [
            "",
            f"# {crawler.operator}: {crawler.controls}",
            f"User-agent: {crawler.token}",
            "Disallow: /",
        ]
    if wildcard:
        lines += [
            "",
            "# Every other crawler: crawl as usual, but no training of generative AI on it",
            "User-agent: *",
            "Allow: /",
            f"Content-Usage: {CONTENT_USAGE}",
        ]
    return "\n".join([*lines, END]) + "\n"


def _without_ours(text: str) -> list[str]:
    """The file's lines minus an earlier merge's block (idempotence)."""
    lines = text.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == BEGIN:
            inside = True
            continue
        if inside:
            if line.strip() == END:
                inside = False
            continue
        out.append(line)
    if inside:
        msg = f"an unterminated '{BEGIN}' block (no '{END}' line)"
        raise RobotsError(msg)
    while out and not out[-1].strip():
        out.pop()
    return out


def merge(existing: str, source: str = "robots.txt") -> tuple[str, list[str]]:
    """`existing` with Fixative's groups merged in, and notes on what was left as it was.
    Merging the result again gives the same text."""
    try:
        lines = _without_ours(existing)
    except RobotsError as exc:
        raise RobotsError(f"{source}: {exc}") from None
    groups = parse("\n".join(lines), source)
    notes: list[str] = []
    named = _named(groups) - {"*"}
    kept = [c.token for c in AI_TRAINING_CRAWLERS if c.token.lower() in named]
    if kept:
        notes.append("left as the file has them (its own group decides): " + ", ".join(kept))
    star = next((g for g in groups if "*" in g.agents), None)
    if star is not None:
        has_usage = any(k == "content-usage" for k, _ in star.rules)
        if not has_usage:
            lines.insert(star.agents_end, f"Content-Usage: {CONTENT_USAGE} {OURS}")
        elif not any(k == "content-usage" and v.startswith(CONTENT_USAGE) for k, v in star.rules):
            notes.append("the User-agent: * group has its own Content-Usage rule; kept")
    body = "\n".join(lines)
    merged = (body + "\n\n" if body else "") + block(named, wildcard=star is None)
    return merged, notes


@dataclass(frozen=True)
class Reservation:
    """What a robots.txt says about AI training."""

    refused: list[str]  # tokens with `Disallow: /` (the whole site)
    allowed_training: list[str]  # table tokens a crawler may fetch with no Disallow: /
    content_usage: dict[str, list[str]]  # agent -> Content-Usage values


def reservation(text: str, source: str = "robots.txt") -> Reservation:
    groups = parse(text, source)
    refused: list[str] = []
    usage: dict[str, list[str]] = {}
    for group in groups:
        whole = any(k == "disallow" and v.strip() == "/" for k, v in group.rules)
        values = [v for k, v in group.rules if k == "content-usage"]
        for agent in group.agents:
            if whole:
                refused.append(agent)
            if values:
                usage.setdefault(agent, []).extend(values)
    refused_lower = {a.lower() for a in refused}
    star_refused = "*" in refused_lower
    missing = [
        c.token
        for c in AI_TRAINING_CRAWLERS
        if c.token.lower() not in refused_lower and not star_refused
    ]
    return Reservation(refused, missing, usage)
