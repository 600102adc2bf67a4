"""Following an alert to its 7.6 and the device's answer through the code (issue 18): the
real services run (detection, the engine, the DCC integration against the DCC simulator,
``POST /dcc/responses/``) while a profiler records which project module each call enters.
No module is called back by one it called (each is visited once, as one stretch on the
stack); app by app the path is one stretch per app apart from the leaf helpers in
``SHARED`` and the returns in ``RETURNS``, each listed with why."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.urls import get_resolver
from django.utils import timezone

from curtailment.services import action_dispatch, event_open_for_alert
from feeders.services.detection import feeder_alert_raise_external
from tests.curtailment.helpers import automatic_feeder, reading

from .conftest import HCALCS, wait_until

pytestmark = pytest.mark.django_db

APPS = ("core", "accounts", "feeders", "dcc", "consent", "curtailment", "reports", "dnoctl")

# Modules every step may call and that return to their caller: they are not where the flow
# is, so they are left out of the path (each with why).
SHARED = {
    "core": "the audit trail, pushes, request ids and time helpers: leaf helpers of every app",
    "dnoctl": "the platform (queueing, broker, API base, middleware) and the request's way in",
    "feeders.selectors": "the engine reads the feeder's load through feeders' selectors",
    "feeders.models": "model methods, called by whoever holds a feeder",
    "feeders.services.feeder": "the engine marks the feeder curtailing through feeders' service",
    "feeders.events": "the push payloads of a feeder's status, built for that service",
    "consent": "the engine reads chargers and consent through consent's selectors",
}

# The returns the path does make, each with why; none is a module calling back into one
# it has left, so none is code to untangle.
RETURNS = {
    ("curtailment", "dcc", "curtailment"): (
        "the engine's dispatch calls dcc.services to send the 7.6 and, when that call returns,"
        " records the outcome on the action; the device's answer later reaches the engine through"
        " the handler it installed (dcc.services.handlers_install), as dcc may not import it"
    ),
    ("dcc", "curtailment", "dcc"): (
        "the device's answer is a new request (POST /dcc/responses/), after the dispatch has ended"
    ),
}


def _module(frame) -> str | None:
    name = frame.f_globals.get("__name__", "") if frame is not None else ""
    return name if name.split(".")[0] in APPS else None


def _project_stack(frame) -> list[str]:
    """The project modules on the call stack from ``frame`` down, each run of one module once."""
    stack: list[str] = []
    while frame is not None:
        module = _module(frame)
        if module is not None and (not stack or stack[-1] != module):
            stack.append(module)
        frame = frame.f_back
    return stack


@contextmanager
def modules_entered(callbacks: list[tuple[str, str, list[str]]] | None = None) -> Iterator[list[str]]:
    """The project modules the calls made in this thread enter, in order: a call counts
    when it comes from another module (or from outside the project), so a module's calls
    to itself do not, and returning to a caller is not an entry. ``callbacks`` collects
    each call into a module that is still further down the stack below another project
    module: a module called back by one it called (module, function, the stack between)."""
    path: list[str] = []

    def profile(frame, event, _arg):
        if event != "call" or frame.f_code.co_name == "<module>":  # an import, not the flow
            return
        module = _module(frame)
        if module is not None and module != _module(frame.f_back):
            path.append(module)
            if callbacks is not None:
                below = _project_stack(frame.f_back)
                if module in below[1:]:
                    callbacks.append((module, frame.f_code.co_name, below[: below.index(module, 1) + 1]))

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield path
    finally:
        sys.setprofile(previous)


def stretches(path: list[str]) -> list[str]:
    """The path with each run of one module collapsed to one entry."""
    return [module for index, module in enumerate(path) if index == 0 or path[index - 1] != module]


def reentered(path: list[str], *, shared: set[str]) -> dict[str, list[str]]:
    """Modules (other than ``shared``) entered again after the flow had moved on, each with
    the modules visited in between the first time it came back."""
    flow = stretches([module for module in path if module not in shared])
    found: dict[str, list[str]] = {}
    for index, module in enumerate(flow):
        if module in flow[:index] and module not in found:
            last = max(i for i in range(index) if flow[i] == module)
            found[module] = flow[last + 1 : index]
    return found


def shared(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in SHARED)


def app_path(path: list[str]) -> list[str]:
    """The apps the flow went through, in order, shared modules left out."""
    return stretches([module.split(".")[0] for module in path if not shared(module)])


def test_a_module_called_back_is_found(monkeypatch):
    # This test module and conftest stand in for two project modules: conftest's wait_until
    # calls back the predicate this module handed it.
    monkeypatch.setattr(sys.modules[__name__], "APPS", (*APPS, "tests"))
    callbacks: list[tuple[str, str, list[str]]] = []

    with modules_entered(callbacks):
        wait_until(lambda: True)

    assert [(module, function) for module, function, _ in callbacks] == [(__name__, "<lambda>")]
    assert callbacks[0][2] == ["tests.dcc.conftest", __name__]


def test_stretches_and_reentries_are_found():
    path = ["a", "a", "b", "c", "b", "z", "d"]

    assert stretches(path) == ["a", "b", "c", "b", "z", "d"]
    assert reentered(path, shared={"z"}) == {"b": ["c"]}


def test_an_alert_to_its_7_6_and_the_device_answer(
    dcc_settings, simulator, receiver, client, django_capture_on_commit_callbacks: Callable
):
    feeder, [charger] = automatic_feeder(chargers=1)
    charger.on_boost_button = True
    charger.save()
    charger.meter.esme_eui64 = HCALCS
    charger.meter.save()
    reading(feeder, percent=97, at=timezone.now())
    get_resolver().url_patterns  # noqa: B018 - the URLconf's imports (on the first request) are no step

    callbacks: list[tuple[str, str, list[str]]] = []
    with modules_entered(callbacks) as path:
        with django_capture_on_commit_callbacks(execute=True):
            result = feeder_alert_raise_external(
                feeder=feeder, raised_at=timezone.now(), reason="SCADA overload", source="scada", load_percent=97
            )
        event = event_open_for_alert(alert_id=result.alert.pk)
        [action] = event.actions.all()
        assert action_dispatch(action_id=action.pk) == "acknowledged"
        deactivate = action.service_requests.get(srv="7.6")
        [answer] = wait_until(
            lambda: [d for d in list(receiver.documents) if f">{deactivate.request_id}</sr:RequestID>".encode() in d]
        )
        with django_capture_on_commit_callbacks(execute=True):
            reply = client.post("/dcc/responses/", data=answer, content_type="application/xml")

    assert reply.content == b"applied\n"
    action.refresh_from_db()
    assert action.status == "confirmed"
    assert callbacks == []  # e.g. the DUIS client calling dcc.services' counter or recorder
    apps = app_path(path)
    assert apps == ["feeders", "curtailment", "dcc", "curtailment", "dcc", "curtailment"], apps
    reentries = reentered([module.split(".")[0] for module in path if not shared(module)], shared=set())
    assert {(app, *between, app) for app, between in reentries.items()} == set(RETURNS)
    # The steps, each where the layering puts it, in the order the flow takes them.
    steps = [
        "feeders.services.detection",  # the alert is raised
        "feeders.hooks",  # and announced
        "curtailment.services.handover",  # the engine queues its task
        "curtailment.services.event",  # which opens the event
        "curtailment.services.action",  # the action's dispatch
        "dcc.services",  # stores, builds and sends the 7.6
        "dcc.views",  # the device's answer is posted
        "curtailment.dcc_handlers",  # and applied by the engine's handler
    ]
    firsts = [path.index(step) for step in steps]
    assert firsts == sorted(firsts), [steps[i] for i in sorted(range(len(steps)), key=firsts.__getitem__)]
