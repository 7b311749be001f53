"""The team server for real: `make hub` starts JupyterHub, which spawns real containers of pylab
and rlab for users added with `make hub-user`; everything through the hub's port on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from harness.chain import chain_images
from harness.hubclient import HubClientError, HubUser
from harness.imagelab import cell_through_hub
from harness.makefile import copy_project, free_port
from harness.makerun import REPO, SCRATCH_PREFIX, make, scratch_make
from pyrlab.inside.contract import GPU_LABEL, HUB_LABEL, USER_LABEL

IMAGES = chain_images()


@dataclass(frozen=True)
class Hub:
    port: int
    data: Path
    homes: Path
    settings: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"pyrlab-hub-{self.port}"


def run_cell(client: Any, hub: Hub, user: str, token: str, kernel: str, code: str) -> str:
    """A cell through the hub's proxy, from inside the hub's container."""
    return cell_through_hub(client.containers.get(hub.name), user, token, kernel, code)


@pytest.fixture(scope="module")
def docker_client() -> Any:
    return docker.from_env(version="auto")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("hub")
    (folder / "shared").mkdir()
    (folder / "shared" / "data.txt").write_text("team data\n")
    port = free_port()
    images = IMAGES
    # pylab-cuda: a CUDA image by its name, so that its users get GPUs of the pool (the CPU build
    # stands in for it: no GPU here, the engine refuses to start it, which the spawn reports).
    choices = f"pylab={images['pylab']},rlab={images['rlab']},pylab-cuda={images['pylab']}"
    settings = [f"HUB_PORT={port}", f"HUB_DATA={folder / 'data'}", f"HUB_HOMES={folder / 'homes'}", "HUB_ADMIN=admin"]
    settings += ["HUB_MEM_LIMIT=2G", "HUB_CPU_LIMIT=1", f"HUB_SHARED={folder / 'shared'}", f"HUB_IMAGES={choices}"]
    settings += ["GPU_POOL=0,1", "GPUS_PER_USER=1", f"DOCKER={folder / 'config'}"]
    started = make("hub", *settings)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    assert f"http://127.0.0.1:{port}/hub/" in started.stdout
    assert f"ssh -L {port}:127.0.0.1:{port}" in started.stdout
    assert re.search(r"admin logs in with this password .*\n\n    \S+\n", started.stdout), started.stdout
    yield Hub(port, folder / "data", folder / "homes", settings)
    stopped = make("hub-stop", *settings)
    assert stopped.returncode == 0, stopped.stderr
    client = docker.from_env(version="auto")
    for image in client.images.list(name=f"{SCRATCH_PREFIX}pyrlab-hub"):  # the upgrade test's
        for tag in image.tags:
            client.images.remove(tag)


def add_user(hub: Hub, name: str) -> HubUser:
    added = make("hub-user", f"NAME={name}", *hub.settings)
    assert added.returncode == 0, added.stdout + added.stderr
    password = re.search(r"^    (\S+)$", added.stdout, re.MULTILINE)
    assert password, added.stdout
    return HubUser(hub.url, name, password.group(1))


@pytest.fixture(scope="module")
def alice(hub: Hub) -> HubUser:
    return add_user(hub, "alice")


@pytest.fixture(scope="module")
def bob(hub: Hub) -> HubUser:
    return add_user(hub, "bob")


def test_hub_state_is_private(hub: Hub) -> None:
    assert hub.data.stat().st_mode & 0o077 == 0
    for name in ("proxy_token", "jupyterhub_cookie_secret"):
        assert (hub.data / name).stat().st_mode & 0o077 == 0, name


def test_nobody_gets_in_without_a_password(hub: Hub) -> None:
    session = requests.Session()
    session.get(f"{hub.url}/hub/login", timeout=10)
    answer = session.post(
        f"{hub.url}/hub/login",
        data={"username": "mallory", "password": "guess", "_xsrf": session.cookies.get("_xsrf", "")},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code != 302 or "/hub/login" in answer.headers.get("Location", "")
    assert requests.get(f"{hub.url}/hub/api/users", timeout=10).status_code == 403


def test_a_user_who_signs_up_waits_for_the_admin(hub: Hub) -> None:
    signup = requests.Session()
    signup.get(f"{hub.url}/hub/signup", timeout=10)
    password = "eve's own passphrase"
    form = {"username": "eve", "signup_password": password, "signup_password_confirmation": password}
    answer = signup.post(f"{hub.url}/hub/signup", data={**form, "_xsrf": signup.cookies.get("_xsrf", "")}, timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    with pytest.raises(HubClientError, match="eve could not log in"):
        HubUser(hub.url, "eve", password)  # not authorized yet
    admin = add_user(hub, "admin")
    authorized = admin.session.get(f"{hub.url}/hub/authorize/eve", allow_redirects=False, timeout=10)
    assert authorized.status_code in (200, 302), authorized.text[:300]
    HubUser(hub.url, "eve", password)  # logs in now


def test_an_image_outside_the_list_is_refused(bob: HubUser) -> None:
    answer = bob.api("POST", "/users/bob/server", json={"image": "pyrlab-base:latest"})
    assert answer.status_code == 400, answer.text
    assert "not in allowed list" in answer.text


def test_two_users_run_code_in_their_own_labs(hub: Hub, alice: HubUser, bob: HubUser, docker_client: Any) -> None:
    alice.spawn("pylab")
    bob.spawn("rlab")
    tokens = {"alice": alice.token(), "bob": bob.token()}
    write = (
        "import os; open('/home/jovyan/work/proof.txt', 'w').write(os.environ['JUPYTERHUB_USER']); print(os.getuid())"
    )
    uids = {user: int(run_cell(docker_client, hub, user, token, "python3", write)) for user, token in tokens.items()}
    assert run_cell(docker_client, hub, "bob", tokens["bob"], "ir", "cat(6 * 7)") == "42"
    assert uids["alice"] != uids["bob"]
    for user, uid in uids.items():
        proof = hub.homes / user / "proof.txt"
        assert proof.read_text() == user
        assert proof.stat().st_uid == uid
        assert (hub.homes / user).stat().st_uid == uid
        assert (hub.homes / user).stat().st_mode & 0o077 == 0  # the other users cannot read it


def test_users_containers_are_isolated_as_labs_are(hub: Hub, alice: HubUser, docker_client: Any) -> None:
    container = docker_client.containers.get(f"{hub.name}-alice")
    host_config = container.attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert not host_config["CapAdd"]
    assert "no-new-privileges" in host_config["SecurityOpt"]
    # The user's own uid from the first process: no root stage, and `docker exec` is that user too.
    uid = (hub.homes / "alice").stat().st_uid
    assert container.attrs["Config"]["User"] == f"{uid}:{uid}"
    assert {user for _, user, _ in container.top(ps_args="-o pid,uid,args")["Processes"]} == {str(uid)}
    assert container.exec_run(["id", "-u"]).output.decode().strip() == str(uid)
    assert not any(host_config.get("PortBindings") or {}.values())  # only the hub's proxy is published
    assert host_config["NetworkMode"] == hub.name
    assert host_config["Memory"] == 2 * 1024**3
    assert host_config["NanoCpus"] or host_config["CpuQuota"] == 100_000
    # The hub watches its labs; Docker's probe would start a process in every lab every few seconds.
    assert container.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]


def test_one_user_cannot_reach_another_users_lab(hub: Hub, alice: HubUser, bob: HubUser) -> None:
    status = f"{hub.url}/user/alice/api/status"
    as_bob = bob.session.get(status, allow_redirects=False, timeout=10)
    assert as_bob.status_code in (302, 403), as_bob.text[:300]
    assert "started" not in as_bob.text
    with_bobs_token = requests.get(status, headers={"Authorization": f"token {bob.token()}"}, timeout=10)
    assert with_bobs_token.status_code == 403
    anonymous = requests.get(status, allow_redirects=False, timeout=10)
    assert anonymous.status_code in (302, 403)
    assert requests.get(status, headers={"Authorization": f"token {alice.token()}"}, timeout=10).status_code == 200


def test_a_hub_restart_leaves_the_labs_running(hub: Hub, alice: HubUser, docker_client: Any) -> None:
    lab = docker_client.containers.get(f"{hub.name}-alice")
    docker_client.containers.get(hub.name).restart(timeout=10)
    wait_for_hub(hub)
    lab.reload()
    assert lab.status == "running"
    assert run_cell(docker_client, hub, "alice", alice.token(), "python3", "print(6 * 7)").strip() == "42"


def test_files_survive_a_stop_and_a_new_spawn(hub: Hub, alice: HubUser, docker_client: Any) -> None:
    alice.stop()
    alice.spawn("pylab")
    output = run_cell(
        docker_client, hub, "alice", alice.token(), "python3", "print(open('/home/jovyan/work/proof.txt').read())"
    )
    assert output.strip() == "alice"


def test_shared_data_is_read_only(hub: Hub, alice: HubUser, docker_client: Any) -> None:
    code = (
        "print(open('/home/jovyan/shared/data.txt').read().strip())\n"
        "try:\n    open('/home/jovyan/shared/mine.txt', 'w')\nexcept OSError as error:\n    print(type(error).__name__)"
    )
    output = run_cell(docker_client, hub, "alice", alice.token(), "python3", code)
    assert output.split("\n")[:2] == ["team data", "OSError"]


def hold_gpu(client: Any, hub: Hub, user: str, gpu: str) -> Any:
    """A running server of this hub that holds a GPU, as a lab on a GPU machine would."""
    labels = {HUB_LABEL: hub.name, USER_LABEL: user, GPU_LABEL: gpu}
    return client.containers.run(IMAGES["pyrlab-base"], ["sleep", "600"], detach=True, labels=labels, entrypoint=[])


def test_gpus_of_the_pool_go_to_one_server_each(hub: Hub, docker_client: Any) -> None:
    carol = add_user(hub, "carol")
    mallory: Any = hold_gpu(docker_client, hub, "mallory", "0")
    trent: Any = None
    try:
        asked = carol.api("POST", "/users/carol/server", json={"image": "pylab-cuda"})
        assert asked.status_code == 503, asked.text  # no GPU on this machine: the engine refuses it
        assert "given GPU 1 of GPU_POOL" in asked.text  # not mallory's GPU 0, as the engine recorded it
        assert "could not select device driver" in asked.text
        trent = hold_gpu(docker_client, hub, "trent", "1")
        refused = carol.api("POST", "/users/carol/server", json={"image": "pylab-cuda"})
        assert refused.status_code == 409, refused.text
        assert "GPU 0: mallory, GPU 1: trent" in refused.text
        docker_client.containers.get(hub.name).restart(timeout=10)  # the holders come from the labels
        wait_for_hub(hub)
        carol = add_user(hub, "carol")
        assert carol.api("POST", "/users/carol/server", json={"image": "pylab-cuda"}).status_code == 409
        mallory.remove(force=True)  # a stopped server frees its GPU
        mallory = None
        freed = carol.api("POST", "/users/carol/server", json={"image": "pylab-cuda"})
        assert "given GPU 0 of GPU_POOL" in freed.text, freed.text
    finally:
        for holder in (mallory, trent):
            if holder is not None:
                holder.remove(force=True)


def wait_for_hub(hub: Hub) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{hub.url}/hub/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass  # restarting
        assert time.monotonic() < deadline, "the hub did not come back"
        time.sleep(0.5)


def new_password(hub: Hub, name: str) -> str:
    """`make hub-user NAME`: the user is authorized (added if new) with a new password, printed once."""
    added = make("hub-user", f"NAME={name}", *hub.settings)
    assert added.returncode == 0, added.stdout + added.stderr
    password = re.search(r"^    (\S+)$", added.stdout, re.MULTILINE)
    assert password, added.stdout
    return password.group(1)


def wait_until_ready(user: HubUser, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not user.servers().get("", {}).get("ready"):
        assert time.monotonic() < deadline, user.servers()
        time.sleep(0.3)


@pytest.mark.parametrize("how", ["empty", "profile", "form", "admin"])
def test_a_spawn_that_names_no_image_runs_the_first_choice(hub: Hub, docker_client: Any, how: str) -> None:
    """An empty body, an unknown option, the spawn form without its field and the admin page's
    start: each runs the first of HUB_IMAGES, never DockerSpawner's own default image."""
    name = f"noimage-{how}"
    user = add_user(hub, name)
    if how == "empty":
        asked = user.api("POST", f"/users/{name}/server")
    elif how == "profile":
        asked = user.api("POST", f"/users/{name}/server", json={"profile": "admin"})
    elif how == "form":
        form = {"_xsrf": user.session.cookies.get("_xsrf", ""), "unrelated": "x"}
        asked = user.session.post(f"{hub.url}/hub/spawn/{name}", data=form, allow_redirects=False, timeout=30)
    else:
        asked = add_user(hub, "admin").api("POST", f"/users/{name}/server")  # what the admin page's button asks
    assert asked.status_code in (201, 202, 302), asked.text[:500]
    try:
        wait_until_ready(user)
        [container] = docker_client.containers.list(filters={"label": f"{USER_LABEL}={name}"})
        assert container.image.id == docker_client.images.get(IMAGES["pylab"]).id
    finally:
        user.stop()


@pytest.mark.parametrize("options", [{"image": ["pylab"]}, {"image": 5}, {"image": {"a": 1}}])
def test_malformed_spawn_options_are_a_clear_400(hub: Hub, options: dict[str, Any]) -> None:
    user = add_user(hub, "malformed")
    answer = user.api("POST", "/users/malformed/server", json=options)
    assert answer.status_code == 400, answer.text
    assert "one name of: pylab, rlab, pylab-cuda" in answer.text  # the choices, named


def test_a_deleted_users_files_never_reach_a_new_account_of_the_same_name(hub: Hub, docker_client: Any) -> None:
    """The admin deletes zz1; later another person signs up as zz1 (SQLite may give them the old id)."""
    first = add_user(hub, "zz1")
    first.spawn("pylab")
    write = "import os; open('/home/jovyan/work/private.txt', 'w').write('secret'); print(os.getuid())"
    old_uid = run_cell(docker_client, hub, "zz1", first.token(), "python3", write).strip()
    first.stop()
    admin = add_user(hub, "admin")
    assert admin.api("DELETE", "/users/zz1").status_code == 204
    newcomer = add_user(hub, "zz1")
    newcomer.spawn("pylab")
    try:
        look = "import os; print(os.getuid(), sorted(os.listdir('/home/jovyan/work')))"
        new_uid, listing = run_cell(docker_client, hub, "zz1", newcomer.token(), "python3", look).strip().split(" ", 1)
        assert new_uid != old_uid
        assert "private.txt" not in listing
        shown = make("hub-status", *hub.settings)
        assert re.search(rf"^kept aside: {hub.homes}/\.deleted/zz1\.uid{old_uid}\.\S+ ", shown.stdout, re.MULTILINE), (
            shown.stdout
        )
    finally:
        newcomer.stop()


def test_renaming_a_user_is_refused_with_the_reason(hub: Hub) -> None:
    """A rename would split the login (kept under the old name), the home and the uid: refused, as
    the admin page's rename asks the same API."""
    password = new_password(hub, "a_b")
    HubUser(hub.url, "a_b", password)  # the hub knows a user from their first login
    admin = add_user(hub, "admin")
    answer = admin.api("PATCH", "/users/a_b", json={"name": "a_c"})
    assert answer.status_code == 400, answer.text
    assert "renaming a_b to a_c is not supported" in answer.text
    assert admin.api("GET", "/users/a_c").status_code == 404
    HubUser(hub.url, "a_b", password)  # logs in as before


def test_concurrent_cuda_spawns_never_share_a_gpu(hub: Hub) -> None:
    """Four users ask for the CUDA image at the same moment, GPU_POOL=0,1: two get distinct GPUs
    (which the engine here cannot start: it says which it was given), two are refused naming the holders."""
    users = [add_user(hub, f"gpu{index}") for index in range(4)]

    def ask(user: HubUser) -> requests.Response:
        return user.api("POST", f"/users/{user.name}/server", json={"image": "pylab-cuda"})

    with ThreadPoolExecutor(len(users)) as pool:
        answers = list(pool.map(ask, users))
    given = [re.search(r"given GPU (\S+) of GPU_POOL", answer.text) for answer in answers if answer.status_code == 503]
    refused = [answer.text for answer in answers if answer.status_code == 409]
    assert sorted(match.group(1) for match in given if match) == ["0", "1"], [answer.text for answer in answers]
    assert len(refused) == 2, [answer.text for answer in answers]
    assert all(re.search(r"GPU 0: gpu\d, GPU 1: gpu\d", text) for text in refused), refused


def test_guessed_passwords_make_the_user_wait(hub: Hub) -> None:
    password = new_password(hub, "guessed")
    for _ in range(10):
        with pytest.raises(HubClientError):
            HubUser(hub.url, "guessed", "not-the-password")
    with pytest.raises(HubClientError):  # locked for a while, even with the right password
        HubUser(hub.url, "guessed", password)


def sign_up(hub: Hub, name: str, password: str) -> str:
    session = requests.Session()
    session.get(f"{hub.url}/hub/signup", timeout=10)
    form = {"username": name, "signup_password": password, "signup_password_confirmation": password}
    answer = session.post(f"{hub.url}/hub/signup", data={**form, "_xsrf": session.cookies.get("_xsrf", "")}, timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


@pytest.mark.parametrize(("name", "password"), [("weak1", "a"), ("weak2", "password"), ("weak3", "1234567890"),
                                                ("new\nline", "a long enough passphrase"),
                                                ("tab\tname", "a long enough passphrase")])  # fmt: skip
def test_weak_passwords_and_bad_names_are_refused_at_sign_up(hub: Hub, name: str, password: str) -> None:
    assert "Something went wrong" in sign_up(hub, name, password)
    admin = add_user(hub, "admin")
    waiting = admin.session.get(f"{hub.url}/hub/authorize", timeout=10)
    assert waiting.status_code == 200, waiting.text[:300]
    assert name not in waiting.text  # nobody for the admin to authorize
    with pytest.raises(HubClientError):
        HubUser(hub.url, name, password)


def test_nobody_signs_up_under_the_admins_name_first(hub: Hub) -> None:
    """`make hub` made the admin's account: a sign-up under that name is refused."""
    assert "username is already in use" in sign_up(hub, "admin", "a long enough passphrase")


def test_a_user_whose_server_is_starting_is_not_deleted_halfway(hub: Hub) -> None:
    """The admin deletes a user while their server starts: refused whole (400), so no half-deleted
    account (login gone, home and uid kept) is left for a new sign-up of the name; once the server
    runs, the hub stops it and deletes the user."""
    password = new_password(hub, "busy")
    user = HubUser(hub.url, "busy", password)
    admin = add_user(hub, "admin")
    with ThreadPoolExecutor(1) as pool:
        spawning = pool.submit(user.api, "POST", "/users/busy/server", json={"image": "pylab"})
        time.sleep(0.3)  # the spawn has begun, the lab does not answer yet
        refused = admin.api("DELETE", "/users/busy")
        assert spawning.result().status_code in (201, 202), spawning.result().text
    assert refused.status_code == 400, refused.text
    HubUser(hub.url, "busy", password)  # nothing was deleted: the login still works
    wait_until_ready(user)
    assert admin.api("DELETE", "/users/busy").status_code == 204


def test_the_spawn_page_says_what_each_choice_holds(hub: Hub) -> None:
    user = add_user(hub, "chooser")
    page = user.session.get(f"{hub.url}/hub/spawn", timeout=30).text
    assert "JupyterLab with Python and the scientific packages" in page
    assert "JupyterLab with R (kernel ir) and Python" in page
    assert re.search(r"pylab-cuda</strong>: .*GPUs free now: \d of 2", page), page[-3000:]


def test_hub_status_prints_any_name_safely(hub: Hub, docker_client: Any) -> None:
    """A label written before names were checked (or by hand): one row, its control characters escaped."""
    odd = hold_gpu(docker_client, hub, "a\nb\tc", "")
    try:
        shown = make("hub-status", *hub.settings)
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"^a\\nb\\tc\t", shown.stdout, re.MULTILINE), shown.stdout
    finally:
        odd.remove(force=True)


def test_the_hub_container_is_its_own(hub: Hub, docker_client: Any) -> None:
    """Its own health check, no port of the labs', only the capabilities it uses, a private database."""
    container = docker_client.containers.get(hub.name)
    assert "8888/tcp" not in (container.attrs["Config"].get("ExposedPorts") or {})
    assert container.attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert set(container.attrs["HostConfig"]["CapAdd"]) <= {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CHOWN", "DAC_OVERRIDE"}
    deadline = time.monotonic() + 60
    while container.attrs["State"]["Health"]["Status"] != "healthy":
        assert time.monotonic() < deadline, container.attrs["State"]["Health"]
        time.sleep(1)
        container.reload()
    assert (hub.data / "jupyterhub.sqlite").stat().st_mode & 0o077 == 0


def test_hub_status_lists_each_users_lab(hub: Hub, alice: HubUser) -> None:
    shown = make("hub-status", *hub.settings)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^alice\tpylab:latest\trunning .*\tGPUs: -\tidle \d+ s$", shown.stdout, re.MULTILINE), (
        shown.stdout
    )


def test_an_idle_server_is_stopped(tmp_path: Path, docker_client: Any) -> None:
    port = free_port()
    settings = [f"HUB_PORT={port}", f"HUB_DATA={tmp_path / 'data'}", f"HUB_HOMES={tmp_path / 'homes'}"]
    settings += ["HUB_ADMIN=admin", "HUB_IDLE_TIMEOUT=10", f"DOCKER={tmp_path / 'config'}"]
    started = make("hub", *settings)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    idle = Hub(port, tmp_path / "data", tmp_path / "homes", settings)
    try:
        dave = add_user(idle, "dave")
        dave.spawn("pylab")
        deadline = time.monotonic() + 90
        while dave.api("GET", "/users/dave").json()["servers"]:
            assert time.monotonic() < deadline, "the idle server was not stopped"
            time.sleep(2)
        assert docker_client.containers.list(all=True, filters={"name": f"{idle.name}-dave"}) == []
    finally:
        assert make("hub-stop", *settings).returncode == 0


def start_other_hub(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    settings = [f"HUB_PORT={free_port()}", f"HUB_DATA={tmp_path / 'data'}", f"HUB_HOMES={tmp_path / 'homes'}"]
    settings += ["HUB_ADMIN=admin", f"DOCKER={tmp_path / 'config'}", *extra]
    return make("hub", *settings), settings


@pytest.mark.parametrize(
    ("provider", "authorize"),
    [("github", "https://github.com/login/oauth/authorize"), ("generic", "https://id.example.org/authorize")],
)
def test_oauth_login_goes_to_the_configured_provider(tmp_path: Path, provider: str, authorize: str) -> None:
    """The login goes to the provider of DOCKER/hub/oauth.json (the test follows no redirect)."""
    (tmp_path / "config" / "hub").mkdir(parents=True)
    (tmp_path / "config").chmod(0o700)
    oauth = {
        "client_id": "pyrlab-test-client", "client_secret": "not-a-secret",
        "callback_url": "http://127.0.0.1/hub/oauth_callback", "allowed_users": ["alice"],
        "authorize_url": "https://id.example.org/authorize", "token_url": "https://id.example.org/token",
        "userdata_url": "https://id.example.org/userinfo",
    }  # fmt: skip
    (tmp_path / "config" / "hub" / "oauth.json").write_text(json.dumps(oauth))
    (tmp_path / "config" / "hub" / "oauth.json").chmod(0o600)
    started, settings = start_other_hub(tmp_path, f"HUB_AUTH={provider}")
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        port = settings[0].split("=")[1]
        login = requests.get(f"http://127.0.0.1:{port}/hub/oauth_login", allow_redirects=False, timeout=10)
        assert login.status_code == 302, login.text[:300]
        assert login.headers["Location"].startswith(authorize + "?")
        assert "client_id=pyrlab-test-client" in login.headers["Location"]
    finally:
        assert make("hub-stop", *settings).returncode == 0


def test_oauth_without_its_file_is_a_clear_error(tmp_path: Path) -> None:
    started, _ = start_other_hub(tmp_path, "HUB_AUTH=gitlab")
    assert started.returncode != 0
    assert f"HUB_AUTH=gitlab needs {tmp_path / 'config' / 'hub' / 'oauth.json'}" in started.stderr
    assert "Traceback" not in started.stderr


def test_https_with_the_labs_certificate(tmp_path: Path) -> None:
    ssl_folder = tmp_path / "config" / "ssl"
    ssl_folder.mkdir(parents=True)
    (tmp_path / "config").chmod(0o700)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(ssl_folder / "key.pem"), "-out", str(ssl_folder / "cert.pem")],
        capture_output=True, check=True,
    )  # fmt: skip
    for name in ("key.pem", "cert.pem"):
        (ssl_folder / name).chmod(0o600)
    started, settings = start_other_hub(tmp_path)
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        port = settings[0].split("=")[1]
        assert f"https://127.0.0.1:{port}/hub/" in started.stdout
        assert requests.get(f"https://127.0.0.1:{port}/hub/health", verify=False, timeout=10).ok
    finally:
        assert make("hub-stop", *settings).returncode == 0


def test_an_upgraded_hub_keeps_its_users_and_their_running_labs(
    hub: Hub, alice: HubUser, docker_client: Any, tmp_path: Path
) -> None:
    """`make build && make hub` with a changed hub: a new image replaces the hub, not the labs."""
    copy = copy_project(REPO, tmp_path / "pyrlab")
    with (copy / "hub" / "jupyterhub_config.py").open("a") as config:
        config.write("# a new version of the hub\n")
    lab = docker_client.containers.get(f"{hub.name}-alice")
    old_hub = docker_client.containers.get(hub.name).image.id
    upgraded = scratch_make(copy, "hub", *hub.settings)
    try:
        assert upgraded.returncode == 0, upgraded.stdout[-3000:] + upgraded.stderr[-3000:]
        assert "the users' labs keep running" in upgraded.stderr
        assert docker_client.containers.get(hub.name).image.id != old_hub
        lab.reload()
        assert lab.status == "running"
        assert run_cell(docker_client, hub, "alice", alice.token(), "python3", "print(6 * 7)").strip() == "42"
    finally:
        for image in docker_client.images.list(name=f"{SCRATCH_PREFIX}pyrlab-base"):  # the hub's: when it stops
            for tag in image.tags:
                if tag.startswith(f"{SCRATCH_PREFIX}pyrlab-base:"):
                    docker_client.images.remove(tag)
