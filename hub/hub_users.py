"""`make hub-user NAME`: add a user (or authorize one who signed up) with a new random password,
printed once. Runs in the hub's container, beside the running hub. With --if-new, a user who
exists already is left as they are and nothing is printed (`make hub` makes the admin so)."""

from __future__ import annotations

import secrets
import sys

import bcrypt
from jupyterhub import orm
from nativeauthenticator.orm import UserInfo

from accounts import USER_NAME
from pyrlab.inside.contract import HUB_DATABASE

DB_URL = f"sqlite:///{HUB_DATABASE}"


def main(argv: list[str]) -> int:
    if_new = argv[:1] == ["--if-new"]
    names = argv[1:] if if_new else argv
    if len(names) != 1 or not USER_NAME.match(names[0]):
        print("usage: make hub-user NAME (lower case letters, digits, . _ -)", file=sys.stderr)
        return 2
    name = names[0]
    session = orm.new_session_factory(DB_URL)()
    password = secrets.token_urlsafe(12)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    info = UserInfo.find(session, name)
    if info is not None and if_new:
        return 0
    if info is None:
        session.add(UserInfo(username=name, password=hashed, is_authorized=True))
    else:
        info.password, info.is_authorized = hashed, True
    session.commit()
    print(password)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
