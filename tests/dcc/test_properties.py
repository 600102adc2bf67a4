"""Invariant 3 (DESIGN.md section 5) as a property: whatever mix of sends, transport
failures, retries and replays happens, the DCC accepts each (RequestID, CV) at most once,
accepted counters only go up per device, and a device acts at most once per accepted send."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcc.duis import DccError, RequestId
from dcc.simulator import DccSimulator, SimulatedDevice

from .conftest import client_for, simulated_user

DEVICES = ["00-DB-12-34-56-78-91-01", "00-DB-12-34-56-78-91-02"]

operation = st.one_of(
    st.tuples(st.just("send"), st.sampled_from(DEVICES), st.integers(1, 3)),
    st.tuples(st.just("outage"), st.integers(1, 4)),  # the next N POSTs get 503
    st.tuples(st.just("retry_last"), st.integers(1, 3)),  # same RequestID, maybe other content
    st.tuples(st.just("replay_old"), st.integers(0, 5)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_requests_are_processed_at_most_once_and_counters_never_go_back(
    operations, user_signer, user_gbcs_signer, user_gbcs_ka, dcc_signer
):
    sim = DccSimulator(
        dcc_signer=dcc_signer,
        users=[simulated_user(user_signer, user_gbcs_signer, user_gbcs_ka)],
        devices=[SimulatedDevice(eui64=d, switch_indexes=(1, 2, 3)) for d in DEVICES],
        latency_s=(0.0, 0.0),
    ).start()
    client = client_for(sim.url, user_signer, dcc_signer, user_gbcs_signer, max_attempts=2, backoff_s=0.0)
    issued: list[RequestId] = []
    try:
        for op in operations:
            try:
                if op[0] == "send":
                    rid = client.new_request_id(op[1])
                    issued.append(rid)
                    client.deactivate_auxiliary_load(target=op[1], index=op[2], duration_minutes=10, request_id=rid)
                elif op[0] == "outage":
                    sim.faults.http_503 = op[1]
                elif op[0] == "retry_last" and issued:
                    client.deactivate_auxiliary_load(
                        target=issued[-1].target, index=op[1], duration_minutes=10, request_id=issued[-1]
                    )
                elif op[0] == "replay_old" and issued:
                    old = issued[min(op[1], len(issued) - 1)]
                    client.reset_auxiliary_load(target=old.target, index=1, request_id=old)
            except DccError:
                pass  # refusals and outages are expected; the invariants below must hold anyway
        sim.faults.http_503 = 0
        received = list(sim.received)
        states = {d: sim.device_state(d) for d in DEVICES}
    finally:
        sim.stop()

    # Accepted at most once; reusing a RequestID for other content is refused (E-code).
    assert all(n == 1 for n in Counter((rid, cv) for rid, cv, code in received if code == "I0").values())
    accepted_transforms = [RequestId.parse(rid) for rid, cv, code in received if cv == 4 and code == "I0"]
    for device in DEVICES:
        counters = [r.counter for r in accepted_transforms if r.target == device]
        assert counters == sorted(counters) and len(set(counters)) == len(counters)
        executed_sends = {rid for rid, cv, code in received if cv == 5 and code == "I0" and f":{device}:" in rid}
        # Device responses run on the simulator's delivery thread; stop() may have cut the
        # last one short, so a device has acted at most once per accepted send.
        assert states[device]["commands_executed"] <= len(executed_sends)
