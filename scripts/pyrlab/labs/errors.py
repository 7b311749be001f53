"""The error of a lab's commands (and the team server's): what stops them, and what to do."""

from __future__ import annotations

from pyrlab.inside.errors import UserError


class LabError(UserError):
    """A lab cannot start or stop; the message says why and what to do."""
