"""SWARM_HOMES=pinned: the node that holds each account's home (a Docker volume there), by the
account's uid, which no other account ever gets. A JSON file in HUB_DATA, written whole and renamed
over the old one (accounts.write_record); `make hub-status` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from accounts import write_record


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
        write_record(self.path, {str(uid): asdict(pin) for uid, pin in sorted(pins.items())})
