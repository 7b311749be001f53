"""SWARM_HOMES=pinned: the node that holds each account's home (a Docker volume there), by the
account's uid, which no other account ever gets. A JSON file in HUB_DATA, written whole and renamed
over the old one; `make hub-status` reads it. Standard library only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pin:
    user: str
    volume: str
    node_id: str
    hostname: str


class Pins:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[int, Pin]:
        if not self.path.exists():
            return {}
        return {int(uid): Pin(**pin) for uid, pin in json.loads(self.path.read_text(encoding="utf-8")).items()}

    def of(self, uid: int) -> Pin | None:
        return self.read().get(uid)

    def record(self, uid: int, pin: Pin) -> None:
        pins = self.read()
        pins[uid] = pin
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({str(uid): asdict(pin) for uid, pin in sorted(pins.items())}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
