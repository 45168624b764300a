"""TLS material for SIP over TLS and the consoles over https.

A site gives its own certificate and key (``tls_cert_file``/``tls_key_file``), or a local
CA made at first run in ``<state_dir>/tls`` issues one for the names the site is reached
by. Softphones and browsers then trust ``ca.pem`` (printed by ``acd tls``). The CA key
stays 0600 in the state directory; the server certificate is issued again when the names
change or it is within 30 days of its end.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acd.settings import Settings

CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server certificate (with its chain)
    key: Path
    ca: Path | None  # the local CA that issued it, None for a site's own certificate


def site_tls_files(settings: Settings) -> TlsFiles:
    """The certificate SIP over TLS and the consoles use: the site's, or the local CA's
    for ``tls_names`` (default: the SIP and gateway addresses, loopback, the host name)."""
    listening = [a for a in (settings.sip_address, settings.gateway_address) if a != "0.0.0.0"]
    names = [*settings.tls_names] or [*listening, "127.0.0.1", "localhost",
                                      socket.gethostname()]
    return tls_files(settings.tls_dir, names, settings.tls_cert_file, settings.tls_key_file)


def tls_files(tls_dir: Path, names: list[str], cert: Path | None = None,
              key: Path | None = None) -> TlsFiles:
    """The site's certificate when given, else the local CA's, issued for ``names``."""
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise FileNotFoundError(f"TLS file {path} does not exist")
        return TlsFiles(cert, key, None)
    return LocalCa(tls_dir).server(names)


class LocalCa:
    def __init__(self, tls_dir: Path) -> None:
        self.dir = tls_dir
        self.ca_cert = tls_dir / "ca.pem"
        self.ca_key = tls_dir / "ca.key"

    def server(self, names: list[str]) -> TlsFiles:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        ca_cert, ca_key = self._ca()
        cert_path, key_path = self.dir / "server.pem", self.dir / "server.key"
        wanted = sorted(set(names))
        if not _current(cert_path, wanted):
            key = ec.generate_private_key(ec.SECP256R1())
            now = dt.datetime.now(dt.UTC)
            cert = (x509.CertificateBuilder()
                    .subject_name(_name(wanted[0] if wanted else "madoguchi"))
                    .issuer_name(ca_cert.subject)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(minutes=5))
                    .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
                    .add_extension(x509.SubjectAlternativeName(
                        [_general_name(n) for n in wanted]), critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                   critical=True)
                    .add_extension(x509.ExtendedKeyUsage(
                        [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                         x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                    .sign(ca_key, hashes.SHA256()))
            _write(key_path, _key_pem(key))
            _write(cert_path, cert.public_bytes(serialization.Encoding.PEM)
                   + ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return TlsFiles(cert_path, key_path, self.ca_cert)

    def _ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if self.ca_cert.exists() and self.ca_key.exists():
            key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return x509.load_pem_x509_certificate(self.ca_cert.read_bytes()), key
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = _name("Madoguchi local CA")
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, encipher_only=False,
                    decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write(self.ca_key, _key_pem(key))
        _write(self.ca_cert, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return cert, key


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """An https server context: TLS 1.2 or newer."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context


def local_client_context(settings: Settings) -> ssl.SSLContext:
    """How this machine's own clients (the `acd` commands) check the gateway: the chain
    (the local CA, or the system's for a site's own certificate), not the name -- they
    reach it on a local address the certificate need not name."""
    ca = None if settings.tls_cert_file else settings.tls_dir / "ca.pem"
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.check_hostname = False
    return context


def fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 fingerprint of a PEM certificate (the first one), as softphones show it."""
    digest = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def _current(cert_path: Path, names: list[str]) -> bool:
    """The certificate exists, is for exactly ``names`` and is not about to expire."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = sorted([*san.get_values_for_type(x509.DNSName),
                   *map(str, san.get_values_for_type(x509.IPAddress))])
    return have == names and cert.not_valid_after_utc - RENEW_BEFORE > dt.datetime.now(dt.UTC)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
