"""Lock files: their pins, their staleness, what the build installs, and how changes are shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrlab.images import lock
from pyrlab.inside import lockfile, rdeb
from pyrlab.inside.lists import ListError, logical_lines

UV_OUTPUT = """\
numpy==2.3.4 \\
    --hash=sha256:aaa \\
    --hash=sha256:bbb
    # via
    #   -r requirements.txt
    #   pandas
Pandas_Stubs==2.2.0 ; python_version >= "3.10" \\
    --hash=sha256:ccc
"""


def project(tmp_path: Path, **lists: str) -> Path:
    """A project folder with the five lockable lists (empty unless given)."""
    for spec in lockfile.LOCKS:
        for source in spec.sources:
            path = tmp_path / source
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(lists.get(Path(source).stem, ""), encoding="utf-8")
    return tmp_path


def write_lock(root: Path, lock_path: str, body: str) -> Path:
    spec = next(spec for spec in lockfile.LOCKS if spec.lock == lock_path)
    path = root / lock_path
    path.write_text(lockfile.header(root, spec, "Debian trixie amd64, Python 3.13.5") + body, encoding="utf-8")
    return path


def test_logical_lines_join_hashes_and_drop_comments() -> None:
    assert logical_lines(UV_OUTPUT) == [
        "numpy==2.3.4 --hash=sha256:aaa --hash=sha256:bbb",
        'Pandas_Stubs==2.2.0 ; python_version >= "3.10" --hash=sha256:ccc',
    ]


def test_python_pins_are_normalised_names() -> None:
    assert lockfile.python_pins(UV_OUTPUT) == {"numpy": "2.3.4", "pandas-stubs": "2.2.0"}


def test_debian_pins_keep_epochs_and_ignore_notes() -> None:
    text = "# pyrlab-lock: base_debs.txt=x\ngit=1:2.47.3-0+deb13u1  # listed\nless=668-1\n"
    assert lockfile.debian_pins(text) == {"git": "1:2.47.3-0+deb13u1", "less": "668-1"}


def test_digest_ignores_comments_blank_lines_and_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("git\ncurl\n")
    second.write_text("# tools\ncurl  # for downloads\n\ngit\n")
    assert lockfile.list_digest(first) == lockfile.list_digest(second)
    second.write_text("curl\ngit\nless\n")
    assert lockfile.list_digest(first) != lockfile.list_digest(second)


def test_a_fresh_lock_is_installed_and_a_missing_one_falls_back_to_the_list(tmp_path: Path) -> None:
    root = project(tmp_path, base_debs="less\n", requirements="numpy\n")
    assert lockfile.install_text(root, "requirements.txt") == ("requirements.txt", "numpy\n")
    write_lock(root, "base_debs.lock", "less=668-1  # listed\n")
    source, text = lockfile.install_text(root, "base_debs.txt")
    assert source == "base_debs.lock"
    assert "less=668-1" in text
    assert lockfile.stale_problems(root) == []


def test_a_list_edited_after_its_lock_is_refused_with_the_fix(tmp_path: Path) -> None:
    root = project(tmp_path, requirements="numpy\n")
    write_lock(root, "requirements.lock", UV_OUTPUT)
    (root / "requirements.txt").write_text("numpy\n# a comment changes nothing\n")
    assert lockfile.stale_problems(root) == []
    (root / "requirements.txt").write_text("numpy\npandas\n")
    with pytest.raises(ListError) as raised:
        lockfile.install_text(root, "requirements.txt")
    message = str(raised.value)
    assert "requirements.lock:1: requirements.txt was edited after this lock was written" in message
    assert "run make lock" in message


def test_requirements_lock_is_stale_when_jupyter_txt_changes(tmp_path: Path) -> None:
    root = project(tmp_path, requirements="numpy\n", jupyter="jupyterlab\n")
    write_lock(root, "requirements.lock", UV_OUTPUT)
    (root / "pyrlab-base/jupyter.txt").write_text("jupyterlab\nipywidgets\n")
    problems = lockfile.stale_problems(root)
    assert [problem.message for problem in problems] == [
        "pyrlab-base/jupyter.txt was edited after this lock was written"
    ]


def test_a_hand_written_lock_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "r_debs.lock").write_text("r-cran-x=1.0-1\n")
    problems = lockfile.stale_problems(root)
    assert len(problems) == 1
    assert "not a lock written by `make lock`" in problems[0].message


def test_changes_show_old_to_new_additions_and_removals() -> None:
    old = {"numpy": "2.3.3", "six": "1.16.0", "tqdm": "4.67.1"}
    new = {"numpy": "2.3.4", "six": "1.16.0", "polars": "1.35.0"}
    assert lock.describe_changes("requirements.lock", old, new, existed=True) == [
        "requirements.lock: 3 changes",
        "    numpy 2.3.3 -> 2.3.4",
        "  + polars 1.35.0",
        "  - tqdm 4.67.1",
    ]
    assert lock.describe_changes("requirements.lock", new, new, existed=True) == ["requirements.lock: unchanged"]
    assert lock.describe_changes("x.lock", {}, new, existed=False) == ["x.lock: written, 3 packages pinned"]


def test_debian_lock_body_notes_the_listed_packages() -> None:
    body = lock.debian_lock_body({"r-cran-jsonlite": "2.0.0-1", "libc6": "2.41-12"}, {"r-cran-jsonlite": "R: jsonlite"})
    assert body == "libc6=2.41-12\nr-cran-jsonlite=2.0.0-1  # R: jsonlite\n"
    assert lockfile.debian_pins(body) == {"libc6": "2.41-12", "r-cran-jsonlite": "2.0.0-1"}


def test_the_r_mapper_passes_pinned_debian_names_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "r_packages.txt"
    locked.write_text("# pyrlab-lock: r_packages.txt=x\nr-cran-jsonlite=2.0.0-1  # R: jsonlite\nlibc6=2.41-12\n")
    assert rdeb.main([str(locked)]) == 0
    assert capsys.readouterr().out.split() == ["r-cran-jsonlite=2.0.0-1", "libc6=2.41-12"]


def test_a_torch_project_pinned_to_its_wheel_has_the_wheels_version() -> None:
    lock = (
        "torch @ https://download.example.org/whl/cpu/torch-2.9.1%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl \\\n"
        "    --hash=sha256:"
        + "a" * 64
        + "\n    # via -r requirements.txt\nsix==1.17.0 \\\n    --hash=sha256:"
        + "b" * 64
        + "\n"
    )
    assert lockfile.python_pins(lock) == {"torch": "2.9.1+cpu", "six": "1.17.0"}


def test_another_architectures_pins_are_added_only_where_debian_differs() -> None:
    host = "# pyrlab-lock: r_packages.txt=x\nr-cran-backports=1.5.0-2  # R: backports\nlibc6=2.41-12\n"
    arm64 = {"r-cran-backports": "1.5.0-2+b2", "libc6": "2.41-12", "libfoo-arm": "1.0"}
    text = lockfile.with_arch_pins(host, "arm64", arm64, {"r-cran-backports": "R: backports"})
    assert text == host + "libfoo-arm:arm64=1.0\nr-cran-backports:arm64=1.5.0-2+b2  # R: backports\n"
    assert lockfile.debian_pins(text)["r-cran-backports:arm64"] == "1.5.0-2+b2"
    assert lockfile.debian_pins(text)["r-cran-backports"] == "1.5.0-2"
    # Locking that architecture again replaces its lines; another architecture's stay.
    again = lockfile.with_arch_pins(text + "libc6:riscv64=2.41-12+b1\n", "arm64", {"libc6": "2.41-12"}, {})
    assert again == host + "libc6:riscv64=2.41-12+b1\n"


def test_a_foreign_lock_keeps_the_python_locks_and_adds_debian_pins(tmp_path: Path) -> None:
    (tmp_path / "base_debs.txt").write_text("git\n")
    (tmp_path / "base_debs.lock").write_text("# pyrlab-lock: base_debs.txt=x\ngit=1:2.47.3-0+deb13u1\n")
    spec = next(spec for spec in lockfile.LOCKS if spec.lock == "base_debs.lock")
    document = {"debian": {"base_debs.txt": {"git": "1:2.47.3-0+deb13u1+b1"}}, "notes": {}}
    text = lock.arch_lock_text(tmp_path, spec, document, "arm64")
    assert text is not None
    assert text.endswith("git=1:2.47.3-0+deb13u1\ngit:arm64=1:2.47.3-0+deb13u1+b1\n")
    python = next(spec for spec in lockfile.LOCKS if spec.kind == "python")
    assert lock.arch_lock_text(tmp_path, python, document, "arm64") is None
    missing = next(spec for spec in lockfile.LOCKS if spec.lock == "r_debs.lock")
    with pytest.raises(lock.LockError, match=r"r_debs\.lock is missing: run `make lock` for this host's"):
        lock.arch_lock_text(tmp_path, missing, document, "arm64")


def test_the_r_mapper_passes_another_architectures_pins_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "r_packages.txt"
    locked.write_text("r-cran-utf8=1.2.4-1  # R: utf8\nr-cran-utf8:arm64=1.2.4-1+b1  # R: utf8\n")
    assert rdeb.main([str(locked)]) == 0
    assert capsys.readouterr().out.split() == ["r-cran-utf8=1.2.4-1", "r-cran-utf8:arm64=1.2.4-1+b1"]
