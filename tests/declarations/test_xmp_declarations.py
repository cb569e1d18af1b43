"""XMP declarations: settings validation, packet contents, merging, size guard, round trips."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from decl_helpers import ARTIST_PACKET, FORMATS, FULL, save_with_xmp
from fixative import FixativeError
from fixative.declarations.xmp import (
    DATA_MINING_VALUES,
    JPEG_XMP_MAX,
    CorruptXmpError,
    DeclarationError,
    DeclarationSettings,
    XmpTooLargeError,
    read_declarations,
    xmp_for,
)
from PIL import Image

PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
XMP_RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _description(packet: bytes) -> ET.Element:
    start = packet.index(b"<x:xmpmeta")
    end = packet.index(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")
    root = ET.fromstring(packet[start:end])
    descs = root.findall(f"{{{RDF}}}RDF/{{{RDF}}}Description")
    assert len(descs) == 1
    return descs[0]


def _all(packet: bytes, tag: str) -> list[ET.Element]:
    start = packet.index(b"<x:xmpmeta")
    end = packet.index(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")
    return list(ET.fromstring(packet[start:end]).iter(tag))


# --- settings ---------------------------------------------------------------------------------


def test_defaults_match_the_interface() -> None:
    s = DeclarationSettings()
    assert s.enabled is True
    assert s.data_mining == "DMI-PROHIBITED-GENAIMLTRAINING"
    assert (s.other_constraints, s.creator, s.copyright, s.web_statement) == (None,) * 4
    assert (s.c2pa, s.c2pa_cert, s.c2pa_key) == (False, None, None)
    assert s.ai_inference == "notAllowed"


def test_settings_round_trip_through_dict() -> None:
    d = FULL.to_dict()
    assert d["data_mining"] == "DMI-PROHIBITED-SEECONSTRAINT"
    assert DeclarationSettings.from_dict(d) == FULL
    with pytest.raises(DeclarationError, match="unknown declaration setting"):
        DeclarationSettings.from_dict({**d, "colour": "red"})


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        FULL.creator = "someone else"  # type: ignore[misc]


@pytest.mark.parametrize("value", DATA_MINING_VALUES)
def test_every_iptc_value_is_accepted(value: str) -> None:
    extra = {"other_constraints": "see terms"} if value.endswith("SEECONSTRAINT") else {}
    s = DeclarationSettings(data_mining=value, **extra)
    assert s.data_mining == value
    assert s.data_mining_uri == "http://ns.useplus.org/ldf/vocab/" + value


def test_full_vocabulary_uri_is_normalised_to_the_code() -> None:
    s = DeclarationSettings(data_mining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED")
    assert s.data_mining == "DMI-PROHIBITED"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_mining": "DMI-NO-THANKS"}, "not an IPTC Data Mining value"),
        ({"data_mining": "dmi-prohibited"}, "not an IPTC Data Mining value"),
        ({"data_mining": "DMI-PROHIBITED-SEECONSTRAINT"}, "needs other_constraints"),
        ({"ai_inference": "maybe"}, "ai_inference"),
        ({"ai_inference": "constrained"}, "needs other_constraints"),
        ({"web_statement": "ana.example/rights"}, "http"),
        ({"c2pa_cert": "/tmp/cert.pem"}, "together"),
        ({"creator": "Ana\x00"}, "control characters"),
    ],
)
def test_invalid_settings_are_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(DeclarationError, match=message) as info:
        DeclarationSettings(**kwargs)
    assert isinstance(info.value, FixativeError)


# --- packet contents ----------------------------------------------------------------------------


def test_packet_carries_every_declaration_with_the_right_namespaces() -> None:
    packet = xmp_for(FULL, None)
    assert packet.startswith(b"<?xpacket begin=")
    assert packet.rstrip().endswith(b'<?xpacket end="w"?>')
    assert b"ns.useplus.org/LDF" not in packet  # the wrong namespace seen in public snippets
    desc = _description(packet)
    assert desc.get(f"{{{RDF}}}about") == ""
    dm = desc.find(f"{{{PLUS}}}DataMining")
    assert dm is not None
    assert dm.text == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-SEECONSTRAINT"
    li = desc.find(f"{{{PLUS}}}OtherConstraints/{{{RDF}}}Alt/{{{RDF}}}li")
    assert li is not None
    assert li.get(XML_LANG) == "x-default"
    assert li.text == FULL.other_constraints
    dst = desc.find(f"{{{IPTC_EXT}}}DigitalSourceType")
    assert dst is not None
    assert dst.text == "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"
    creators = desc.findall(f"{{{DC}}}creator/{{{RDF}}}Seq/{{{RDF}}}li")
    assert [c.text for c in creators] == ["Ana Ártist"]
    rights = desc.find(f"{{{DC}}}rights/{{{RDF}}}Alt/{{{RDF}}}li")
    assert rights is not None
    assert rights.text == FULL.copyright
    assert rights.get(XML_LANG) == "x-default"
    marked = desc.find(f"{{{XMP_RIGHTS}}}Marked")
    assert marked is not None
    assert marked.text == "True"
    ws = desc.find(f"{{{XMP_RIGHTS}}}WebStatement")
    assert ws is not None
    assert ws.text == "https://ana.example/rights"


def test_minimal_packet_has_no_optional_fields() -> None:
    desc = _description(xmp_for(DeclarationSettings(), None))
    assert desc.find(f"{{{PLUS}}}DataMining") is not None
    for absent in (f"{{{PLUS}}}OtherConstraints", f"{{{DC}}}creator", f"{{{DC}}}rights"):
        assert desc.find(absent) is None
    assert desc.find(f"{{{XMP_RIGHTS}}}WebStatement") is None


def test_markup_in_values_is_escaped() -> None:
    s = DeclarationSettings(creator='<b>Ana</b> & "Co"', copyright="a < b")
    found = read_declarations(xmp_for(s, None))
    assert found["creator"] == ['<b>Ana</b> & "Co"']
    assert found["rights"] == "a < b"


# --- merging ----------------------------------------------------------------------------------


def test_merge_keeps_the_artists_fields_and_replaces_ours() -> None:
    packet = xmp_for(DeclarationSettings(), ARTIST_PACKET)
    found = read_declarations(packet)
    assert found["title"] == "Sunset over the bay"
    assert found["creator"] == ["Bob Painter"]
    assert found["data_mining_code"] == "DMI-PROHIBITED-GENAIMLTRAINING"
    # exactly one DataMining (the old DMI-ALLOWED attribute is gone), tool name kept
    assert packet.count(b"DataMining>") == 2  # one element: open + close tag
    assert b"DataMining=" not in packet
    assert b"DMI-ALLOWED" not in packet
    assert b'CreatorTool="Krita 5.2"' in packet
    assert b'x:xmptk="XMP Core 4.4.0-Exiv2"' in packet


def test_merge_given_creator_replaces_the_old_one() -> None:
    packet = xmp_for(DeclarationSettings(creator="Ana"), ARTIST_PACKET)
    found = read_declarations(packet)
    assert found["creator"] == ["Ana"]
    assert found["title"] == "Sunset over the bay"


def test_merging_twice_is_stable() -> None:
    once = xmp_for(FULL, ARTIST_PACKET)
    twice = xmp_for(FULL, once)
    assert read_declarations(once) == read_declarations(twice)
    assert twice.count(b"DataMining>") == 2
    assert twice.count(b"<dc:creator>") == 1


def test_merge_joins_a_description_with_a_uuid_about() -> None:
    # all top-level descriptions must share one rdf:about; ours must not add about=""
    packet = ARTIST_PACKET.replace(b'rdf:about=""', b'rdf:about="uuid:1234-abcd"')
    merged = xmp_for(FULL, packet)
    abouts = [d.get(f"{{{RDF}}}about") for d in _all(merged, f"{{{RDF}}}Description")]
    assert abouts == ["uuid:1234-abcd"]
    assert read_declarations(merged)["title"] == "Sunset over the bay"


def test_wrong_namespace_data_mining_is_replaced() -> None:
    wrong = ARTIST_PACKET.replace(
        b"http://ns.useplus.org/ldf/xmp/1.0/", b"http://ns.useplus.org/LDF/1.0/"
    )
    before = read_declarations(wrong)
    assert before["wrong_namespace"] is True
    assert before["data_mining_code"] == "DMI-ALLOWED"
    merged = xmp_for(DeclarationSettings(), wrong)
    assert b"DMI-ALLOWED" not in merged
    after = read_declarations(merged)
    assert after["wrong_namespace"] is False
    assert after["data_mining_code"] == "DMI-PROHIBITED-GENAIMLTRAINING"


def test_dangling_extended_xmp_pointer_is_dropped() -> None:
    packet = ARTIST_PACKET.replace(
        b'xmp:CreatorTool="Krita 5.2"',
        b'xmp:CreatorTool="Krita 5.2" xmlns:xmpNote="http://ns.adobe.com/xmp/note/"'
        b' xmpNote:HasExtendedXMP="0123456789ABCDEF0123456789ABCDEF"',
    )
    merged = xmp_for(DeclarationSettings(), packet)
    assert b"HasExtendedXMP" not in merged
    assert b"Krita 5.2" in merged


def test_utf16_existing_packet_is_merged() -> None:
    body = ARTIST_PACKET.decode("utf-8").replace("\ufeff", "")
    utf16 = b"\xff\xfe" + body.encode("utf-16-le")
    found = read_declarations(xmp_for(DeclarationSettings(), utf16))
    assert found["title"] == "Sunset over the bay"
    assert found["data_mining_code"] == "DMI-PROHIBITED-GENAIMLTRAINING"


@pytest.mark.parametrize(
    "bad",
    [
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>",  # truncated, unbound prefix
        b"<?xpacket begin='' ?><x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta",
        b"not xml at all",
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><nothing/></x:xmpmeta>",  # no rdf:RDF
    ],
)
def test_corrupt_existing_packet_is_a_clear_error(bad: bytes) -> None:
    with pytest.raises(CorruptXmpError, match=r"for art\.png") as info:
        xmp_for(DeclarationSettings(), bad, source="art.png")
    assert isinstance(info.value, FixativeError)


def test_entity_expansion_in_existing_packet_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    with pytest.raises(CorruptXmpError):
        xmp_for(DeclarationSettings(), bomb)


# --- JPEG size guard ------------------------------------------------------------------------


def _big_packet(n_bytes: int) -> bytes:
    filler = "x" * n_bytes
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{filler}</rdf:li></rdf:Alt>'
        "</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def test_oversized_packet_for_jpeg_is_refused_before_writing(
    tmp_path: Path, image: Image.Image
) -> None:
    existing = _big_packet(70_000)
    with pytest.raises(XmpTooLargeError, match=r"art\.jpg.*65504"):
        xmp_for(DeclarationSettings(), existing, fmt="JPEG", source="art.jpg")
    # the same packet is fine where there is no single-segment limit
    packet = xmp_for(DeclarationSettings(), existing, fmt="PNG")
    assert len(packet) > JPEG_XMP_MAX
    save_with_xmp(image, tmp_path / "big.png", "PNG", packet)
    assert read_declarations(Image.open(tmp_path / "big.png").info["xmp"])["data_mining"]


def test_padding_shrinks_to_fit_a_nearly_full_jpeg_segment(
    tmp_path: Path, image: Image.Image
) -> None:
    existing = _big_packet(JPEG_XMP_MAX - 1500)
    packet = xmp_for(DeclarationSettings(), existing, fmt="JPEG")
    assert len(packet) <= JPEG_XMP_MAX
    # Pillow accepts it in its single APP1 segment and reads it back
    save_with_xmp(image, tmp_path / "full.jpg", "JPEG", packet)
    assert Image.open(tmp_path / "full.jpg").info["xmp"].rstrip(b"\x00") == packet


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_read_by_pillow_and_exiftool(
    fmt: str, tmp_path: Path, image: Image.Image, exiftool
) -> None:
    # the artist's file first, then Fixative's merged packet over it
    src = save_with_xmp(image, tmp_path / f"src{FORMATS[fmt]}", fmt, ARTIST_PACKET)
    existing = Image.open(src).info["xmp"]
    packet = xmp_for(FULL, existing, fmt=fmt)
    out = save_with_xmp(image, tmp_path / f"out{FORMATS[fmt]}", fmt, packet)

    # Pillow (through defusedxml)
    desc = Image.open(out).getxmp()["xmpmeta"]["RDF"]["Description"]
    assert desc["DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-SEECONSTRAINT"
    assert desc["OtherConstraints"]["Alt"]["li"]["text"] == FULL.other_constraints
    assert (
        desc["DigitalSourceType"]
        == "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"
    )
    assert desc["creator"]["Seq"]["li"] == "Ana Ártist"
    assert desc["title"]["Alt"]["li"]["text"] == "Sunset over the bay"
    assert desc["rights"]["Alt"]["li"]["text"] == FULL.copyright
    assert desc["WebStatement"] == "https://ana.example/rights"

    # exiftool, an independent reader
    tags = exiftool(out)
    assert (
        tags["XMP-plus:DataMining"]
        == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-SEECONSTRAINT"
    )
    assert tags["XMP-plus:OtherConstraints"] == FULL.other_constraints
    assert (
        tags["XMP-iptcExt:DigitalSourceType"]
        == "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"
    )
    assert tags["XMP-dc:Creator"] == "Ana Ártist"
    assert tags["XMP-dc:Title"] == "Sunset over the bay"
    assert tags["XMP-dc:Rights"] == FULL.copyright
    assert tags["XMP-xmpRights:Marked"] is True
    assert tags["XMP-xmpRights:WebStatement"] == "https://ana.example/rights"
    assert tags["XMP-xmp:CreatorTool"] == "Krita 5.2"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_existing_creator_and_title_survive_in_every_format(
    fmt: str, tmp_path: Path, image: Image.Image, exiftool
) -> None:
    src = save_with_xmp(image, tmp_path / f"src{FORMATS[fmt]}", fmt, ARTIST_PACKET)
    packet = xmp_for(DeclarationSettings(), Image.open(src).info["xmp"], fmt=fmt)
    out = save_with_xmp(image, tmp_path / f"out{FORMATS[fmt]}", fmt, packet)
    tags = exiftool(out)
    assert tags["XMP-dc:Creator"] == "Bob Painter"
    assert tags["XMP-dc:Title"] == "Sunset over the bay"
    assert tags["XMP-plus:DataMining"].endswith("/DMI-PROHIBITED-GENAIMLTRAINING")


def test_without_defusedxml_merging_works_and_dtds_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "defusedxml", None)
    monkeypatch.setitem(sys.modules, "defusedxml.ElementTree", None)
    found = read_declarations(xmp_for(DeclarationSettings(), ARTIST_PACKET))
    assert found["title"] == "Sunset over the bay"
    doctype = b'<!DOCTYPE x [<!ENTITY a "b">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>'
    with pytest.raises(CorruptXmpError, match="DTD"):
        xmp_for(DeclarationSettings(), doctype)
