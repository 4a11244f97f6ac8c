"""The emulator's certificate authority and the leaf certificate for every emulated host.

Made fresh at start (or loaded from a state directory). Clients trust the emulator by
pointing REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE at ``bundle.pem``: the
system CAs plus the emulator CA, so nothing else a process trusts is lost.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .files import PUBLIC_FILE_MODE, private_dir, write_atomic

# Every TLS host name the tutorials use. Wildcards cover per-account hosts.
TLS_HOSTS = [
    "management.azure.com",
    "management.core.windows.net",
    "login.microsoftonline.com",
    "login.windows.net",
    "sts.windows.net",
    "graph.microsoft.com",
    "graph.windows.net",
    "*.blob.core.windows.net",
    "*.vault.azure.net",
    "*.documents.azure.com",
    "*.database.windows.net",
    "*.azuredatalakestore.net",
    "*.dfs.core.windows.net",
    "localhost",
]


@dataclass
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def leaf_cert(self) -> Path:
        return self.directory / "leaf.pem"

    @property
    def leaf_key(self) -> Path:
        return self.directory / "leaf.key"

    @property
    def bundle(self) -> Path:
        return self.directory / "bundle.pem"

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.leaf_cert, self.leaf_key)
        return ctx


def _system_ca_pem() -> bytes:
    """PEM text of the CAs the machine trusts (before milab changed any variable)."""
    candidates = [os.environ.get("MILAB_SYSTEM_CA_BUNDLE"), ssl.get_default_verify_paths().cafile,
                  "/etc/ssl/certs/ca-certificates.crt"]
    try:
        import certifi  # requests' own bundle, when present
        candidates.append(certifi.where())
    except ImportError:  # pragma: no cover
        pass
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c).read_bytes()
    return b""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "milab emulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def create(directory: Path, hosts: list[str] | None = None) -> Pki:
    """Create (or reuse, when all files exist) the CA, the leaf and the bundle in ``directory``."""
    pki = Pki(Path(directory))
    private_dir(pki.directory)
    now = dt.datetime.now(dt.timezone.utc)
    wanted = sorted(hosts or TLS_HOSTS)
    if all(p.exists() for p in (pki.ca_cert, pki.leaf_cert, pki.leaf_key, pki.bundle)) \
            and _reusable(pki, wanted, now):
        if stat.S_IMODE(pki.bundle.stat().st_mode) != PUBLIC_FILE_MODE:  # an older milab made it with another mode
            _write_bundle(pki, pki.ca_cert.read_bytes())
        return pki
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("milab emulator CA")).issuer_name(_name("milab emulator CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in (hosts or TLS_HOSTS)]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    leaf = (x509.CertificateBuilder().subject_name(_name("milab emulated Azure")).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=29))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    # every file 0600 from creation (write_atomic), the key above all; the CA certificate and the bundle
    # are public and 0644, so an isolated guest (another uid) can read the bundle bind-mounted into it,
    # while their 0700 directory keeps every other user of the host out
    write_atomic(pki.leaf_key, leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
    write_atomic(pki.ca_cert, ca_pem, mode=PUBLIC_FILE_MODE)
    write_atomic(pki.leaf_cert, leaf.public_bytes(serialization.Encoding.PEM) + ca_pem)
    _write_bundle(pki, ca_pem)
    return pki


def _reusable(pki: Pki, hosts: list[str], now: dt.datetime) -> bool:
    """Whether a state directory's certificates can serve another start: both valid for at least a
    day more (a ``--state-dir`` kept for weeks outlives the 29-day leaf) and the leaf naming exactly
    the hosts this milab serves (an older one may lack a service added since)."""
    try:
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        leaf = x509.load_pem_x509_certificate(pki.leaf_cert.read_bytes())  # the first PEM block: the leaf
        names = sorted(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                       .get_values_for_type(x509.DNSName))
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    margin = now + dt.timedelta(days=1)
    return names == hosts and all(c.not_valid_before_utc <= now and c.not_valid_after_utc > margin
                                  for c in (ca, leaf))


def _write_bundle(pki: Pki, ca_pem: bytes) -> None:
    system = _system_ca_pem()
    write_atomic(pki.bundle, system.rstrip(b"\n") + b"\n" + ca_pem if system else ca_pem, mode=PUBLIC_FILE_MODE)
