"""The upload page's background job (progress in the cache) and the import's audit entry."""

from __future__ import annotations

from pathlib import Path

from django.core.cache import cache

from consent.importer.report import ImportReport
from consent.importer.run import premises_import_path
from core.audit import audit_record

PROGRESS_TIMEOUT_S = 24 * 3600


def import_progress_key(job_id: str) -> str:
    return f"consent:import:{job_id}"


def import_progress_get(job_id: str) -> dict | None:
    return cache.get(import_progress_key(job_id))


def import_progress_set(job_id: str, state: dict) -> None:
    cache.set(import_progress_key(job_id), state, PROGRESS_TIMEOUT_S)


def import_job_run(*, job_id: str, path: str, dry_run: bool, user_id: int | None) -> dict:
    from django.contrib.auth.models import User

    source = (import_progress_get(job_id) or {}).get("source", "")

    def progress(phase: str, fraction: float) -> None:
        state = {"phase": phase, "percent": _percent(phase, fraction), "report": None, "source": source}
        import_progress_set(job_id, state)

    file_path = Path(path)
    try:
        report = premises_import_path(path=file_path, dry_run=dry_run, progress=progress)
    finally:
        file_path.unlink(missing_ok=True)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    premises_import_audit(report=report, source=source or file_path.name, user=user, audit=audit_record)
    result = report.as_dict()
    final = {"phase": "done" if report.ok else "failed", "percent": 100, "report": result, "source": source}
    import_progress_set(job_id, final)
    return {"ok": report.ok, "rows": report.rows}


def _percent(phase: str, fraction: float) -> int:
    if phase == "validating":
        return int(fraction * 50)
    if phase == "writing":
        return 50 + int(fraction * 50)
    return 100


def premises_import_audit(*, report: ImportReport, source: str, user, audit=None) -> None:
    audit = audit or audit_record
    inputs = report.as_dict()
    inputs.pop("errors")
    inputs["source"] = source
    who = {"actor_user": user} if user is not None else {"rule": "import-command"}
    action = "premises.import" if report.ok else "premises.import_refused"
    audit(action=action, reason=f"premises register import of {report.rows} rows", inputs=inputs, **who)
