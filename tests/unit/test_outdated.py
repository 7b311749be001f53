"""`make outdated`: versions read from an index's JSON pages, and the report."""

from __future__ import annotations

from packaging.version import Version

from pyrlab.images import outdated


def page(*files: tuple[str, bool]) -> dict[str, object]:
    return {"name": "six", "files": [{"filename": name, "yanked": yanked} for name, yanked in files]}


def test_newest_release_skips_yanked_files_and_prereleases() -> None:
    project = page(
        ("six-1.16.0-py2.py3-none-any.whl", False),
        ("six-1.17.0.tar.gz", False),
        ("six-1.18.0-py2.py3-none-any.whl", True),
        ("six-2.0b1-py3-none-any.whl", False),
        ("six-latest.zip", False),
    )
    assert outdated.newest_release(project, Version("1.16.0")) == Version("1.17.0")
    assert outdated.newest_release(project, Version("2.0a1")) == Version("2.0b1")


def test_a_project_without_files_has_no_newest_release() -> None:
    assert outdated.newest_release({"files": []}, Version("1.0")) is None


def test_table_aligns_columns() -> None:
    rows = [outdated.Outdated("requirements.lock", "six", "1.16.0", "1.17.0")]
    assert outdated.table(rows).splitlines() == [
        "lock               package  pinned  newest",
        "requirements.lock  six      1.16.0  1.17.0",
    ]
