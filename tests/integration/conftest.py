"""Fixtures of the integration tests that walk the whole API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_floor import Floor, open_floor
from tests.conftest import BACKENDS, PostgresTemplates


@pytest.fixture(scope="module", params=BACKENDS)
def walk_floor(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_templates: PostgresTemplates | None,
) -> Iterator[Floor]:
    """The demo floor with one of each object, shared by the tests of a module."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("floor") / "floor.db"
        shutil.copyfile(sqlite_template, path)
        with open_floor(f"sqlite:///{path}") as floor:
            yield floor
        return
    assert pg_templates is not None
    name = pg_templates.create()
    with open_floor(pg_templates.url_for(name)) as floor:
        yield floor
    pg_templates.drop(name)
