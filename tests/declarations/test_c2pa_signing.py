"""C2PA: signed manifest with the CAWG training-mining assertion, read back by c2pa.Reader."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from decl_helpers import FORMATS, save_with_xmp
from fixative.declarations.c2pa_sign import (
    C2paSigningError,
    ensure_local_identity,
    local_identity,
    manifest_for,
    sign_c2pa,
    training_mining_entries,
)
from fixative.declarations.xmp import DeclarationSettings, read_declarations, xmp_for
from PIL import Image

SETTINGS = DeclarationSettings(c2pa=True, creator="Ana Ártist")


def _read(path: Path, anchor: Path | None = None) -> tuple[dict, str, dict]:
    if anchor is None:
        reader = c2pa.Reader(str(path))
    else:
        ctx = c2pa.Context.from_dict(
            {"verify": {"verify_trust": True}, "trust": {"trust_anchors": anchor.read_text()}}
        )
        reader = c2pa.Reader(str(path), context=ctx)
    with reader:
        return (
            reader.get_active_manifest(),
            reader.get_validation_state(),
            reader.get_validation_results()["activeManifest"],
        )


def _codes(results: dict, kind: str) -> set[str]:
    return {c["code"] for c in results.get(kind) or []}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_signed_manifest_validates_in_every_format(
    fmt: str, tmp_path: Path, image: Image.Image
) -> None:
    packet = xmp_for(SETTINGS, None, fmt=fmt)
    path = save_with_xmp(image, tmp_path / f"art{FORMATS[fmt]}", fmt, packet)
    sign_c2pa(path, fmt, SETTINGS, title="art")

    manifest, state, results = _read(path)
    labels = [a["label"] for a in manifest["assertions"]]
    assert "cawg.training-mining" in labels
    assert any(label.startswith("c2pa.actions") for label in labels)
    entries = next(a for a in manifest["assertions"] if a["label"] == "cawg.training-mining")[
        "data"
    ]["entries"]
    assert entries == {
        "cawg.ai_generative_training": {"use": "notAllowed"},
        "cawg.ai_training": {"use": "notAllowed"},
        "cawg.data_mining": {"use": "notAllowed"},
        "cawg.ai_inference": {"use": "notAllowed"},
    }
    assert manifest["signature_info"]["common_name"] == "Ana Ártist"
    assert manifest["title"] == "art"
    # the signature and hash binding check out; the local CA is not publicly trusted
    assert "claimSignature.validated" in _codes(results, "success")
    assert any(c.endswith("Hash.match") for c in _codes(results, "success"))
    assert _codes(results, "failure") == {"signingCredential.untrusted"}
    assert state == "Valid"
    # no thumbnail copy of the image is embedded
    assert "thumbnail" not in manifest
    # the XMP declarations survive the embedding
    assert read_declarations(Image.open(path).info["xmp"])["data_mining_code"] == (
        "DMI-PROHIBITED-GENAIMLTRAINING"
    )


def test_trusted_with_the_local_root_as_trust_anchor(tmp_path: Path, image: Image.Image) -> None:
    path = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    sign_c2pa(path, "PNG", SETTINGS)
    _, state, results = _read(path, anchor=local_identity().ca_cert)
    assert state == "Trusted"
    assert "signingCredential.trusted" in _codes(results, "success")
    assert not _codes(results, "failure")


def test_a_foreign_root_does_not_make_it_trusted(tmp_path: Path, image: Image.Image) -> None:
    path = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    sign_c2pa(path, "PNG", SETTINGS)
    other = tmp_path / "other"
    from fixative.declarations.c2pa_sign import LocalIdentity

    ensure_local_identity(SETTINGS, LocalIdentity(other))
    _, state, results = _read(path, anchor=other / "ca.pem")
    assert state != "Trusted"
    assert "signingCredential.untrusted" in _codes(results, "failure")


def test_local_identity_is_private_and_reused(tmp_path: Path, image: Image.Image) -> None:
    ident = local_identity()
    assert str(ident.folder).startswith(str(tmp_path / "config-home"))
    assert not ident.folder.exists()
    chain1, key1 = ensure_local_identity(SETTINGS)
    assert stat.S_IMODE(ident.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(ident.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(ident.signer.stat().st_mode) == 0o600
    chain2, key2 = ensure_local_identity(SETTINGS)
    assert (chain1, key1) == (chain2, key2)

    certs = x509.load_pem_x509_certificates(chain1)
    leaf, ca = certs
    assert leaf.issuer == ca.subject
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {o.dotted_string for o in eku} >= {"1.3.6.1.5.5.7.3.36", "1.3.6.1.5.5.7.3.4"}
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"

    # another creator name gets a new leaf from the same CA
    chain3, _ = ensure_local_identity(DeclarationSettings(creator="Bob"))
    leaf3, ca3 = x509.load_pem_x509_certificates(chain3)
    assert ca3 == ca
    assert leaf3.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Bob"


def test_unwritable_config_folder_is_a_clear_error_and_nothing_changes(
    tmp_path: Path, image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A regular file where the config folder should be: unwritable even for root.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    path = save_with_xmp(image, tmp_path / "art.png", "PNG", xmp_for(SETTINGS, None))
    before = path.read_bytes()
    with pytest.raises(C2paSigningError, match=r"not-a-folder.*(writable|own certificate)"):
        sign_c2pa(path, "PNG", SETTINGS)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art.png", "not-a-folder"]


def _ca_and_leaf(tmp_path: Path, *, self_signed_leaf: bool) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Studio CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Studio signer")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if self_signed_leaf else ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.5.5.7.3.4")]), critical=False
        )
    )
    if self_signed_leaf:  # the kind of home-made certificate the C2PA library refuses
        leaf = builder.sign(key, hashes.SHA256())
    else:
        leaf = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        ).sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    cert_path, key_path, ca_path = (
        tmp_path / "me.pem",
        tmp_path / "me.key",
        tmp_path / "studio-ca.pem",
    )
    chain = leaf.public_bytes(pem) + (b"" if self_signed_leaf else ca.public_bytes(pem))
    cert_path.write_bytes(chain)
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ca_path.write_bytes(ca.public_bytes(pem))
    return cert_path, key_path, ca_path


def test_users_own_certificate_is_used(tmp_path: Path, image: Image.Image) -> None:
    cert, key, ca = _ca_and_leaf(tmp_path, self_signed_leaf=False)
    settings = DeclarationSettings(c2pa=True, c2pa_cert=str(cert), c2pa_key=str(key))
    path = save_with_xmp(image, tmp_path / "art.jpg", "JPEG", None)
    sign_c2pa(path, "JPEG", settings)
    manifest, state, _ = _read(path, anchor=ca)
    assert manifest["signature_info"]["common_name"] == "Studio signer"
    assert state == "Trusted"
    assert not local_identity().folder.exists()  # no local CA created when the user brings one


def test_certificate_refused_by_c2pa_is_a_clear_error_and_file_untouched(
    tmp_path: Path, image: Image.Image
) -> None:
    cert, key, _ = _ca_and_leaf(tmp_path, self_signed_leaf=True)
    settings = DeclarationSettings(c2pa=True, c2pa_cert=str(cert), c2pa_key=str(key))
    path = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    before = path.read_bytes()
    with pytest.raises(C2paSigningError, match=r"art\.png"):
        sign_c2pa(path, "PNG", settings)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_missing_user_key_file_is_named(tmp_path: Path, image: Image.Image) -> None:
    settings = DeclarationSettings(
        c2pa=True, c2pa_cert=str(tmp_path / "nope.pem"), c2pa_key=str(tmp_path / "nope.key")
    )
    path = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    with pytest.raises(C2paSigningError, match=r"nope\.pem"):
        sign_c2pa(path, "PNG", settings)


def test_unsupported_format_is_refused(tmp_path: Path, image: Image.Image) -> None:
    path = tmp_path / "art.bmp"
    image.save(path)
    with pytest.raises(C2paSigningError, match=r"BMP.*art\.bmp"):
        sign_c2pa(path, "BMP", SETTINGS)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (DeclarationSettings(data_mining="DMI-ALLOWED"), {"cawg.ai_training": "allowed"}),
        (DeclarationSettings(data_mining="DMI-UNSPECIFIED"), None),
        (
            DeclarationSettings(
                data_mining="DMI-PROHIBITED-SEECONSTRAINT", other_constraints="ask me first"
            ),
            {"cawg.ai_training": "constrained"},
        ),
        (
            DeclarationSettings(ai_inference="allowed"),
            {"cawg.ai_inference": "allowed", "cawg.ai_generative_training": "notAllowed"},
        ),
    ],
)
def test_entries_follow_the_settings(settings: DeclarationSettings, expected) -> None:
    entries = training_mining_entries(settings)
    if expected is None:
        assert entries is None
        labels = [a["label"] for a in manifest_for(settings)["assertions"]]
        assert "cawg.training-mining" not in labels
        return
    for key, use in expected.items():
        assert entries[key]["use"] == use
    if settings.other_constraints:
        assert entries["cawg.ai_training"]["constraint_info"] == settings.other_constraints


def test_no_personal_data_without_a_creator(tmp_path: Path, image: Image.Image) -> None:
    import getpass

    path = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    sign_c2pa(path, "PNG", DeclarationSettings(c2pa=True))
    manifest, _, _ = _read(path)
    assert manifest["signature_info"]["common_name"] == "Fixative user"
    chain = local_identity().signer.read_bytes()
    assert getpass.getuser().encode() not in chain
    assert getpass.getuser().encode() not in path.read_bytes()


def test_concurrent_first_use_creates_one_ca() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: ensure_local_identity(SETTINGS), range(8)))
    cas = {
        x509.load_pem_x509_certificates(chain)[1].fingerprint(hashes.SHA256())
        for chain, _ in results
    }
    assert len(cas) == 1
    on_disk = x509.load_pem_x509_certificate(local_identity().ca_cert.read_bytes())
    assert on_disk.fingerprint(hashes.SHA256()) in cas
    # every returned key matches its own certificate
    for chain, key in results:
        leaf = x509.load_pem_x509_certificates(chain)[0]
        priv = serialization.load_pem_private_key(key, password=None)
        assert leaf.public_key() == priv.public_key()
    assert [p.name for p in local_identity().folder.parent.iterdir()] == ["c2pa"]


def test_leaf_near_expiry_is_renewed_by_the_same_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    import fixative.declarations.c2pa_sign as cs

    chain1, _ = ensure_local_identity(SETTINGS)
    monkeypatch.setattr(cs, "_LEAF_RENEW_DAYS", 100_000)  # every leaf now counts as expiring
    chain2, _ = ensure_local_identity(SETTINGS)
    leaf1, ca1 = x509.load_pem_x509_certificates(chain1)
    leaf2, ca2 = x509.load_pem_x509_certificates(chain2)
    assert ca1 == ca2
    assert leaf1.serial_number != leaf2.serial_number


def test_damaged_identity_is_a_clear_error(tmp_path: Path, image: Image.Image) -> None:
    ensure_local_identity(SETTINGS)
    local_identity().ca_cert.write_text("-----BEGIN CERTIFICATE-----\ngarbage\n")
    path = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    before = path.read_bytes()
    with pytest.raises(C2paSigningError, match=r"damaged.*delete that folder"):
        sign_c2pa(path, "PNG", SETTINGS)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"XDG_CONFIG_HOME": "/x/cfg"}, "/x/cfg/fixative"),
        ("linux", {}, "HOME/.config/fixative"),
        ("win32", {"APPDATA": "/w/AppData/Roaming"}, "/w/AppData/Roaming/fixative"),
        ("darwin", {}, "HOME/Library/Application Support/fixative"),
    ],
)
def test_config_dir_per_platform(
    platform: str, env: dict, expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import fixative.declarations.c2pa_sign as cs

    for name in ("XDG_CONFIG_HOME", "APPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(cs.sys, "platform", platform)
    assert cs.config_dir() == Path(expected.replace("HOME", str(tmp_path)))
