# ruff: noqa: S608 - SQL built only from constant table names and a validated one-hex-digit prefix.
"""A synthetic, compliant curtailment history of any size, inserted by PostgreSQL itself: for
the report's memory test and benchmark, never for real data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction

from consent.models import HCALCS, MPAN, Meter, Premise
from curtailment.models import CurtailmentAction, CurtailmentEvent
from feeders.models import Feeder, Substation


@dataclass(frozen=True)
class SyntheticHistory:
    prefix: str  # distinguishes several histories in one database ("A", "B", ...; 1 hex digit)
    first_day: dt.date
    feeders: int
    chargers_per_feeder: int
    events_per_feeder: int
    actions_per_event: int
    days: int = 365

    @property
    def actions(self) -> int:
        return self.feeders * self.events_per_feeder * self.actions_per_event

    @property
    def events(self) -> int:
        return self.feeders * self.events_per_feeder


def _base(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return cursor.fetchone()[0]


def _eui64(expr: str) -> str:
    parts = [f"substr({expr}, {i}, 2)" for i in range(1, 17, 2)]
    return " || '-' || ".join(parts)


def synthetic_history_insert(history: SyntheticHistory) -> None:
    """Insert the history in one transaction, with explicit ids (sequences moved past)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the synthetic history generator needs PostgreSQL")
    if not (len(history.prefix) == 1 and history.prefix in "0123456789ABCDEF"):
        raise ValueError("prefix must be one hex digit")
    if history.actions_per_event > history.chargers_per_feeder:
        raise ValueError("actions_per_event cannot exceed chargers_per_feeder (one action per charger per event)")
    tables = {
        "substation": Substation._meta.db_table,
        "feeder": Feeder._meta.db_table,
        "premise": Premise._meta.db_table,
        "meter": Meter._meta.db_table,
        "mpan": MPAN._meta.db_table,
        "hcalcs": HCALCS._meta.db_table,
        "event": CurtailmentEvent._meta.db_table,
        "action": CurtailmentAction._meta.db_table,
    }
    p = history.prefix
    F, C, E, A = history.feeders, history.chargers_per_feeder, history.events_per_feeder, history.actions_per_event
    start = dt.datetime.combine(history.first_day, dt.time(16, 0), tzinfo=dt.UTC)
    # Events are spread over the first ``days - 1`` days (each feeder staggered by up to 7 h)
    # so every one starts inside the year that begins on ``first_day``.
    spacing_s = (history.days - 1) * 86400 // E
    with transaction.atomic(), connection.cursor() as cursor:
        bases = {name: _base(table) for name, table in tables.items() if name != "action"}
        params = {
            "F": F,
            "C": C,
            "E": E,
            "A": A,
            "start": start,
            "spacing": dt.timedelta(seconds=spacing_s),
            **{f"{name}_base": base for name, base in bases.items()},
        }
        cursor.execute(
            f"""INSERT INTO {tables["substation"]} (id, code, name, latitude, longitude, licence_area)
            SELECT %(substation_base)s + i + 1, 'SYN{p}-S' || i, 'Synthetic substation ' || i, 52.5, -1.9,
                   (ARRAY['west_midlands', 'london', 'yorkshire', 'south_wales'])[1 + i %% 4]
            FROM generate_series(0, (%(F)s - 1) / 10) i""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO {tables["feeder"]} (id, code, substation_id, phases, rating_amps, nominal_voltage,
                at_risk_percent, clear_percent, high_risk, automatic_curtailment, monitor_device_id, status,
                managed_since)
            SELECT %(feeder_base)s + f + 1, 'SYN{p}-F' || f, %(substation_base)s + f / 10 + 1, 3, 400, 230, 90, 80,
                   true, true, NULL, 'normal', (%(start)s::date - (f %% 24) * interval '1 month')::date
            FROM generate_series(0, %(F)s - 1) f""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO {tables["premise"]} (id, reference, address, postcode, domestic, feeder_id)
            SELECT %(premise_base)s + i + 1, 'SYN{p}-P' || i, i || ' Synthetic Street', 'B15 2TT', true,
                   %(feeder_base)s + i / %(C)s + 1
            FROM generate_series(0, %(F)s * %(C)s - 1) i""",
            params,
        )
        meter_hex = f"'{p}1' || lpad(upper(to_hex(i)), 14, '0')"
        cursor.execute(
            f"""INSERT INTO {tables["meter"]} (id, esme_eui64, premise_id, element_type, comms_hub_type,
                firmware_version, supports_eno_use_cases)
            SELECT %(meter_base)s + i + 1, {_eui64(meter_hex)}, %(premise_base)s + i + 1, 'single',
                   'smets2_dual_band', '4.2.0', true
            FROM generate_series(0, %(F)s * %(C)s - 1) i""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO {tables["mpan"]} (id, core, meter_id, role)
            SELECT %(mpan_base)s + i + 1, '19{p.translate(str.maketrans("ABCDEF", "012345"))}' || lpad(i::text, 10, '0'),
                   %(meter_base)s + i + 1, 'import_primary'
            FROM generate_series(0, %(F)s * %(C)s - 1) i""",
            params,
        )
        hcalcs_hex = f"'{p}2' || lpad(upper(to_hex(i)), 14, '0')"
        cursor.execute(
            f"""INSERT INTO {tables["hcalcs"]} (id, eui64, meter_id, switch_index, label, rated_kw, on_boost_button)
            SELECT %(hcalcs_base)s + i + 1, {_eui64(hcalcs_hex)}, %(meter_base)s + i + 1, 1, 'ev_charger', 7.0, true
            FROM generate_series(0, %(F)s * %(C)s - 1) i""",
            params,
        )
        cursor.execute(
            f"""INSERT INTO {tables["event"]} (id, feeder_id, trigger, status, started_at, planned_end_at, ended_at,
                end_reason, required_reduction_kw, asp_calloff_kw, reason, decision)
            SELECT %(event_base)s + f * %(E)s + k + 1, %(feeder_base)s + f + 1,
                   (ARRAY['automatic', 'automatic', 'automatic', 'manual', 'external'])[1 + (f + k) %% 5], 'ended',
                   st, st + interval '75 minutes', st + interval '75 minutes', 'duration', 50, 0, '', '{{}}'
            FROM generate_series(0, %(F)s - 1) f, generate_series(0, %(E)s - 1) k,
                 LATERAL (SELECT %(start)s::timestamptz + k * %(spacing)s + (f %% 60) * interval '7 minutes' AS st) t""",
            params,
        )
        # Minutes 15-60; every 37th action overridden at half time, every 53rd late, every
        # 101st failed.
        cursor.execute(
            f"""INSERT INTO {tables["action"]} (event_id, hcalcs_id, mpan_id, status, planned_minutes, expected_kw,
                use_local_delivery, started_at, expected_end_at, confirmed_at, ended_at, end_reason, selection)
            SELECT %(event_base)s + f * %(E)s + k + 1,
                   %(hcalcs_base)s + f * %(C)s + (k * %(A)s + j) %% %(C)s + 1,
                   NULL,
                   CASE WHEN n %% 101 = 0 THEN 'failed' ELSE 'ended' END,
                   m, 7.0, false, st, st + m * interval '1 minute',
                   CASE WHEN n %% 101 = 0 THEN NULL
                        WHEN n %% 53 = 0 THEN st + interval '50 seconds'
                        ELSE st + interval '4 seconds' END,
                   CASE WHEN n %% 37 = 0 THEN st + (m / 2) * interval '1 minute'
                        WHEN n %% 101 = 0 THEN st
                        ELSE st + m * interval '1 minute' END,
                   CASE WHEN n %% 37 = 0 THEN 'override' WHEN n %% 101 = 0 THEN 'failed' ELSE 'duration' END,
                   '{{}}'
            FROM generate_series(0, %(F)s - 1) f, generate_series(0, %(E)s - 1) k, generate_series(0, %(A)s - 1) j,
                 LATERAL (SELECT (f * %(E)s + k) * %(A)s + j AS n,
                                 15 + (k * 7 + j * 13 + f) %% 46 AS m,
                                 %(start)s::timestamptz + k * %(spacing)s + (f %% 60) * interval '7 minutes'
                                     + (j %% 5) * interval '1 minute' AS st) t""",
            params,
        )
        for table in tables.values():
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM {table}))",
                [table],
            )
        for table in tables.values():
            cursor.execute(f"ANALYZE {table}")
