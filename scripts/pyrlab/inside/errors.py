"""The one family of errors a user can act on: each message names the file, line or setting, and
the fix. `python -m pyrlab` prints them without a traceback; anything else is a bug."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the message says how."""
