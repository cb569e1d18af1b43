"""The docs a plug-in carries: its host's page (docs/krita.md, gimp.md, blender.md) and every
page that one links to, rendered to HTML at build time, so that a dialog's Help opens the
manual of the very version installed, offline. `fixative_host.help` finds it at run time.

    python scripts/manual.py krita OUT     # render Krita's pages into OUT, print the entry page

Layout (what `fixative_host.help` and GIMP's help system read):

    OUT/en/docs/krita.html ...            the pages, at their places in the repository
    OUT/en/docs/images/...                the images they show
    OUT/en/gimp-help.xml                  GIMP's map of help ids to pages (GIMP only)

Needs the `package` extra (`pip install '.[package]'`: markdown-it-py), a build-time tool only.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
from pathlib import Path

from plugin_vendor import REPO  # which also puts the host glue on sys.path

# isort: split
from fixative_host import help as host_help  # the layout's one definition

# A Markdown link or image: [text](target "title"); nested brackets one level deep.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
IMAGES = {".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp"}
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:|^#")  # http:, mailto:, an anchor on the same page
STYLE = (
    "body{font-family:sans-serif;max-width:52em;margin:2em auto;padding:0 1em;line-height:1.5}"
    "img{max-width:100%}code,pre{background:#f4f4f4}pre{padding:.6em;overflow:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
)


def slug(heading: str) -> str:
    """GitHub's anchor for a rendered heading (the rule the docs' links and their test use):
    tags dropped, lower case, punctuation dropped, spaces to -."""
    text = html.unescape(re.sub(r"<[^>]+>", "", heading)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _targets(page: Path) -> list[tuple[str, Path]]:
    """(link as written, the file it names) for every relative link and image of `page`."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)
    found = []
    for target in LINK.findall(text):
        if not EXTERNAL.match(target):
            found.append((target, (page.parent / target.split("#")[0]).resolve()))
    return found


def pages_of(host: str) -> tuple[list[Path], list[Path]]:
    """The Markdown pages reachable from the host's page and the images they show."""
    start = REPO / "docs" / f"{host}.md"
    if not start.is_file():
        raise SystemExit(f"{start}: no docs page for host {host!r}")
    pages: list[Path] = []
    images: set[Path] = set()
    todo = [start]
    while todo:
        page = todo.pop()
        if page in pages:
            continue
        pages.append(page)
        for written, path in _targets(page):
            if REPO not in path.parents or not path.is_file():
                raise SystemExit(f"{page}: link {written!r} names no file of the repository")
            if path.suffix == ".md":
                todo.append(path)
            elif path.suffix.lower() in IMAGES:
                images.add(path)
            else:
                # Only pages and pictures travel; a link to a script would point nowhere.
                raise SystemExit(f"{page}: link {written!r} is neither a page nor an image")
    return pages, sorted(images)


def _html_links(body: str) -> str:
    """Relative links to pages point at the rendered pages: x.md#a -> x.html#a."""

    def swap(match: re.Match[str]) -> str:
        attr, target = match.group(1), match.group(2)
        if EXTERNAL.match(target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        if path.endswith(".md"):
            path = path[: -len(".md")] + ".html"
        return f'{attr}="{path}{"#" + anchor if anchor else ""}"'

    return re.sub(r'(href|src)="([^"]*)"', swap, body)


def _anchors(body: str) -> str:
    """Give each heading GitHub's id (repeats numbered -1, -2...), as the docs' links expect."""
    seen: dict[str, int] = {}

    def add(match: re.Match[str]) -> str:
        level, inner = match.group(1), match.group(2)
        base = slug(inner)
        count = seen.get(base, 0)
        seen[base] = count + 1
        ident = base if count == 0 else f"{base}-{count}"
        return f'<h{level} id="{ident}">{inner}</h{level}>'

    return re.sub(r"<h([1-6])>(.*?)</h\1>", add, body, flags=re.S)


def render_page(page: Path) -> str:
    from markdown_it import MarkdownIt

    text = page.read_text(encoding="utf-8")
    # CommonMark with GitHub's tables: the dialect the docs are written (and reviewed) in.
    body = MarkdownIt("commonmark").enable("table").render(text)
    title = next(iter(re.findall(r"^#\s+(.+)$", text, re.M)), page.stem)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>Fixative: {html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{_html_links(_anchors(body))}\n</body>\n</html>\n"
    )


def _gimp_help_xml(host: str) -> str:
    """GIMP's help map (its help plug-in's format): the help id every Fixative procedure
    carries -> the host's page, which is also the page for any id it does not know."""
    entry = host_help.PAGE.format(host=host)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<gimp-help>\n'
        f'  <help-item id="{host_help.GIMP_HELP_ID}" ref="{entry}"/>\n'
        f'  <help-missing ref="{entry}"/>\n</gimp-help>\n'
    )


def render(host: str, dest: Path) -> Path:
    """Render the host's pages into `dest` (emptied first); returns the entry page. GIMP's
    also gets the gimp-help.xml its help system reads."""
    try:
        import markdown_it  # noqa: F401
    except ImportError:
        msg = "the plug-ins carry their docs as HTML: pip install '.[package]' (markdown-it-py)"
        raise SystemExit(msg) from None
    pages, images = pages_of(host)
    shutil.rmtree(dest, ignore_errors=True)
    root = dest / host_help.LOCALE
    for page in pages:
        out = root / page.relative_to(REPO).with_suffix(".html")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_page(page), encoding="utf-8")
    for image in images:
        out = root / image.relative_to(REPO)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(image, out)
    if host == "gimp":
        (root / host_help.GIMP_HELP_MAP).write_text(_gimp_help_xml(host), encoding="utf-8")
    return root / host_help.PAGE.format(host=host)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("host", choices=host_help.HOSTS)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    print(render(args.host, args.dest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
