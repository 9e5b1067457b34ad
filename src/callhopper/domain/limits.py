"""The longest text callhopper takes in each kind of field: every limit, in one place.

The request schemas of the API refuse a longer text with 422 naming the field, before any
database sees it, so the answer is the same on SQLite (which would store anything) and on
PostgreSQL (whose ``varchar(n)`` would refuse it with an error). Lengths count characters,
as both databases do. The widths of the columns come from here too. The API reference lists
every limit (docs/reference/api/index.md, *Limits*); a test checks that it does.
"""

from __future__ import annotations

from typing import Final

#: Names of things people create: campaigns, contact lists, queues, skills, wrap-up code
#: sets, do-not-call lists, workflow and staleness rules, inbound routes, API tokens;
#: a user's display name; a wrap-up code's label.
MAX_NAME_LENGTH: Final = 200
#: A role's name.
MAX_ROLE_NAME_LENGTH: Final = 64
#: A user id (letters, digits, ``_ . -``).
MAX_USER_ID_LENGTH: Final = 64
#: An email address (the longest an address can be).
MAX_EMAIL_LENGTH: Final = 320
#: A password (a longer one only costs hashing time).
MAX_PASSWORD_LENGTH: Final = 1024
#: Descriptions of campaigns, lists, queues, skills, roles, code sets, do-not-call lists.
MAX_DESCRIPTION_LENGTH: Final = 2000
#: Why a change was made (the audit log's reason, a mass edit's note).
MAX_REASON_LENGTH: Final = 2000
#: An agent's note on a wrap-up or a callback.
MAX_NOTE_LENGTH: Final = 10_000
#: A wrap-up code.
MAX_CODE_LENGTH: Final = 64
#: A column of a contact list, and the other short identifiers (a time zone, a region, a
#: right, a fallback, a caller ID): the width of the columns that store them.
MAX_IDENTIFIER_LENGTH: Final = 200
#: A phone number as typed (spaces, dashes and an extension included).
MAX_PHONE_TEXT_LENGTH: Final = 100
#: A lead filter's text (a skill's expression, a default lead filter, a mass edit's filter).
MAX_FILTER_LENGTH: Final = 10_000
#: The name of an import (the name given, else the file's name; a longer file name is cut).
MAX_SOURCE_LENGTH: Final = 500
#: A client's network address as the server saw it (an IPv6 address with its zone fits).
MAX_ADDRESS_LENGTH: Final = 64
#: A webhook's address.
MAX_URL_LENGTH: Final = 2000
#: One field's value in a record (a longer one rejects its row, with the reason).
MAX_VALUE_CHARS: Final = 131_072

#: Every limit, by the name the API reference gives it.
TEXT_LIMITS: Final[dict[str, int]] = {
    "name": MAX_NAME_LENGTH,
    "role name": MAX_ROLE_NAME_LENGTH,
    "user id": MAX_USER_ID_LENGTH,
    "email": MAX_EMAIL_LENGTH,
    "password": MAX_PASSWORD_LENGTH,
    "description": MAX_DESCRIPTION_LENGTH,
    "reason": MAX_REASON_LENGTH,
    "note": MAX_NOTE_LENGTH,
    "wrap-up code": MAX_CODE_LENGTH,
    "identifier": MAX_IDENTIFIER_LENGTH,
    "phone number": MAX_PHONE_TEXT_LENGTH,
    "lead filter": MAX_FILTER_LENGTH,
    "import source": MAX_SOURCE_LENGTH,
    "URL": MAX_URL_LENGTH,
    "record value": MAX_VALUE_CHARS,
}
#: A language code of the pages (``en``, ``ja``).
MAX_LANGUAGE_CODE_LENGTH: Final = 8
