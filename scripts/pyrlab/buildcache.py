"""`make clean`: pyrlab's own build cache, not the other projects' on the same engine.

BuildKit records no project for a cache record, only a description of the step that made it. A
step of pyrlab's Dockerfiles names one of pyrlab's helpers or paths; those records (layers and
cache mounts alike) are pyrlab's. What names none (a context transfer, a COPY) is left to the
engine's own garbage collection: it may be another project's.
"""

from __future__ import annotations

from typing import Any

from pyrlab import engine

MARKERS = ("apt-install", "uv-install", "add-ca-certs", "/usr/local/sbin/build-ca", "pyrlab")


def is_pyrlab_record(record: dict[str, Any]) -> bool:
    description = str(record.get("Description", ""))
    return not record.get("InUse") and any(marker in description for marker in MARKERS)


def clean(cli: str) -> str:
    """Prune pyrlab's records; say how many, and that the others stay."""
    records = engine.build_cache_records(cli)
    ours = [str(record["ID"]) for record in records if is_pyrlab_record(record)]
    engine.prune_build_cache(cli, ours)
    return f"removed {len(ours)} of pyrlab's build cache records; the other {len(records) - len(ours)} stay"
