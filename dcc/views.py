"""The endpoint the DCC POSTs responses and alerts to. No session or CSRF: each document's XML
signature is verified before anything is read. Verified documents are stored and answered 200 (a
refusal would only make the DCC retry); 400 malformed, 403 unsigned or forged."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dcc.duis import DccDocumentError, DccSignatureError
from dcc.services import service_request_apply_response

logger = logging.getLogger(__name__)


@login_not_required  # authenticated by the DCC's signature on the document, not by a session
@csrf_exempt
@require_POST
def dcc_responses(request: HttpRequest) -> HttpResponse:
    """Receive one signed ``sr:Response`` (device response or alert)."""
    try:
        outcome = service_request_apply_response(document=request.body)
    except DccSignatureError as exc:
        logger.warning("DCC document refused (signature) from %s: %s", request.META.get("REMOTE_ADDR"), exc)
        return HttpResponse(f"refused: {exc}\n", status=403, content_type="text/plain")
    except DccDocumentError as exc:
        logger.warning("DCC document refused (malformed) from %s: %s", request.META.get("REMOTE_ADDR"), exc)
        return HttpResponse(f"refused: {exc}\n", status=400, content_type="text/plain")
    return HttpResponse(f"{outcome.status}\n", status=200, content_type="text/plain")
