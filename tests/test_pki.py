"""The emulator's certificates in a kept ``--state-dir``: reused while they can serve, made again when
they are about to expire or no longer name every host milab serves."""
from __future__ import annotations

import datetime as dt

from cryptography import x509
from support import fixed_clock

from milab.cloud import pki


def _leaf(p: pki.Pki) -> x509.Certificate:
    return x509.load_pem_x509_certificate(p.leaf_cert.read_bytes())


def _made_days_ago(monkeypatch, directory, days: float) -> None:
    with monkeypatch.context() as m:
        m.setattr(pki, "dt", fixed_clock(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)))
        pki.create(directory)


def test_certificates_are_reused_while_they_are_valid(tmp_path):
    first = _leaf(pki.create(tmp_path))
    again = pki.create(tmp_path)
    assert _leaf(again) == first
    again.server_context()  # the kept key still matches the kept leaf


def test_a_leaf_about_to_expire_is_made_again(monkeypatch, tmp_path):
    _made_days_ago(monkeypatch, tmp_path, 28.5)  # the leaf lives 29 days: half a day left
    old = _leaf(pki.Pki(tmp_path))
    assert old.not_valid_after_utc < dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    new = pki.create(tmp_path)
    leaf = _leaf(new)
    assert leaf != old and leaf.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=28)
    ca = x509.load_pem_x509_certificate(new.ca_cert.read_bytes())
    leaf.verify_directly_issued_by(ca)  # the CA was made again with it
    assert new.ca_cert.read_bytes() in new.bundle.read_bytes()
    new.server_context()


def test_certificates_made_a_week_ago_are_kept(monkeypatch, tmp_path):
    _made_days_ago(monkeypatch, tmp_path, 7)
    old = _leaf(pki.Pki(tmp_path))
    assert _leaf(pki.create(tmp_path)) == old


def test_a_leaf_that_lacks_a_host_is_made_again(tmp_path):
    """An older milab's leaf without a service's host added since."""
    hosts = list(pki.TLS_HOSTS)
    pki.create(tmp_path, hosts=hosts[:-1])
    leaf = _leaf(pki.create(tmp_path))
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert sorted(names) == sorted(hosts)


def test_an_unreadable_certificate_is_made_again(tmp_path):
    p = pki.create(tmp_path)
    p.leaf_cert.write_bytes(b"not a certificate")
    assert _leaf(pki.create(tmp_path)).not_valid_after_utc > dt.datetime.now(dt.timezone.utc)
