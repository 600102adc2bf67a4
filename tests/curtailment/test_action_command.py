"""The one retry policy every action's DCC command task shares (``curtailment.tasks._action_command``)."""

import pytest

from curtailment import tasks
from curtailment.services.action import ActionBusy


class _Retried(Exception):
    pass


class _Task:
    """Stands in for the bound Celery task: records how it would be re-queued."""

    def __init__(self):
        self.retries = []

    def retry(self, *, exc, args, kwargs, countdown, max_retries):
        self.retries.append((args, kwargs, countdown, max_retries))
        return _Retried()


def _raising(exc):
    def command(*, action_id, client):
        raise exc

    return command


@pytest.fixture(autouse=True)
def _no_client(monkeypatch):
    monkeypatch.setattr(tasks.dcc_config, "client_for_this_thread", lambda: None)


def test_a_busy_action_is_waited_for_without_using_a_dcc_retry():
    task = _Task()
    with pytest.raises(_Retried):
        tasks._action_command(task, _raising(ActionBusy("claimed")), 7, 2, gave_up=lambda exc: "no")
    [(args, kwargs, countdown, _)] = task.retries
    assert (args, kwargs) == ((7,), {"transient_tries": 2})
    assert 1.0 <= countdown < 2.0


def test_a_dcc_failure_is_retried_then_given_up_by_the_callers_rule():
    task = _Task()
    with pytest.raises(_Retried):
        tasks._action_command(task, _raising(tasks.DccTransientError("down")), 7, 0, gave_up=lambda exc: "no")
    assert task.retries[0][1] == {"transient_tries": 1}
    seen = []
    outcome = tasks._action_command(
        task,
        _raising(tasks.DccTransientError("down")),
        7,
        tasks.MAX_RETRIES,
        gave_up=lambda exc: seen.append(exc) or "gave up",
    )
    assert outcome == "gave up" and str(seen[0]) == "down"
    assert len(task.retries) == 1
