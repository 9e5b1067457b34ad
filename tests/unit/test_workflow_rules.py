"""Workflow rules without a database: their checks (domain.workflows) and the service's
validation of triggers against the campaigns and codes that exist."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from callhopper.clock import FrozenClock
from callhopper.core.workflows import WorkflowService
from callhopper.domain.actors import SYSTEM
from callhopper.domain.contacts import ColumnSpec, FieldType, ListSchema, PhoneColumnSpec
from callhopper.domain.errors import InvalidInput
from callhopper.domain.workflows import (
    Trigger,
    WorkflowRule,
    check_actions,
    field_value,
    structural_role,
    trigger_shape,
)
from tests.unit.admin_fakes import MemoryAudit

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def field_of(error: pytest.ExceptionInfo[InvalidInput]) -> Any:
    return error.value.details["field"]


def test_trigger_shape_names_the_item_at_fault() -> None:
    assert trigger_shape({"codes": ["sale", "sale"], "campaign_ids": [3, 3, 1]}) == (
        ["sale", "sale"],
        [3, 1],
    )
    assert trigger_shape({"codes": ["sale"]}) == (["sale"], [])
    for trigger, field in [
        ({"codes": ["sale"], "when": 1}, "trigger.when"),
        ({"codes": []}, "trigger.codes"),
        ({"codes": ["ok", "Not OK"]}, "trigger.codes[1]"),
        ({"codes": ["sale"], "campaign_ids": 3}, "trigger.campaign_ids"),
        ({"codes": ["sale"], "campaign_ids": [1, True]}, "trigger.campaign_ids[1]"),
    ]:
        with pytest.raises(InvalidInput) as error:
            trigger_shape(trigger)
        assert field_of(error) == field


def test_actions_are_checked_and_normalised() -> None:
    actions = check_actions(
        [
            {"type": "clear_owner"},
            {"type": "set_field", "field": " status ", "value": 3},
            {"type": "webhook", "url": " https://crm.example.com/h "},
        ]
    )
    assert actions == (
        {"type": "clear_owner"},
        {"type": "set_field", "field": "status", "value": 3},
        {"type": "webhook", "url": "https://crm.example.com/h"},
    )
    for bad, field in [
        ([], "actions"),
        (["clear_owner"], "actions[0]"),
        ([{"type": "explode"}], "actions[0].type"),
        ([{"type": "clear_owner", "url": "x"}], "actions[0].url"),
        ([{"type": "set_field", "field": "status"}], "actions[0].value"),
        ([{"type": "set_field", "field": "s", "value": [1]}], "actions[0].value"),
        ([{"type": "webhook", "url": "ftp://example.com"}], "actions[0].url"),
        ([{"type": "webhook", "url": "https://"}], "actions[0].url"),
    ]:
        with pytest.raises(InvalidInput) as error:
            check_actions(bad)
        assert field_of(error) == field


def test_a_rule_matches_enabled_codes_on_its_campaigns() -> None:
    rule = WorkflowRule(1, "r", True, Trigger(("sale",), (2,)), (), "s", T0, T0)
    assert rule.matches(campaign_id=2, code="sale")
    assert not rule.matches(campaign_id=3, code="sale")
    assert not rule.matches(campaign_id=2, code="busy")
    anywhere = WorkflowRule(1, "r", True, Trigger(("sale",), ()), (), "s", T0, T0)
    assert anywhere.matches(campaign_id=99, code="sale")
    off = WorkflowRule(1, "r", False, Trigger(("sale",), ()), (), "s", T0, T0)
    assert not off.matches(campaign_id=99, code="sale")
    assert "secret" not in rule.view()


def test_field_values_follow_the_column_type() -> None:
    number = ColumnSpec(name="n", type=FieldType.NUMBER)
    assert field_value(number, 12) == "12"
    with pytest.raises(ValueError, match="not a number"):
        field_value(number, "twelve")
    choice = ColumnSpec(name="c", type=FieldType.DROPDOWN, options=("Hot", "Cold"))
    assert field_value(choice, "hot") == "Hot"
    with pytest.raises(ValueError, match="not one of"):
        field_value(choice, "warm")
    assert field_value(ColumnSpec(name="t"), None) == ""
    with pytest.raises(ValueError, match="required"):
        field_value(ColumnSpec(name="t", required=True), None)
    schema = ListSchema(
        columns=(ColumnSpec(name="phone"), ColumnSpec(name="agent"), ColumnSpec(name="note")),
        phone_columns=(PhoneColumnSpec(column="phone"),),
        agent_owned_column="agent",
    )
    assert structural_role(schema, "phone") == "phone column"
    assert structural_role(schema, "agent") == "agent-owned column"
    assert structural_role(schema, "note") is None


# --- the service's trigger check ----------------------------------------------------------------


class MemoryWorkflows:
    def __init__(self, campaigns: dict[int, set[str]], all_codes: set[str]) -> None:
        self.campaigns = campaigns
        self.all_codes = all_codes
        self.added: list[dict[str, Any]] = []

    def rule_named(self, name: str) -> int | None:
        return None

    def existing_campaigns(self, campaign_ids: Sequence[int]) -> set[int]:
        return set(campaign_ids) & set(self.campaigns)

    def known_codes(self, campaign_ids: Sequence[int]) -> set[str]:
        if not campaign_ids:
            return self.all_codes
        return set().union(*(self.campaigns[c] for c in campaign_ids))

    def add_rule(self, **values: Any) -> WorkflowRule:
        self.added.append(values)
        return WorkflowRule(
            1,
            values["name"],
            values["enabled"],
            values["trigger"],
            values["actions"],
            values["secret"],
            T0,
            T0,
        )


class Tx:
    def __init__(self) -> None:
        self.audit = MemoryAudit()
        self.workflows = MemoryWorkflows({1: {"sale"}, 2: {"busy", "promise"}}, {"sale", "busy"})


class Uow:
    def __init__(self) -> None:
        self.tx = Tx()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        yield self.tx


def test_a_rule_names_only_campaigns_and_codes_that_exist() -> None:
    uow = Uow()
    service = WorkflowService(uow, FrozenClock(T0))  # type: ignore[arg-type]
    rule = service.create_rule(
        SYSTEM,
        name=" Keep ",
        trigger={"codes": ["promise", "busy", "promise"], "campaign_ids": [2]},
        actions=[{"type": "set_owner_to_agent"}],
    )
    assert (rule.name, rule.trigger) == ("Keep", Trigger(("promise", "busy"), (2,)))
    assert rule.secret.startswith("whsec_")
    assert uow.tx.audit.actions == ["workflow_rule.create"]
    assert "secret" not in str(uow.tx.audit.entries[0].after)
    for trigger, field in [
        ({"codes": ["sale"], "campaign_ids": [2, 7]}, "trigger.campaign_ids[1]"),
        ({"codes": ["busy", "sale"], "campaign_ids": [2]}, "trigger.codes[1]"),
        ({"codes": ["promise"]}, "trigger.codes[0]"),
    ]:
        with pytest.raises(InvalidInput) as error:
            service.create_rule(
                SYSTEM, name="Bad", trigger=trigger, actions=[{"type": "clear_owner"}]
            )
        assert field_of(error) == field
