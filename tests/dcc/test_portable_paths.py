"""The embedded demo runs on SQLite, where ``dcc.dialect`` takes its portable paths (inserts
and state moves under a row lock, no data-modifying ``WITH``). These run the service-request
tests that cross every one of those paths again with the portable branches chosen, against
the harness database: the same assertions must hold on both."""

from __future__ import annotations

import datetime as dt

import pytest

from dcc import dialect
from tests.dcc import test_service_requests as on_postgresql


@pytest.fixture
def portable(monkeypatch):
    """The portable branches; ``larger_of`` stays the database's own SQL function, since the
    statements still run on the harness's PostgreSQL (SQLite's two-argument ``MAX`` is the one
    spelling not exercised here)."""
    monkeypatch.setattr(dialect, "postgresql", lambda: False)
    monkeypatch.setattr(dialect, "larger_of", lambda: "GREATEST")


@pytest.mark.django_db
def test_send_store_history_and_apply_the_response_once(
    portable, dcc_settings, simulator, receiver, client, django_capture_on_commit_callbacks
):
    on_postgresql.test_send_deactivate_stores_history_and_applies_the_device_response_once(
        dcc_settings, simulator, receiver, client, django_capture_on_commit_callbacks
    )


@pytest.mark.django_db
def test_retry_reuses_the_request_id_and_never_resends_after_ack(portable, dcc_settings, simulator):
    on_postgresql.test_retry_after_transport_failure_reuses_the_request_id_and_never_resends_after_ack(
        dcc_settings, simulator
    )


@pytest.mark.django_db
def test_a_request_in_flight_elsewhere_is_not_sent_again(portable, dcc_settings, simulator):
    on_postgresql.test_a_request_in_flight_elsewhere_is_not_sent_again(dcc_settings, simulator)


@pytest.mark.django_db
def test_responses_overtaking_the_acknowledgement_and_out_of_order(
    portable, dcc_settings, simulator, dcc_signer, client
):
    on_postgresql.test_response_overtaking_the_acknowledgement_and_out_of_order_responses(
        dcc_settings, simulator, dcc_signer, client
    )


def test_the_portable_branches_are_the_ones_taken(portable, monkeypatch):
    """Guards the guard: with the portable branches chosen, the one-statement functions
    decline, so the tests above really ran the row-lock paths."""
    now = dt.datetime.now(dt.UTC)
    assert dialect.request_claim_built(1, now=now) is None
    assert (
        dialect.request_move(1, from_state="built", to_state="sent", detail="", documents_first=[], fields={}) is None
    )
