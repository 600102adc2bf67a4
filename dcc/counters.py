"""RequestID counters kept in the database, given to the DUIS client as its counter source."""

from __future__ import annotations

import time

from django.db import connection

from dcc import dialect
from dcc.models import DccRequestCounter


class DbCounterSource:
    """RequestID counters: max(last + 1, the millisecond clock), by one atomic ``UPDATE ...
    RETURNING``.

    The clock keeps us ahead of other signers for the same originator and of a wiped database,
    either of which the DCC would refuse as replays. A rollback reissues a value, harmless because
    nothing is sent inside a transaction.
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
