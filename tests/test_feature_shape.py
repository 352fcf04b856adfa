"""Every feature has the same shape (docs/architecture.md, "Checklist: add a feature").

A package whose API blueprint the app registers is a feature, unless NOT_FEATURES says why not;
each feature must have its checklist's parts: wiring.py (the only module that builds its
services from the app), models.py holding every model of the feature, a migration creating its
tables, routes.py and schemas.py, a page registered, its live events sent from live.py, and its
periodic jobs declared under its name. Nothing but the app factory imports a route module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from syncapp.extensions import db
from syncapp.scheduler import JOBS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "syncapp"

#: each feature and the endpoint of its page (a settings page for stored remotes)
FEATURES = {
    "backups": "web.backups_page",
    "cordiax": "web.cordiax_page",
    "documents": "web.documents_page",
    "syncs": "web.syncs_page",
    "cloud": "web.cloud_page",
    "restic": "web.restic_page",
    "remotes": "settings.remotes",
    "scrub": "web.scrub_page",
    "alerts": "web.alerts_page",
    "notifications": "settings.notifications",
}
#: packages that register blueprints but are not feature slices
NOT_FEATURES = {
    "auth": "users and tokens: the shared services (security, tenancy, quotas) build on it",
    "monitoring": "reports on the features (health, status, metrics); no tables of its own",
    "web": "the pages' blueprint, the settings pages and the dashboard API",
}
PARTS = ("__init__.py", "wiring.py", "models.py", "routes.py", "schemas.py")

#: feature modules other than wiring.py that still read `current_app`: settings read by services
#: that wiring.py itself imports (folders, targets), signed links' key, and the replication
#: runtime. New readers belong in wiring.py; this list only shrinks.
STILL_READING_THE_APP = {
    "syncapp/syncs/folders.py",
    "syncapp/cloud/targets.py",
    "syncapp/cloud/jobs.py",
    "syncapp/cloud/links.py",
    "syncapp/cloud/replicator.py",
}


#: importing `publish`, or the whole events module (then `events.publish`)
SENDING = {("syncapp.events", "publish"), ("syncapp.events", "")}


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[tuple[str, str]]:
    """(module, name) for each `from module import name`, and (module, "") for `import module`,
    with relative imports made absolute; inside functions too."""
    package = _name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {(alias.name, "") for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                found.add((module, alias.name))
                found.add((f"{module}.{alias.name}", ""))  # `from . import routes`
    return found


def _route_modules() -> set[str]:
    """Modules that make a Blueprint (the API and page routes), but the shared `web` one."""
    made = re.compile(r"^\w+ = Blueprint\(", re.MULTILINE)
    return {
        _name(path)
        for path in _modules(PACKAGE)
        if made.search(path.read_text()) and _name(path) != "syncapp.web.blueprint"
    }


def test_every_package_registering_a_blueprint_is_a_feature_or_says_why_not(app):
    packages = {
        blueprint.import_name.split(".")[1]
        for blueprint in app.blueprints.values()
        if blueprint.import_name.count(".") >= 2  # syncapp.<package>.<module>
    }
    assert packages - set(NOT_FEATURES) == set(FEATURES)


@pytest.mark.parametrize("feature", FEATURES)
def test_a_feature_has_its_files(feature):
    folder = PACKAGE / feature
    missing = [part for part in PARTS if not (folder / part).is_file()]
    assert not missing, f"syncapp/{feature}/ lacks {', '.join(missing)}"


@pytest.mark.parametrize("feature", FEATURES)
def test_a_features_models_are_in_models_py_and_created_by_a_migration(app, feature):
    models = [
        mapper.class_
        for mapper in db.Model.registry.mappers
        if mapper.class_.__module__.split(".")[:2] == ["syncapp", feature]
    ]
    assert models, f"syncapp/{feature}/models.py defines no model"
    elsewhere = [m.__name__ for m in models if m.__module__ != f"syncapp.{feature}.models"]
    assert not elsewhere, f"models outside syncapp/{feature}/models.py: {elsewhere}"
    migrations = "\n".join(p.read_text() for p in (ROOT / "migrations/versions").glob("*.py"))
    created = set(re.findall(r"create_table\(\s*['\"](\w+)['\"]", migrations))
    tables = {model.__tablename__ for model in models}
    assert tables <= created, f"no migration creates {sorted(tables - created)}"


@pytest.mark.parametrize("feature", FEATURES)
def test_a_feature_registers_its_page(app, feature):
    endpoint = FEATURES[feature]
    assert endpoint in app.view_functions, f"{feature}'s page {endpoint} is not registered"
    if endpoint.startswith("web."):
        module = app.view_functions[endpoint].__module__
        assert module == f"syncapp.{feature}.pages", f"{endpoint} is defined in {module}"


@pytest.mark.parametrize("feature", FEATURES)
def test_a_features_live_events_are_sent_from_live_py(feature):
    senders = [
        path.relative_to(ROOT).as_posix()
        for path in _modules(PACKAGE / feature)
        if _imports(path) & SENDING and path.name != "live.py"
    ]
    assert not senders, f"live events sent outside syncapp/{feature}/live.py: {senders}"


def test_only_wiring_reads_the_app_in_a_feature():
    readers = {
        path.relative_to(ROOT).as_posix()
        for feature in FEATURES
        for path in _modules(PACKAGE / feature)
        if ("flask", "current_app") in _imports(path) and path.name != "wiring.py"
    }
    assert readers - STILL_READING_THE_APP == set()


def test_background_jobs_are_declared_under_their_features_name():
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    for job_id in ids:
        feature, _, name = job_id.partition(".")
        assert feature in FEATURES and name, f"job {job_id!r}: want <feature>.<name>"


def test_nothing_but_the_app_factory_imports_a_route_module():
    routes = _route_modules()
    assert "syncapp.backups.routes" in routes and "syncapp.web.settings" in routes
    importers = {
        f"{path.relative_to(ROOT).as_posix()} -> {module}"
        for path in _modules(PACKAGE)
        if path != PACKAGE / "__init__.py"
        for module, _ in _imports(path)
        if module in routes and module != _name(path)
    }
    assert not importers, sorted(importers)
