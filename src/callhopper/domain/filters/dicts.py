"""The filter as JSON (``{"groups": [[{"field", "op", "value" | "values"}, …], …]}``), read
back with the same checks as filter text."""

from __future__ import annotations

from collections.abc import Mapping

from callhopper.domain.errors import InvalidInput
from callhopper.domain.filters.model import (
    COMPARISON_OPS,
    LIST_OPS,
    MAX_CONDITIONS,
    MAX_GROUPS,
    MAX_LIST_VALUES,
    Condition,
    Filter,
    Group,
    Op,
)
from callhopper.domain.filters.values import ERROR_FIELD, Value, check_value


def filter_from_dict(data: object) -> Filter:
    """Read the form made by :meth:`Filter.to_dict`, refusing anything malformed."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a filter must be an object with a 'groups' list", field=ERROR_FIELD)
    extra = sorted(str(k) for k in data if k != "groups")
    if extra:
        raise InvalidInput(f"unknown key(s) in filter: {', '.join(extra)}", field=ERROR_FIELD)
    raw_groups = data.get("groups")
    if not isinstance(raw_groups, list | tuple):
        raise InvalidInput("'groups' must be a list of groups", field=ERROR_FIELD)
    if not raw_groups:
        raise InvalidInput("a filter needs at least one group", field=ERROR_FIELD)
    if len(raw_groups) > MAX_GROUPS:
        raise InvalidInput(f"a filter has more than {MAX_GROUPS} groups", field=ERROR_FIELD)
    groups = []
    for gi, raw_group in enumerate(raw_groups):
        where = f"groups[{gi}]"
        if not isinstance(raw_group, list | tuple):
            raise InvalidInput(f"{where} must be a list of conditions", field=ERROR_FIELD)
        if not raw_group:
            raise InvalidInput(f"{where} needs at least one condition", field=ERROR_FIELD)
        if len(raw_group) > MAX_CONDITIONS:
            raise InvalidInput(
                f"{where} has more than {MAX_CONDITIONS} conditions", field=ERROR_FIELD
            )
        conditions = [
            _condition_from_dict(raw, f"{where}[{ci}]") for ci, raw in enumerate(raw_group)
        ]
        groups.append(Group(tuple(conditions)))
    return Filter(tuple(groups))


def _condition_from_dict(raw: object, where: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} must be an object", field=ERROR_FIELD)
    name = raw.get("field")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.field must be a non-empty string", field=ERROR_FIELD)
    raw_op = raw.get("op")
    try:
        op = Op(raw_op) if isinstance(raw_op, str) else None
    except ValueError:
        op = None
    if op is None:
        allowed = ", ".join(o.value for o in Op)
        raise InvalidInput(f"{where}.op must be one of {allowed}", field=ERROR_FIELD)
    keys = {"field", "op"}
    if op in COMPARISON_OPS:
        keys.add("value")
        if "value" not in raw:
            raise InvalidInput(f"{where}.value is missing", field=ERROR_FIELD)
        values: tuple[Value, ...] = (check_value(raw["value"], f"{where}.value"),)
    elif op in LIST_OPS:
        keys.add("values")
        raw_values = raw.get("values")
        if not isinstance(raw_values, list | tuple) or not raw_values:
            raise InvalidInput(f"{where}.values must be a non-empty list", field=ERROR_FIELD)
        if len(raw_values) > MAX_LIST_VALUES:
            raise InvalidInput(
                f"{where}.values has more than {MAX_LIST_VALUES} values", field=ERROR_FIELD
            )
        values = tuple(check_value(v, f"{where}.values[{vi}]") for vi, v in enumerate(raw_values))
    else:
        values = ()
    extra = sorted(str(k) for k in raw if k not in keys)
    if extra:
        raise InvalidInput(f"{where}: unexpected key(s) {', '.join(extra)}", field=ERROR_FIELD)
    return Condition(name, op, values)
