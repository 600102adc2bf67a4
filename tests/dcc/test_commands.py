"""``manage.py dcc_keys``, ``dcc_request`` and ``dcc_simulator``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from dcc import config as dcc_config
from dcc.duis import DuisVerifier, documents
from dcc.duis.xmlsafe import parse_xml
from dcc.models import ServiceRequest
from dcc.simulator import SimulatedDevice

from .conftest import HCALCS

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_dcc_keys_writes_the_four_development_identities_once(tmp_path):
    call_command("dcc_keys", "--dir", str(tmp_path), stdout=StringIO())
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    call_command("dcc_keys", "--dir", str(tmp_path), stdout=StringIO())
    identities = ("user-xml", "user-gbcs", "user-gbcs-ka", "dcc")
    assert set(first) == {f"{who}.{kind}.pem" for who in identities for kind in ("key", "cert")}
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first  # idempotent: kept, not regenerated
    assert oct((tmp_path / "user-xml.key.pem").stat().st_mode & 0o777) == "0o600"
    assert first["user-xml.key.pem"] != first["user-gbcs.key.pem"]  # two keys, as a DCC user has


def test_dcc_keys_never_writes_a_configured_key_or_certificate(tmp_path, settings):
    configured = tmp_path / "hsm-export" / "xml.key"
    settings.DCC = {
        **settings.DCC,
        "KEY_DIR": tmp_path / "keys",
        "XML_KEY_PATH": str(configured),
        "XML_CERT_PATH": str(tmp_path / "hsm-export" / "xml.pem"),
        "DCC_CERT_PATHS": [str(tmp_path / "dcc-certs" / "dsp.pem")],
    }
    call_command("dcc_keys", stdout=StringIO())
    # The configured XML identity is somebody's real key: missing or not, it is never generated.
    assert not (tmp_path / "hsm-export").exists()
    assert not (tmp_path / "dcc-certs").exists()
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        "dcc.cert.pem",
        "dcc.key.pem",
        "user-gbcs-ka.cert.pem",
        "user-gbcs-ka.key.pem",
        "user-gbcs.cert.pem",
        "user-gbcs.key.pem",
    ]
    with pytest.raises(ImproperlyConfigured, match=r"^DCC_USER_XML_KEY_PATH: cannot read .*xml\.key"):
        dcc_config.get_signer()


@pytest.mark.django_db
def test_dcc_request_print_signs_without_sending(dcc_settings, simulator, user_signer, schema):
    out = StringIO()
    call_command(
        "dcc_request",
        "--srv",
        "7.6",
        "--target",
        HCALCS,
        "--index",
        "2",
        "--duration",
        "45",
        "--cv",
        "4",
        "--counter",
        "77",
        "--print",
        stdout=out,
    )
    document = out.getvalue().strip().encode()
    schema.validate(parse_xml(document))
    request = documents.parse_request(DuisVerifier.trusting(user_signer.cert).verify(document))
    assert (str(request.request_id), request.command_variant, request.srv) == (
        f"{dcc_settings['ORIGINATOR_EUI64']}:{HCALCS}:77",
        4,
        "7.6",
    )
    assert documents.request_parameters("7.6", request.body) == {"index": 2, "duration_minutes": 45}
    assert simulator.received == []
    assert not ServiceRequest.objects.exists()


@pytest.mark.django_db
def test_dcc_request_refuses_bad_arguments_by_name(dcc_settings):
    with pytest.raises(CommandError, match=r"^index: must be 1\.\.5, got 9$"):
        call_command(
            "dcc_request",
            "--srv",
            "7.6",
            "--target",
            HCALCS,
            "--index",
            "9",
            "--duration",
            "5",
            "--print",
            stdout=StringIO(),
        )
    with pytest.raises(CommandError, match=r"^target: "):
        call_command("dcc_request", "--srv", "7.8", "--target", "nope", "--index", "1", "--print", stdout=StringIO())


@pytest.mark.django_db
def test_dcc_request_sends_through_the_configured_dcc(dcc_settings, simulator):
    out = StringIO()
    call_command("dcc_request", "--srv", "7.6", "--target", HCALCS, "--index", "1", "--duration", "15", stdout=out)
    stored = ServiceRequest.objects.get()
    assert out.getvalue().startswith(f"{stored.request_id} 7.6 CV 5: acknowledged ack=I0")
    assert [cv for rid, cv, _ in simulator.received if rid == stored.request_id] == [4, 5]


def test_dcc_simulator_command_serves_until_terminated(tmp_path):
    devices = tmp_path / "devices.json"
    devices.write_text(json.dumps([{"eui64": HCALCS, "switch_indexes": [1, 2]}]))
    env = {**os.environ, "DCC_KEY_DIR": str(tmp_path / "keys"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "dcc_simulator",
            "--port",
            "0",
            "--devices",
            str(devices),
            "--callback",
            "http://127.0.0.1:9/",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("DCC simulator on http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(f"{url}/sim/devices/{HCALCS}", timeout=5) as reply:
            state = json.load(reply)
        assert set(state["switches"]) == {"1", "2"}
        assert (tmp_path / "keys" / "dcc.cert.pem").exists()
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_the_system_check_names_a_bad_configured_key_before_anything_is_sent(tmp_path, settings, user_signer):
    from cryptography.hazmat.primitives import serialization

    from dcc.checks import dcc_keys_readable
    from dcc.duis import generate_identity

    other_key_pem, _other_cert = generate_identity("someone-else")
    (tmp_path / "xml.key").write_bytes(other_key_pem)
    (tmp_path / "xml.pem").write_bytes(user_signer.cert.public_bytes(serialization.Encoding.PEM))
    settings.DCC = {
        **settings.DCC,
        "XML_KEY_PATH": str(tmp_path / "xml.key"),
        "XML_CERT_PATH": str(tmp_path / "xml.pem"),
        "GBCS_KEY_PATH": str(tmp_path / "missing-gbcs.key"),
        "GBCS_CERT_PATH": str(tmp_path / "missing-gbcs.pem"),
        "LOCAL_DELIVERY": "carrier-pigeon",
    }
    messages = [message.msg for message in dcc_keys_readable()]
    assert messages[0].startswith("dnoctl's DUIS XML-signing identity: ")
    assert messages[0].endswith("xml.key is not the key of the certificate " + str(tmp_path / "xml.pem"))
    assert messages[1].startswith("dnoctl's GBCS pre-command identity: DCC_USER_GBCS_KEY_PATH: cannot read ")
    assert messages[2] == "DCC_LOCAL_DELIVERY must be one of ('', 'simulator'), got 'carrier-pigeon'"
    assert len(messages) == 3


@pytest.mark.django_db
def test_dcc_device_certificates_loads_a_folder_and_one_bad_file_stores_nothing(tmp_path):
    from dcc.models import DeviceCertificate
    from dcc.simulator import SimulatedDevice

    first, second = SimulatedDevice(eui64="00-DB-12-34-56-78-90-A0"), SimulatedDevice(eui64="00-DB-12-34-56-78-90-A1")
    for device in (first, second):
        for usage, pem in device.certificates_pem().items():
            (tmp_path / f"{device.eui64.replace('-', '').lower()}-{usage.lower()}.pem").write_text(pem)
    (tmp_path / "README.txt").write_text("ignored")
    out = StringIO()
    call_command("dcc_device_certificates", str(tmp_path), stdout=out)
    assert out.getvalue().strip() == "4 certificates for 2 devices stored"
    assert DeviceCertificate.objects.get(eui64=second.eui64, usage="KA").certificate == second.certificates_pem()["KA"]

    DeviceCertificate.objects.all().delete()
    # A KA certificate filed as the DS one: refused by name, and the good files are not kept either.
    (tmp_path / "00db1234567890a1-ds.pem").write_text(second.certificates_pem()["KA"])
    with pytest.raises(CommandError, match=r"00-DB-12-34-56-78-90-A1 DS: .*not a DS certificate"):
        call_command("dcc_device_certificates", str(tmp_path), stdout=StringIO())
    assert not DeviceCertificate.objects.exists()


@pytest.mark.django_db
def test_dcc_request_sends_a_7_16_with_its_level_and_period(dcc_settings, simulator):
    simulator.add_device(SimulatedDevice(eui64="00-DB-12-34-56-78-90-D0", apc_indexes=(1,)))
    out = StringIO()
    call_command(
        "dcc_request",
        *("--srv", "7.16", "--target", "00-DB-12-34-56-78-90-D0", "--index", "1", "--level", "60"),
        *("--start", "2026-12-03T17:00:00+00:00", "--end", "2026-12-03T18:00:00+00:00"),
        stdout=out,
    )
    stored = ServiceRequest.objects.get()
    assert out.getvalue().startswith(f"{stored.request_id} 7.16 CV 5: acknowledged ack=I0")
    body = documents.parse_request(parse_xml(stored.request_document.encode())).body
    assert documents.request_parameters("7.16", body)["level"] == 60


@pytest.mark.django_db
def test_dcc_simulator_from_db_models_each_meters_apc_with_its_maximum():
    from consent.choices import ControllerType
    from dnoctl.management.commands.dcc_simulator import Command
    from tests.consent.factories import HcalcsFactory, MeterFactory

    meter = MeterFactory(supports_eno_use_cases=True)
    HcalcsFactory(meter=meter, switch_index=1)
    HcalcsFactory(meter=meter, switch_index=2, controller_type=ControllerType.APC, rated_kw=11.0)

    [device] = Command()._devices_from_db()

    assert (device.eui64, device.switch_indexes, device.apc_indexes, device.apc_max_kw) == (
        meter.esme_eui64,
        (1, 2),
        (2,),
        11.0,
    )
