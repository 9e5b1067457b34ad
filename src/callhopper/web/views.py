"""How the workspace shows the services' values: the words for modes, states, phone types and
history lines, and the form value of each record field.

Nothing here decides anything about a record: the services say what is allowed, and these
helpers only say how it reads on the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callhopper.domain.predial import MESSAGES, PredialCase
from callhopper.domain.wrapup import DEFAULT_CODES, WrapupCodeSpec
from callhopper.web.messages import N_

#: The note the dispenser writes on a call it made at a preview timeout.
AUTO_DIAL_NOTE = "automatic: preview timeout"

MODES = {
    "preview": N_("Preview"),
    "push_preview": N_("Push preview"),
    "direct_push_preview": N_("Direct push preview"),
    "progressive": N_("Progressive"),
    "predictive": N_("Predictive"),
}
DELIVERY = {"manual": N_("Manual"), "automatic": N_("Automatic")}
STATUS = {
    "running": N_("Running"),
    "on": N_("Running"),
    "stopping": N_("Stopping"),
    "off": N_("Off"),
    "complete": N_("Complete"),
}
CHANNELS = {"voice": N_("Voice"), "outbound_preview": N_("Outbound preview")}
PHONE_TYPES = {"cell": N_("Cell"), "home": N_("Home"), "work": N_("Work"), "other": N_("Other")}
HISTORY_KINDS = {"call": N_("Call"), "wrapup": N_("Wrap-up"), "decline": N_("Decline")}
ORIGINS = {"callback": N_("Callback"), "personal callback": N_("Personal Callback")}
#: Results that are not wrap-up codes of a set: what Decline and a closed Call write.
RESULTS = {
    "call_later": N_("Call later"),
    "do_not_call": N_("Do not call"),
    "dnc": N_("On the Do-Not-Call list"),
    "not_validated": N_("Could not be validated"),
}
#: The labels of the built-in wrap-up codes, which the product ships (a company's own codes
#: are shown as it wrote them).
_DEFAULT_LABELS = {
    "Sale": N_("Sale"),
    "Interested": N_("Interested"),
    "Not interested": N_("Not interested"),
    "No answer": N_("No answer"),
    "Busy": N_("Busy"),
    "Answering machine": N_("Answering machine"),
    "Wrong number": N_("Wrong number"),
    "Do not call": N_("Do not call"),
    "Callback": N_("Callback"),
}
_BUILT_IN = {(c.code, c.label) for c in DEFAULT_CODES}


def code_label(code: str, label: str) -> tuple[str, bool]:
    """A wrap-up code's label, and whether it is one of ours to translate."""
    if (code, label) in _BUILT_IN and label in _DEFAULT_LABELS:
        return _DEFAULT_LABELS[label], True
    return label, False


def result_label(code: str | None, labels: dict[str, str]) -> tuple[str, bool]:
    """A history line's result: a wrap-up code by its label, or a result of ours."""
    if code is None:
        return "", False
    if code in RESULTS:
        return RESULTS[code], True
    if code in labels:
        return code_label(code, labels[code])
    return code, False


def local_input(value: str | None) -> str:
    """An ISO date-time as a ``datetime-local`` input writes it (``2026-03-02T10:30``); a
    value with a UTC offset keeps its wall-clock time."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return ""
    return parsed.strftime("%Y-%m-%dT%H:%M")


def field_form_value(kind: str, value: str | None) -> str:
    """How a field's stored value appears in its input, which is also what the form sends
    back when the agent leaves it alone."""
    if kind == "checkbox":
        return "true" if (value or "").strip().casefold() == "true" else "false"
    if kind == "datetime":
        return local_input(value)
    return value or ""


def shown_value(field: Any, pending: dict[str, Any] | None) -> str:
    """The form value of a field: the wrap-up chosen before, else the record's."""
    edits = (pending or {}).get("fields") or {}
    if field.name in edits:
        raw = edits[field.name]
        return field_form_value(field.type, "true" if raw is True else str(raw))
    return field_form_value(field.type, field.value)


def input_in_zone(value: datetime | None, zone: str | None) -> str:
    """A moment as a ``datetime-local`` input shows it in ``zone`` (the contact's)."""
    if value is None or not zone:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def labels_of(codes: list[WrapupCodeSpec]) -> dict[str, str]:
    """A campaign's wrap-up codes by code, with their labels."""
    return {c.code: c.label for c in codes}


#: Notes the services write into a contact's history themselves.
_NOTES = {
    AUTO_DIAL_NOTE: N_("Automatic call: the preview time ran out"),
    MESSAGES[PredialCase.DNC_NONE]: N_("The phone number is on the Do-Not-Call list"),
    MESSAGES[PredialCase.UNAVAILABLE_NONE]: N_(
        "The phone number cannot be validated (Do-Not-Call list service is unavailable)."
    ),
}


def note_label(note: str) -> tuple[str, bool]:
    """A history note, and whether it is one of ours to translate."""
    if note in _NOTES:
        return _NOTES[note], True
    return note, False
