"""`make clean`: pyrlab's own build cache, not the other projects' on the same engine.

BuildKit records no project for a cache record, only a description of the step that made it. A
step of pyrlab's Dockerfiles names one of pyrlab's helpers or paths; those records (layers and
cache mounts alike) are pyrlab's. What names none (a context transfer, a COPY) is left to the
engine's own garbage collection: it may be another project's.
"""

from __future__ import annotations

from typing import Any

from pyrlab import engine

MARKERS = ("apt-install", "uv-install", "venv-install", "add-ca-certs", "/usr/local/sbin/build-ca", "pyrlab")


def in_use(record: dict[str, Any]) -> bool:
    return str(record.get("InUse", "")).lower() == "true"  # the CLI writes "true" or "false"


def is_pyrlab_record(record: dict[str, Any]) -> bool:
    description = str(record.get("Description", ""))
    return not in_use(record) and any(marker in description for marker in MARKERS)


def parents(record: dict[str, Any]) -> list[str]:
    listed = record.get("Parents") or record.get("Parent") or []
    return [part for part in (listed.split(",") if isinstance(listed, str) else listed) if part]


def pyrlab_records(records: list[dict[str, Any]]) -> list[str]:
    """The ids of pyrlab's records: those a step of pyrlab made, and every record built on one (a
    COPY after pyrlab's RUN names no helper, but the engine prunes no parent while it stays)."""
    by_id = {str(record["ID"]): record for record in records}
    ours: dict[str, bool] = {}

    def is_ours(record_id: str, seen: frozenset[str] = frozenset()) -> bool:
        if record_id not in ours:
            record = by_id.get(record_id)
            ours[record_id] = record is not None and (
                is_pyrlab_record(record)
                or any(is_ours(parent, seen | {record_id}) for parent in parents(record) if parent not in seen)
            )
        return ours[record_id]

    return [record_id for record_id, record in by_id.items() if is_ours(record_id) and not in_use(record)]


def clean(cli: str) -> str:
    """Prune pyrlab's records; say how many, and that the others stay."""
    records = engine.build_cache_records(cli)
    ours = pyrlab_records(records)
    engine.prune_build_cache(cli, ours)
    return f"removed {len(ours)} of pyrlab's build cache records; the other {len(records) - len(ours)} stay"
