"""The team server's record of accounts: a uid given once, a deleted account's home kept aside."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from accounts import USER_NAME, Accounts

# Giving a home to another uid needs root, as the hub has (CI runs as root).
pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="chown to the accounts' uids needs root")


def accounts(tmp_path: Path) -> Accounts:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "homes").mkdir(exist_ok=True)
    return Accounts(tmp_path / "data", tmp_path / "homes", 20000)


def test_a_deleted_accounts_uid_and_home_never_go_to_a_new_account_of_its_name(tmp_path: Path) -> None:
    record = accounts(tmp_path)
    first = record.uid_for("zz1", "2026-01-01T00:00:00")
    home, kept = record.prepare_home("zz1", first)
    assert kept is None
    (home / "private.txt").write_text("mine")
    aside = record.delete("zz1", "2026-01-01T00:00:00")
    assert aside is not None
    assert (aside / "private.txt").read_text() == "mine"
    again = record.uid_for("zz1", "2026-02-02T00:00:00")  # another person, the same name
    assert again != first
    home, kept = record.prepare_home("zz1", again)
    assert list(home.iterdir()) == []
    assert home.stat().st_uid == again
    assert [account.kept_at for account in record.kept_aside()] == [str(aside)]


def test_an_account_keeps_its_uid_and_the_record_is_private(tmp_path: Path) -> None:
    record = accounts(tmp_path)
    alice = record.uid_for("alice", "2026-01-01T00:00:00")
    bob = record.uid_for("bob", "2026-01-01T00:00:01")
    assert record.uid_for("alice", "2026-01-01T00:00:00") == alice
    assert len({alice, bob}) == 2
    assert stat.S_IMODE((tmp_path / "data" / "accounts.json").stat().st_mode) == 0o600


def test_a_home_that_another_uid_owns_is_put_aside_not_handed_over(tmp_path: Path) -> None:
    """A database reset or a home of an earlier account that the record never saw deleted."""
    record = accounts(tmp_path)
    record.uid_for("carol", "2026-01-01T00:00:00")
    stale = tmp_path / "homes" / "dave"
    stale.mkdir()
    (stale / "secret").write_text("not yours")
    os.chown(stale, 20000, 20000)  # carol's uid
    uid = record.uid_for("dave", "2026-03-03T00:00:00")
    home, kept = record.prepare_home("dave", uid)
    assert kept is not None
    assert (kept / "secret").read_text() == "not yours"
    assert list(home.iterdir()) == []


def test_an_upgraded_hubs_homes_are_adopted_by_their_accounts(tmp_path: Path) -> None:
    record = accounts(tmp_path)
    home = tmp_path / "homes" / "erin"
    home.mkdir()
    os.chown(home, 20007, 20007)  # given by an earlier pyrlab, from the database id
    assert record.uid_for("erin", "2026-01-01T00:00:00") == 20007
    assert record.uid_for("frank", "2026-01-01T00:00:00") == 20008


@pytest.mark.parametrize("name", ["a\nb", "a\tb", "a/b", "../x", "A", "", "a\n", ".hidden", "a b"])
def test_user_names_with_control_characters_or_separators_are_refused(name: str) -> None:
    assert USER_NAME.match(name) is None


@pytest.mark.parametrize("name", ["alice", "a.b", "a_b", "a-b", "x1"])
def test_plain_user_names_are_accepted(name: str) -> None:
    assert USER_NAME.match(name)


def test_a_uid_of_a_host_account_is_never_given(tmp_path: Path) -> None:
    """A host user with a uid in the hub's range could read that hub user's home."""
    passwd = tmp_path / "passwd"
    passwd.write_text(
        "root:x:0:0::/root:/bin/bash\nlocal:x:20000:20000::/home/local:/bin/sh\nldap:x:20001:1::/:/bin/sh\n"
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "homes").mkdir()
    record = Accounts(tmp_path / "data", tmp_path / "homes", 20000, passwd)
    assert record.uid_for("alice", "2026-01-01T00:00:00") == 20002
    stale = tmp_path / "homes" / "bob"
    stale.mkdir()
    os.chown(stale, 20000, 20000)  # the host user's: never adopted
    assert record.uid_for("bob", "2026-01-01T00:00:00") == 20003
