"""The lab runner's checks and arguments, without Docker."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from pyrlab.engine import bind_mount
from pyrlab.labs.errors import LabError
from pyrlab.labs.password import store_password
from pyrlab.labs.ports import Publish, check_port_free, is_loopback
from pyrlab.labs.private import caller_ids, notebook_ids, prepare_config_dir, read_private, token_for, write_private
from pyrlab.labs.spec import LabSpec, lab_container, published
from pyrlab.labs.start import docker_run_args, start, warnings_for
from pyrlab.labs.status import url_to_open
from pyrlab.settings import SettingError, Settings, check_mountable

YOU = caller_ids()


def spec(tmp_path: Path, **changes: object) -> LabSpec:
    values: dict[str, object] = {
        "lab": "pylab",
        "image": "pylab:latest",
        "bind": "127.0.0.1",
        "publish": [Publish("PYPORT", 8888, 8888), Publish("DTPORT", 40000, 40000)],
        "notebooks": tmp_path / "notebooks",
        "config": tmp_path / "config",
        "cli": "docker",
        "docker_args": ["--gpus", "all"],
    }
    values.update(changes)
    return LabSpec(**values)  # type: ignore[arg-type]


@pytest.mark.usefixtures("made_environment")
def test_a_labs_ports_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYPORT", "8890")
    assert published("pylab", Settings.from_environment()) == [Publish("PYPORT", 8890, 8888)]
    monkeypatch.setenv("PUBLISH_TOOLS", "yes")
    tools = published("pylab", Settings.from_environment())
    assert tools[1:] == [Publish("DTPORT", 40000, 40000), Publish("TFPORT", 6006, 6006)]
    assert published("rlab", Settings.from_environment()) == [Publish("RPORT", 9999, 8888)]
    assert lab_container("rlab", Settings.from_environment()) == "rlab-9999"


@pytest.mark.usefixtures("made_environment")
def test_a_bad_port_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYPORT", "88a8")
    with pytest.raises(SettingError, match="PYPORT=88a8"):
        Settings.from_environment()


def test_name_has_the_lab_and_its_port(tmp_path: Path) -> None:
    assert spec(tmp_path).name == "pylab-8888"


def test_port_in_use_names_the_variable_and_a_free_choice() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(LabError) as raised:
            check_port_free("127.0.0.1", Publish("RPORT", port, 8888))
    message = str(raised.value)
    assert f"port {port} on 127.0.0.1 is already in use (RPORT={port})" in message
    assert f"RPORT={port + 1}" in message


def test_free_port_passes() -> None:
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        port = finder.getsockname()[1]
    check_port_free("127.0.0.1", Publish("PYPORT", port, 8888))


def test_token_file_is_private_and_reused(tmp_path: Path) -> None:
    token_file = tmp_path / "pylab.token"
    token = token_for(token_file, YOU)
    assert len(token) == 48
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_for(token_file, YOU) == token


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"ab\x00cd\n", "not a token pyrlab wrote"), (b"a" * 5000, "more than a token"), (b"not-hex\n", "not a token")],
)
def test_token_file_that_pyrlab_did_not_write_is_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    token_file = tmp_path / "pylab.token"
    token_file.write_bytes(content)
    token_file.chmod(0o600)
    with pytest.raises(LabError, match=problem):
        token_for(token_file, YOU)
    assert token_file.read_bytes() == content  # left as it was, for the user to look at


def test_token_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    token_file = tmp_path / "pylab.token"
    os.mkfifo(token_file, 0o600)
    with pytest.raises(LabError, match="is not a regular file"):
        token_for(token_file, YOU)


def test_token_file_with_another_hard_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("abcdef\n")
    (tmp_path / "elsewhere").chmod(0o600)
    os.link(tmp_path / "elsewhere", tmp_path / "pylab.token")
    with pytest.raises(LabError, match="other hard link"):
        token_for(tmp_path / "pylab.token", YOU)


def test_config_dir_is_created_private(tmp_path: Path) -> None:
    config = tmp_path / "docker"
    prepare_config_dir(config, YOU)
    assert stat.S_IMODE(config.stat().st_mode) == 0o700


def test_config_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "docker"
    config.write_text("")
    with pytest.raises(LabError, match="is not a directory"):
        prepare_config_dir(config, YOU)


def test_run_arguments_publish_on_the_bind_address_only(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    args = docker_run_args(spec(tmp_path))
    published = [args[index + 1] for index, arg in enumerate(args) if arg == "--publish"]
    assert published == ["127.0.0.1:8888:8888", "127.0.0.1:40000:40000"]


def test_run_arguments_pass_the_token_as_a_file_not_a_value(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    args = docker_run_args(spec(tmp_path))
    assert "JUPYTER_TOKEN_FILE=/home/jovyan/.pyrlab/pylab.token" in args
    assert not any(arg.startswith("JUPYTER_TOKEN=") for arg in args)


def test_notebook_user_takes_the_callers_ids_or_roots_folder_owner(tmp_path: Path) -> None:
    """As root, the ids of the NOTEBOOKS owner (here the test's own folder: root's as CI runs)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    owner = notebooks.stat()
    expected = (os.getuid(), os.getgid()) if os.getuid() != 0 else (owner.st_uid, owner.st_gid)
    assert notebook_ids(notebooks) == expected


def test_lab_runs_as_the_notebook_user_from_its_first_process(tmp_path: Path) -> None:
    """No root stage: the notebook user's ids are the container's user, with group users for the
    environment, no capability and no way to gain one; HOME for `docker exec` too."""
    (tmp_path / "notebooks").mkdir()
    uid, gid = notebook_ids(tmp_path / "notebooks")
    args = docker_run_args(spec(tmp_path))
    assert args[args.index("--user") + 1] == f"{uid}:{gid}"
    assert args[args.index("--group-add") + 1] == "100"
    assert args[args.index("--cap-drop") + 1] == "ALL"
    assert "--cap-add" not in args
    assert args[args.index("--security-opt") + 1] == "no-new-privileges"
    assert "HOME=/home/jovyan" in args
    assert not any(arg.startswith(("NB_UID=", "NB_GID=")) for arg in args)
    assert args[-3:] == ["--gpus", "all", "pylab:latest"]


def test_missing_cli_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="CONTAINER_CLI=no-such-cli is not on PATH"):
        start(spec(tmp_path, cli="no-such-cli"))


def test_no_warning_for_the_secure_defaults(tmp_path: Path) -> None:
    assert warnings_for(spec(tmp_path, publish=[Publish("PYPORT", 8888, 8888)])) == []


def test_warnings_name_what_lets_others_in(tmp_path: Path) -> None:
    warnings = warnings_for(spec(tmp_path, auth="none", bind="0.0.0.0"))
    assert any(warning.startswith("AUTH=none") for warning in warnings)
    assert any(warning.startswith("BIND_ADDRESS=0.0.0.0") for warning in warnings)
    assert any(warning.startswith("DTPORT=40000 is published without authentication") for warning in warnings)


def test_auth_none_passes_no_token_file(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    args = docker_run_args(spec(tmp_path, auth="none"))
    assert "PYRLAB_AUTH=none" in args
    assert not any(arg.startswith("JUPYTER_TOKEN_FILE=") for arg in args)


def test_a_stored_password_replaces_the_token_file(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    store_password(tmp_path / "config", tmp_path / "notebooks", "argon2:$argon2id$v=19$fake")
    assert stat.S_IMODE((tmp_path / "config" / "jupyter_password").stat().st_mode) == 0o600
    args = docker_run_args(spec(tmp_path))
    assert not any(arg.startswith("JUPYTER_TOKEN_FILE=") for arg in args)


def test_unknown_auth_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(LabError, match="AUTH=basic"):
        start(spec(tmp_path, auth="basic", cli="true"))


def test_url_to_open_follows_the_configuration_folder(tmp_path: Path) -> None:
    assert url_to_open(tmp_path, "rlab", "9999") == "http://127.0.0.1:9999/lab"
    (tmp_path / "rlab.token").write_text("abc\n")
    assert url_to_open(tmp_path, "rlab", "9999") == "http://127.0.0.1:9999/lab?token=abc"
    (tmp_path / "ssl").mkdir()
    (tmp_path / "ssl" / "cert.pem").write_text("")
    assert url_to_open(tmp_path, "rlab", "9999") == "https://127.0.0.1:9999/lab?token=abc"
    (tmp_path / "jupyter_password").write_text("argon2:...")
    assert url_to_open(tmp_path, "rlab", "9999").startswith("https://127.0.0.1:9999/lab (log in with the password")


def test_bind_mount_keeps_quotes_colons_and_commas_in_one_path() -> None:
    value = bind_mount(Path("/home/a/it's: a, test"), "/home/jovyan/work")
    assert value == """type=bind,"source=/home/a/it's: a, test",target=/home/jovyan/work"""


def test_line_break_in_a_path_names_the_variable() -> None:
    with pytest.raises(SettingError, match="NOTEBOOKS has a line break"):
        check_mountable(Path("/home/a/line\nbreak"), "NOTEBOOKS")


@pytest.mark.parametrize(("bind", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("192.0.2.7", False), ("", False)])  # fmt: skip
def test_loopback_binds(bind: str, loopback: bool) -> None:
    assert is_loopback(bind) is loopback


def test_remote_bind_lifts_the_host_check_and_privileges_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    remote = docker_run_args(spec(tmp_path, bind="0.0.0.0"))
    local = docker_run_args(spec(tmp_path))
    assert "PYRLAB_ALLOW_REMOTE_ACCESS=yes" in remote
    assert "PYRLAB_ALLOW_REMOTE_ACCESS=yes" not in local
    assert local[local.index("--cap-drop") + 1] == "ALL"
    assert "no-new-privileges" in local


def test_grant_sudo_starts_as_root_docker_stacks_way(tmp_path: Path) -> None:
    """Root on request only: GRANT_SUDO=yes starts as root with the notebook user's ids to take,
    and keeps the privileges sudo needs."""
    (tmp_path / "notebooks").mkdir()
    uid, gid = notebook_ids(tmp_path / "notebooks")
    args = docker_run_args(spec(tmp_path, docker_args=["--env", "GRANT_SUDO=yes"]))
    assert args[args.index("--user") + 1] == "root"
    assert f"NB_UID={uid}" in args
    assert f"NB_GID={gid}" in args
    assert "--cap-drop" not in args
    assert "no-new-privileges" not in args


def test_private_files_refuse_links_and_other_writers(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    (tmp_path / "token").chmod(0o600)
    assert read_private(tmp_path / "token", os.geteuid()) == "abc\n"
    (tmp_path / "link").symlink_to(tmp_path / "token")
    with pytest.raises(LabError, match="is a symbolic link"):
        read_private(tmp_path / "link", os.geteuid())
    (tmp_path / "token").chmod(0o620)
    with pytest.raises(LabError, match="chmod go-w"):
        read_private(tmp_path / "token", os.geteuid())
    (tmp_path / "token").chmod(0o600)
    with pytest.raises(LabError, match="belongs to uid"):
        read_private(tmp_path / "token", os.geteuid() + 1)


def test_token_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    token = tmp_path / "pylab.token"
    write_private(token, "first", YOU)
    assert token.read_text() == "first\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pylab.token"]
