"""What the pages tell a person: notices after an action, and the services' errors, worded
for an agent and translated.

The services answer in English for programs (a stable ``code`` and a message); a page shows a
sentence of its own catalogue instead, saying what happened and what to do next. Each
sentence here is a message id of the catalogues (marked with :func:`N_`, extracted by
``make messages``) with ``%(name)s`` placeholders; templates translate it into the page's
language. Only these sentences can be shown: a notice carried between two pages (the flash
cookie) names one of them, so nothing else can be slipped into a page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote

from pydantic import ValidationError

from callhopper.domain.errors import (
    CallhopperError,
    Conflict,
    Contention,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)

Level = Literal["info", "success", "warning", "error"]

#: Every sentence a notice may show.
_KNOWN: set[str] = set()


def N_(message: str) -> str:
    """Mark a sentence for the catalogues; it is translated when a page shows it."""
    _KNOWN.add(message)
    return message


@dataclass(frozen=True, slots=True)
class Notice:
    """One sentence for the person, with its values."""

    text: str
    params: dict[str, str] = field(default_factory=dict)
    level: Level = "info"


# --- sign-in ---------------------------------------------------------------------------------

SIGN_IN_FAILED = N_(
    "The email or password is wrong, or this account has been deactivated. Check them and try "
    "again; if your account was deactivated, ask your administrator."
)
SESSION_EXPIRED = N_("Your session has expired or was ended. Sign in again to continue.")
SIGNED_OUT = N_("You are signed out.")
FORM_EXPIRED = N_(
    "This form has expired (it was opened before you signed in again, or on another site). "
    "Reload the page and try again."
)
MISSING_CREDENTIALS = N_("Enter your email and your password.")
SIGN_IN_THROTTLED = N_(
    "Too many failed sign-ins for this account or from this computer. Wait a few minutes, "
    "then try again."
)

# --- My Campaigns ----------------------------------------------------------------------------

LOGGED_IN = N_("You are logged in to %(campaign)s.")
LOGGED_OUT = N_("You are logged out of %(campaign)s.")
RECEIVING_ON = N_("%(campaign)s: records will be delivered to you until you click Stop.")
RECEIVING_OFF = N_("%(campaign)s: no more records will be delivered to you until Get Record.")
#: (channel, ready) → what the agent's state is now.
CHANNEL_STATE = {
    ("voice", True): N_("You are Ready on the voice channel."),
    ("voice", False): N_("You are Not Ready on the voice channel."),
    ("outbound_preview", True): N_("You are Ready on the outbound preview channel."),
    ("outbound_preview", False): N_("You are Not Ready on the outbound preview channel."),
}

_NO_RECORD = {
    "campaign_not_running": N_(
        "%(campaign)s is not running: no new records are delivered. Wait for it to start."
    ),
    "pushed": N_(
        "Records of %(campaign)s are delivered to you automatically. In push preview, set the "
        "outbound preview channel to Ready."
    ),
    "dialled": N_(
        "%(campaign)s dials by itself: answered calls are connected to you with their "
        "records while you are Ready on the voice channel."
    ),
    "hopper_empty": N_(
        "No record is ready for you in %(campaign)s right now. Try Get Record again in a minute."
    ),
    "outside_calling_window": N_(
        "The contacts of %(campaign)s who are left are outside the calling window in their "
        "time zone now. Try again later."
    ),
    "waiting_for_retry": N_(
        "Every record of %(campaign)s is handled for now. The next one is due again at %(at)s."
    ),
    "list_exhausted": N_(
        "Every record of %(campaign)s is handled in this pass. There is nothing more until "
        "your supervisor recycles the campaign."
    ),
}
NO_RECORD_OTHER = N_("No record of %(campaign)s can be delivered now. Try again later.")

# --- the record ------------------------------------------------------------------------------

CALLING = N_("Calling %(number)s.")
CALLING_FROM = N_("Calling %(number)s (caller ID %(caller_id)s).")
DIAL_EXTENSION = N_("Once answered, dial extension %(extension)s.")
_DIAL_CASES = {
    "dnc_next": N_(
        "The phone number is on the Do-Not-Call list. The next available phone number will be "
        "selected."
    ),
    "unavailable_next": N_(
        "The phone number cannot be validated (Do-Not-Call list service is unavailable). The "
        "next available phone number will be selected."
    ),
}
_CLOSED = {
    "dnc": N_(
        "The phone number is on the Do-Not-Call list, and the contact has no other number. "
        "The record was closed without a call: click Get Record for the next one."
    ),
    "not_validated": N_(
        "The phone number cannot be validated (Do-Not-Call list service is unavailable), and "
        "the contact has no other number. The record was closed without a call: click Get "
        "Record for the next one."
    ),
}
SKIPPED = N_("The record was skipped.")
DECLINED_LATER = N_("The record goes back to the campaign list, to be called later.")
DECLINED_DNC = N_(
    "The contact will not be called again: the record left the campaign and its number is on "
    "the campaign's Do-Not-Call list."
)
WRAPUP_SAVED = N_("Wrap-up saved. It is applied when you click Done.")
DONE = N_("Done. The record is closed for this pass.")
DONE_AND_STOP = N_(
    "Done. No more records will be delivered to you in %(campaign)s until you click Get Record."
)
ACCEPTED = N_("Record accepted.")
REJECTED = N_("The record went back to the top of the list.")
CALLBACK_SCHEDULED = N_(
    "Callback scheduled for %(at)s in the contact's time zone. It is kept when you click Done."
)
CALLBACK_CANCELLED = N_("The callback was cancelled.")

#: Why a record left the screen without the agent closing it (the live channel's reasons).
ENDED = {
    "rejected": REJECTED,
    "accept_timeout": N_(
        "You did not accept the record in time: it went back to the top of the list, and you "
        "are Not Ready on the outbound preview channel. Set it to Ready to receive records again."
    ),
    "dnc": _CLOSED["dnc"],
    "not_validated": _CLOSED["not_validated"],
    "owner_changed": N_(
        "This record was given to another agent. It is no longer yours: click Get Record for "
        "the next one."
    ),
}
ENDED_OTHER = N_("This record is no longer yours. Click Get Record for the next one.")
AUTO_DIALLED = N_("The preview time ran out: %(number)s was dialled for you.")
CALL_CONNECTED = N_("A call is connected to you: %(number)s.")

# --- the browser phone (its element's data-msg-* attributes) ------------------------------------

SOFTPHONE = {
    "registering": N_("Connecting your phone…"),
    "registered": N_("Phone ready"),
    "ringing": N_("Incoming call"),
    "connected": N_("Connected"),
    "muted": N_("Muted"),
    "mic-denied": N_("The browser may not use your microphone: allow it for this site and reload."),
    "registration-lost": N_(
        "Your phone lost its connection: calls cannot reach you. Reconnecting…"
    ),
    "call-dropped": N_("The call was cut off by the network."),
    "answer": N_("Answer"),
    "mute": N_("Mute"),
    "unmute": N_("Unmute"),
    "hangup": N_("Hang up"),
}

# --- the live channel and the campaign notices ------------------------------------------------

CONNECTION_LOST = N_(
    "The connection to the server was lost. Reconnecting… Your record stays yours meanwhile."
)
RECONNECTED = N_("Connected again.")
UNREACHABLE = N_("The server could not be reached. Check your connection and try again.")

# --- errors of the services --------------------------------------------------------------------

_CONFLICTS = {
    "wrapup_required": N_(
        "You already called this record: choose a wrap-up code and click Done (or Decline → "
        "Do not call if the contact asked not to be called)."
    ),
    "skip_not_allowed": N_(
        "This campaign does not allow skipping. Call the contact, or decline the record."
    ),
    "manual_dial_not_allowed": N_(
        "This campaign does not allow dialling a new number. Choose one of the contact's numbers."
    ),
    "outside_calling_window": N_(
        "The contact is outside the calling window in their time zone, so the call was not "
        "placed. Schedule a callback, or decline the record to call later."
    ),
    "record_out_elsewhere": N_(
        "Your time with this record ran out and an agent of another campaign has it now. It "
        "was not dialled: click Get Record for the next one."
    ),
    "owned_by_another_campaign": N_(
        "Another campaign on this contact list owns the record now. It was not dialled and "
        "was taken back: click Get Record for the next one."
    ),
    "number_dnc_none": N_(
        "The phone number is on the Do-Not-Call list. It was not dialled: choose another number."
    ),
    "number_unavailable_none": N_(
        "The phone number cannot be validated (Do-Not-Call list service is unavailable). It "
        "was not dialled: choose another number."
    ),
}
OWNER_CHANGED_TAKEN_BACK = N_(
    "This lead belongs to another agent now. It was not dialled and was taken back: click Get "
    "Record for the next one."
)
OWNER_CHANGED_AFTER_CALL = N_(
    "This lead belongs to another agent now, so it is not dialled again. Choose a wrap-up code "
    "and click Done for the call you made."
)
RECORD_GONE = N_(
    "This record is no longer yours: its time ran out, or it was closed or taken back. Click "
    "Get Record for the next one."
)
CAMPAIGN_GONE = N_(
    "This campaign is not one of yours, or it is over. Reload the page to see your campaigns."
)
NO_CALLBACK = N_("There is no callback to cancel on this record.")
NOT_FOUND = N_("There is nothing here for you. Go back to your workspace.")
PERMISSION_DENIED = N_("Your account may not do this. Ask your administrator if you need to.")
BUSY = N_("The server was busy and nothing was changed. Try again.")
FAILED = N_("That did not work. Reload the page and try again.")

CHOOSE_CODE = N_("Choose a wrap-up code, then click Done.")
UNKNOWN_CODE = N_("Choose one of the campaign's wrap-up codes.")
FINAL_CODE_WITH_CALLBACK = N_(
    "This wrap-up code closes the record, but a callback is scheduled. Cancel the callback or "
    "choose another code."
)
CALLBACK_PASSED = N_(
    "The callback time has passed. Change or cancel the callback, then click Done."
)
CALLBACK_IN_PAST = N_(
    "The callback time is in the past in the contact's time zone. Choose a later time."
)
CALLBACK_OUTSIDE_WINDOW = N_(
    "That time is outside the calling window in the contact's time zone. Choose a time inside it."
)
CALLBACK_NO_ZONE = N_(
    "The contact's time zone is unknown, so no callback can be scheduled for this record."
)
CALLBACK_TIME_NEEDED = N_("Enter the date and the time of the callback.")
BAD_NUMBER = N_("That is not a phone number that can be dialled. Check it and try again.")
NO_PHONE = N_("The record has no phone number to dial. Decline it, or choose a wrap-up code.")
CHOOSE_PHONE = N_("Choose one of the contact's numbers.")
CHOOSE_CALLER_ID = N_("Choose one of the campaign's caller IDs.")
FIELD_REQUIRED = N_("The field %(field)s is required.")
FIELD_READ_ONLY = N_("The field %(field)s cannot be changed.")
FIELD_INVALID = N_("The value of the field %(field)s is not valid. Check it and try again.")
NOTE_TOO_LONG = N_("The note is too long. Shorten it and try again.")
INVALID = N_("Some of what you entered is not valid. Check the form and try again.")

#: ``InvalidInput`` of the services, told apart by the field it names and, where one field
#: has several reasons, by the English message (first match wins).
_INVALID: tuple[tuple[str, str | None, str], ...] = (
    ("code", "before Done", CHOOSE_CODE),
    ("code", "callback is scheduled", FINAL_CODE_WITH_CALLBACK),
    ("code", None, UNKNOWN_CODE),
    ("callback", None, CALLBACK_PASSED),
    ("at", "in the past", CALLBACK_IN_PAST),
    ("at", "outside the calling window", CALLBACK_OUTSIDE_WINDOW),
    ("at", "time zone is unknown", CALLBACK_NO_ZONE),
    ("at", None, CALLBACK_TIME_NEEDED),
    ("number", None, BAD_NUMBER),
    ("phones", None, NO_PHONE),
    ("phone_index", None, CHOOSE_PHONE),
    ("caller_id", None, CHOOSE_CALLER_ID),
    ("note", None, NOTE_TOO_LONG),
)
_FIELD = re.compile(r"^fields\.(?P<name>.+)$")


def error_notice(error: CallhopperError) -> Notice:
    """The sentence for an error a service raised."""
    if isinstance(error, Conflict):
        if error.code == "owned_by_another_agent":
            text = (
                OWNER_CHANGED_TAKEN_BACK
                if "taken back" in error.message
                else (OWNER_CHANGED_AFTER_CALL)
            )
            return Notice(text, level="error")
        return Notice(_CONFLICTS.get(error.code, FAILED), level="error")
    if isinstance(error, NotFound):
        where = error.details.get("field")
        if where == "record_id":
            return Notice(RECORD_GONE, level="error")
        if where == "campaign_id":
            return Notice(CAMPAIGN_GONE, level="error")
        if where == "callback":
            return Notice(NO_CALLBACK, level="error")
        return Notice(NOT_FOUND, level="error")
    if isinstance(error, InvalidInput):
        return invalid_notice(str(error.details.get("field") or ""), error.message)
    if isinstance(error, PermissionDenied):
        return Notice(PERMISSION_DENIED, level="error")
    if isinstance(error, NotAuthenticated):
        return Notice(SESSION_EXPIRED, level="error")
    if isinstance(error, Contention):
        return Notice(BUSY, level="error")
    return Notice(FAILED, level="error")


def invalid_notice(where: str, message: str) -> Notice:
    """The sentence for input refused at ``where`` (a field name) with ``message``."""
    fielded = _FIELD.match(where)
    if fielded is not None:
        name = fielded.group("name")
        if "required" in message:
            return Notice(FIELD_REQUIRED, {"field": name}, "error")
        if "read-only" in message:
            return Notice(FIELD_READ_ONLY, {"field": name}, "error")
        return Notice(FIELD_INVALID, {"field": name}, "error")
    for name, fragment, text in _INVALID:
        if name == where and (fragment is None or fragment in message):
            return Notice(text, level="error")
    return Notice(INVALID, level="error")


def validation_notice(error: ValidationError) -> Notice:
    """The sentence for a form the API's schema refused (the first problem)."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return invalid_notice(where, str(first.get("msg", "")))


def no_record_notice(reason: str, campaign: str, at: str = "") -> Notice:
    text = _NO_RECORD.get(reason, NO_RECORD_OTHER)
    params = {"campaign": campaign}
    if "%(at)s" in text:
        params["at"] = at
    return Notice(text, params, "info" if reason in ("pushed", "dialled") else "warning")


def dial_notices(
    case: str,
    closed: str | None,
    number: str | None,
    caller_id: str | None,
    extension: str | None = None,
) -> list[Notice]:
    """What Call did: the do-not-call case of the seed, then the number dialled."""
    if closed is not None:
        return [Notice(_CLOSED.get(closed, _CLOSED["not_validated"]), level="warning")]
    notices = []
    if case in _DIAL_CASES:
        notices.append(Notice(_DIAL_CASES[case], level="warning"))
    if number is not None:
        if caller_id:
            notices.append(Notice(CALLING_FROM, {"number": number, "caller_id": caller_id}))
        else:
            notices.append(Notice(CALLING, {"number": number}))
        if extension:
            notices.append(Notice(DIAL_EXTENSION, {"extension": extension}))
    return notices


def ended_notice(reason: str | None) -> Notice:
    return Notice(ENDED.get(reason or "", ENDED_OTHER), level="warning")


# --- carrying notices to the next page (post, redirect, get) -----------------------------------

FLASH_COOKIE = "callhopper_flash"


def dump_flash(notices: list[Notice]) -> str:
    """The notices as a cookie value (JSON, percent-encoded)."""
    return quote(json.dumps([[n.text, n.params, n.level] for n in notices], separators=(",", ":")))


def load_flash(raw: str | None) -> list[Notice]:
    """The notices of the flash cookie; anything that is not one of our sentences is
    dropped."""
    if not raw:
        return []
    try:
        items = json.loads(unquote(raw))
    except ValueError:
        return []
    notices = []
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, list) and len(item) == 3):
            continue
        text, params, level = item
        if (
            text in _KNOWN
            and isinstance(params, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
            and level in ("info", "success", "warning", "error")
        ):
            notices.append(Notice(text, params, level))
    return notices
