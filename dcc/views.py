"""The endpoint the DCC (or its simulator) POSTs device responses and alerts to.

No session, no CSRF token: the DCC authenticates each document with its XML signature,
which :func:`~dcc.services.service_request_apply_response` verifies before reading
anything. Every document that verifies is stored and answered 200 with what was done
(applied, duplicate, ignored, alert, logged, unknown_request): a refusal would only make the
DCC retry. 400 malformed or hostile XML; 403 unsigned or forged. Refusals are logged and
change nothing.
"""

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
