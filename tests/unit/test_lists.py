"""Each validation rule of the package lists, on small fixture lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrlab.inside import lists


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_comments_and_blank_lines_are_not_entries(tmp_path: Path) -> None:
    path = write(tmp_path, "base_debs.txt", "# a comment\n\ngit  # version control\n  curl\n")
    entries = lists.read_entries(path)
    assert [(entry.line, entry.text) for entry in entries] == [(3, "git"), (4, "curl")]


def test_missing_list_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(lists.ListError) as raised:
        lists.read_entries(tmp_path / "r_debs.txt")
    assert "r_debs.txt" in str(raised.value)
    assert "create r_debs.txt" in str(raised.value)


@pytest.mark.parametrize(
    ("line", "fix"),
    [("Git", "write it as 'git'"), ("lib xml2", "one Debian package name a line"), ("g", "one Debian package name")],
)
def test_bad_debian_name(tmp_path: Path, line: str, fix: str) -> None:
    path = write(tmp_path, "base_debs.txt", f"curl\n{line}\n")
    problems = lists.check_debian_list(lists.read_entries(path))
    assert len(problems) == 1
    assert problems[0].line == 2
    assert fix in problems[0].fix


def test_debian_duplicate_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "r_debs.txt", "pandoc\ncurl\npandoc\n")
    (problem,) = lists.check_debian_list(lists.read_entries(path))
    assert (problem.line, problem.message) == (3, "'pandoc' is already listed on line 1")


def test_valid_requirements_pass(tmp_path: Path) -> None:
    path = write(
        tmp_path, "requirements.txt", "numpy\npandas>=2.2,<3\njax[cpu]==0.4.30\nrequests; python_version>'3.8'\n"
    )
    assert lists.check_python_list(lists.read_entries(path)) == []


def test_invalid_requirement(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "numpy\npandas>=>2\n")
    (problem,) = lists.check_python_list(lists.read_entries(path))
    assert problem.line == 2
    assert "not a valid requirement" in problem.message


def test_pip_options_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "--index-url https://example.invalid/simple\n")
    (problem,) = lists.check_python_list(lists.read_entries(path))
    assert "PIPPROXY" in problem.fix


def test_same_project_twice_under_other_spellings(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "scikit-learn\nScikit_Learn>=1.5\n")
    (problem,) = lists.check_python_list(lists.read_entries(path))
    assert problem.line == 2
    assert "line 1" in problem.message


def test_r_base_package_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "r_packages.txt", "ggplot2\nstats\n")
    (problem,) = lists.check_r_list(lists.read_entries(path))
    assert (problem.line, problem.fix) == (2, "remove the line: it is always installed")


@pytest.mark.parametrize("name", ["data.table", "R6", "ggplot2"])
def test_valid_r_names(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "r_packages.txt", f"{name}\n")
    assert lists.check_r_list(lists.read_entries(path)) == []


@pytest.mark.parametrize("name", ["2fast", "data_table", "ends.", "x"])
def test_invalid_r_names(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "r_packages.txt", f"{name}\n")
    (problem,) = lists.check_r_list(lists.read_entries(path))
    assert "is not an R package name" in problem.message


def test_r_duplicates_ignore_case(tmp_path: Path) -> None:
    path = write(tmp_path, "r_packages.txt", "Matrix\nmatrix\n")
    (problem,) = lists.check_r_list(lists.read_entries(path))
    assert problem.line == 2


def test_check_lists_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "base_debs.txt", "Curl\n")
    write(tmp_path, "requirements.txt", "numpy\nnumpy\n")
    write(tmp_path, "r_debs.txt", "")
    write(tmp_path, "r_packages.txt", "utils\n")
    with pytest.raises(lists.ListError) as raised:
        lists.check_lists(tmp_path, ["base_debs.txt", "requirements.txt", "r_debs.txt", "r_packages.txt"])
    text = str(raised.value)
    assert [(problem.path.name, problem.line) for problem in raised.value.problems] == [
        ("base_debs.txt", 1),
        ("requirements.txt", 2),
        ("r_packages.txt", 1),
    ]
    assert f"{tmp_path / 'base_debs.txt'}:1: 'Curl' is not a Debian package name" in text
    assert "fix: " in text


def test_the_project_lists_are_valid() -> None:
    lists.check_lists(Path(__file__).parents[2])


def test_snapshot_is_made_on_first_build(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "numpy\n")
    snapshot = tmp_path / "snapshots" / "requirements.txt"
    assert lists.refresh_snapshot(path, snapshot)
    assert snapshot.read_text() == "numpy\n"


def test_snapshot_is_kept_while_lines_are_only_added(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "numpy\n")
    snapshot = tmp_path / "snapshot.txt"
    lists.refresh_snapshot(path, snapshot)
    path.write_text("# science\nnumpy\npandas\n")
    assert not lists.refresh_snapshot(path, snapshot)
    assert snapshot.read_text() == "numpy\n"


@pytest.mark.parametrize("edited", ["pandas\n", "numpy>=2\npandas\n"])
def test_snapshot_is_renewed_when_a_line_goes_or_changes(tmp_path: Path, edited: str) -> None:
    path = write(tmp_path, "requirements.txt", "numpy\npandas\n")
    snapshot = tmp_path / "snapshot.txt"
    lists.refresh_snapshot(path, snapshot)
    path.write_text(edited)
    assert lists.refresh_snapshot(path, snapshot)
    assert snapshot.read_text() == edited


@pytest.mark.parametrize(
    "line",
    [
        "pkg @ https://example.org/pkg-1.0.tar.gz",
        "pkg @ git+https://example.org/pkg.git@v1",
        "pkg @ file:///srv/wheels/pkg-1.0-py3-none-any.whl",
    ],
)
def test_direct_reference_is_refused_unless_allowed(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, "requirements.txt", f"numpy\n{line}\n")
    problems = lists.check_python_list(lists.read_entries(path))
    assert [problem.line for problem in problems] == [2]
    assert "direct reference" in problems[0].message
    assert "ALLOW_DIRECT_URLS=yes" in problems[0].fix
    assert lists.check_python_list(lists.read_entries(path), allow_direct_urls=True) == []


def test_a_hash_sign_in_a_url_is_not_a_comment(tmp_path: Path) -> None:
    reference = "pkg @ git+https://example.org/pkg.git@v1#subdirectory=python"
    path = write(tmp_path, "requirements.txt", f"{reference}  # the team's package\n# a comment\nsix#no space\n")
    assert [entry.text for entry in lists.read_entries(path)] == [reference, "six#no space"]
    assert lists.logical_lines(path.read_text()) == [reference, "six#no space"]


def test_an_operator_without_a_version_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "pandas\nnumpy===\n")
    problems = lists.check_python_list(lists.read_entries(path))
    assert [problem.line for problem in problems] == [2]
    assert "operator without a version" in problems[0].message


def test_an_operator_without_a_version_before_another_clause_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "requirements.txt", "six>=,<2\n")
    problems = lists.check_python_list(lists.read_entries(path))
    assert [problem.line for problem in problems] == [1]
    assert "operator without a version (>=)" in problems[0].message
    assert "'six==2.2'" in problems[0].fix
