"""Machine-readable "no AI training" declarations, carried in the file's XMP packet.

`DeclarationSettings` is what the user chooses; `xmp_for` turns it into a full XMP packet,
merged into the packet the image already had so an artist's own creator/title/rights data
survive. The identifiers follow IPTC Photo Metadata 2023.1 (PLUS "Data Mining") and the IPTC
Digital Source Type vocabulary; see docs/declarations.md for what each one means.
"""

from __future__ import annotations

import dataclasses
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from ..errors import FixativeError, SettingsError

# Namespaces. PLUS's is lower-case `ldf/xmp/1.0/`; the `.../LDF/1.0/` seen in some public
# snippets is wrong and no reader understands it.
NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    # W3C TDMRep (Community Group Final Report, 2024): its XMP properties, specified for EPUB
    # and PDF, carried here in images too, where TDMRep-aware miners read XMP.
    "tdm": "http://www.w3.org/ns/tdmrep/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
DATA_MINING_VOCAB = "http://ns.useplus.org/ldf/vocab/"
DIGITAL_SOURCE_TYPE_VOCAB = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DIGITAL_CREATION = DIGITAL_SOURCE_TYPE_VOCAB + "digitalCreation"

DATA_MINING_VALUES = (
    "DMI-UNSPECIFIED",
    "DMI-ALLOWED",
    "DMI-PROHIBITED-AIMLTRAINING",
    "DMI-PROHIBITED-GENAIMLTRAINING",
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
    "DMI-PROHIBITED",
    "DMI-PROHIBITED-SEECONSTRAINT",
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
)
# CAWG training-and-data-mining "use" values (for the C2PA assertion).
AI_USE_VALUES = ("allowed", "notAllowed", "constrained")

# JPEG carries XMP in a single APP1 segment: 65535 (16-bit length) - 2 (the length field)
# - 29 (the "http://ns.adobe.com/xap/1.0/\0" header). Extended XMP is not written.
JPEG_XMP_MAX = 65535 - 2 - 29
# Whitespace padding lets other tools edit the packet in place; dropped if it would not fit.
_PADDING = 2048
_XPACKET_ID = "W5M0MpCehiHzreSzNTczkc9d"


class DeclarationError(FixativeError):
    """Invalid declaration settings or an XMP packet that cannot be written."""


class DeclarationSettingsError(DeclarationError, SettingsError):
    """A declaration setting has a value that cannot be written."""


class CorruptXmpError(DeclarationError):
    """The image's existing XMP packet cannot be parsed, so it cannot be merged."""


class XmpTooLargeError(DeclarationError):
    """The XMP packet does not fit the format's metadata container."""


@dataclass(frozen=True)
class DeclarationSettings:
    """What the written file declares. `data_mining` is an IPTC Data Mining code."""

    enabled: bool = True
    data_mining: str = "DMI-PROHIBITED-GENAIMLTRAINING"
    other_constraints: str | None = None
    creator: str | None = None
    copyright: str | None = None
    web_statement: str | None = None
    c2pa: bool = False
    c2pa_cert: str | None = None
    c2pa_key: str | None = None
    ai_inference: str = "notAllowed"
    tdm_policy: str | None = None

    def __post_init__(self) -> None:
        dm = self.data_mining
        if isinstance(dm, str) and dm.startswith(DATA_MINING_VOCAB):
            # Accept the full vocabulary URI too, store the code.
            dm = dm[len(DATA_MINING_VOCAB) :]
            object.__setattr__(self, "data_mining", dm)
        if dm not in DATA_MINING_VALUES:
            raise DeclarationSettingsError(
                f"data_mining {self.data_mining!r} is not an IPTC Data Mining value; "
                f"use one of: {', '.join(DATA_MINING_VALUES)}"
            )
        if dm == "DMI-PROHIBITED-SEECONSTRAINT" and not self.other_constraints:
            raise DeclarationSettingsError(
                "data_mining DMI-PROHIBITED-SEECONSTRAINT needs other_constraints "
                "(the constraint text it points to)"
            )
        if self.ai_inference not in AI_USE_VALUES:
            raise DeclarationSettingsError(
                f"ai_inference {self.ai_inference!r} must be one of: {', '.join(AI_USE_VALUES)}"
            )
        if self.ai_inference == "constrained" and not self.other_constraints:
            raise DeclarationSettingsError(
                "ai_inference 'constrained' needs other_constraints (the constraint text)"
            )
        for name in ("web_statement", "tdm_policy"):
            value = getattr(self, name)
            if value and not (isinstance(value, str) and re.match(r"^https?://\S+$", value)):
                raise DeclarationSettingsError(f"{name} {value!r} must be an http(s) URL")
        if (self.c2pa_cert is None) != (self.c2pa_key is None):
            raise DeclarationSettingsError(
                "c2pa_cert and c2pa_key must be given together (certificate chain and its key)"
            )
        for name in ("other_constraints", "creator", "copyright", "web_statement", "tdm_policy"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise DeclarationSettingsError(f"{name} must be text, not {type(value).__name__}")
            if value is not None and _BAD_XML_CHARS.search(value):
                raise DeclarationSettingsError(
                    f"{name} contains control characters XML cannot carry"
                )
        for name in ("enabled", "c2pa"):
            if not isinstance(getattr(self, name), bool):
                raise DeclarationSettingsError(
                    f"{name} must be true or false, not {getattr(self, name)!r}"
                )
        for name in ("c2pa_cert", "c2pa_key"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, str(value))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeclarationSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DeclarationSettingsError(f"unknown declaration setting(s): {', '.join(unknown)}")
        return cls(**data)

    @property
    def data_mining_uri(self) -> str:
        return DATA_MINING_VOCAB + self.data_mining

    @property
    def tdm_reservation(self) -> str | None:
        """TDMRep's tdm:reservation for the Data Mining value: "1" (rights reserved) for every
        DMI-PROHIBITED value, "0" for DMI-ALLOWED, none for DMI-UNSPECIFIED."""
        if self.data_mining.startswith("DMI-PROHIBITED"):
            return "1"
        return "0" if self.data_mining == "DMI-ALLOWED" else None


# XML 1.0 forbids most C0 controls; refusing them early gives a clearer error than a broken packet.
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _q(prefix: str, local: str) -> str:
    return f"{{{NS[prefix]}}}{local}"


# The properties Fixative owns: removed from the existing packet before ours are added, so a
# re-export does not leave two conflicting values.
# Namespaces wrongly used for PLUS in public snippets: readers ignore them, so a DataMining
# written there is replaced by the correct one rather than left to contradict it.
_WRONG_PLUS_NAMESPACES = ("http://ns.useplus.org/LDF/1.0/", "http://ns.useplus.org/ldf/1.0/")
_OWNED_ALWAYS = (
    _q("plus", "DataMining"),
    _q("tdm", "reservation"),
    _q("Iptc4xmpExt", "DigitalSourceType"),
    *(f"{{{ns}}}DataMining" for ns in _WRONG_PLUS_NAMESPACES),
    # JPEG "extended XMP" lives in extra APP1 segments that are not carried over; a pointer to
    # it would dangle.
    "{http://ns.adobe.com/xmp/note/}HasExtendedXMP",
)


def _utf8(packet: bytes) -> bytes:
    """XMP may be UTF-16/32 (rare); re-encode to UTF-8 so NUL handling and parsing work."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if packet.startswith(bom):
            try:
                text = packet[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                return packet
            # the XML declaration, if any, would now lie about the encoding
            return re.sub(r"^<\?xml[^>]*\?>", "", text.lstrip("\ufeff")).encode("utf-8")
    return packet


def _parse_existing(existing: bytes, source: str | None) -> ET.Element:
    where = f" for {source}" if source else ""
    # Untrusted input: refuse DTDs/entities (billion laughs, external entities). defusedxml
    # does this properly; the fallback refuses any DOCTYPE before ElementTree sees it.
    try:
        from defusedxml.ElementTree import fromstring as safe_fromstring
    except ImportError:  # defusedxml is optional at run time (it is a test dependency)
        safe_fromstring = None
    text = _utf8(existing)
    # Drop a NUL-terminated tail some writers leave, and leading junk before the packet.
    text = text.split(b"\x00", 1)[0] if b"\x00" in text else text
    start = text.find(b"<")
    if start < 0:
        raise CorruptXmpError(f"existing XMP packet{where} is not XML")
    text = text[start:]
    try:
        if safe_fromstring is not None:
            root = safe_fromstring(text, forbid_dtd=True)
        else:
            if re.search(rb"<!(DOCTYPE|ENTITY)", text):
                raise CorruptXmpError(f"existing XMP packet{where} contains a DTD; refused")
            root = ET.fromstring(text)
    except CorruptXmpError:
        raise
    except Exception as exc:  # ParseError, defusedxml's DTDForbidden/EntitiesForbidden
        raise CorruptXmpError(
            f"existing XMP packet{where} is not well-formed XML ({exc}); refusing to replace "
            "the artist's metadata silently — repair or strip it, or turn declarations off"
        ) from exc
    return root


def _find_rdf(root: ET.Element, source: str | None) -> ET.Element:
    if root.tag == _q("rdf", "RDF"):
        return root
    rdf = root.find(".//" + _q("rdf", "RDF"))
    if rdf is None:
        where = f" for {source}" if source else ""
        raise CorruptXmpError(f"existing XMP packet{where} has no rdf:RDF element")
    return rdf


def _remove_property(rdf: ET.Element, tag: str) -> None:
    for desc in rdf.findall(_q("rdf", "Description")):
        for child in desc.findall(tag):
            desc.remove(child)
        desc.attrib.pop(tag, None)


def _has_property(rdf: ET.Element, tag: str) -> bool:
    return any(
        desc.find(tag) is not None or tag in desc.attrib
        for desc in rdf.findall(_q("rdf", "Description"))
    )


def _lang_alt(parent: ET.Element, text: str) -> None:
    alt = ET.SubElement(parent, _q("rdf", "Alt"))
    li = ET.SubElement(alt, _q("rdf", "li"))
    li.set(_q("xml", "lang"), "x-default")
    li.text = text


def _add(desc: ET.Element, prefix: str, local: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(desc, _q(prefix, local))
    el.text = text
    return el


def _our_description(rdf: ET.Element) -> ET.Element:
    # All top-level descriptions of one packet must share the same rdf:about (often "", some
    # tools use "uuid:..."), so ours joins the first existing one.
    desc = rdf.find(_q("rdf", "Description"))
    if desc is None:
        desc = ET.SubElement(rdf, _q("rdf", "Description"))
        desc.set(_q("rdf", "about"), "")
    return desc


def _apply(rdf: ET.Element, s: DeclarationSettings) -> None:
    owned = list(_OWNED_ALWAYS)
    if s.other_constraints is not None:
        owned.append(_q("plus", "OtherConstraints"))
    if s.creator is not None:
        owned.append(_q("dc", "creator"))
    if s.copyright is not None:
        owned.append(_q("dc", "rights"))
    if s.web_statement is not None:
        owned.append(_q("xmpRights", "WebStatement"))
    if s.tdm_policy is not None:
        owned.append(_q("tdm", "policy"))
    marked = bool(s.copyright or s.web_statement or s.data_mining.startswith("DMI-PROHIBITED"))
    if marked:
        owned.append(_q("xmpRights", "Marked"))
    for tag in owned:
        _remove_property(rdf, tag)

    desc = _our_description(rdf)
    _add(desc, "plus", "DataMining", s.data_mining_uri)
    if s.other_constraints is not None:
        _lang_alt(_add(desc, "plus", "OtherConstraints"), s.other_constraints)
    _add(desc, "Iptc4xmpExt", "DigitalSourceType", DIGITAL_CREATION)
    if s.tdm_reservation is not None:
        _add(desc, "tdm", "reservation", s.tdm_reservation)
    if s.tdm_policy is not None:
        _add(desc, "tdm", "policy", s.tdm_policy)
    if s.creator is not None:
        seq = ET.SubElement(_add(desc, "dc", "creator"), _q("rdf", "Seq"))
        ET.SubElement(seq, _q("rdf", "li")).text = s.creator
    if s.copyright is not None:
        _lang_alt(_add(desc, "dc", "rights"), s.copyright)
    if marked:
        # "True" = rights-managed work (not public domain); reserving AI training is a right.
        _add(desc, "xmpRights", "Marked", "True")
    if s.web_statement is not None:
        _add(desc, "xmpRights", "WebStatement", s.web_statement)


def _empty_root() -> ET.Element:
    root = ET.Element(_q("x", "xmpmeta"))
    root.set(_q("x", "xmptk"), "Fixative")
    rdf = ET.SubElement(root, _q("rdf", "RDF"))
    desc = ET.SubElement(rdf, _q("rdf", "Description"))
    desc.set(_q("rdf", "about"), "")
    return root


def xmp_for(
    settings: DeclarationSettings,
    existing: bytes | None,
    *,
    fmt: str | None = None,
    source: str | None = None,
) -> bytes:
    """Return a complete XMP packet (UTF-8) with the declarations, merged into `existing`.

    `existing` is the image's current packet, if any; everything in it that Fixative does not
    set survives. A packet that cannot be parsed raises `CorruptXmpError` (nothing is dropped
    silently). With `fmt="JPEG"` the packet is checked against the single APP1 segment limit
    and `XmpTooLargeError` is raised before anything is written. `source` names the file in
    error messages.
    """
    if existing and existing.strip(b"\x00 \t\r\n"):
        root = _parse_existing(existing, source)
        prefixes = _prefixes_of(existing)
    else:
        root = _empty_root()
        prefixes = {}
    rdf = _find_rdf(root, source)
    _apply(rdf, settings)
    body = _serialize(root, prefixes)
    packet = _wrap(body, fmt)
    if fmt is not None and fmt.upper() in ("JPEG", "JPG") and len(packet) > JPEG_XMP_MAX:
        where = f" for {source}" if source else ""
        raise XmpTooLargeError(
            f"XMP packet{where} is {len(packet)} bytes, more than the {JPEG_XMP_MAX} bytes a JPEG "
            "APP1 segment holds (the existing metadata is too large); save as PNG, TIFF or WebP, "
            "or strip some metadata"
        )
    return packet


def _wrap(body: str, fmt: str | None) -> bytes:
    head = f'<?xpacket begin="\ufeff" id="{_XPACKET_ID}"?>\n'.encode()
    tail = b'\n<?xpacket end="w"?>'
    core = head + body.encode("utf-8")
    padding = _PADDING
    if fmt is not None and fmt.upper() in ("JPEG", "JPG"):
        padding = max(0, min(padding, JPEG_XMP_MAX - len(core) - len(tail) - 1))
    pad = b"\n" + b" " * padding if padding else b""
    return core + pad + tail


def _prefixes_of(existing: bytes) -> dict[str, str]:
    """Map namespace URI -> prefix as declared in the existing packet (first one wins)."""
    found: dict[str, str] = {}
    try:
        for _event, (prefix, uri) in ET.iterparse(
            io.BytesIO(_strip_to_xml(existing)), ["start-ns"]
        ):
            if prefix and uri not in found:
                found[uri] = prefix
    except ET.ParseError:
        pass  # already parsed successfully once; prefixes are cosmetic
    return found


def _strip_to_xml(data: bytes) -> bytes:
    data = _utf8(data).split(b"\x00", 1)[0]
    start = data.find(b"<")
    return data[start:] if start >= 0 else b""


# --- serializer --------------------------------------------------------------------------
# ElementTree's own serializer invents ns0/ns1 prefixes for namespaces it was not told about
# (process-global state); XMP readers do not care, but artists' packets should keep their
# prefixes, and all declarations belong on the root element, so we write XML ourselves.


def _escape(text: str, attr: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attr:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
        text = text.replace("\t", "&#9;")
    else:
        text = text.replace("\r", "&#13;")
    return text


def _serialize(root: ET.Element, prefixes: dict[str, str]) -> str:
    uri_to_prefix: dict[str, str] = {NS["xml"]: "xml"}
    for prefix, uri in NS.items():
        if prefix != "xml":
            uri_to_prefix.setdefault(uri, prefix)
    # Prefer the packet's own prefixes, unless the prefix is taken by another namespace.
    for uri, prefix in prefixes.items():
        if uri in uri_to_prefix and uri_to_prefix[uri] == prefix:
            continue
        if prefix not in set(uri_to_prefix.values()):
            uri_to_prefix[uri] = prefix

    needed: list[str] = []

    def split(tag: str) -> tuple[str, str]:
        if tag.startswith("{"):
            uri, local = tag[1:].split("}", 1)
            return uri, local
        return "", tag

    def name(tag: str) -> str:
        uri, local = split(tag)
        if not uri:
            return local
        if uri not in uri_to_prefix:
            n = 0
            while f"ns{n}" in uri_to_prefix.values():
                n += 1
            uri_to_prefix[uri] = f"ns{n}"
        if uri not in needed and uri != NS["xml"]:
            needed.append(uri)
        return f"{uri_to_prefix[uri]}:{local}"

    out: list[str] = []

    def walk(el: ET.Element, depth: int) -> None:
        tag = name(el.tag)
        attrs = "".join(f' {name(k)}="{_escape(v, True)}"' for k, v in el.attrib.items())
        idx = len(out)
        out.append(f"<{tag}{attrs}")
        # Comments and processing instructions inside the packet are dropped.
        children = [c for c in el if isinstance(c.tag, str)]
        if children:
            out.append(">")
            for child in children:
                out.append("\n" + " " * (depth + 1))
                walk(child, depth + 1)
            out.append("\n" + " " * depth + f"</{tag}>")
        elif el.text:
            out.append(f">{_escape(el.text)}</{tag}>")
        else:
            out.append("/>")
        if depth == 0:  # all namespace declarations go on the root, known once all are seen
            decls = "".join(f' xmlns:{uri_to_prefix[u]}="{_escape(u, True)}"' for u in needed)
            out[idx] += decls

    walk(root, 0)
    return "".join(out)


# --- reading declarations back ---------------------------------------------------------------


def _values(rdf: ET.Element, tag: str) -> list[str]:
    """All values of a property: simple text, attribute form, rdf:resource, or array items."""
    found: list[str] = []
    for desc in rdf.iter(_q("rdf", "Description")):
        if tag in desc.attrib:
            found.append(desc.attrib[tag])
        for el in desc.findall(tag):
            if _q("rdf", "resource") in el.attrib:
                found.append(el.attrib[_q("rdf", "resource")])
                continue
            items = el.findall(f"./*/{_q('rdf', 'li')}")
            if items:
                # x-default first for lang-alt, then document order.
                items.sort(key=lambda li: li.get(_q("xml", "lang")) != "x-default")
                found.extend((li.text or "").strip() for li in items)
            elif el.text and el.text.strip():
                found.append(el.text.strip())
    return found


def read_declarations(xmp: bytes, *, source: str | None = None) -> dict[str, Any]:
    """The declaration-related values of an XMP packet (None / [] where absent)."""
    rdf = _find_rdf(_parse_existing(xmp, source), source)

    def first(prefix: str, local: str) -> str | None:
        vals = _values(rdf, _q(prefix, local))
        return vals[0] if vals else None

    dm = first("plus", "DataMining")
    wrong = False
    if dm is None:
        for ns in _WRONG_PLUS_NAMESPACES:
            vals = _values(rdf, f"{{{ns}}}DataMining")
            if vals:
                dm, wrong = vals[0], True
                break
    code = None
    if dm is not None:
        tail = dm[len(DATA_MINING_VOCAB) :] if dm.startswith(DATA_MINING_VOCAB) else dm
        code = tail if tail in DATA_MINING_VALUES else None
    return {
        "data_mining": dm,
        "data_mining_code": code,
        "wrong_namespace": wrong,
        "other_constraints": first("plus", "OtherConstraints"),
        "digital_source_type": first("Iptc4xmpExt", "DigitalSourceType"),
        "creator": _values(rdf, _q("dc", "creator")),
        "title": first("dc", "title"),
        "rights": first("dc", "rights"),
        "marked": first("xmpRights", "Marked"),
        "web_statement": first("xmpRights", "WebStatement"),
        "tdm_reservation": first("tdm", "reservation"),
        "tdm_policy": first("tdm", "policy"),
    }
