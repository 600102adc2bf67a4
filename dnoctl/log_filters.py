from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keep the line of a 4xx response but drop its traceback: Django attaches the exception, so
    a refused request looked like a server failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
