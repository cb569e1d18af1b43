"""The manual each plug-in carries (scripts/manual.py): its host's docs page and every page that
links to, as HTML whose links and images resolve inside the package, read back with the
standard library's HTML and XML parsers; GIMP's help map names a page that is there; Krita's
Plugin Manager page carries the core's words. That every
release package holds it is tests/plugins/test_packages.py; the hosts opening it from their
dialogs' Help, tests/hosts (Krita, GIMP, Blender)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "plugins" / "common"))

import manual  # noqa: E402
from fixative_host import help as host_help  # noqa: E402


class _Page(HTMLParser):
    """The ids, links and images of one rendered page, and its first heading."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []
        self.h1 = ""
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "a" and found.get("href"):
            self.targets.append(found["href"])
        if tag == "img" and found.get("src"):
            self.targets.append(found["src"])
        self._in_h1 = tag == "h1" and not self.h1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1 += data


class _Text(HTMLParser):
    """A page's text, as its reader sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _read(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module", params=host_help.HOSTS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    host = request.param
    out = tmp_path_factory.mktemp(f"manual-{host}")
    return host, out, manual.render(host, out)


def test_entry_page_is_the_hosts_docs_page(rendered) -> None:
    host, out, entry = rendered
    assert entry == out / host_help.LOCALE / host_help.PAGE.format(host=host)
    title = (REPO / "docs" / f"{host}.md").read_text(encoding="utf-8").splitlines()[0]
    assert _read(entry).h1 == title.lstrip("# ")


def test_every_link_and_image_resolves_inside_the_manual(rendered) -> None:
    _, out, entry = rendered
    pages = sorted(out.rglob("*.html"))
    assert entry in pages and len(pages) >= 3  # the host page, strength, declarations...
    parsed = {page: _read(page) for page in pages}
    checked = 0
    for page, found in parsed.items():
        for target in found.targets:
            parts = urlsplit(target)
            if parts.scheme or target.startswith("#"):
                if target.startswith("#"):
                    assert target[1:] in found.ids, f"{page.name}: no heading {target}"
                continue
            path = (page.parent / unquote(parts.path)).resolve()
            assert path.is_file() and out.resolve() in path.parents, f"{page}: {target}"
            assert not path.name.endswith(".md"), f"{page}: {target} left as Markdown"
            if parts.fragment:
                assert parts.fragment in parsed[path].ids, f"{page.name}: {target}"
            checked += 1
    assert checked >= 10


def test_only_gimps_manual_has_a_help_map_and_it_names_the_page(rendered) -> None:
    host, out, entry = rendered
    help_map = out / host_help.LOCALE / "gimp-help.xml"
    if host != "gimp":
        assert not help_map.exists()
        return
    root = ET.parse(help_map).getroot()
    assert root.tag == "gimp-help"
    # GIMP's help plug-in reads `id` and `ref` (relative to the locale's folder).
    [item] = root.findall("help-item")
    assert item.get("id") == host_help.GIMP_HELP_ID
    assert help_map.parent / item.get("ref") == entry
    [missing] = root.findall("help-missing")
    assert help_map.parent / missing.get("ref") == entry


def test_a_link_to_something_that_is_not_a_page_stops_the_build(tmp_path: Path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "krita.md").write_text("# Krita\n\nSee [the script](../scripts/x.py).\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "x.py").write_text("")
    monkeypatch.setattr(manual, "REPO", tmp_path)
    with pytest.raises(SystemExit, match="neither a page nor an image"):
        manual.render("krita", tmp_path / "out")
    (docs / "krita.md").write_text("# Krita\n\nSee [gone](gone.md).\n")
    with pytest.raises(SystemExit, match="names no file"):
        manual.render("krita", tmp_path / "out")


def test_page_is_found_only_where_the_build_put_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(host_help, "MANUAL", tmp_path / "manual")
    with pytest.raises(host_help.HostError, match="help pages are not in this copy"):
        host_help.url("krita")
    manual.render("krita", tmp_path / "manual")
    assert host_help.url("krita") == (tmp_path / "manual/en/docs/krita.html").as_uri()
    with pytest.raises(ValueError, match="unknown host"):
        host_help.page("photoshop")


def test_krita_plugin_manager_page_says_what_the_dialog_says(tmp_path: Path) -> None:
    """Krita's Python Plugin Manager shows the zip's Manual.html: its strength, mode,
    declaration and aimed-at texts are the core's, filled in by the build."""
    import build_krita_plugin
    from fixative_host import choices

    zip_path = build_krita_plugin.build(tmp_path, REPO / "models")
    with zipfile.ZipFile(zip_path) as zf:
        page = zf.read("fixative_krita/Manual.html").decode("utf-8")
    assert "fixative:" not in page, "a marker was left unfilled"
    text = _Text()
    text.feed(page)
    shown = " ".join(" ".join(text.parts).split())
    expected = [choices.AIMED_AT, choices.DECLARE_HELP]
    expected += [choices.strength_help(s) for s in choices.STRENGTHS]
    expected += [choices.mode_help(m) for m in choices.MODES]
    for words in expected:
        assert " ".join(words.split()) in shown, words
