"""Ayla over mutual TLS: the client presents its certificate and trusts the station's CA bundle."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from cloudkit import FAST_RETRY
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from linegate.drivers.cloud import Ayla, Unavailable, UnknownOutcome
from linegate.fixtures.sim.cloud.server import CloudEmulator


def _issue(subject: str, issuer_key, issuer_name, *, ca: bool = False, ip: str | None = None):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _write(folder: Path, stem: str, key, cert) -> tuple[str, str]:
    kp, cp = folder / f"{stem}.key", folder / f"{stem}.pem"
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(cp), str(kp)


@pytest.fixture
def pki(tmp_path):
    ca_key, ca = _issue("linegate test CA", None, None, ca=True)
    server = _write(tmp_path, "server", *_issue("afs.sim", ca_key, ca.subject, ip="127.0.0.1"))
    client = _write(tmp_path, "station", *_issue("station-01", ca_key, ca.subject))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return {"ca": str(ca_file), "server": server, "client": client}


def sim_state_tls(emu, pki) -> dict:
    ctx = ssl.create_default_context(cafile=pki["ca"])
    ctx.load_cert_chain(*pki["client"])
    return httpx.get(f"{emu.base_url}/_sim/state", verify=ctx).json()


def test_reserve_over_mutual_tls(pki):
    with CloudEmulator(tls=(*pki["server"], pki["ca"]), mqtt_port=None, rsa_bits=1024) as emu:
        assert emu.base_url.startswith("https://")
        with Ayla(emu.base_url, emu.credentials.ayla_token, ca_bundle=pki["ca"], client_cert=pki["client"],
                  retry=FAST_RETRY) as afs:
            assert len(afs.reserve("AY001MTP1", 1)) == 1
        with Ayla(emu.base_url, emu.credentials.ayla_token, ca_bundle=pki["ca"], retry=FAST_RETRY) as afs, \
                pytest.raises((Unavailable, UnknownOutcome)):
            # No client certificate: refused. Under TLS 1.3 the refusal comes after the client sent the
            # request, so the client cannot tell it apart from a lost answer.
            afs.reserve("AY001MTP1", 1)
        assert len(sim_state_tls(emu, pki)["ayla"]["devices"]) == 1
