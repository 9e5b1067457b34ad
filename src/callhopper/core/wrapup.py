"""Sets of wrap-up codes: :class:`WrapupService`. Every change is audited."""

from __future__ import annotations

from collections.abc import Sequence

from callhopper.domain.actors import Actor
from callhopper.domain.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from callhopper.domain.names import check_name
from callhopper.domain.wrapup import (
    DEFAULT_CODES,
    WrapupCodeSpec,
    WrapupSet,
    check_unique_codes,
)
from callhopper.ports.clock import Clock
from callhopper.ports.transactions import Transaction, UnitOfWork


class WrapupService:
    """Wrap-up code sets: the dispositions agents choose from when they finish a record."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def code_sets(self) -> list[WrapupSet]:
        """Every set, by id."""
        with self.uow.read() as tx:
            return tx.wrapup.code_sets()

    def code_set(self, set_id: int) -> WrapupSet:
        with self.uow.read() as tx:
            return _set(tx, set_id)

    def create_set(
        self,
        actor: Actor,
        *,
        name: str,
        description: str = "",
        codes: Sequence[WrapupCodeSpec] | None = None,
    ) -> WrapupSet:
        """A new set with ``codes``, or with a copy of the default codes when ``None``."""
        now = self.clock.now()
        name = check_name(name)
        with self.uow.write() as tx:
            _name_free(tx, name)
            specs = DEFAULT_CODES if codes is None else codes
            check_unique_codes(specs)
            code_set = tx.wrapup.add_set(name=name, description=description, codes=specs, now=now)
            tx.audit.add(
                actor,
                "wrapup_set.create",
                "wrapup_set",
                code_set.id,
                now=now,
                after=code_set.view(),
            )
            return code_set

    def update_set(
        self,
        actor: Actor,
        set_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        codes: Sequence[WrapupCodeSpec] | None = None,
    ) -> WrapupSet:
        """Rename, redescribe, or replace the codes of a set (codes keep their ids by
        ``code``)."""
        now = self.clock.now()
        with self.uow.write() as tx:
            code_set = _set(tx, set_id)
            if name is not None:
                name = check_name(name)
                _name_free(tx, name, but=code_set.id)
            if codes is not None:
                check_unique_codes(codes)
                if not codes:
                    raise InvalidInput("a wrap-up code set needs at least one code", field="codes")
            after = tx.wrapup.change_set(
                code_set.id, name=name, description=description, codes=codes
            )
            tx.audit.add(
                actor,
                "wrapup_set.update",
                "wrapup_set",
                code_set.id,
                now=now,
                before=code_set.view(),
                after=after.view(),
            )
            return after

    def delete_set(self, actor: Actor, set_id: int) -> None:
        """Delete a set no campaign uses."""
        now = self.clock.now()
        with self.uow.write() as tx:
            code_set = _set(tx, set_id)
            campaigns = tx.wrapup.campaigns_using(code_set.id)
            if campaigns:
                raise Conflict(f"campaign(s) {', '.join(campaigns)} use this set", field="set_id")
            tx.audit.add(
                actor,
                "wrapup_set.delete",
                "wrapup_set",
                code_set.id,
                now=now,
                before=code_set.view(),
            )
            tx.wrapup.delete_set(code_set.id)


def _set(tx: Transaction, set_id: int) -> WrapupSet:
    code_set = tx.wrapup.code_set(set_id)
    if code_set is None:
        raise NotFound(f"no wrap-up code set {set_id}", field="set_id")
    return code_set


def _name_free(tx: Transaction, name: str, *, but: int | None = None) -> None:
    other = tx.wrapup.set_named(name)
    if other is not None and other != but:
        raise AlreadyExists(f"a wrap-up code set named {name!r} already exists", field="name")
