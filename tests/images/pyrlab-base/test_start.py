"""The start contract of every image: jupyter/docker-stacks' variables and pyrlab's configuration
folder, each observed in a real container."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.imagelab import KERNEL_CLIENT, exec_output, fast_healthcheck, run_once, running, started, wait_for_health

AS_ROOT: dict[str, Any] = {"user": "root"}
# The arguments of the running jupyter-lab process, as JSON.
JUPYTER_ARGUMENTS = """
import json, pathlib
for cmdline in pathlib.Path('/proc').glob('[0-9]*/cmdline'):
    words = cmdline.read_bytes().decode().split('\\0')[:-1]
    if words and 'qemu' in words[0]:  # under emulation: QEMU's interpreter and the program's path first
        words = words[2:]
    programs = [number for number, word in enumerate(words[:2]) if word.endswith('jupyter-lab')]
    if programs:
        print(json.dumps(words[programs[0] + 1:]))
        break
"""


def writable_folder(path: Path) -> Path:
    path.mkdir()
    path.chmod(0o777)
    return path


def test_nb_user_renames_the_notebook_user(docker_client: Any, image: str) -> None:
    output = run_once(
        docker_client,
        image,
        ["bash", "-c", "id -un; echo $HOME; cd ~ && pwd -P"],
        environment={"NB_USER": "alice"},
        **AS_ROOT,
    )
    assert output.split()[-3:] == ["alice", "/home/alice", "/home/jovyan"]


def test_nb_group_names_the_notebook_group(docker_client: Any, image: str) -> None:
    output = run_once(
        docker_client, image, ["id", "-gn"], environment={"NB_GID": "4322", "NB_GROUP": "science"}, **AS_ROOT
    )
    assert output.split()[-1] == "science"


def test_nb_umask_applies_to_new_files(docker_client: Any, image: str) -> None:
    output = run_once(
        docker_client, image, ["bash", "-c", "touch /tmp/new && stat -c %a /tmp/new"], environment={"NB_UMASK": "002"}
    )
    assert output.split()[-1] == "664"


def test_chown_home_and_chown_extra(docker_client: Any, image: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()  # root's (as CI runs) or yours: either way not 4321's
    (data / "inside").write_text("x")
    output = run_once(
        docker_client,
        image,
        ["stat", "-c", "%u", "/etc/jupyter"],
        environment={
            "NB_UID": "4321",
            "CHOWN_HOME": "yes",
            "CHOWN_HOME_OPTS": "-R",
            "CHOWN_EXTRA": "/etc/jupyter,/usr/local/share",
        },
        volumes={str(data): {"bind": "/home/jovyan/data", "mode": "rw"}},
        **AS_ROOT,
    )
    assert output.split()[-1] == "4321"
    assert (data / "inside").stat().st_uid == 4321


def test_grant_sudo_only_when_asked(docker_client: Any, image: str) -> None:
    check = ["bash", "-c", "if sudo -n id -u 2>/dev/null; then :; else echo refused; fi"]
    assert run_once(docker_client, image, check, environment={"GRANT_SUDO": "yes"}, **AS_ROOT).split()[-1] == "0"
    assert run_once(docker_client, image, check, **AS_ROOT).split()[-1] == "refused"


def test_docker_stacks_jupyter_cmd_and_notebook_args(docker_client: Any, image: str) -> None:
    environment = {"DOCKER_STACKS_JUPYTER_CMD": "server", "NOTEBOOK_ARGS": "--ServerApp.base_url=/pyrlab/"}
    with started(docker_client, image, path="/pyrlab", environment=environment) as lab:
        command = exec_output(lab.container, ["ps", "-o", "args=", "-u", "jovyan"])
        assert "jupyter-server --ServerApp.base_url=/pyrlab/" in command
        assert "jupyter-lab" not in command


def test_jupyter_port(docker_client: Any, image: str) -> None:
    with started(docker_client, image, port=9123, environment={"JUPYTER_PORT": "9123"}) as lab:
        assert requests.get(f"http://127.0.0.1:{lab.ports[9123]}/api/status", params={"token": lab.token}, timeout=5).ok


def test_restartable_server_comes_back(docker_client: Any, image: str) -> None:
    with started(docker_client, image, environment={"RESTARTABLE": "yes"}) as lab:
        # A crash of the server alone (its process name, not the restart loop's arguments).
        exec_output(lab.container, ["pkill", "--signal", "KILL", "--exact", "jupyter-lab"], user="jovyan")
        deadline = time.monotonic() + 300
        while "RESTARTABLE=yes starts it again" not in lab.container.logs().decode():
            assert time.monotonic() < deadline, lab.container.logs().decode()[-2000:]
            time.sleep(0.5)
        while not _answers(lab.url, lab.token):
            assert time.monotonic() < deadline, lab.container.logs().decode()[-2000:]
            time.sleep(0.5)
        lab.container.reload()
        assert lab.container.status == "running"


def _answers(url: str, token: str) -> bool:
    try:
        return requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok
    except requests.ConnectionError:
        return False


def hook_folders(tmp_path: Path) -> tuple[Path, Path]:
    """start-notebook.d with a sourced hook, before-notebook.d with an executable one; both log."""
    start_hooks, before_hooks = tmp_path / "start", tmp_path / "before"
    start_hooks.mkdir()
    before_hooks.mkdir()
    (start_hooks / "10-sourced.sh").write_text(
        'echo "start hook as $(id -u)" >> /tmp/hooks.log; chmod 666 /tmp/hooks.log\n'
    )
    (before_hooks / "20-run").write_text('#!/bin/bash\necho "before hook as $(id -u)" >> /tmp/hooks.log\n')
    (before_hooks / "20-run").chmod(0o755)
    return start_hooks, before_hooks


def mounted_hooks(start_hooks: Path, before_hooks: Path) -> dict[str, dict[str, str]]:
    return {
        str(start_hooks): {"bind": "/usr/local/bin/start-notebook.d", "mode": "ro"},
        str(before_hooks): {"bind": "/usr/local/bin/before-notebook.d", "mode": "ro"},
    }


def test_hooks_run_as_root_when_started_as_root(docker_client: Any, image: str, tmp_path: Path) -> None:
    """As in docker-stacks: both hook folders run as root, before the drop to the notebook user."""
    volumes = mounted_hooks(*hook_folders(tmp_path))
    output = run_once(
        docker_client, image, ["cat", "/tmp/hooks.log"], environment={"NB_UID": "4321"}, volumes=volumes, **AS_ROOT
    )
    assert output.strip().splitlines()[-2:] == ["start hook as 0", "before hook as 0"]


def test_hooks_run_as_the_user_when_started_as_the_user(docker_client: Any, image: str, tmp_path: Path) -> None:
    volumes = mounted_hooks(*hook_folders(tmp_path))
    output = run_once(docker_client, image, ["cat", "/tmp/hooks.log"], user="1000:100", volumes=volumes)
    assert output.strip().splitlines()[-2:] == ["start hook as 1000", "before hook as 1000"]


def test_a_failing_hook_is_logged_and_the_start_goes_on(docker_client: Any, image: str, tmp_path: Path) -> None:
    """docker-stacks' run-hooks: a failed hook, sourced or run, is logged; the next hooks and the
    command still run."""
    start_hooks, before_hooks = tmp_path / "start", tmp_path / "before"
    start_hooks.mkdir()
    before_hooks.mkdir()
    (start_hooks / "10-fails.sh").write_text("false\necho $UNSET_VARIABLE_OF_A_HOOK > /dev/null\nfalse\n")
    (start_hooks / "20-runs.sh").write_text("echo second > /tmp/second-hook\nchmod 644 /tmp/second-hook\n")
    (before_hooks / "10-exits").write_text("#!/bin/bash\nexit 3\n")
    (before_hooks / "10-exits").chmod(0o755)
    hooks = mounted_hooks(start_hooks, before_hooks)
    with running(docker_client, image, ["cat", "/tmp/second-hook"], volumes=hooks, **AS_ROOT) as container:
        assert container.wait(timeout=120)["StatusCode"] == 0, container.logs().decode()
        logs = container.logs().decode()
    assert "/usr/local/bin/start-notebook.d/10-fails.sh has failed (status 1), continuing" in logs
    assert "/usr/local/bin/before-notebook.d/10-exits has failed (status 3), continuing" in logs
    assert "second" in logs


def test_notebook_args_are_split_as_a_shell_would(docker_client: Any, image: str) -> None:
    """Quotes group words (docker-stacks splits NOTEBOOK_ARGS with shlex); nothing is evaluated."""
    environment = {"NOTEBOOK_ARGS": "--ServerApp.custom_display_url='http://lab of $(id -u)' --debug"}
    with started(docker_client, image, environment=environment) as lab:
        arguments = json.loads(exec_output(lab.container, ["python", "-c", JUPYTER_ARGUMENTS]))
    assert "--ServerApp.custom_display_url=http://lab of $(id -u)" in arguments
    assert "--debug" in arguments
    assert "of" not in arguments


def test_unclosed_quote_in_notebook_args_is_named(docker_client: Any, image: str) -> None:
    with running(docker_client, image, environment={"NOTEBOOK_ARGS": "--x='open"}) as container:
        assert container.wait(timeout=300)["StatusCode"] == 1
        assert "NOTEBOOK_ARGS=--x='open: a quote is not closed" in container.logs().decode()


def test_jupyter_env_vars_to_unset_are_gone_from_the_command(docker_client: Any, image: str) -> None:
    environment = {
        "SECRET_ONE": "1",
        "SECRET_TWO": "2",
        "KEPT": "3",
        "JUPYTER_ENV_VARS_TO_UNSET": "SECRET_ONE,SECRET_TWO",
    }
    output = run_once(docker_client, image, ["env"], environment=environment, **AS_ROOT)
    names = {line.split("=", 1)[0] for line in output.splitlines()}
    assert "KEPT" in names
    assert not {"SECRET_ONE", "SECRET_TWO", "JUPYTER_ENV_VARS_TO_UNSET"} & names


def test_jupyterhub_token_starts_the_single_user_server(docker_client: Any, image: str) -> None:
    with running(docker_client, image, environment={"JUPYTERHUB_API_TOKEN": "not-a-hub"}) as container:
        container.wait(timeout=300)  # no hub here: the single-user server stops, asking for the hub's URL
        logs = container.logs().decode()
        assert "jupyterhub/singleuser" in logs, logs[-2000:]
        assert "JUPYTERHUB_SERVICE_URL" in logs, logs[-2000:]


def test_arbitrary_uid_without_passwd_entry(docker_client: Any, image: str) -> None:
    with started(docker_client, image, user="12345:100") as lab:
        assert exec_output(lab.container, ["id", "-u"], user="12345") == "12345"
        assert _answers(lab.url, lab.token)


def test_env_file_reaches_kernels_and_stays_out_of_logs(
    docker_client: Any, image: str, image_environment: dict[str, str], tmp_path: Path
) -> None:
    config = writable_folder(tmp_path / "config")
    name = image_environment["PYRLAB_IMAGE"]
    (config / f"{name}.env").write_text("# for the kernels\nTEAM_SECRET=s3cr3t-value-42\n")
    volumes = {str(config): {"bind": "/home/jovyan/.pyrlab", "mode": "rw"}}
    with started(docker_client, image, volumes=volumes, environment={"NB_UID": "4321"}, **AS_ROOT) as lab:
        # The env file's variable, and none of start.sh's own hand-over between its stages.
        code = (
            "import os; print(os.environ['TEAM_SECRET']); "
            "print(sorted(k for k in os.environ if k in ('PYRLAB_STAGE', 'PYRLAB_DEFAULT_COMMAND')))"
        )
        exit_code, output = lab.container.exec_run(
            ["python", "-c", KERNEL_CLIENT, "8888", lab.token, "python3", code], user="jovyan"
        )
        assert exit_code == 0, output.decode()
        printed = json.loads(output.decode().strip().splitlines()[-1])["output"].split()
        assert printed == ["s3cr3t-value-42", "[]"]
        assert "s3cr3t-value-42" not in lab.container.logs().decode()
        assert "s3cr3t-value-42" not in json.dumps(lab.container.attrs)


def test_rc_script_runs_at_start(
    docker_client: Any, image: str, image_environment: dict[str, str], tmp_path: Path
) -> None:
    config = writable_folder(tmp_path / "config")
    name = image_environment["PYRLAB_IMAGE"]
    (config / f"{name}.sh").write_text("export PYRLAB_RC_RAN=yes\n")
    output = run_once(
        docker_client,
        image,
        ["bash", "-c", "echo rc=$PYRLAB_RC_RAN"],
        volumes={str(config): {"bind": "/home/jovyan/.pyrlab", "mode": "rw"}},
    )
    assert output.split()[-1] == "rc=yes"


def test_userlab_replaces_the_default_start(docker_client: Any, image: str, tmp_path: Path) -> None:
    config = writable_folder(tmp_path / "config")
    (config / "userlab.sh").write_text("echo my-own-lab-started-as-$(id -un)\n")
    with running(
        docker_client, image, volumes={str(config): {"bind": "/home/jovyan/.pyrlab", "mode": "rw"}}
    ) as container:
        assert container.wait(timeout=300)["StatusCode"] == 0
        assert "my-own-lab-started-as-jovyan" in container.logs().decode()


def test_lab_settings_persist_in_the_configuration_folder(docker_client: Any, image: str, tmp_path: Path) -> None:
    config = writable_folder(tmp_path / "config")
    volumes = {str(config): {"bind": "/home/jovyan/.pyrlab", "mode": "rw"}}
    setting = "lab/api/settings/@jupyterlab/apputils-extension:themes"
    with started(docker_client, image, volumes=volumes) as lab:
        saved = requests.put(
            f"{lab.url}/{setting}",
            params={"token": lab.token},
            json={"raw": '{"theme": "JupyterLab Dark"}'},
            timeout=10,
        )
        assert saved.status_code == 204, saved.text
    assert list(config.glob("lab/user-settings/@jupyterlab/apputils-extension/themes.jupyterlab-settings"))
    with started(docker_client, image, volumes=volumes) as lab:
        again = requests.get(f"{lab.url}/{setting}", params={"token": lab.token}, timeout=10)
        assert json.loads(again.json()["raw"])["theme"] == "JupyterLab Dark"


def test_healthcheck_healthy_with_port_base_url_and_proxies(docker_client: Any, image: str) -> None:
    environment = {
        "JUPYTER_PORT": "9124",
        "NOTEBOOK_ARGS": "--ServerApp.base_url=/deep/path/",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    with started(
        docker_client,
        image,
        port=9124,
        path="/deep/path",
        environment=environment,
        healthcheck=fast_healthcheck(docker_client, image),
    ) as lab:
        assert wait_for_health(lab.container, "healthy") == "healthy"


def test_healthcheck_unhealthy_without_jupyter(docker_client: Any, image: str) -> None:
    healthcheck = fast_healthcheck(docker_client, image)
    with running(docker_client, image, ["sleep", "120"], healthcheck=healthcheck) as container:
        assert wait_for_health(container, "unhealthy") == "unhealthy"


def test_sigterm_stops_jupyter_cleanly(docker_client: Any, image: str) -> None:
    with started(docker_client, image) as lab:
        lab.container.stop(timeout=10)
        lab.container.reload()
        state = lab.container.attrs["State"]
        logs = lab.container.logs().decode()
        assert state["ExitCode"] != 137, logs  # 137: killed after the 10 s, not stopped
        assert "Shutting down" in logs or "shutting down" in logs, logs[-2000:]
        assert not state["OOMKilled"]


def test_gen_cert_serves_https_and_stays_healthy(docker_client: Any, image: str) -> None:
    token = "gen-cert-test-token"
    options: dict[str, Any] = {
        "environment": {"GEN_CERT": "yes", "JUPYTER_TOKEN": token},
        "ports": {"8888/tcp": ("127.0.0.1", None)},
        "healthcheck": fast_healthcheck(docker_client, image),
    }
    with running(docker_client, image, **options) as container:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 300
        while True:
            try:
                answer = requests.get(
                    f"https://127.0.0.1:{port}/api/status", params={"token": token}, verify=False, timeout=3
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, container.logs().decode()[-2000:]
                time.sleep(0.5)
        assert answer.status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}, timeout=3)
        assert wait_for_health(container, "healthy") == "healthy"
