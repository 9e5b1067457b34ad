"""Rights (fine-grained permissions) and the built-in roles."""

from __future__ import annotations

from enum import StrEnum

from callhopper.domain.errors import InvalidInput


class Right(StrEnum):
    """A permission. Endpoints each require one; roles grant a set."""

    USER_MANAGE = "user.manage"
    QUEUE_MANAGE = "queue.manage"
    CONTACT_LIST_MANAGE = "contact_list.manage"
    CONTACT_LIST_OWNERSHIP_CONTROL = "contact_list.ownership_control"
    LEAD_MASS_EDIT = "lead.mass_edit"
    CAMPAIGN_MANAGE = "campaign.manage"
    WRAPUP_MANAGE = "wrapup.manage"
    DNC_MANAGE = "dnc.manage"
    REPORT_VIEW = "report.view"
    AUDIT_VIEW = "audit.view"
    AGENT_WORK = "agent.work"
    #: Ask how to route an inbound call: the answer names a number's lead and its owner, so
    #: it belongs to the telephony integration, never to agents.
    TELEPHONY_ROUTE = "telephony.route"


ALL_RIGHTS: frozenset[Right] = frozenset(Right)

#: Built-in roles. Their rights live in code, so a right added by a later
#: release reaches the built-in roles without a data migration.
BUILTIN_ROLES: dict[str, frozenset[Right]] = {
    "admin": ALL_RIGHTS,
    # Supervisors monitor: they read everything but control no ownership.
    "supervisor": frozenset({Right.REPORT_VIEW, Right.AUDIT_VIEW}),
    "agent": frozenset({Right.AGENT_WORK}),
    # The account a telephony integration (a PBX, a SIP proxy) calls the API with.
    "telephony": frozenset({Right.TELEPHONY_ROUTE}),
}


def parse_rights(names: list[str]) -> frozenset[Right]:
    """Turn right names into :class:`Right` values, naming any unknown one."""
    known = {r.value for r in Right}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(
            f"unknown right(s): {', '.join(unknown)}; known rights: {', '.join(sorted(known))}",
            field="rights",
        )
    return frozenset(Right(n) for n in names)
