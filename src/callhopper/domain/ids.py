"""The range of ids: what an id can be, whichever database stores it."""

from __future__ import annotations

#: The largest id of users, queues, lists, campaigns, rules …: PostgreSQL's ``integer``
#: (32 bits). SQLite holds 64 bits in any integer column, but both keep this range.
INTEGER_MAX = 2**31 - 1
#: The largest id of records, audit entries, assignments, webhook messages (``bigint``).
BIGINT_MAX = 2**63 - 1
