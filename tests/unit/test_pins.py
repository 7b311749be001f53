"""SWARM_HOMES=pinned: the record of each home's node, by uid."""

import stat
from pathlib import Path

from pins import Pin, Pins


def test_pins_are_kept_by_uid_in_a_private_file(tmp_path: Path) -> None:
    pins = Pins(tmp_path / "swarm-pins.json")
    assert pins.of(20001) is None
    alice = Pin(user="alice", volume="pyrlab-home-alice-20001", node_id="n1", hostname="worker1")
    pins.record(20001, alice)
    pins.record(20002, Pin(user="alice", volume="pyrlab-home-alice-20002", node_id="n2", hostname="worker2"))
    assert Pins(tmp_path / "swarm-pins.json").of(20001) == alice
    assert sorted(pins.read()) == [20001, 20002]
    assert stat.S_IMODE((tmp_path / "swarm-pins.json").stat().st_mode) == 0o600
