"""Views and APIs hold no ORM queries: they read through their app's selectors and write
through its services (issue 18). Every view and API module is parsed, not imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "accounts", "feeders", "dcc", "consent", "curtailment", "reports", "dnoctl")
# Queryset calls that can only mean a query built in the view.
QUERYSET_CALLS = {
    "filter",
    "exclude",
    "select_related",
    "prefetch_related",
    "annotate",
    "aggregate",
    "values_list",
    "select_for_update",
    "order_by",
}


def view_modules() -> list[Path]:
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and (path.stem == "api" or path.stem.endswith("views")):
                found.append(path)
    return sorted(found)


def queries_in(source: str) -> list[tuple[int, str]]:
    """(line, what) for each ``Model.objects`` and queryset call in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            found.append((node.lineno, f"{ast.unparse(node)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERYSET_CALLS:
            found.append((node.lineno, f".{node.func.attr}(...)"))
    return sorted(found)


def test_views_and_apis_hold_no_orm_queries():
    modules = view_modules()
    names = {path.relative_to(ROOT).as_posix() for path in modules}
    assert {"curtailment/openadr/api.py", "curtailment/feeder_views.py", "dnoctl/alarm_views.py"} <= names
    found = [
        f"{path.relative_to(ROOT)}:{line} {what}" for path in modules for line, what in queries_in(path.read_text())
    ]
    assert found == []


def test_a_query_in_a_view_is_found_with_its_line():
    source = "def page(request):\n    rows = Event.objects.all()\n    return rows.filter(open=True)\n"

    assert queries_in(source) == [(2, "Event.objects"), (3, ".filter(...)")]
