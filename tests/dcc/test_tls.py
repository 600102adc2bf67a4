"""HTTPS with a client certificate, as the client talks to the real DCC."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dcc.duis import DccClient, DccTransientError
from dcc.simulator import DccSimulator, SimulatedDevice

from .conftest import HCALCS, client_for, simulated_user


def _issue(name: str, *, issuer_key=None, issuer_name=None, ca: bool = False, server: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write(path, key, cert):
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path.with_suffix(".crt")), str(path.with_suffix(".key"))


@pytest.fixture
def tls_simulator(tmp_path, user_signer, user_gbcs_signer, user_gbcs_ka, dcc_signer, schema):
    ca_key, ca_cert = _issue("test CA", ca=True)
    server_key, server_cert = _issue("dcc", issuer_key=ca_key, issuer_name=ca_cert.subject, server=True)
    client_key, client_cert = _issue("dnoctl", issuer_key=ca_key, issuer_name=ca_cert.subject)
    ca_path = tmp_path / "ca.crt"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_files = _write(tmp_path / "server", server_key, server_cert)
    client_files = _write(tmp_path / "client", client_key, client_cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*server_files)
    context.load_verify_locations(cafile=str(ca_path))
    context.verify_mode = ssl.CERT_REQUIRED
    sim = DccSimulator(
        dcc_signer=dcc_signer,
        users=[simulated_user(user_signer, user_gbcs_signer, user_gbcs_ka)],
        devices=[SimulatedDevice(eui64=HCALCS)],
        schema=schema,
        tls=context,
    ).start()
    yield sim, str(ca_path), client_files
    sim.stop()


def _client(sim, user_signer, dcc_signer, gbcs_signer, **tls) -> DccClient:
    return client_for(sim.url, user_signer, dcc_signer, gbcs_signer, backoff_s=0.01, **tls)


def test_client_certificate_over_https(tls_simulator, user_signer, user_gbcs_signer, dcc_signer):
    sim, ca_path, client_files = tls_simulator
    assert sim.url.startswith("https://127.0.0.1:")
    client = _client(sim, user_signer, dcc_signer, user_gbcs_signer, client_cert=client_files, verify_tls=ca_path)
    outcome = client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=5)
    assert outcome.acknowledgement.response_code == "I0"


def test_without_client_certificate_the_dcc_is_unreachable(tls_simulator, user_signer, user_gbcs_signer, dcc_signer):
    sim, ca_path, _ = tls_simulator
    with pytest.raises(DccTransientError):
        _client(sim, user_signer, dcc_signer, user_gbcs_signer, verify_tls=ca_path).read_auxiliary_load_switch_data(
            target=HCALCS
        )
    assert sim.received == []


def test_server_certificate_is_checked(tls_simulator, user_signer, user_gbcs_signer, dcc_signer):
    sim, _, client_files = tls_simulator
    with pytest.raises(DccTransientError):  # default trust store does not know the test CA
        _client(
            sim, user_signer, dcc_signer, user_gbcs_signer, client_cert=client_files
        ).read_auxiliary_load_switch_data(target=HCALCS)
    assert sim.received == []
