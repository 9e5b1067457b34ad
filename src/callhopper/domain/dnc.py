"""Do-not-call lists: where a listed number came from."""

from __future__ import annotations

from enum import StrEnum


class DncSource(StrEnum):
    """How a number got onto a do-not-call list (``dnc_numbers.source``)."""

    #: A CSV import into the list.
    IMPORT = "import"
    #: Added through the API.
    API = "api"
    #: An agent declined a record as *do not call*.
    DECLINE = "decline"
    #: An agent used a wrap-up code that ``adds_to_dnc``.
    WRAPUP = "wrapup"

    @property
    def by_agent(self) -> bool:
        """The number was added by an agent's action on a campaign's record: it goes onto
        that campaign's own list."""
        return self in (DncSource.DECLINE, DncSource.WRAPUP)


#: The sources of numbers that agents add to a campaign's own list (:attr:`DncSource.by_agent`).
CAMPAIGN_SOURCES = frozenset(s for s in DncSource if s.by_agent)
