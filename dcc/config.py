"""Build the DCC client, verifier and simulator from ``settings.DCC``.

Keys used (see ``dnoctl/settings.py``): ``BASE_URL``, ``ORIGINATOR_EUI64``, ``USER_ROLE``,
``KEY_DIR``, ``USER_KEY_PATH``, ``USER_CERT_PATH``, ``DCC_CERT_PATH``,
``TLS_CLIENT_CERT_PATH``/``TLS_CLIENT_KEY_PATH``/``TLS_CA_PATH`` (mutual TLS to the real DCC),
``TIMEOUT_S``, ``CALLBACK_URL``, ``SCHEMA_PATH``, and optionally ``DCC_KEY_PATH`` (the
simulator's signing key; defaults to ``KEY_DIR/dcc.key.pem``).

Key paths left unset default to the development files ``manage.py dcc_keys`` writes into
``KEY_DIR``: ``user.key.pem``/``user.cert.pem`` (us) and ``dcc.key.pem``/``dcc.cert.pem``
(the simulator standing in for the DCC). Settings are read on every call (tests swap
``settings.DCC``); the expensive parts (keys, HTTP session) are cached per settings value.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from requests.utils import get_environ_proxies

from dcc.duis import (
    DccClient,
    DuisSigner,
    DuisVerifier,
    LocalDeliveryInterface,
    SchemaValidator,
    generate_identity,
)
from dcc.simulator import DccSimulator, HttpLocalDelivery, SimulatedDevice

IDENTITIES = {"user": "dnoctl-eno-dev", "dcc": "dcc-simulator-dev"}


def dcc_settings() -> dict[str, Any]:
    return settings.DCC


def key_paths(config: dict[str, Any] | None = None) -> dict[str, Path]:
    """Paths of our key and certificate, and of the DCC's (simulator's) key and certificate."""
    config = config or dcc_settings()
    key_dir = Path(config.get("KEY_DIR") or "var/keys")
    return {
        "user_key": Path(config.get("USER_KEY_PATH") or key_dir / "user.key.pem"),
        "user_cert": Path(config.get("USER_CERT_PATH") or key_dir / "user.cert.pem"),
        "dcc_key": Path(config.get("DCC_KEY_PATH") or key_dir / "dcc.key.pem"),
        "dcc_cert": Path(config.get("DCC_CERT_PATH") or key_dir / "dcc.cert.pem"),
    }


def ensure_dev_keys(key_dir: Path | str | None = None) -> dict[str, Path]:
    """Write development key pairs and self-signed certificates once; keep existing ones.

    Idempotent: a pair whose key and certificate both exist is left alone, so restarting
    the demo does not invalidate documents signed earlier.
    """
    config = dict(dcc_settings())
    if key_dir is not None:
        config = {"KEY_DIR": key_dir}
    paths = key_paths(config)
    for who, common_name in IDENTITIES.items():
        key_path, cert_path = paths[f"{who}_key"], paths[f"{who}_cert"]
        if key_path.exists() and cert_path.exists():
            continue
        key_pem, cert_pem = generate_identity(common_name)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key_pem)
        cert_path.write_bytes(cert_pem)
    return paths


@functools.lru_cache(maxsize=8)
def _signer(key_path: str, cert_path: str) -> DuisSigner:
    return DuisSigner.from_files(key_path, cert_path)


@functools.lru_cache(maxsize=8)
def _verifier(cert_path: str) -> DuisVerifier:
    return DuisVerifier.from_file(cert_path)


def get_signer() -> DuisSigner:
    """Our signing identity."""
    paths = key_paths()
    return _signer(str(paths["user_key"]), str(paths["user_cert"]))


def get_dcc_verifier() -> DuisVerifier:
    """Verifier for documents the DCC (or the simulator) signs."""
    return _verifier(str(key_paths()["dcc_cert"]))


def get_schema() -> SchemaValidator:
    """The DUIS XSD check of every document, when ``DCC_SCHEMA_PATH`` configures it; off
    otherwise. It is an option, not a default: it costs about a third of the signed flow,
    and the tests check every document against the schema themselves."""
    return SchemaValidator(dcc_settings().get("SCHEMA_PATH") or None)


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_client(*, local_delivery: LocalDeliveryInterface | None = None) -> DccClient:
    """A client for ``settings.DCC``. Against a simulator on loopback, local delivery goes
    through the simulator's stand-in PPMID unless ``local_delivery`` is given."""
    config = dcc_settings()
    base_url = config["BASE_URL"]
    if local_delivery is None and _is_loopback(base_url):
        local_delivery = HttpLocalDelivery(base_url, timeout=float(config.get("TIMEOUT_S") or 5.0))
    client_cert = None
    if config.get("TLS_CLIENT_CERT_PATH"):
        client_cert = (
            (config["TLS_CLIENT_CERT_PATH"], config["TLS_CLIENT_KEY_PATH"])
            if config.get("TLS_CLIENT_KEY_PATH")
            else config["TLS_CLIENT_CERT_PATH"]
        )
    from dcc.services import DbCounterSource  # here: service_requests imports this module

    return DccClient(
        base_url,
        get_signer(),
        get_dcc_verifier(),
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
) -> DccSimulator:
    """A simulator that signs as the development DCC identity and trusts our certificate."""
    config = dcc_settings()
    paths = key_paths()
    return DccSimulator(
        dcc_signer=_signer(str(paths["dcc_key"]), str(paths["dcc_cert"])),
        user_verifier=_verifier(str(paths["user_cert"])),
        user_eui64=config["ORIGINATOR_EUI64"],
        user_role=config.get("USER_ROLE") or "ED",
        rules=rules,
        callback_url=callback_url or config.get("CALLBACK_URL"),
        host=host,
        port=port,
        devices=devices,
        schema=get_schema(),
        latency_s=latency_s,
    )


_local = threading.local()


def client_for_this_thread() -> DccClient:
    """One DUIS client per worker thread, kept between tasks: its HTTP session keeps the
    connection to the DCC open, and building a client loads keys."""
    # Every DCC setting shapes the client (keys, TLS, originator, timeouts): rebuild on any change.
    key = tuple(sorted((name, repr(value)) for name, value in settings.DCC.items()))
    cached = getattr(_local, "client", None)
    if cached is None or cached[0] != key:
        cached = _local.client = (key, _environment_resolved(build_client()))
    return cached[1]


def _environment_resolved(client):
    """Read the proxy and CA-bundle environment once for this kept client, not on every POST.

    ``requests`` re-reads every environment variable per request when ``trust_env`` is on
    (about a millisecond of CPU per DUIS document in a worker); the values cannot change
    under a running worker, so they are resolved here and the per-request lookup is off.
    """
    session = client.session
    session.proxies.update(get_environ_proxies(client.base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and client.verify_tls is True:
        client.verify_tls = bundle
    session.trust_env = False
    return client
