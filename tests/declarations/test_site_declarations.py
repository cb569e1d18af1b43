"""robots.txt, HTTP headers and TDMRep in XMP, read back by independent readers: Python's
urllib.robotparser (RFC 9309) for robots.txt, exiftool for the files' XMP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.robotparser import RobotFileParser

import pytest
from fixative.cli import main
from fixative.declarations import robots
from fixative.declarations.crawlers import AI_TRAINING_CRAWLERS, SEARCH_CRAWLERS
from PIL import Image

ART = "https://artist.example/art/x.png"
# A robots.txt as sites have them: a sitemap, a crawl delay, a group for one crawler, the
# wildcard group with its own rules, comments, and a rule for a search crawler.
EXISTING = """\
# robots.txt for artist.example
Sitemap: https://artist.example/sitemap.xml

User-agent: SlowBot
Crawl-delay: 10
Disallow: /drafts/

User-agent: *
Disallow: /private/
Allow: /private/press-kit/

User-agent: Googlebot
Disallow: /tmp/
Sitemap: https://artist.example/images-sitemap.xml
"""


def reader(text: str) -> RobotFileParser:
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


def snippet(capsys, *args: str) -> str:
    assert main(["site-snippets", *args]) == 0
    return capsys.readouterr().out


def test_printed_robots_refuses_training_crawlers_only(capsys) -> None:
    text = snippet(capsys, "--only", "robots")
    parser = reader(text)
    for crawler in AI_TRAINING_CRAWLERS:
        assert not parser.can_fetch(crawler.token, ART), crawler.token
        # RFC 9309 matches the product token case-insensitively, with or without a version.
        assert not parser.can_fetch(f"{crawler.token.lower()}/1.0", ART)
    for search in SEARCH_CRAWLERS:
        assert parser.can_fetch(search, ART), search
    # One group per training crawler, each with its operator named.
    for crawler in AI_TRAINING_CRAWLERS:
        assert f"# {crawler.operator}: " in text
        assert re.search(rf"^User-agent: {re.escape(crawler.token)}\nDisallow: /$", text, re.M)
    # The AI Preferences rule, in the ABNF of draft-ietf-aipref-attach (a group rule, no path):
    # content-usage = *WS "content-usage" *WS ":" *WS [ path-pattern 1*WS ] usage-pref EOL
    star = text[text.index("User-agent: *") :]
    assert re.search(r"^Content-Usage: train-ai=n$", star, re.M)
    assert robots.AIPREF_ATTACH in text and robots.AIPREF_VOCAB in text


def test_merge_keeps_every_rule_and_is_idempotent(tmp_path: Path, capsys) -> None:
    path = tmp_path / "robots.txt"
    path.write_text(EXISTING)
    assert main(["site-snippets", "--only", "robots", "--merge", str(path)]) == 0
    merged = path.read_text()
    # Every line of the original is still there, in its order.
    lines = merged.splitlines()
    positions = [lines.index(line) for line in EXISTING.splitlines() if line.strip()]
    assert positions == sorted(positions)
    parser = reader(merged)
    for crawler in AI_TRAINING_CRAWLERS:
        assert not parser.can_fetch(crawler.token, ART), crawler.token
    # The file's own rules still decide for everyone else, exactly as before the merge.
    before = reader(EXISTING)
    paths = ["/art/x.png", "/tmp/a", "/private/a", "/private/press-kit/a", "/drafts/a"]
    for agent in ("Googlebot", "Bingbot", "SlowBot", "SomeOtherBot"):
        for p in paths:
            url = f"https://artist.example{p}"
            assert parser.can_fetch(agent, url) == before.can_fetch(agent, url), (agent, p)
    assert parser.can_fetch("Googlebot", ART)
    assert not parser.can_fetch("Googlebot", "https://artist.example/tmp/a")
    assert not parser.can_fetch("SlowBot", "https://artist.example/drafts/a")
    assert parser.crawl_delay("SlowBot") == 10
    assert parser.site_maps() == [
        "https://artist.example/sitemap.xml",
        "https://artist.example/images-sitemap.xml",
    ]
    # One wildcard group: the Content-Usage rule went into the existing one.
    assert merged.count("User-agent: *") == 1
    star = merged[merged.index("User-agent: *") :].split("\n\n")[0]
    assert "Content-Usage: train-ai=n" in star
    # Merging again changes nothing.
    assert main(["site-snippets", "--only", "robots", "--merge", str(path)]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert path.read_text() == merged


def test_merge_leaves_a_crawler_the_site_names_to_its_own_group(tmp_path: Path, capsys) -> None:
    path = tmp_path / "robots.txt"
    path.write_text("User-agent: GPTBot\nAllow: /\n")
    assert main(["site-snippets", "--only", "robots", "--merge", str(path)]) == 0
    err = capsys.readouterr().err
    assert "GPTBot" in err and "left as the file has them" in err
    merged = path.read_text()
    assert merged.lower().count("user-agent: gptbot") == 1
    parser = reader(merged)
    assert parser.can_fetch("GPTBot", ART)
    assert not parser.can_fetch("ClaudeBot", ART)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("User-agent: *\nDisalow /private\n", 2),
        ("# rules first\nDisallow: /\nUser-agent: *\n", 2),
        ("User-agent:\nDisallow: /\n", 1),
    ],
)
def test_malformed_robots_names_file_and_line_and_writes_nothing(
    tmp_path: Path, capsys, text: str, line: int
) -> None:
    path = tmp_path / "robots.txt"
    path.write_text(text)
    assert main(["site-snippets", "--only", "robots", "--merge", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line {line}" in err and "nothing written" in err, err
    assert path.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["robots.txt"]


def test_header_snippets_for_each_server(capsys) -> None:
    expected = {
        "tdm-reservation": "1",
        "Content-Usage": "train-ai=n",
        "X-Robots-Tag": "noai, noimageai",
    }
    plain = snippet(capsys, "--only", "headers")
    assert dict(line.split(": ", 1) for line in plain.splitlines()) == expected
    nginx = snippet(capsys, "--only", "nginx")
    assert dict(re.findall(r'^add_header (\S+) "([^"]+)" always;$', nginx, re.M)) == expected
    apache = snippet(capsys, "--only", "apache")
    assert apache.startswith("<IfModule mod_headers.c>")
    assert dict(re.findall(r'^\s+Header set (\S+) "([^"]+)"$', apache, re.M)) == expected
    netlify = snippet(capsys, "--only", "_headers")
    first, *rest = netlify.splitlines()
    assert first == "/*"
    assert dict(line.strip().split(": ", 1) for line in rest) == expected


def test_check_site_reports_robots_and_headers(tmp_path: Path, capsys) -> None:
    robots_txt = tmp_path / "robots.txt"
    robots_txt.write_text(EXISTING)
    assert main(["site-snippets", "--only", "robots", "--merge", str(robots_txt)]) == 0
    nginx = tmp_path / "site.conf"
    nginx.write_text(snippet(capsys, "--only", "nginx"))
    capsys.readouterr()
    assert main(["check", "--site", str(robots_txt), "--site", str(nginx), "--json"]) == 0
    robots_report, headers_report = json.loads(capsys.readouterr().out)
    assert robots_report["kind"] == "robots.txt"
    assert {c.token for c in AI_TRAINING_CRAWLERS} <= set(robots_report["refused"])
    assert robots_report["training_crawlers_not_refused"] == []
    assert robots_report["content_usage"]["*"] == ["train-ai=n"]
    assert headers_report["headers"] == {
        "tdm-reservation": ["1"],
        "content-usage": ["train-ai=n"],
        "x-robots-tag": ["noai, noimageai"],
    }
    # In words: an unmerged file says which training crawlers it does not refuse.
    plain = tmp_path / "plain.txt"
    plain.write_text(EXISTING)
    assert main(["check", "--site", str(plain)]) == 0
    out = capsys.readouterr().out
    assert "AI-training crawlers it does not refuse: GPTBot" in out


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_tdm_reservation_in_the_xmp_of_every_format(
    tmp_path: Path, image: Image.Image, exiftool, suffix: str, capsys
) -> None:
    src = tmp_path / "art.png"
    image.save(src)
    dst = tmp_path / f"art-protected{suffix}"
    policy = "https://artist.example/ai-terms"
    rc = main(["protect", str(src), "-o", str(dst), "--mode", "generator", "--tdm-policy", policy])
    assert rc == 0
    tags = exiftool(dst)
    assert str(tags["XMP-tdm:Reservation"]) == "1"
    assert tags["XMP-tdm:Policy"] == policy
    assert tags["XMP-plus:DataMining"].endswith("DMI-PROHIBITED-GENAIMLTRAINING") or tags[
        "XMP-plus:DataMining"
    ].startswith("Prohibited")
    capsys.readouterr()
    assert main(["check", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "TDMRep tdm:reservation: 1" in out and policy in out


def test_allowed_data_mining_writes_no_reservation(
    tmp_path: Path, image: Image.Image, exiftool
) -> None:
    src = tmp_path / "art.png"
    image.save(src)
    dst = tmp_path / "open.png"
    args = ["protect", str(src), "-o", str(dst), "--mode", "generator"]
    assert main([*args, "--data-mining", "DMI-ALLOWED"]) == 0
    assert str(exiftool(dst)["XMP-tdm:Reservation"]) == "0"
