"""RequestID counters kept in the database, given to the DUIS client as its counter source."""

from __future__ import annotations

import time

from django.db import connection

from dcc import dialect
from dcc.models import DccRequestCounter


class DbCounterSource:
    """RequestID counters in ``DccRequestCounter``: each is max(last + 1, the millisecond
    clock), advanced by one atomic ``UPDATE ... RETURNING`` so concurrent threads and
    processes never share or reuse a value.

    Why the clock: the DCC's own tools number requests by the millisecond clock. A counter
    that only added 1 would fall behind any other signer for the same originator (an
    engineer with DCC Boxed's tool), and the DCC would then refuse ours as replays; it also
    moves on past everything the DCC has seen after a wiped database. Inside a caller's
    transaction the counter row stays locked until it commits, and a rollback hands the value
    out again: harmless only because nothing is ever *sent* inside one
    (``service_request_dispatch`` runs in autocommit).
    """

    def next_counter(self, originator: str) -> int:
        table = connection.ops.quote_name(DccRequestCounter._meta.db_table)
        larger = dialect.larger_of()
        advance = f"UPDATE {table} SET value = {larger}(value + 1, %s) WHERE originator_eui64 = %s RETURNING value"  # noqa: S608 - names from model meta
        with connection.cursor() as cursor:
            cursor.execute(advance, [_now_ms(), originator])
            row = cursor.fetchone()
            if row is None:
                cursor.execute(
                    f"INSERT INTO {table} (originator_eui64, value) VALUES (%s, %s) ON CONFLICT (originator_eui64) DO NOTHING",  # noqa: S608
                    [originator, 0],
                )
                cursor.execute(advance, [_now_ms(), originator])
                row = cursor.fetchone()
        return int(row[0])


def _now_ms() -> int:
    return int(time.time() * 1000)
