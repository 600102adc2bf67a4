"""Judges we did not write: the DCC's own tools and reference data.

Our DCC simulator is ours and can share our mistakes, so DUIS features are checked against:
- the DCC Boxed signing tool (npm ``@smartdcc/duis-sign-wrap``, a Java jar holding the DCC Boxed
  test keys and a DUIS XSD): ``Sign`` and ``Validate``;
- the DCC's DUIS parser (npm ``@smartdcc/duis-parser``) and request templates
  (npm ``@smartdcc/duis-templates``, from the DCC's reference test data);
- data only ``../shared/reference/`` has (the DUIS 5.4 XSD, reference responses, the RTDS GBCS
  vectors): tests that need it skip, saying what is missing, where it is absent (a user's clone).

``make test`` installs the npm packages (``npm ci`` in this folder) and Java; without them
these helpers fail, naming what to run, rather than skip: they are the judges.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NODE_MODULES = HERE / "node_modules"
SIGN_TOOL_JAR = NODE_MODULES / "@smartdcc" / "duis-sign-wrap" / "dist" / "tool.jar"
TEMPLATES_DIR = NODE_MODULES / "@smartdcc" / "duis-templates" / "templates"
SHARED_REFERENCE = REPO.parent / "shared" / "reference"

# DCC Boxed identities inside the signing tool's jar.
NETWORK_OPERATOR = "90-B3-D5-1F-30-02-00-00"  # an Electricity Distributor, as a DNO is
NETWORK_OPERATOR_XML_KEY = "xml-sign-90B3D51F30020000-ds"
NETWORK_OPERATOR_GBCS_KEY = "Z1-networkOperator-ds"
DSP_XML_KEY = "dsp-xml-sign-90B3D51F30000002-ds"
DSP_XML_KEY_PRE_1_4_1 = "dsp-xml-sign-90B3D51F30000002-ds-pre-1.4.1"


def shared_reference(*parts: str, what: str) -> Path:
    """A file or folder under ``../shared/reference/``, or skip the test naming what is missing."""
    path = SHARED_REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/reference/{'/'.join(parts)} ({what}), which is absent on this machine")
    return path


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(f"{what} is missing ({path}): run `make test`, which installs it (npm ci in tests/judges)")
    return path


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is missing: `make test` installs it (Debian default-jre-headless)")
    return java


@dataclass(frozen=True)
class ToolResult:
    """What the DCC Boxed signing tool said: exit code 0 is success, 10 a validation failure."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _run_tool(mode: str, document: bytes, *options: str) -> ToolResult:
    jar = _require(SIGN_TOOL_JAR, "the DCC Boxed signing tool (@smartdcc/duis-sign-wrap)")
    process = subprocess.run(
        [_java(), "-cp", str(jar), f"uk.co.smartdcc.boxed.xmldsig.{mode}", "-", *options],
        input=document,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return ToolResult(process.returncode, process.stdout, process.stderr.decode("utf-8", errors="replace"))


def dcc_tool_validate(document: bytes) -> ToolResult:
    """The DCC's ``Validate``: XSD check, then the signature against the certificate it finds
    by the document's X509SerialNumber among the DCC Boxed certificates it holds."""
    return _run_tool("Validate", document)


def dcc_tool_sign(document: bytes, *, preserve_counter: bool = True, as_identity: str | None = None) -> bytes:
    """The DCC's ``Sign``: as the originator the RequestID names (its DCC Boxed key), or as
    ``as_identity``, a DCC Boxed identity in the jar (e.g. the DSP, which signs responses)."""
    options = ["--preserveCounter"] if preserve_counter else []
    if as_identity is not None:
        key_der, cert_pem = jar_identity(as_identity)
        folder = Path(tempfile.mkdtemp(prefix="dcc-tool-"))
        (folder / "signer.pem").write_bytes(cert_pem)
        (folder / "signer.key").write_bytes(base64.b64encode(key_der))  # the tool reads base64 DER
        options += [str(folder / "signer.pem"), str(folder / "signer.key")]
    result = _run_tool("Sign", document, *options)
    assert result.ok, f"the DCC's tool could not sign: {result.stderr}"
    return result.stdout


@functools.cache
def jar_file(name: str) -> bytes:
    """One file from the signing tool's jar (its keys, certificates and XSD)."""
    jar = _require(SIGN_TOOL_JAR, "the DCC Boxed signing tool (@smartdcc/duis-sign-wrap)")
    with zipfile.ZipFile(jar) as archive:
        return archive.read(name)


def jar_identity(name: str) -> tuple[bytes, bytes]:
    """``(key DER PKCS#8, certificate PEM)`` of a DCC Boxed identity in the jar."""
    return jar_file(f"{name}.key"), jar_file(f"{name}.pem")


def jar_duis_schema(folder: Path) -> Path:
    """The DUIS XSD the signing tool validates with (5.1), written into ``folder`` with file
    names lxml can resolve (the jar's have spaces); returns the main schema's path."""
    folder.mkdir(parents=True, exist_ok=True)
    duis = jar_file("DUIS Schema V5.1.xsd").replace(b"MMC Schema V5.1.xsd", b"MMC_Schema_V5.1.xsd")
    (folder / "DUIS_Schema_V5.1.xsd").write_bytes(duis)
    (folder / "MMC_Schema_V5.1.xsd").write_bytes(jar_file("MMC Schema V5.1.xsd"))
    (folder / "xmldsig-core-schema.xsd").write_bytes(jar_file("xmldsig-core-schema.xsd"))
    return folder / "DUIS_Schema_V5.1.xsd"


def duis_template(name: str) -> Path:
    """A DCC request template (``@smartdcc/duis-templates``), e.g. ``ECS47Deactivate_7.6_SUCCESS_REQUEST_DUIS.XML``."""
    return _require(TEMPLATES_DIR / name, f"the DCC's DUIS template {name} (@smartdcc/duis-templates)")


def dcc_parse(document: bytes) -> dict:
    """What the DCC's DUIS parser (``@smartdcc/duis-parser``) reads from ``document``."""
    _require(NODE_MODULES / "@smartdcc" / "duis-parser", "the DCC's DUIS parser (@smartdcc/duis-parser)")
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: `make test` installs it (Debian nodejs)")
    process = subprocess.run(
        [node, str(HERE / "parse_duis.js")], input=document, capture_output=True, timeout=60, check=False
    )
    assert process.returncode == 0, f"the DCC's DUIS parser refused the document: {process.stderr.decode()[-2000:]}"
    return json.loads(process.stdout)
