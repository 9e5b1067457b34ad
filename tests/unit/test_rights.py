"""Rights and the built-in roles (no database)."""

from __future__ import annotations

import pytest

from callhopper.domain.errors import InvalidInput
from callhopper.domain.rights import ALL_RIGHTS, BUILTIN_ROLES, Right, parse_rights


def test_right_names_become_rights() -> None:
    assert parse_rights(["agent.work", "report.view", "agent.work"]) == {
        Right.AGENT_WORK,
        Right.REPORT_VIEW,
    }
    assert parse_rights([]) == frozenset()


def test_unknown_right_names_are_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match=r"unknown right\(s\): agent\.play, x; known") as err:
        parse_rights(["agent.work", "agent.play", "x"])
    assert "lead.mass_edit" in err.value.message
    assert err.value.details == {"field": "rights"}


def test_the_built_in_roles() -> None:
    assert BUILTIN_ROLES["admin"] == ALL_RIGHTS == frozenset(Right)
    assert BUILTIN_ROLES["agent"] == {Right.AGENT_WORK}
    # Supervisors monitor: they read but control no ownership and change nothing.
    assert BUILTIN_ROLES["supervisor"] == {Right.REPORT_VIEW, Right.AUDIT_VIEW}
    assert Right.CONTACT_LIST_OWNERSHIP_CONTROL not in BUILTIN_ROLES["supervisor"]
