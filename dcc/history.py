"""A service request's state history: its transitions and every document exchanged for it.

The DUIS client calls :class:`HistoryRecorder` before each document is POSTed and after
each answer is verified, so the history holds what was sent even if the worker dies mid-send.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dcc import dialect
from dcc.choices import ServiceRequestState as State
from dcc.duis import RequestId, documents
from dcc.duis.xmlsafe import parse_xml
from dcc.models import ServiceRequest, ServiceRequestTransition


def note(service_request_id: int, *, from_state: str, to_state: str, detail: str = "") -> None:
    ServiceRequestTransition.objects.create(
        service_request_id=service_request_id,
        at=timezone.now(),
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )


def note_document(service_request_id: int, *, detail: str) -> None:
    dialect.history_insert([(service_request_id, timezone.now(), detail)])


def request_id_of(document: bytes) -> str:
    root = parse_xml(document)
    return (root.findtext(f"{{{documents.SR_NS}}}Header/{{{documents.SR_NS}}}RequestID") or "").strip()


class HistoryRecorder:
    """Keeps every document sent and received in the history (and a local delivery's 8.13 as a child row)."""

    def __init__(self, service_request: ServiceRequest) -> None:
        self.service_request = service_request
        self.children: dict[str, ServiceRequest] = {}
        # The claim itself set ``sent_at`` just now: the first POST needs no heartbeat.
        self.claim_fresh = True
        # Acknowledgements of this request not yet written: each joins the next write (the
        # next document before it is POSTed, or the state move that ends the dispatch).
        self.pending: list[tuple[int, dt.datetime, str]] = []

    def __call__(self, stage: str, document: bytes) -> None:
        request_id = request_id_of(document)
        row = self.service_request
        note = (row.pk, timezone.now(), f"{stage}\n{document.decode()}")
        if request_id != row.request_id:
            row = self.children.get(request_id) or self._child(request_id, document)
            self.flush()
            note_document(row.pk, detail=note[2])
            return
        if stage.endswith("-ack"):
            self.pending.append(note)
            return
        # Heartbeat (not needed right after the claim): each POST renews the claim, so the
        # lease need only cover one POST. Written before the document is POSTed: a crash
        # after the POST still leaves it.
        dialect.history_insert([*self.take_pending(), note], heartbeat_id=None if self.claim_fresh else row.pk)
        self.claim_fresh = False

    def take_pending(self) -> list[tuple[int, dt.datetime, str]]:
        pending, self.pending = self.pending, []
        return pending

    def flush(self) -> None:
        dialect.history_insert(self.take_pending())

    def _child(self, request_id: str, document: bytes) -> ServiceRequest:
        rid = RequestId.parse(request_id)
        child = ServiceRequest.objects.create(
            request_id=request_id,
            srv="8.13",
            command_variant=8,
            originator_eui64=rid.originator,
            target_eui64=rid.target,
            counter=rid.counter,
            parent=self.service_request,
            action=self.service_request.action,
            state=State.SENT,
            request_document=document.decode(),
            attempts=1,
            sent_at=timezone.now(),
        )
        note(child.pk, from_state="", to_state=State.SENT, detail="return local command response")
        self.children[request_id] = child
        return child
