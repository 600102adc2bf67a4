"""Dependencies run one way: core <- accounts <- feeders <- dcc <- consent <- curtailment <-
reports, with the project package ``dnoctl`` on top (docs/architecture.md).

Every module of every app is parsed (not imported), so an import hidden inside a function
counts as much as one at the top, and so does a Celery task named by a string
(``send_task("curtailment.tasks...")``) or a module named to ``import_module``. Migrations
are left out: a state-only move between apps needs a dependency on the app it came from.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = ["core", "accounts", "feeders", "dcc", "consent", "curtailment", "reports"]
RANK = {app: rank for rank, app in enumerate(LAYERS)}
PROJECT = "dnoctl"

# The project's platform modules: infrastructure that every app may use, which imports
# only core and other platform modules. The rest of ``dnoctl`` (settings, URLs, the
# cross-app pages, the demo) sits on top and no app may import it.
PLATFORM = {
    "dnoctl.api_base",
    "dnoctl.api_errors",
    "dnoctl.broker",
    "dnoctl.celery",
    "dnoctl.charts",
    "dnoctl.csp",
    "dnoctl.csv_safety",
    "dnoctl.liveness",
    "dnoctl.log_filters",
    "dnoctl.middleware",
    "dnoctl.pg",
    "dnoctl.queueing",
    "dnoctl.staticfiles",
}

TASK_NAME = re.compile(rf"^({'|'.join(LAYERS)})\.[a-z_.]*tasks?\.[a-z_]+$")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} ({self.why})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _platform_module(name: str) -> str | None:
    for module in PLATFORM:
        if name == module or name.startswith(module + "."):
            return module
    return None


def _layer(module: str) -> str:
    """``core``..``reports``, ``platform`` for dnoctl's platform modules, ``project`` for
    the rest of dnoctl."""
    top = module.split(".")[0]
    if top in RANK:
        return top
    return "platform" if _platform_module(module) else "project"


def _allowed(importer: str, imported: str) -> str | None:
    """None when ``importer`` may import ``imported``; otherwise why not."""
    source, target = _layer(importer), _layer(imported)
    if source == "project" or source == target:
        return None
    if target == "project":
        return f"{imported} is the project package above every app"
    if source == "core":
        return f"core is the bottom layer and imports no other app ({imported})"
    if target == "platform":
        return None
    if source == "platform":
        return None if target == "core" else f"a platform module imports only core and the platform ({imported})"
    if RANK[target] > RANK[source]:
        return f"{target} is above {source}"
    return None


def _project_module(name: str) -> bool:
    return name.split(".")[0] in RANK or name.split(".")[0] == PROJECT


def violations_in(source: str, *, module: str, path: str) -> list[Violation]:
    """Every import (anywhere in the file) and string task or module name in ``source``
    that points from ``module`` to a layer above it."""
    found: list[Violation] = []

    seen: set[tuple[int, str]] = set()

    def check(line: int, imported: str, what: str) -> None:
        if _project_module(imported) and (line, imported) not in seen:
            why = _allowed(module, imported)
            if why:
                seen.add((line, imported))
                found.append(Violation(path, line, what, why))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(node.lineno, alias.name, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                # ``from curtailment import tasks`` imports the module curtailment.tasks
                check(node.lineno, f"{node.module}.{alias.name}", f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0] if node.args else None
            named = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if name in ("send_task", "import_module") and named:
                imported = first.value.rsplit(".", 1)[0] if name == "send_task" else first.value
                check(node.lineno, imported, f"{name}({first.value!r})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and TASK_NAME.match(node.value):
            check(node.lineno, node.value.rsplit(".", 1)[0], f"task name {node.value!r}")
    found.sort(key=lambda violation: violation.line)
    return found


def hidden_imports_in(source: str, *, module: str, path: str) -> list[Violation]:
    """Imports of another app made inside a function: they hid the cycles this layering
    removed. ``AppConfig.ready()`` is the exception (models are not loaded before it)."""
    app = module.split(".")[0]
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) or function.name == "ready":
            continue
        for node in ast.walk(function):
            imported = node.module if isinstance(node, ast.ImportFrom) and node.level == 0 else None
            if imported and imported.split(".")[0] in RANK and imported.split(".")[0] != app:
                names = ", ".join(alias.name for alias in node.names)
                why = "a cross-app import inside a function: import it at the top"
                found.append(Violation(path, node.lineno, f"from {imported} import {names}", why))
    return found


def _modules() -> list[Path]:
    files = []
    for package in [*LAYERS, PROJECT]:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def test_no_app_imports_one_above_it():
    found: list[Violation] = []
    for path in _modules():
        found += violations_in(path.read_text(), module=_module_name(path), path=str(path.relative_to(ROOT)))
    assert not found, "imports against the layering:\n" + "\n".join(map(str, found))


def test_no_app_hides_an_import_of_another_inside_a_function():
    found: list[Violation] = []
    for path in _modules():
        module = _module_name(path)
        if _layer(module) in RANK:
            found += hidden_imports_in(path.read_text(), module=module, path=str(path.relative_to(ROOT)))
    assert not found, "imports hidden in functions:\n" + "\n".join(map(str, found))


def test_a_hidden_import_is_found_but_not_in_ready():
    source = (
        "class C:\n    def ready(self):\n        from feeders.hooks import engine_hooks_install\n\n\n"
        "def f():\n    from feeders.selectors import feeder_load_now\n"
    )

    (violation,) = hidden_imports_in(source, module="curtailment.services.x", path="x.py")

    assert violation.line == 7


def test_every_app_is_walked():
    walked = {_module_name(path).split(".")[0] for path in _modules()}

    assert walked == {*LAYERS, PROJECT}


def test_an_upward_import_inside_a_function_is_found_with_its_line():
    source = "import datetime\n\n\ndef f():\n    from curtailment.models import CurtailmentEvent\n"

    (violation,) = violations_in(source, module="feeders.services.detection", path="feeders/services/detection.py")

    assert str(violation) == (
        "feeders/services/detection.py:5: from curtailment.models import CurtailmentEvent "
        "(curtailment is above feeders)"
    )


def test_a_task_named_by_string_is_an_import():
    source = 'from celery import current_app\ncurrent_app.send_task("curtailment.tasks.event_open_for_alert")\n'

    found = violations_in(source, module="feeders.services.detection", path="x.py")

    assert [v.why for v in found] == ["curtailment is above feeders"]


def test_the_project_package_is_off_limits_but_its_platform_is_not():
    source = "from dnoctl.queueing import task_send\nfrom dnoctl import views\nfrom dnoctl.views import overview\n"

    found = violations_in(source, module="feeders.urls", path="feeders/urls.py")

    assert [v.line for v in found] == [2, 3]


def test_downward_imports_pass():
    source = "from core.audit import audit_record\nfrom feeders.models import Feeder\nfrom consent import hooks\n"

    assert violations_in(source, module="curtailment.services.event", path="x.py") == []


def test_core_imports_no_other_app():
    found = violations_in("from dnoctl.queueing import task_send\n", module="core.audit", path="core/audit.py")

    assert len(found) == 1
