"""Build the DCC client, verifiers and simulator from ``settings.DCC``.

A DCC user holds separate XML-signing, GBCS digital-signing and GBCS key-agreement keys, and trusts
a set of DCC certificates because the DCC's keys roll over. An unset path means the development
identity in ``KEY_DIR``; a configured path is never written, and a missing file is an error naming
its setting. Settings are read on every call (tests swap them); keys and sessions are cached per
value.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.utils import get_environ_proxies

from dcc.counters import DbCounterSource
from dcc.duis import (
    DccClient,
    DccSignatureError,
    DuisSigner,
    DuisVerifier,
    GbcsSigner,
    LocalDeliveryInterface,
    SchemaValidator,
    generate_identity,
)
from dcc.duis.signing import load_certificate, load_private_key
from dcc.gbcs.certificates import identity_make as gbcs_identity_make
from dcc.simulator import DccSimulator, HttpLocalDelivery, SimulatedDevice, SimulatedUser

# settings.DCC key -> (environment variable, development file in KEY_DIR)
KEY_FILES = {
    "XML_KEY_PATH": ("DCC_USER_XML_KEY_PATH", "user-xml.key.pem"),
    "XML_CERT_PATH": ("DCC_USER_XML_CERT_PATH", "user-xml.cert.pem"),
    "GBCS_KEY_PATH": ("DCC_USER_GBCS_KEY_PATH", "user-gbcs.key.pem"),
    "GBCS_CERT_PATH": ("DCC_USER_GBCS_CERT_PATH", "user-gbcs.cert.pem"),
    "GBCS_KA_KEY_PATH": ("DCC_USER_GBCS_KA_KEY_PATH", "user-gbcs-ka.key.pem"),
    "GBCS_KA_CERT_PATH": ("DCC_USER_GBCS_KA_CERT_PATH", "user-gbcs-ka.cert.pem"),
    "SIMULATOR_KEY_PATH": ("DCC_SIMULATOR_KEY_PATH", "dcc.key.pem"),
    "SIMULATOR_CERT_PATH": ("DCC_SIMULATOR_CERT_PATH", "dcc.cert.pem"),
}
# Development identities: (key setting, certificate setting, what the certificate names).
# GBCS certificates name the originator's EUI-64 and the key's usage, as SMKI's do.
DEV_IDENTITIES = (
    ("XML_KEY_PATH", "XML_CERT_PATH", "dnoctl-eno-xml-dev"),
    ("GBCS_KEY_PATH", "GBCS_CERT_PATH", "DS"),
    ("GBCS_KA_KEY_PATH", "GBCS_KA_CERT_PATH", "KA"),
    ("SIMULATOR_KEY_PATH", "SIMULATOR_CERT_PATH", "dcc-simulator-dev"),
)
LOCAL_DELIVERY_CHANNELS = ("", "simulator")


def dcc_settings() -> dict[str, Any]:
    return settings.DCC


def key_path(name: str, config: dict[str, Any] | None = None) -> Path:
    """The configured path of one key or certificate, or its development file in KEY_DIR."""
    config = config if config is not None else dcc_settings()
    configured = config.get(name)
    if configured:
        return Path(configured)
    return Path(config.get("KEY_DIR") or "var/keys") / KEY_FILES[name][1]


def dcc_cert_paths(config: dict[str, Any] | None = None) -> list[Path]:
    """The DCC certificates we trust; by default the simulator's development certificate."""
    config = config if config is not None else dcc_settings()
    return [Path(path) for path in config.get("DCC_CERT_PATHS") or []] or [key_path("SIMULATOR_CERT_PATH", config)]


def ensure_dev_keys(key_dir: Path | str | None = None) -> dict[str, Path]:
    """Write missing development identities; existing pairs are kept so earlier signatures stay valid."""
    config = dict(dcc_settings())
    originator = config["ORIGINATOR_EUI64"]
    if key_dir is not None:
        config = {"KEY_DIR": key_dir}
    for key_name, cert_name, names in DEV_IDENTITIES:
        if config.get(key_name) or config.get(cert_name):
            continue  # configured: somebody else's key, never ours to write
        key_file, cert_file = key_path(key_name, config), key_path(cert_name, config)
        if key_file.exists() and cert_file.exists():
            continue
        if names in ("DS", "KA"):
            key_pem, cert_pem = gbcs_identity_make(eui64=originator, usage=names, device=False)
        else:
            key_pem, cert_pem = generate_identity(names)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
    return {name: key_path(name, config) for name in KEY_FILES}


def _read(name: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        variable = KEY_FILES[name][0] if name in KEY_FILES else "DCC_TRUSTED_CERT_PATHS"
        raise ImproperlyConfigured(f"{variable}: cannot read {path}: {exc.strerror or exc}") from exc


@functools.lru_cache(maxsize=16)
def _load_pair(key_name: str, key_file: str, cert_name: str, cert_file: str) -> tuple[Any, Any]:
    try:
        key = load_private_key(_read(key_name, Path(key_file)))
        cert = load_certificate(_read(cert_name, Path(cert_file)))
    except DccSignatureError as exc:
        raise ImproperlyConfigured(f"{KEY_FILES[key_name][0]} / {KEY_FILES[cert_name][0]}: {exc}") from exc
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise ImproperlyConfigured(f"{key_file} is not the key of the certificate {cert_file}")
    return key, cert


def _pair(key_name: str, cert_name: str) -> tuple[Any, Any]:
    return _load_pair(key_name, str(key_path(key_name)), cert_name, str(key_path(cert_name)))


def get_signer() -> DuisSigner:
    key, cert = _pair("XML_KEY_PATH", "XML_CERT_PATH")
    return DuisSigner(key=key, cert=cert)


def get_gbcs_signer() -> GbcsSigner:
    """Our GBCS digital-signing identity (pre-commands of critical requests)."""
    key, cert = _pair("GBCS_KEY_PATH", "GBCS_CERT_PATH")
    return GbcsSigner(key=key, cert=cert)


def get_gbcs_key_agreement() -> tuple[Any, Any]:
    """Our GBCS key-agreement key and certificate: devices MAC their answers to us with it."""
    return _pair("GBCS_KA_KEY_PATH", "GBCS_KA_CERT_PATH")


@functools.lru_cache(maxsize=8)
def _verifier(cert_files: tuple[str, ...]) -> DuisVerifier:
    try:
        return DuisVerifier(certs=tuple(load_certificate(_read("", Path(path))) for path in cert_files))
    except DccSignatureError as exc:
        raise ImproperlyConfigured(f"DCC_TRUSTED_CERT_PATHS: {exc}") from exc


def get_dcc_verifier() -> DuisVerifier:
    """Verifier for documents the DCC (or the simulator) signs: any trusted DCC certificate."""
    return _verifier(tuple(str(path) for path in dcc_cert_paths()))


def get_schema() -> SchemaValidator:
    """The DUIS XSD check, only when configured: it is costly and the tests check the schema themselves."""
    return SchemaValidator(dcc_settings().get("SCHEMA_PATH") or None)


def local_delivery_channel() -> str:
    """The configured local delivery path (seed 004): ``""`` none (WAN only), or ``"simulator"``."""
    channel = dcc_settings().get("LOCAL_DELIVERY") or ""
    if channel not in LOCAL_DELIVERY_CHANNELS:
        raise ImproperlyConfigured(f"DCC_LOCAL_DELIVERY must be one of {LOCAL_DELIVERY_CHANNELS}, got {channel!r}")
    return channel


def build_client(*, local_delivery: LocalDeliveryInterface | None = None) -> DccClient:
    """A client for ``settings.DCC``, with local delivery only through the configured channel."""
    config = dcc_settings()
    base_url = config["BASE_URL"]
    if local_delivery is None and local_delivery_channel() == "simulator":
        local_delivery = HttpLocalDelivery(base_url, timeout=float(config.get("TIMEOUT_S") or 5.0))
    client_cert = None
    if config.get("TLS_CLIENT_CERT_PATH"):
        client_cert = (
            (config["TLS_CLIENT_CERT_PATH"], config["TLS_CLIENT_KEY_PATH"])
            if config.get("TLS_CLIENT_KEY_PATH")
            else config["TLS_CLIENT_CERT_PATH"]
        )
    return DccClient(
        base_url,
        get_signer(),
        get_dcc_verifier(),
        gbcs_signer=get_gbcs_signer(),
        originator=config["ORIGINATOR_EUI64"],
        counters=DbCounterSource(),
        timeout=float(config.get("TIMEOUT_S") or 5.0),
        client_cert=client_cert,
        verify_tls=config.get("TLS_CA_PATH") or True,
        schema=get_schema(),
        local_delivery=local_delivery,
    )


def build_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    callback_url: str | None = None,
    rules: str = "secmp0046",
    devices: list[SimulatedDevice] | tuple[SimulatedDevice, ...] = (),
    latency_s: tuple[float, float] = (0.05, 0.5),
    extra_users: tuple[SimulatedUser, ...] = (),
    spool_dir: Path | None = None,
) -> DccSimulator:
    """A simulator signing with ``SIMULATOR_KEY_PATH`` and serving our certificates and ``extra_users``."""
    config = dcc_settings()
    key, cert = _pair("SIMULATOR_KEY_PATH", "SIMULATOR_CERT_PATH")
    us = SimulatedUser(
        eui64=config["ORIGINATOR_EUI64"],
        role=config.get("USER_ROLE") or "ED",
        xml_certs=(get_signer().cert,),
        gbcs_cert=get_gbcs_signer().cert,
        gbcs_ka_cert=get_gbcs_key_agreement()[1],
    )
    return DccSimulator(
        dcc_signer=DuisSigner(key=key, cert=cert),
        users=[us, *extra_users],
        rules=rules,
        callback_url=callback_url or config.get("CALLBACK_URL"),
        host=host,
        port=port,
        devices=devices,
        schema=get_schema(),
        latency_s=latency_s,
        spool_dir=spool_dir,
    )


_local = threading.local()


def client_for_this_thread() -> DccClient:
    """One DUIS client per worker thread: its session keeps the DCC connection open and keys load once."""
    # Every DCC setting shapes the client (keys, TLS, originator, timeouts): rebuild on any change.
    key = tuple(sorted((name, repr(value)) for name, value in settings.DCC.items()))
    cached = getattr(_local, "client", None)
    if cached is None or cached[0] != key:
        cached = _local.client = (key, _environment_resolved(build_client()))
    return cached[1]


def _environment_resolved(client):
    """Resolve proxy and CA-bundle settings once: they cannot change under a running worker."""
    session = client.session
    session.proxies.update(get_environ_proxies(client.base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and client.verify_tls is True:
        client.verify_tls = bundle
    session.trust_env = False
    return client
