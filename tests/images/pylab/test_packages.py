"""pylab: every package of requirements.txt is installed and importable; D-Tale and TensorBoard serve."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from harness.imagelab import REPO, Lab
from pyrlab.inside.lists import read_entries

REQUIREMENTS = [entry.text for entry in read_entries(REPO / "requirements.txt")]

# For each requirement: its distribution, the modules it provides, and an import of the first.
IMPORT_ALL = """
import importlib, importlib.metadata as metadata, json, sys
from packaging.requirements import Requirement
provided = {}
for module, distributions in metadata.packages_distributions().items():
    for distribution in distributions:
        provided.setdefault(distribution.lower().replace("_", "-"), []).append(module)
results = {}
for line in sys.argv[1:]:
    name = Requirement(line).name
    key = name.lower().replace("_", "-")
    try:
        version = metadata.version(name)
        modules = sorted(m for m in provided.get(key, []) if not m.startswith("_")) or [key.replace("-", "_")]
        importlib.import_module(modules[0])
        results[line] = f"ok {version} {modules[0]}"
    except Exception as error:
        results[line] = f"{type(error).__name__}: {error}"
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def imports(lab: Lab) -> dict[str, str]:
    exit_code, output = lab.container.exec_run(["python", "-c", IMPORT_ALL, *REQUIREMENTS], user="jovyan")
    assert exit_code == 0, output.decode()
    return dict(json.loads(output.decode().strip().splitlines()[-1]))


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_requirement_is_installed_and_imports(imports: dict[str, str], requirement: str) -> None:
    assert imports[requirement].startswith("ok "), imports[requirement]


def wait_for_page(url: str, timeout: float = 60, token: str = "") -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = requests.get(url, timeout=5, headers={"Authorization": f"token {token}"} if token else {})
            if answer.status_code < 500:
                return answer
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_tensorboard_serves_on_its_port(lab: Lab, host: Any) -> None:
    host.check_output("mkdir -p /tmp/tb")
    lab.container.exec_run(
        ["tensorboard", "--logdir", "/tmp/tb", "--host", "0.0.0.0", "--port", "6006"], user="jovyan", detach=True
    )
    answer = wait_for_page(f"http://127.0.0.1:{lab.ports[6006]}/")
    assert answer.status_code == 200
    assert "TensorBoard" in answer.text


def test_dtale_serves_a_data_frame_on_its_port(lab: Lab) -> None:
    script = (
        "import dtale, pandas, time\n"
        "frame = pandas.DataFrame({'answer': [42]})\n"
        "dtale.show(frame, host='0.0.0.0', port=40000, subprocess=False, open_browser=False)\n"
    )
    lab.container.exec_run(["python", "-c", script], user="jovyan", detach=True)
    answer = wait_for_page(f"http://127.0.0.1:{lab.ports[40000]}/dtale/popup/describe/1")
    assert answer.status_code == 200
    data = wait_for_page(f"http://127.0.0.1:{lab.ports[40000]}/dtale/data/1?ids=%5B%220-1%22%5D")
    assert data.json()["results"]["0"]["answer"] == 42


def test_tools_through_jupyter_need_its_token(lab: Lab, host: Any) -> None:
    """TensorBoard and D-Tale at /proxy/<port>/ answer only with Jupyter's token (jupyter-server-proxy)."""
    host.check_output("mkdir -p /tmp/tb-proxied")
    lab.container.exec_run(
        ["tensorboard", "--logdir", "/tmp/tb-proxied", "--host", "127.0.0.1", "--port", "6007"],
        user="jovyan",
        detach=True,
    )
    script = (
        "import dtale, dtale.app, pandas\n"
        "dtale.app.JUPYTER_SERVER_PROXY = True\n"
        "dtale.show(pandas.DataFrame({'answer': [42]}), host='127.0.0.1', port=40001, subprocess=False)\n"
    )
    lab.container.exec_run(["python", "-c", script], user="jovyan", detach=True)
    for path, expected in (("/proxy/6007/", "TensorBoard"), ("/proxy/40001/dtale/data/1?ids=%5B%220-1%22%5D", "42")):
        answer = wait_for_page(f"{lab.url}{path}", token=lab.token)
        assert answer.status_code == 200
        assert expected in answer.text
        refused = requests.get(f"{lab.url}{path}", timeout=10, allow_redirects=False)
        assert refused.status_code in (302, 403), refused.status_code
        assert expected not in refused.text
