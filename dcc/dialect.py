"""Where the dcc app's SQL differs between PostgreSQL and SQLite (the embedded demo).

On PostgreSQL a request's state move and its history rows are one data-modifying statement, atomic
by itself, on the path every charger's command takes. Functions only PostgreSQL can do in one
statement return None elsewhere, and the caller takes its portable path under a row lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from dcc.choices import ServiceRequestState as State
from dcc.models import ServiceRequest, ServiceRequestTransition

HISTORY_COLUMNS = "(service_request_id, at, from_state, to_state, detail)"


def postgresql() -> bool:
    return connection.vendor == "postgresql"


def larger_of() -> str:
    """The SQL function for the larger of two values (SQLite's is a two-argument MAX)."""
    return "GREATEST" if postgresql() else "MAX"


def _tables() -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(ServiceRequest._meta.db_table), quote(ServiceRequestTransition._meta.db_table)


def history_insert(notes: list[tuple[int, dt.datetime, str]], *, heartbeat_id: int | None = None) -> None:
    """Document rows in the history, each stamped with its request's current state; ``heartbeat_id``
    also renews that request's claim."""
    if heartbeat_id is not None and (not notes or not postgresql()):
        ServiceRequest.objects.filter(pk=heartbeat_id, state=State.SENT).update(sent_at=timezone.now())
        heartbeat_id = None
    if not notes:
        return
    requests_table, history = _tables()
    one = f"SELECT id, %s, state, state, %s FROM {requests_table} WHERE id = %s"  # noqa: S608 - table name from model meta
    prefix, params = "", []
    if heartbeat_id is not None:
        prefix = f"WITH heartbeat AS (UPDATE {requests_table} SET sent_at = %s WHERE id = %s AND state = %s) "  # noqa: S608
        params += [connection.ops.adapt_datetimefield_value(timezone.now()), heartbeat_id, State.SENT]
    for service_request_id, at, detail in notes:
        params += [connection.ops.adapt_datetimefield_value(at), detail, service_request_id]
    with connection.cursor() as cursor:
        cursor.execute(
            f"{prefix}INSERT INTO {history} {HISTORY_COLUMNS} " + " UNION ALL ".join([one] * len(notes)),
            params,
        )


def request_insert(service_request: ServiceRequest, *, detail: str) -> None:
    """Store a new request with its ``built`` history row (no savepoint: an error rolls the caller back too)."""
    if not postgresql():
        with transaction.atomic(savepoint=False):
            service_request.save(force_insert=True)
            ServiceRequestTransition.objects.create(
                service_request_id=service_request.pk,
                at=timezone.now(),
                from_state="",
                to_state=State.BUILT,
                detail=detail,
            )
        return
    requests_table, history = _tables()
    fields = [field for field in ServiceRequest._meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(service_request, add=True), connection) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = (
        f"WITH created AS (INSERT INTO {requests_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - names from model meta
        f" RETURNING id, created_at),"
        f" noted AS (INSERT INTO {history} {HISTORY_COLUMNS} SELECT id, created_at, '', %s, %s FROM created)"
        f" SELECT id FROM created"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, State.BUILT, detail])
        service_request.pk = cursor.fetchone()[0]
    service_request._state.adding = False
    service_request._state.db = connection.alias


def request_claim_built(service_request_id: int, *, now: dt.datetime) -> ServiceRequest | None:
    """Compare-and-set ``built`` -> ``sent`` with its history row; None when not ``built`` or not PostgreSQL."""
    if not postgresql():
        return None
    requests_table, history = _tables()
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (
        f"WITH claimed AS (UPDATE {requests_table} SET state = %s, attempts = attempts + 1, sent_at = %s"  # noqa: S608 - table names from model meta
        f" WHERE id = %s AND state = %s RETURNING *),"
        f" noted AS (INSERT INTO {history} {HISTORY_COLUMNS}"
        f" SELECT id, %s, %s, %s, 'sending (attempt ' || attempts || ')' FROM claimed)"
        f" SELECT * FROM claimed"
    )
    params = [State.SENT, at, service_request_id, State.BUILT, at, State.BUILT, State.SENT]
    rows = list(ServiceRequest.objects.raw(sql, params))
    return rows[0] if rows else None


def request_move(
    service_request_id: int,
    *,
    from_state: str,
    to_state: str,
    detail: str,
    documents_first: list[tuple[int, dt.datetime, str]],
    fields: dict[str, Any],
) -> bool | None:
    """Compare-and-set with history rows in one statement: whether it moved, None when that cannot be one statement."""
    if not postgresql() or connection.in_atomic_block:
        return None
    requests_table, history = _tables()
    quote = connection.ops.quote_name
    assignments, values = ["state = %s"], [to_state]
    for name, value in fields.items():
        field = ServiceRequest._meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        values.append(field.get_db_prep_save(value, connection))
    rows = [(at, from_state, from_state, text) for _pk, at, text in documents_first]
    rows.append((timezone.now(), from_state, to_state, detail))
    selects = " UNION ALL ".join(["SELECT id, %s, %s, %s, %s FROM moved"] * len(rows))
    sql = (
        f"WITH moved AS (UPDATE {requests_table} SET {', '.join(assignments)}"  # noqa: S608 - names from model meta
        f" WHERE id = %s AND state = %s RETURNING id)"
        f" INSERT INTO {history} {HISTORY_COLUMNS} {selects}"
    )
    params = [*values, service_request_id, from_state]
    for at, old, new, text in rows:
        params += [connection.ops.adapt_datetimefield_value(at), old, new, text]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0
