"""Which build of each deep-learning framework pylab asks uv for."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pyrlab.__main__ import main
from pyrlab.images import frameworks
from pyrlab.inside.lists import LISTS

LIST = "# frameworks\njax>=0.5\ntensorflow\nnumpy\ntorch==2.15.0  # pinned\n"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def test_cuda_build_selects_the_frameworks_cuda_extras() -> None:
    rewritten = frameworks.rewrite(LIST, cuda=True, cuda_version="13", torch_cpu_index=CPU_INDEX)
    assert rewritten.splitlines() == [
        "# frameworks",
        "jax[cuda13]>=0.5",
        "tensorflow[and-cuda]",
        "numpy",
        "torch==2.15.0",
    ]


def test_cpu_build_takes_torch_from_the_cpu_index_alone_and_the_rest_from_the_default() -> None:
    rewritten = frameworks.rewrite(LIST, cuda=False, cuda_version="13", torch_cpu_index=CPU_INDEX)
    project = tomllib.loads(rewritten)
    assert project["project"]["dependencies"] == ["jax>=0.5", "tensorflow", "numpy", "torch==2.15.0"]
    assert project["tool"]["uv"]["sources"] == {"torch": {"index": "torch-cpu"}}
    assert project["tool"]["uv"]["index"] == [{"name": "torch-cpu", "url": CPU_INDEX, "explicit": True}]
    assert "--extra-index-url" not in rewritten  # that index would serve numpy too


def test_every_torch_project_is_pinned_and_markers_survive_toml() -> None:
    listed = 'torchvision>=0.20\ntorchaudio; python_version >= "3.10"\nsix\n'
    project = tomllib.loads(frameworks.rewrite(listed, cuda=False, cuda_version="", torch_cpu_index=CPU_INDEX))
    assert project["project"]["dependencies"] == ["torchvision>=0.20", 'torchaudio; python_version >= "3.10"', "six"]
    assert set(project["tool"]["uv"]["sources"]) == {"torchvision", "torchaudio"}


def test_a_list_that_gains_a_package_only_gains_a_line() -> None:
    """Snapshots keep the big layer while the list only gains lines: so must its project form."""
    before = frameworks.rewrite("torch\nsix\n", cuda=False, cuda_version="", torch_cpu_index=CPU_INDEX)
    after = frameworks.rewrite("torch\nsix\nnumpy\n", cuda=False, cuda_version="", torch_cpu_index=CPU_INDEX)
    assert set(before.splitlines()) <= set(after.splitlines())
    assert len(after.splitlines()) == len(before.splitlines()) + 1


def test_no_cpu_index_without_torch_or_without_an_index() -> None:
    assert frameworks.rewrite("numpy\n", cuda=False, cuda_version="13", torch_cpu_index=CPU_INDEX) == "numpy\n"
    assert frameworks.rewrite("torch\n", cuda=False, cuda_version="13", torch_cpu_index="") == "torch\n"
    assert frameworks.rewrite("torch\n", cuda=True, cuda_version="13", torch_cpu_index=CPU_INDEX) == "torch\n"


def test_existing_extras_are_kept() -> None:
    assert frameworks.rewrite("jax[tpu]\n", cuda=True, cuda_version="12", torch_cpu_index="") == "jax[cuda12,tpu]\n"


def test_a_lock_is_left_as_it_is() -> None:
    lock = "jax==0.5.0 \\\n    --hash=sha256:abc\n"
    assert frameworks.rewrite(lock, cuda=True, cuda_version="13", torch_cpu_index=CPU_INDEX) == lock


@pytest.mark.usefixtures("made_environment")
def test_prepare_writes_the_builds_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What pylab installs follows CUDA_INSTALL: the CUDA builds with yes, the CPU builds with no."""
    for package_list in LISTS:
        (tmp_path / package_list.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / package_list.path).write_text("")
    (tmp_path / "requirements.txt").write_text("jax\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_CPU_INDEX", "")
    monkeypatch.setenv("CUDA_INSTALL", "yes")
    assert main(["prepare"]) == 0
    assert (tmp_path / ".build/install/requirements.txt").read_text() == "jax[cuda13]\n"
    monkeypatch.setenv("CUDA_INSTALL", "no")
    assert main(["prepare"]) == 0
    assert (tmp_path / ".build/install/requirements.txt").read_text() == "jax\n"


@pytest.mark.parametrize("cuda", [False, True])
def test_a_direct_reference_keeps_its_url_fragment(cuda: bool) -> None:
    reference = "pkg @ git+https://example.org/pkg.git@v1#subdirectory=python"
    rewritten = frameworks.rewrite(f"{reference}  # ours\nnumpy\n", cuda, "13" if cuda else "", "")
    assert rewritten.splitlines()[0] == reference
