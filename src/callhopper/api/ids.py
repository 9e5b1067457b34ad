"""Integer ids and offsets in requests, bounded by the range of the column they are compared
with.

A value outside a column's range is not an error of the database's to report (SQLite's
driver raises ``OverflowError`` past 64 bits, PostgreSQL "integer out of range" past 32):
no row can have it, so it is refused while the request is validated. In a body or a query
it is a 422 that names the field; in the path it names no resource, and
:mod:`callhopper.api.errors` answers 404 (the range constraints below are the only ones a
path parameter carries).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

from callhopper.domain.ids import BIGINT_MAX, INTEGER_MAX

#: An id of an ``Integer`` column: users, queues, skills, lists, imports, campaigns, rules….
IntId = Annotated[int, Interval(ge=-INTEGER_MAX - 1, le=INTEGER_MAX)]
#: An id of a ``bigint`` column: records, audit entries,
#: assignments, webhook messages; also an offset into rows.
BigIntId = Annotated[int, Interval(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
