"""The team server's GPU allocator: free GPUs of the pool, holders derived from running servers."""

from __future__ import annotations

import pytest

import gpus


def test_pool_and_holders_are_read_from_settings_and_labels() -> None:
    assert gpus.parse_pool(" 0, 1,,GPU-abc ") == ["0", "1", "GPU-abc"]
    assert gpus.holders({"alice": "0", "bob": "1,2", "carol": ""}) == {"0": "alice", "1": "bob", "2": "bob"}


def test_each_user_gets_gpus_no_running_server_holds() -> None:
    pool = ["0", "1", "2", "3"]
    assert gpus.allocate(pool, 1, {}, "alice") == ["0"]
    assert gpus.allocate(pool, 1, {"0": "alice"}, "bob") == ["1"]
    assert gpus.allocate(pool, 2, {"0": "alice", "2": "carol"}, "bob") == ["1", "3"]


def test_a_users_own_gpus_count_as_free_for_their_new_server() -> None:
    assert gpus.allocate(["0", "1"], 1, {"0": "alice", "1": "bob"}, "alice") == ["0"]


def test_a_full_pool_names_who_holds_each_gpu() -> None:
    with pytest.raises(gpus.NoFreeGpu) as raised:
        gpus.allocate(["0", "1"], 1, {"0": "alice", "1": "bob"}, "carol")
    assert "GPU 0: alice, GPU 1: bob" in str(raised.value)


def test_an_empty_pool_says_to_choose_another_image() -> None:
    with pytest.raises(gpus.NoFreeGpu, match="GPU_POOL is empty"):
        gpus.allocate([], 1, {}, "alice")


def test_a_stopped_server_frees_its_gpus() -> None:
    running = {"alice": "0", "bob": "1"}
    with pytest.raises(gpus.NoFreeGpu):
        gpus.allocate(["0", "1"], 1, gpus.holders(running), "carol")
    del running["alice"]  # alice's container is gone, and its label with it
    assert gpus.allocate(["0", "1"], 1, gpus.holders(running), "carol") == ["0"]
