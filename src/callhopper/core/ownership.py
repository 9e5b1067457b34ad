"""Campaign ownership use cases: a list's ownership settings, the ownership tab (who owns
what, releases) and the tracking report. The claims and renewals that follow a wrap-up
belong to dispensing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callhopper.core.campaigns import patched
from callhopper.domain.actors import Actor
from callhopper.domain.campaign_ownership import OwnershipSettings
from callhopper.domain.errors import InvalidInput
from callhopper.domain.ownership_reports import OwnerCount, TrackingRow
from callhopper.ports import Clock, Transaction, UnitOfWork


@dataclass(frozen=True)
class OwnershipTab:
    """A list's ownership settings and the campaigns that own its records now."""

    list_id: int
    settings: OwnershipSettings
    campaigns: list[OwnerCount]

    @property
    def total(self) -> int:
        return sum(o.records for o in self.campaigns)


@dataclass(frozen=True)
class Release:
    """How many records each campaign lost."""

    released: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.released.values())


def update_settings(
    tx: Transaction, actor: Actor, list_id: int, changes: Mapping[str, Any], *, now: datetime
) -> OwnershipSettings:
    """Change the fields of the list's ownership settings in ``changes``; the others keep
    their values (but a duration sent without ``no_expiration`` turns "no expiration" off),
    and the result is validated as a whole. A new duration re-dates every
    current claim to ``owned_at + duration`` (ending it at once when that is past), on a
    disabled list too; disabling keeps the duration and the current claims, and stops new
    ones."""
    before = tx.lists.get(list_id).ownership
    if ("days" in changes or "hours" in changes) and "no_expiration" not in changes:
        # A duration sent alone is one to keep to: it ends "no expiration".
        changes = {**changes, "no_expiration": False}
    settings = patched(OwnershipSettings, before.model_dump(), changes, "settings")
    tx.lists.set_ownership(list_id, settings, now=now)
    tx.audit.add(
        actor,
        "contact_list.ownership_settings",
        "contact_list",
        list_id,
        now=now,
        before=before.model_dump(mode="json"),
        after=settings.model_dump(mode="json"),
    )
    if before.duration != settings.duration:
        # Disabled or not: claims taken while it was on stay until they end, and every
        # current claim follows the duration.
        tx.ownership.redate(actor, list_id, settings.duration, now=now)
    return settings


def release(
    tx: Transaction,
    actor: Actor,
    list_id: int,
    campaign_ids: Sequence[int] | None,
    *,
    now: datetime,
    reason: str,
) -> Release:
    """Release every record of the list owned by the given campaigns (all when ``None``):
    other campaigns may take them at once."""
    if campaign_ids:
        on_list = tx.ownership.campaigns_on_list(list_id, campaign_ids)
        unknown = [str(c) for c in campaign_ids if c not in on_list]
        if unknown:
            raise InvalidInput(
                f"no campaign {', '.join(unknown)} uses contact list {list_id}",
                field="campaign_ids",
            )
    tx.lists.get(list_id)
    if campaign_ids is not None and not campaign_ids:
        raise InvalidInput("name at least one campaign, or release all", field="campaign_ids")
    return Release(tx.ownership.release(actor, list_id, campaign_ids, now=now, reason=reason))


class OwnershipService:
    """Campaign ownership use cases, each in a transaction of its own."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def settings(self, list_id: int) -> OwnershipSettings:
        with self.uow.read() as tx:
            return tx.lists.get(list_id).ownership

    def update_settings(
        self, actor: Actor, list_id: int, changes: Mapping[str, Any]
    ) -> OwnershipSettings:
        """Change the fields given of the list's ownership settings (see
        :func:`update_settings`)."""
        with self.uow.write() as tx:
            return update_settings(tx, actor, list_id, changes, now=self.clock.now())

    def tab(self, list_id: int) -> OwnershipTab:
        """The campaigns that own records of the list now, with counts."""
        with self.uow.read() as tx:
            contact_list = tx.lists.get(list_id)
            owners = tx.ownership.owners(list_id, self.clock.now())
        return OwnershipTab(list_id, contact_list.ownership, owners)

    def release(
        self, actor: Actor, list_id: int, campaign_ids: Sequence[int] | None, *, reason: str
    ) -> Release:
        """Release the records of ``campaign_ids`` (all campaigns when None); the reason
        defaults to who released them."""
        with self.uow.write() as tx:
            return release(
                tx,
                actor,
                list_id,
                campaign_ids,
                now=self.clock.now(),
                reason=reason.strip() or f"released by {actor.user_id}",
            )

    def tracking(self, list_id: int | None) -> list[TrackingRow]:
        """Per list and campaign: records owned, expiring in 24 h, released in 24 h."""
        with self.uow.read() as tx:
            return tx.ownership.tracking(self.clock.now(), list_id)
