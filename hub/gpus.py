"""Which GPUs a new server may have: those of the pool that no running server holds.

Standard library only. The hub derives the holders from the running containers' labels at every
spawn, so a restarted hub knows them without any state of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class NoFreeGpu(Exception):
    """The pool has too few free GPUs; the message names who holds each one."""


def parse_pool(text: str) -> list[str]:
    """GPU_POOL, e.g. "0,1,2,3" (device ids or UUIDs), in order; empty: no GPU to give."""
    return [part.strip() for part in text.split(",") if part.strip()]


def holders(labels_by_user: Mapping[str, str]) -> dict[str, str]:
    """GPU id -> the user whose running server holds it, from each server's GPU label."""
    held = {}
    for user, label in labels_by_user.items():
        for gpu in parse_pool(label):
            held[gpu] = user
    return held


def allocate(pool: Sequence[str], per_user: int, held: Mapping[str, str], user: str) -> list[str]:
    """The first `per_user` GPUs of the pool that nobody holds (a user's own count as free: their
    previous server is being replaced). Raises NoFreeGpu naming the holders."""
    if per_user < 1:
        raise ValueError(f"GPUS_PER_USER={per_user}: give 1 or more")
    if not pool:
        raise NoFreeGpu("this hub has no GPU to give (GPU_POOL is empty): choose an image without CUDA")
    free = [gpu for gpu in pool if held.get(gpu, user) == user]
    if len(free) < per_user:
        taken = ", ".join(f"GPU {gpu}: {held[gpu]}" for gpu in pool if gpu in held)
        raise NoFreeGpu(
            f"no {per_user} free GPU{'s' if per_user > 1 else ''} in GPU_POOL={','.join(pool)} ({taken}); "
            "try again when one of them stops their server, or ask the admin"
        )
    return free[:per_user]
