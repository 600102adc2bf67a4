"""One id for everything one request or task does, so its audit entries read together."""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("dnoctl_request_id", default=None)


def request_id_get() -> str | None:
    return _request_id.get()


def request_id_new() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def request_id_bound(value: str) -> Iterator[str]:
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    """Binds a new request id (a client's header is not trusted into the audit trail)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with request_id_bound(request_id_new()) as request_id:
            request.request_id = request_id
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


# Celery: a task's id is its request id. The tokens to restore are kept per task id, since
# prerun and postrun are separate signals.
_task_tokens: dict[str, contextvars.Token] = {}


def task_request_id_bind(task_id: str | None = None, task=None, **kwargs) -> None:
    """Bind the task's id, unless it runs eagerly inside its caller, whose id then stands."""
    if task_id is None or (task is not None and getattr(task.request, "is_eager", False)):
        return
    _task_tokens[task_id] = _request_id.set(task_id)


def task_request_id_unbind(task_id: str | None = None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        _request_id.reset(token)
