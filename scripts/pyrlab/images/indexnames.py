"""After a Python install step fails: which lines of the lists name a project the package index
does not have, with the closest names it does, as `make check` does for R.

Asked only when a build has failed, so a build that works sends nothing more to the index. The
index's list of every project (PEP 691's root page: about 30 MB for PyPI) is kept for a day in
~/.cache/pyrlab.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import time
from pathlib import Path

import requests
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyrlab.images.outdated import SIMPLE_JSON, IndexAnswerError, index_get, project_url
from pyrlab.inside.lists import LISTS, Entry, Problem, read_entries

CACHE = Path.home() / ".cache" / "pyrlab"
CACHE_SECONDS = 24 * 3600
ANCHOR_TEXT = re.compile(r"<a [^>]*>([^<]+)</a>")


def is_on_index(session: requests.Session, index: str, name: str) -> bool:
    response = index_get(session, project_url(index, name))
    if response.status_code == 404:
        return False
    response.raise_for_status()
    return True


def index_names(session: requests.Session, index: str) -> list[str]:
    """Every project name the index lists, from the cache when it is less than a day old."""
    cached = CACHE / f"index-names-{hashlib.sha256(index.encode()).hexdigest()[:16]}.json"
    if cached.is_file() and time.time() - cached.stat().st_mtime < CACHE_SECONDS:
        names = json.loads(cached.read_text(encoding="utf-8"))
        return [str(name) for name in names]
    response = index_get(session, f"{index.rstrip('/')}/", timeout=120)  # every project: tens of MB
    response.raise_for_status()
    content_type = response.headers.get("Content-Type", "")
    if SIMPLE_JSON in content_type:
        projects = response.json().get("projects", [])
        names = sorted({str(item["name"]) for item in projects if isinstance(item, dict) and "name" in item})
    elif "html" in content_type:  # PEP 503's page of links, as PyPI still serves its root
        names = sorted(set(ANCHOR_TEXT.findall(response.text)))
    else:
        raise IndexAnswerError(f"{index} did not list its projects (PEP 691 or PEP 503); is it a package index?")
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(names), encoding="utf-8")
    return names


def typo_distance(first: str, second: str) -> int:
    """Edits between two names, a swap of neighbours counting as one (the commonest typo)."""
    rows = [list(range(len(second) + 1))]
    for i, a in enumerate(first, start=1):
        row = [i]
        for j, b in enumerate(second, start=1):
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a != b)))
            if i > 1 and j > 1 and a == second[j - 2] and first[i - 2] == b:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def closest(name: str, names: list[str]) -> list[str]:
    """Up to three names most like `name`: fewest typos, then the same length."""
    candidates = difflib.get_close_matches(name, names, n=30, cutoff=0.6)
    ranked = sorted(candidates, key=lambda candidate: (typo_distance(name, candidate), abs(len(candidate) - len(name))))
    return [candidate for candidate in ranked if typo_distance(name, candidate) <= max(2, len(name) // 3)][:3]


def requirement_name(entry: Entry) -> str | None:
    try:
        requirement = Requirement(entry.text)
    except InvalidRequirement:
        return None  # `make check` names it
    return None if requirement.url else requirement.name


def unknown_projects(root: Path, build: str, index: str, verify: bool | str = True) -> list[Problem]:
    """Every line of the build's Python lists (those installed from the list, not from a lock)
    whose project the index does not have."""
    problems: list[Problem] = []
    session = requests.Session()
    session.verify = verify
    all_names: list[str] | None = None
    for package_list in LISTS:
        path = root / package_list.path
        locked = package_list.lock is not None and (root / package_list.lock).is_file()
        if package_list.build != build or package_list.kind != "python" or locked or not path.is_file():
            continue
        for entry in read_entries(path):
            name = requirement_name(entry)
            if name is None or is_on_index(session, index, name):
                continue
            if all_names is None:
                all_names = index_names(session, index)
            normalized = {str(canonicalize_name(candidate)): candidate for candidate in all_names}
            close = closest(str(canonicalize_name(name)), list(normalized))
            suggestion = f"did you mean {' or '.join(normalized[match] for match in close)}?" if close else ""
            problems.append(
                Problem(
                    path,
                    entry.line,
                    f"{name!r} is not on the package index ({index})",
                    " ".join(filter(None, [suggestion, "correct the name, or remove the line"])),
                )
            )
    return problems


# Where a Debian-like host keeps the certificates it trusts, a TLS-intercepting proxy's CA among them.
HOST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def intercepted_tls_hint(index: str) -> str:
    """When the images would not trust the package index's certificate (an intercepting proxy,
    whose CA only this host trusts) and CA_CERTS is empty: the setting that fixes a build's
    certificate errors. Empty when nothing points that way."""
    import certifi  # requests' own CA list, which the images' trust store matches

    try:
        requests.head(index, verify=certifi.where(), timeout=10)
    except requests.exceptions.SSLError:
        bundle = HOST_BUNDLE if Path(HOST_BUNDLE).is_file() else "your proxy's CA bundle (PEM)"
        return (
            f"the package index's certificate ({index}) is signed by a CA that only this machine trusts: "
            f"a TLS-intercepting proxy. If the build failed with a certificate error, give the builds "
            f"that CA: `make build CA_CERTS={bundle}`"
        )
    except requests.RequestException:
        return ""  # not reachable at all: the build's own error says more
    return ""
