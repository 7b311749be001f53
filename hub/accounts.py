"""Each account of the team server and its host uid: a uid is given once and never again, and a
deleted account's home is kept aside, never handed to a new account of the same name.

An account is its name and the moment the hub created it: the database may give a new account
the id of a deleted one (SQLite reuses ids), but never the same creation time. The record is a
JSON file in HUB_DATA, written whole and renamed over the old one. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyrlab.inside.contract import HUB_ACCOUNTS, KEPT_ASIDE

# A user name: a folder of HUB_HOMES, a container name and a label, so lower case letters, digits
# and . _ - only (no control character, no path separator). Sign-up, OAuth and `make hub-user`.
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")  # \Z: `$` would let a final line break through
RECORD = Path(HUB_ACCOUNTS).name


@dataclass
class Account:
    name: str
    created: str
    uid: int
    deleted: str = ""  # when the admin deleted it
    kept_at: str = ""  # where its home was put aside


def write_record(path: Path, document: object) -> None:
    """A record of the hub's state as JSON, root's alone, written whole and renamed over the old
    one: a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def host_uids(passwd: Path) -> set[int]:
    """The uids of the host's accounts (its /etc/passwd, mounted read-only in the hub)."""
    if not passwd.is_file():
        return set()
    fields = (line.split(":") for line in passwd.read_text(encoding="utf-8", errors="replace").splitlines())
    return {int(entry[2]) for entry in fields if len(entry) > 2 and entry[2].isdigit()}


class Accounts:
    """The record of every account the hub ever gave a uid, read and written under HUB_DATA. A uid
    that a host account has is never given (its owner could read that user's home)."""

    def __init__(self, data: Path, homes: Path, uid_base: int, host_passwd: Path | None = None) -> None:
        self.path, self.homes, self.uid_base = data / RECORD, homes, uid_base
        self.host_passwd = host_passwd

    def read(self) -> list[Account]:
        if not self.path.exists():
            return []
        return [Account(**entry) for entry in json.loads(self.path.read_text(encoding="utf-8"))["accounts"]]

    def write(self, accounts: list[Account]) -> None:
        write_record(self.path, {"accounts": [asdict(account) for account in accounts]})

    def live_account(self, accounts: list[Account], name: str, created: str) -> Account | None:
        """The account of this name and creation time that was not deleted, if it has one."""
        for account in accounts:
            if (account.name, account.created) == (name, created) and not account.deleted:
                return account
        return None

    def uid_for(self, name: str, created: str) -> int:
        """The account's uid: the one it was given, or a new one no account ever had.

        A home from before this record (a hub upgraded from pyrlab's earlier uids) is adopted by
        the account of its name when no recorded account holds its owner's uid.
        """
        accounts = self.read()
        live = self.live_account(accounts, name, created)
        if live:
            return live.uid
        taken = {account.uid for account in accounts}
        on_host = host_uids(self.host_passwd) if self.host_passwd else set()
        home = self.homes / name
        owner = home.stat().st_uid if home.is_dir() and not home.is_symlink() else 0
        if owner and owner not in taken and owner not in on_host:
            uid = owner
        else:
            uid = max([self.uid_base - 1, *taken]) + 1
            while uid in on_host:
                uid += 1
        accounts.append(Account(name, created, uid))
        self.write(accounts)
        return uid

    def prepare_home(self, name: str, uid: int) -> tuple[Path, Path | None]:
        """The account's home, made private to its uid; a home of the same name that another uid
        owns (a deleted account's) is first put aside. Returns the home and where a home was put."""
        home, kept = self.homes / name, None
        if home.is_symlink() or (home.exists() and home.stat().st_uid != uid):
            kept = self.keep_aside(home)
        if not home.exists():
            home.mkdir(mode=0o700)
            os.chown(home, uid, uid)
        return home, kept

    def keep_aside(self, home: Path) -> Path:
        aside = self.homes / KEPT_ASIDE
        aside.mkdir(mode=0o700, exist_ok=True)
        owner = home.lstat().st_uid
        kept = aside / f"{home.name}.uid{owner}.{time.strftime('%Y%m%dT%H%M%S')}"
        home.rename(kept)
        return kept

    def delete(self, name: str, created: str) -> Path | None:
        """The admin deleted the account: its home is put aside and its uid never given again."""
        accounts = self.read()
        home, kept = self.homes / name, None
        for account in accounts:
            if (account.name, account.created) == (name, created) and not account.deleted:
                if home.exists() and home.lstat().st_uid == account.uid:
                    kept = self.keep_aside(home)
                account.deleted = time.strftime("%Y-%m-%dT%H:%M:%S")
                account.kept_at = str(kept or "")
        self.write(accounts)
        return kept

    def kept_aside(self) -> list[Account]:
        return [account for account in self.read() if account.kept_at and Path(account.kept_at).exists()]
