"""make clean: which build cache records are pyrlab's."""

from __future__ import annotations

from pyrlab.images.buildcache import is_pyrlab_record, pyrlab_records


def test_build_cache_records_in_use_as_the_cli_writes_them() -> None:
    step = "mount / from exec /bin/bash -euo pipefail -c apt-install -f /tmp/base_debs.txt"
    assert is_pyrlab_record({"Description": step, "InUse": "false"})
    assert not is_pyrlab_record({"Description": step, "InUse": "true"})
    assert not is_pyrlab_record({"Description": "mount / from exec /bin/sh -c make", "InUse": "false"})


def test_a_record_built_on_a_pyrlab_step_is_pyrlabs_too() -> None:
    records = [
        {"ID": "a", "Description": "mount / from exec /bin/bash -c uv-install x", "InUse": "false", "Parent": ""},
        {"ID": "b", "Description": "fileop target", "InUse": "false", "Parent": "a"},
        {"ID": "c", "Description": "fileop target", "InUse": "false", "Parent": ""},
        {"ID": "d", "Description": "fileop target", "InUse": "true", "Parent": "a"},
    ]
    assert pyrlab_records(records) == ["a", "b"]
