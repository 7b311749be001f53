"""R packages from R_REPOS: the plan (Debian first, sources for the rest, their dependencies from
Debian where it has them), the lock's pins, and the sha256 check of a fetched tarball."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from pyrlab.images import outdated, rrepos
from pyrlab.inside import rsource
from pyrlab.inside.lists import Entry
from pyrlab.settings import SettingError

AVAILABLE = {"r-cran-praise", "r-cran-ggplot2", "r-cran-jsonlite"}


def tarball(folder: Path, name: str, version: str, imports: str = "", body: str = "") -> Path:
    """A source tarball as R CMD build writes it: name/DESCRIPTION and name/R/."""
    description = f"Package: {name}\nVersion: {version}\nLicense: GPL-3\n"
    description += f"Imports: {imports}\n" if imports else ""
    path = folder / f"{name}_{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in ((f"{name}/DESCRIPTION", description), (f"{name}/R/code.R", body or "f <- 1\n")):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def entries(*names: str) -> list[Entry]:
    return [Entry(Path("r_packages.txt"), number, name) for number, name in enumerate(names, start=1)]


@pytest.fixture
def folder_repository(tmp_path: Path) -> rsource.Repositories:
    folder = tmp_path / "tarballs"
    folder.mkdir()
    tarball(folder, "mine", "1.0", imports="praise, helper (>= 0.2), stats, R (>= 4.1)")
    tarball(folder, "helper", "0.2", imports="jsonlite")
    tarball(folder, "other", "2.0")
    return rsource.Repositories([rsource.Repository("tarballs", str(folder), "/srv/r-packages")])


def test_debian_first_then_sources_in_dependency_order(folder_repository: rsource.Repositories) -> None:
    plan = rsource.make_plan(entries("ggplot2", "mine"), AVAILABLE, folder_repository)
    assert [source.name for source in plan.sources] == ["helper", "mine"]
    assert plan.debian == ["r-cran-ggplot2", "r-cran-praise", "r-cran-jsonlite"]
    assert plan.notes["r-cran-praise"] == "R: praise, for mine"
    assert {source.repository for source in plan.sources} == {"/srv/r-packages"}


def test_a_name_debian_has_is_never_taken_from_a_repository(tmp_path: Path) -> None:
    folder = tmp_path / "tarballs"
    folder.mkdir()
    tarball(folder, "praise", "9.9")
    repositories = rsource.Repositories([rsource.Repository("tarballs", str(folder), str(folder))])
    plan = rsource.make_plan(entries("praise"), AVAILABLE, repositories)
    assert (plan.debian, plan.sources) == (["r-cran-praise"], [])


def test_a_name_nobody_provides_is_named_with_close_names(folder_repository: rsource.Repositories) -> None:
    with pytest.raises(rsource.UnknownRNames) as raised:
        rsource.make_plan(entries("ggplot2", "mien", "nosuchthing"), AVAILABLE, folder_repository)
    message = str(raised.value)
    assert "r_packages.txt:2: 'mien' has no Debian package r-cran-/r-bioc-/r-other-mien" in message
    assert "no repository of R_REPOS has it (did you mean mine?)" in message
    assert "r_packages.txt:3: 'nosuchthing'" in message
    assert "fix:" in message


def test_without_r_repos_the_message_says_so() -> None:
    with pytest.raises(rsource.UnknownRNames, match=r"'ggplot' has no Debian package .* R_REPOS names no repository"):
        rsource.make_plan(entries("ggplot"), AVAILABLE, rsource.Repositories([]))


def test_a_missing_dependency_names_the_chain(tmp_path: Path) -> None:
    folder = tmp_path / "tarballs"
    folder.mkdir()
    tarball(folder, "top", "1.0", imports="middle")
    tarball(folder, "middle", "1.0", imports="absent")
    repositories = rsource.Repositories([rsource.Repository("tarballs", str(folder), str(folder))])
    with pytest.raises(rsource.UnknownRNames, match="top -> middle needs 'absent'"):
        rsource.make_plan(entries("top"), AVAILABLE, repositories)


def test_the_debian_layer_leaves_sources_out(folder_repository: rsource.Repositories) -> None:
    plan = rsource.make_plan(entries("ggplot2", "mine", "unknown"), AVAILABLE, folder_repository, debian_only=True)
    assert (plan.debian, plan.sources) == (["r-cran-ggplot2"], [])


def test_a_lock_is_its_own_plan() -> None:
    digest = "a" * 64
    lock = entries("r-cran-praise=1.0.0-4", f"mine==1.0 sha256={digest} repo=https://cran.example.org")
    plan = rsource.locked_plan(lock)
    assert plan is not None
    assert plan.debian == ["r-cran-praise=1.0.0-4"]
    assert [(source.name, source.version, source.sha256, source.repository) for source in plan.sources] == [
        ("mine", "1.0", digest, "https://cran.example.org")
    ]
    assert rsource.locked_plan(entries("ggplot2")) is None


def test_a_tarball_whose_hash_differs_from_the_lock_is_refused(
    folder_repository: rsource.Repositories, tmp_path: Path
) -> None:
    source = folder_repository.find("other")
    assert source is not None
    good = hashlib.sha256(Path(source.url).read_bytes()).hexdigest()
    source.sha256 = "b" * 64
    with pytest.raises(rsource.SourceError, match=r"other_2\.0\.tar\.gz has sha256 .* r_packages.lock says b{64}"):
        rsource.fetch(source, tmp_path / "cache", folder_repository)
    source.sha256 = ""
    fetched = rsource.fetch(source, tmp_path / "cache", folder_repository)
    assert fetched.name == f"{good}.tar.gz"
    assert source.pin() == f"other==2.0 sha256={good} repo=/srv/r-packages"


def test_a_cran_like_index_is_read(tmp_path: Path) -> None:
    contrib = tmp_path / "cran" / "src" / "contrib"
    contrib.mkdir(parents=True)
    (contrib / "PACKAGES").write_text(
        "Package: one\nVersion: 1.2\nDepends: R (>= 4.0), two\nLinkingTo: Rcpp\n\nPackage: two\nVersion: 0.1\n"
    )
    found = rsource.index(rsource.Repository("cran", f"file://{tmp_path / 'cran'}", "file:///srv/cran"))
    assert found["one"].depends == ["two", "Rcpp"]
    assert found["one"].url == f"file://{tmp_path / 'cran'}/src/contrib/one_1.2.tar.gz"


def test_r_repos_are_written_for_the_build(tmp_path: Path) -> None:
    folder = tmp_path / "tarballs"
    folder.mkdir()
    tarball(folder, "mine", "1.0")
    cran = tmp_path / "cran"
    (cran / "src" / "contrib").mkdir(parents=True)
    (cran / "src" / "contrib" / "PACKAGES").write_text("")
    out, copies = tmp_path / "r_repos.txt", tmp_path / "copies"
    rrepos.prepare(f"https://cran.example.org/ file://{cran} {folder}", out, copies)
    assert out.read_text().splitlines() == [
        "cran https://cran.example.org https://cran.example.org/",
        f"cran 1 file://{cran}",
        f"tarballs 2 {folder}",
    ]
    assert (copies / "2" / "mine_1.0.tar.gz").read_bytes() == (folder / "mine_1.0.tar.gz").read_bytes()
    written = out.stat().st_mtime_ns
    rrepos.prepare(f"https://cran.example.org/ file://{cran} {folder}", out, copies)
    assert out.stat().st_mtime_ns == written  # unchanged: make sees nothing new
    with pytest.raises(SettingError, match="R_REPOS: /nonexistent is neither a URL"):
        rrepos.prepare("/nonexistent", out, copies)


def test_outdated_names_a_newer_version_in_the_pinned_repository(tmp_path: Path) -> None:
    folder = tmp_path / "copies" / "0"
    folder.mkdir(parents=True)
    tarball(folder, "mine", "1.10")
    (tmp_path / "r_repos.txt").write_text("tarballs 0 /srv/r-packages\n")
    digest = "c" * 64
    (tmp_path / "r_packages.lock").write_text(
        f"r-cran-praise=1.0.0-4\nmine==1.9 sha256={digest} repo=/srv/r-packages\n"
        f"other==1.0 sha256={digest} repo=/srv/elsewhere\n"
    )
    rows = outdated.r_source_outdated(tmp_path, tmp_path / "r_repos.txt", tmp_path / "copies")
    assert rows == [outdated.Outdated("r_packages.lock", "mine", "1.9", "1.10")]


def test_a_locked_tarball_in_the_cache_needs_no_repository(tmp_path: Path) -> None:
    """An offline rebuild from the lock: the cached tarball (by sha256) is used, no index is read."""
    cache = tmp_path / "cache"
    cache.mkdir()
    digest = "d" * 64
    (cache / f"{digest}.tar.gz").write_bytes(b"cached")
    source = rsource.Source("mine", "1.0", "https://unreachable.example.org", "", [], digest)
    unreachable = rsource.Repositories([rsource.Repository("cran", "https://unreachable.example.org", "x")])
    assert rsource.fetch(source, cache, unreachable) == cache / f"{digest}.tar.gz"
