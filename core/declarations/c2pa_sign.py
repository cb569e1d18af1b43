"""C2PA signing: a signed manifest with a CAWG training-and-data-mining assertion.

Optional extra `fixative[c2pa]` (c2pa-python, which brings `cryptography`). The C2PA library
rejects self-signed end-entity certificates, so on first use we create a per-user local CA and a
leaf certificate issued by it (EC P-256, digitalSignature critical, documentSigning +
emailProtection EKU) in the user's config folder; a user can bring their own certificate chain
and key instead. Files signed with the local identity validate, but readers report them
"untrusted" unless the local root is added as a trust anchor: see docs/declarations.md.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import missing
from .xmp import DeclarationError, DeclarationSettings

MIME_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "JPG": "image/jpeg",
    "TIFF": "image/tiff",
    "TIF": "image/tiff",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
TRAINING_MINING = "cawg.training-mining"
DIGITAL_CREATION = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"
ANONYMOUS_SIGNER = "Fixative user"
_CA_VALID_DAYS = 3650
_LEAF_VALID_DAYS = 730
_LEAF_RENEW_DAYS = 30  # renew a leaf this close to expiry so signatures stay inside validity
# OIDs spelled out: the documentSigning constant is missing from older `cryptography` releases.
_EKU_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
_EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"


class C2paSigningError(DeclarationError):
    """The C2PA manifest could not be created or embedded; the output was not written."""


@dataclass(frozen=True)
class LocalIdentity:
    """Where the per-user local CA and signing leaf live."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def signer(self) -> Path:
        # Leaf key + leaf certificate + CA certificate in one file, replaced atomically so a
        # concurrent export never sees a key that does not match its certificate.
        return self.folder / "signer.pem"


def config_dir() -> Path:
    """The user's Fixative config folder (XDG on Linux, APPDATA on Windows)."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "fixative"
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg) / "fixative"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "fixative"
    return Path.home() / ".config" / "fixative"


def local_identity() -> LocalIdentity:
    return LocalIdentity(config_dir() / "c2pa")


def _import_c2pa() -> Any:
    try:
        import c2pa
    except ImportError as exc:
        raise missing("c2pa-python", "sign C2PA manifests (the fixative[c2pa] extra)") from exc
    return c2pa


def _crypto() -> Any:
    try:
        from cryptography import x509
    except ImportError as exc:
        raise missing("cryptography", "create the local C2PA signing certificate") from exc
    return x509


# --- manifest ----------------------------------------------------------------------------


def _entry(use: str, info: str | None = None) -> dict[str, str]:
    entry = {"use": use}
    if use == "constrained" and info:
        entry["constraint_info"] = info  # CDDL spelling, per CAWG TDM assertion v1.1
    return entry


def training_mining_entries(
    settings: DeclarationSettings,
) -> dict[str, dict[str, str]] | None:
    """CAWG entries matching the IPTC Data Mining choice; None for DMI-UNSPECIFIED.

    All prohibiting IPTC values map to `notAllowed` for training, generative training and data
    mining (the stricter reading); the "see ..." values map to `constrained` with the text.
    """
    dm = settings.data_mining
    if dm == "DMI-UNSPECIFIED":
        return None
    if dm == "DMI-ALLOWED":
        training = _entry("allowed")
        mining = _entry("allowed")
    elif dm == "DMI-PROHIBITED-SEECONSTRAINT":
        training = mining = _entry("constrained", settings.other_constraints)
    elif dm == "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR":
        training = mining = _entry("constrained", "see the rights expression embedded in the file")
    elif dm == "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR":
        text = "see the linked rights expression"
        if settings.web_statement:
            text += f": {settings.web_statement}"
        training = mining = _entry("constrained", text)
    elif dm == "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING":
        training = _entry("notAllowed")
        mining = _entry("constrained", "allowed only for search engine indexing")
    else:
        training = mining = _entry("notAllowed")
    return {
        "cawg.ai_generative_training": dict(training),
        "cawg.ai_training": dict(training),
        "cawg.data_mining": dict(mining),
        "cawg.ai_inference": _entry(settings.ai_inference, settings.other_constraints),
    }


def manifest_for(settings: DeclarationSettings, title: str | None = None) -> dict[str, Any]:
    """The manifest definition handed to `c2pa.Builder`."""
    try:
        from .. import __version__ as version
    except ImportError:
        version = "unknown"
    assertions: list[dict[str, Any]] = []
    entries = training_mining_entries(settings)
    if entries is not None:
        assertions.append({"label": TRAINING_MINING, "data": {"entries": entries}})
    agent = {"name": "Fixative", "version": str(version)}
    assertions.append(
        {
            "label": "c2pa.actions",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": DIGITAL_CREATION,
                        "softwareAgent": agent,
                    },
                    {
                        "action": "c2pa.edited",
                        "softwareAgent": agent,
                        "description": "protective perturbation against generative-AI mimicry",
                    },
                ]
            },
        }
    )
    manifest: dict[str, Any] = {
        "claim_generator_info": [agent],
        "assertions": assertions,
    }
    if title:
        manifest["title"] = title
    return manifest


# --- certificates ------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by the user, atomically (temp + rename in the same folder)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.chmod(tmp, 0o600)  # mkstemp already uses 0600; explicit for clarity on all systems
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _now() -> _dt.datetime:
    # timezone.utc, not datetime.UTC: Krita bundles Python 3.10.
    return _dt.datetime.now(_dt.timezone.utc)


def _not_after(cert: Any) -> _dt.datetime:
    # `not_valid_after_utc` appeared in cryptography 42; c2pa-python accepts 41.
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=_dt.timezone.utc)
    return value


def _key_usage(x509: Any, *, signer: bool) -> Any:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def _new_ca(x509: Any) -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            # No personal data in the CA (its certificate is embedded in every signed file);
            # a random tag tells two users' local CAs apart.
            x509.NameAttribute(NameOID.COMMON_NAME, f"Fixative local CA {os.urandom(4).hex()}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fixative local identity"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=_CA_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(x509, signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_leaf(x509: Any, ca_cert: Any, ca_key: Any, owner: str) -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    not_after = min(now + _dt.timedelta(days=_LEAF_VALID_DAYS), _not_after(ca_cert))
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, owner),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fixative local identity"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(x509, signer=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [
                    ObjectIdentifier(_EKU_DOCUMENT_SIGNING),
                    ObjectIdentifier(_EKU_EMAIL_PROTECTION),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _owner_name(settings: DeclarationSettings) -> str:
    # The leaf's name is embedded in every signed file: only a name the user chose to publish
    # (the creator setting), never the login name.
    return settings.creator or ANONYMOUS_SIGNER


def _create_ca(ident: LocalIdentity) -> None:
    """Create folder + CA in a temp folder and rename it into place (first creator wins)."""
    x509 = _crypto()
    parent = ident.folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".c2pa-new-", dir=parent))  # mode 0700
    try:
        cert, key = _new_ca(x509)
        (tmp / "ca.pem").write_bytes(_pem_cert(cert))
        _write_private(tmp / "ca-key.pem", _pem_key(key))
        try:
            os.rename(tmp, ident.folder)
        except OSError:
            if not ident.ca_cert.exists():
                raise
    finally:
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()


def ensure_local_identity(
    settings: DeclarationSettings, ident: LocalIdentity | None = None
) -> tuple[bytes, bytes]:
    """Return (certificate chain PEM, private key PEM) of the local signer, creating it if needed.

    Raises `C2paSigningError` naming the folder when it cannot be created or written.
    """
    ident = ident or local_identity()
    owner = _owner_name(settings)
    x509 = _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    try:
        if not ident.ca_cert.exists():
            _create_ca(ident)
        ca_cert = x509.load_pem_x509_certificate(ident.ca_cert.read_bytes())
        if ident.signer.exists():
            blob = ident.signer.read_bytes()
            certs = x509.load_pem_x509_certificates(blob)
            leaf = certs[0]
            cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            fresh = _not_after(leaf) - _now() > _dt.timedelta(days=_LEAF_RENEW_DAYS)
            if fresh and cn and cn[0].value == owner and leaf.issuer == ca_cert.subject:
                key = serialization.load_pem_private_key(blob, password=None)
                return _pem_cert(leaf) + _pem_cert(ca_cert), _pem_key(key)
        ca_key = serialization.load_pem_private_key(ident.ca_key.read_bytes(), password=None)
        leaf, key = _new_leaf(x509, ca_cert, ca_key, owner)
        chain = _pem_cert(leaf) + _pem_cert(ca_cert)
        _write_private(ident.signer, _pem_key(key) + chain)
        return chain, _pem_key(key)
    except OSError as exc:
        raise C2paSigningError(
            f"cannot create or read the local C2PA signing identity in {ident.folder}: "
            f"{exc.strerror or exc}; make that folder writable (or set XDG_CONFIG_HOME), or give "
            "your own certificate and key (c2pa_cert / c2pa_key)"
        ) from exc
    except ValueError as exc:  # unparsable PEM
        raise C2paSigningError(
            f"the local C2PA signing identity in {ident.folder} is damaged ({exc}); "
            "delete that folder to have a new one created"
        ) from exc


def _user_material(settings: DeclarationSettings) -> tuple[bytes, bytes]:
    assert settings.c2pa_cert is not None and settings.c2pa_key is not None
    try:
        chain = Path(settings.c2pa_cert).read_bytes()
    except OSError as exc:
        raise C2paSigningError(
            f"cannot read the C2PA certificate {settings.c2pa_cert}: {exc.strerror}"
        ) from exc
    try:
        key = Path(settings.c2pa_key).read_bytes()
    except OSError as exc:
        raise C2paSigningError(
            f"cannot read the C2PA private key {settings.c2pa_key}: {exc.strerror}"
        ) from exc
    return chain, key


def _alg_for(key_pem: bytes, where: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise C2paSigningError(
            f"the C2PA private key {where} is not an unencrypted PEM key ({exc})"
        ) from exc
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": b"es256", "secp384r1": b"es384", "secp521r1": b"es512"}
        if key.curve.name in algs:
            return algs[key.curve.name]
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return b"ed25519"
    elif isinstance(key, rsa.RSAPrivateKey):
        return b"ps256"
    raise C2paSigningError(f"the C2PA private key {where} has a key type C2PA cannot sign with")


def signing_material(settings: DeclarationSettings) -> tuple[bytes, bytes, bytes]:
    """(certificate chain PEM, key PEM, algorithm) from the user's files or the local identity."""
    _crypto()
    if settings.c2pa_cert is not None:
        chain, key = _user_material(settings)
        return chain, key, _alg_for(key, str(settings.c2pa_key))
    chain, key = ensure_local_identity(settings)
    return chain, key, b"es256"


def mime_for(fmt: str, path: str | os.PathLike[str] = "") -> str:
    mime = MIME_TYPES.get(fmt.upper())
    if mime is None:
        raise C2paSigningError(
            f"cannot embed a C2PA manifest in {fmt} {os.fspath(path)}".rstrip()
            + f"; C2PA signing supports {', '.join(sorted({'PNG', 'JPEG', 'TIFF', 'WEBP'}))}"
        )
    return mime


def sign_c2pa(
    path: str | os.PathLike[str],
    fmt: str,
    settings: DeclarationSettings,
    *,
    title: str | None = None,
) -> None:
    """Embed a signed manifest into the finished (temporary) file at `path`, in place.

    The signed result is written next to `path` and renamed over it, so on any error `path` is
    unchanged and the caller can discard it. Raises `C2paSigningError` /
    `MissingDependencyError`.
    """
    path = Path(path)
    mime = mime_for(fmt, path)
    c2pa = _import_c2pa()
    chain, key, alg = signing_material(settings)
    manifest = manifest_for(settings, title)
    tmp: Path | None = None
    name = ""
    try:
        info = c2pa.C2paSignerInfo(alg=alg, sign_cert=chain, private_key=key, ta_url=None)
        # No thumbnail: it would embed a second (JPEG) copy of the image in the file.
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        fd, name = atomic.create(path.parent, path.name)  # removed by the next run if killed
        tmp = Path(name)
        # File streams, not bytes: large 16-bit images are not held in memory twice.
        with (
            os.fdopen(fd, "w+b") as dst,  # first, so the descriptor is always closed
            open(path, "rb") as src,
            c2pa.Signer.from_info(info) as signer,
            c2pa.Builder(manifest, context=context) as b,
        ):
            b.sign(signer, mime, src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
        tmp = None
    except c2pa.C2paError as exc:
        raise C2paSigningError(f"C2PA signing of {path} failed: {exc}") from exc
    except OSError as exc:
        raise C2paSigningError(f"C2PA signing of {path} failed: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if name:
            atomic.release(name)
