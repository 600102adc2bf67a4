"""Logging filters used by ``settings.LOGGING``."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keep the one-line record of a 4xx response but drop its traceback.

    Django logs a ``PermissionDenied`` (403) or a ``SuspiciousOperation`` (400) with the
    exception attached, so every refused request printed a traceback as if the server had
    failed. A 4xx is the client's mistake and the line says which; 5xx keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
