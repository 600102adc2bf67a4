"""Signed SRV 7.6 requests acknowledged per second through the whole CV 4 -> CV 5 flow.

    .venv/bin/python bench/bench_dcc.py [--requests 300] [--concurrency 1] [--schema PATH_TO_DUIS_XSD]

Each 7.6 is: sign the CV 4 request, POST it to the simulator's transform service (which
verifies it and signs an acknowledgement carrying the pre-command), verify that answer,
check and GBCS-sign the pre-command, sign the CV 5 request, POST it to the send-command
service (verify, sign acknowledgement), verify the acknowledgement. All on loopback HTTP.

Baseline, measured in the same run: the raw signxml cost of signing and verifying the same
four documents per request (CV 4 request, its acknowledgement, CV 5 request, its
acknowledgement) with no HTTP, parsing or bookkeeping. The ratio says how much of the
flow's time is the unavoidable XML-signature work.

Also printed: the cost of real GBCS per 7.6 (the DCC builds the pre-command, dnoctl checks
and signs it, the meter signs its answer, dnoctl authenticates it), beside the same baseline.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ec

from bench.common import machine
from dcc import gbcs
from dcc.duis import (
    DccClient,
    DuisSigner,
    DuisVerifier,
    GbcsSigner,
    InMemoryCounterSource,
    RequestId,
    SchemaValidator,
    documents,
    generate_identity,
)
from dcc.duis.signing import load_certificate
from dcc.gbcs.certificates import certificate_make
from dcc.gbcs.certificates import identity_make as gbcs_identity_make
from dcc.simulator import DccSimulator, SimulatedDevice, SimulatedUser

ORIGINATOR = "90-B3-D5-1F-30-02-00-00"
TARGET = "00-DB-12-34-56-78-90-A0"


def raw_baseline(user: DuisSigner, dcc: DuisSigner, count: int) -> float:
    """Documents-equivalent signxml work per second (4 signs + 4 verifies per request)."""
    user_verifier, dcc_verifier = DuisVerifier.trusting(user.cert), DuisVerifier.trusting(dcc.cert)
    target = "00-DB-12-34-56-78-90-A0"
    started = time.perf_counter()
    for counter in range(count):
        rid = RequestId.build(originator=ORIGINATOR, target=target, counter=counter)
        transform = documents.deactivate_auxiliary_load(request_id=rid, index=1, duration_minutes=30)
        user_verifier.verify(user.sign(transform))
        ack = documents.build_response(
            request_id=str(rid), response_id=rid.response_id(), response_code="I0", srv="7.6", pre_command=b"x" * 200
        )
        dcc_verifier.verify(dcc.sign(ack))
        send = documents.signed_pre_command(request_id=rid, srv="7.6", command_variant=5, gbcs_payload=b"x" * 265)
        user_verifier.verify(user.sign(send))
        ack5 = documents.build_response(
            request_id=str(rid), response_id=rid.response_id(), response_code="I0", srv="7.6"
        )
        dcc_verifier.verify(dcc.sign(ack5))
    return count / (time.perf_counter() - started)


def flow(
    user: DuisSigner,
    gbcs_signer: GbcsSigner,
    gbcs_ka_cert,
    dcc: DuisSigner,
    count: int,
    concurrency: int,
    schema: SchemaValidator,
) -> float:
    targets = [f"00-DB-12-34-56-78-{i // 256:02X}-{i % 256:02X}" for i in range(count)]
    simulator = DccSimulator(
        dcc_signer=dcc,
        users=[
            SimulatedUser(
                eui64=ORIGINATOR, xml_certs=(user.cert,), gbcs_cert=gbcs_signer.cert, gbcs_ka_cert=gbcs_ka_cert
            )
        ],
        callback_url=None,  # device responses are kept in memory: this measures acknowledgements
        devices=[SimulatedDevice(eui64=t) for t in targets],
        schema=schema,
        latency_s=(0.0, 0.0),
    ).start()
    counters = InMemoryCounterSource()
    clients = [
        DccClient(
            simulator.url,
            user,
            DuisVerifier.trusting(dcc.cert),
            gbcs_signer=gbcs_signer,
            originator=ORIGINATOR,
            counters=counters,
            schema=schema,
        )
        for _ in range(concurrency)
    ]
    try:
        clients[0].deactivate_auxiliary_load(target=targets[0], index=1, duration_minutes=30)  # warm-up
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = list(
                pool.map(
                    lambda i: clients[i % concurrency].deactivate_auxiliary_load(
                        target=targets[i], index=1, duration_minutes=30
                    ),
                    range(1, count),
                )
            )
        elapsed = time.perf_counter() - started
    finally:
        simulator.stop()
    assert all(o.acknowledgement.response_code == "I0" for o in outcomes)
    return len(outcomes) / elapsed


def gbcs_rate(user_gbcs: GbcsSigner, count: int) -> float:
    """GBCS work per 7.6, per second: pre-command built, checked and signed; the meter's
    signed answer built and authenticated (ECDSA P-256 four times, no XML, no HTTP)."""
    device_key = ec.generate_private_key(ec.SECP256R1())
    device_cert = certificate_make(eui64=TARGET, usage="DS", key=device_key, device=True)
    started = time.perf_counter()
    for counter in range(count):
        asked = gbcs.Ecs47Request(
            service="7.6", originator=ORIGINATOR, device=TARGET, counter=counter, switch_index=1, duration_minutes=30
        )
        user_gbcs.sign_pre_command(gbcs.pre_command_build(asked), asked)
        answer = gbcs.ecs47_response_build(
            service="7.6", originator=ORIGINATOR, device=TARGET, counter=counter, device_ds_private_key=device_key
        )
        gbcs.authenticate_response(answer, device_ds_key=device_cert)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--schema", help="also validate every document against this DUIS XSD")
    args = parser.parse_args()
    user = DuisSigner.from_pem(*generate_identity("U1"))
    gbcs_signer = GbcsSigner.from_pem(*gbcs_identity_make(eui64=ORIGINATOR, usage="DS", device=False))
    _ka_key, ka_cert = gbcs_identity_make(eui64=ORIGINATOR, usage="KA", device=False)
    dcc = DuisSigner.from_pem(*generate_identity("Z1"))
    schema = SchemaValidator(args.schema)
    # The baseline runs before and after the flow (the mean is used) so that load from
    # elsewhere on the machine hits both sides of the ratio alike.
    before = raw_baseline(user, dcc, args.requests // 2)
    rate = flow(user, gbcs_signer, load_certificate(ka_cert), dcc, args.requests, args.concurrency, schema)
    gbcs_per_s = gbcs_rate(gbcs_signer, args.requests)
    baseline = (before + raw_baseline(user, dcc, args.requests // 2)) / 2
    print(f"machine: {machine()}")
    print(
        f"7.6 via CV4->CV5 acknowledged: {rate:.1f}/s (concurrency {args.concurrency}, schema {'on' if args.schema else 'off'})"
    )
    print(f"raw signxml sign+verify of the same 4 documents (one thread): {baseline:.1f} requests/s")
    print(f"ratio flow/raw: {rate / baseline:.2f}")
    print(
        f"real GBCS per 7.6 (pre-command checked+signed, answer signed+authenticated): {gbcs_per_s:.1f}/s, "
        f"{1000 / gbcs_per_s:.2f} ms, {baseline / gbcs_per_s:.2f} of the XML signature baseline's cost"
    )


if __name__ == "__main__":
    main()
