"""A CRAN-like repository of R packages made here: sources written from Python, built with
`R CMD build` in a container of an image with R (rlab-base), indexed with tools::write_PACKAGES,
and served on 127.0.0.1. The tests and `make bench` use it: no CRAN is reachable from here."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyrlab.engine import run as run_cli

LICENSE = "GPL-3"


def description(name: str, version: str, imports: tuple[str, ...] = ()) -> str:
    lines = [
        f"Package: {name}",
        f"Version: {version}",
        f"Title: The {name} Test Package",
        f"Description: A package of pyrlab's tests, {name}, built with R CMD build.",
        "Authors@R: person('pyrlab', 'tests', email = 'tests@example.org', role = c('aut', 'cre'))",
        f"License: {LICENSE}",
        "Encoding: UTF-8",
    ]
    if imports:
        lines.append(f"Imports: {', '.join(imports)}")
    return "\n".join(lines) + "\n"


def pure_r(name: str, version: str = "0.1.0", greeting: str = "hello") -> dict[str, str]:
    """A package of R code only: greet(x)."""
    return {
        "DESCRIPTION": description(name, version),
        "NAMESPACE": "export(greet)\n",
        "R/greet.R": f'greet <- function(x) paste("{greeting}", x)\n',
    }


def with_c(name: str, version: str = "0.1.0") -> dict[str, str]:
    """A package with C code: add_c(a, b), summed in C."""
    c_code = f"""#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

static SEXP add(SEXP a, SEXP b) {{ return ScalarInteger(asInteger(a) + asInteger(b)); }}

static const R_CallMethodDef calls[] = {{{{"add", (DL_FUNC) &add, 2}}, {{NULL, NULL, 0}}}};

void R_init_{name}(DllInfo *info) {{
    R_registerRoutines(info, NULL, calls, NULL, NULL);
    R_useDynamicSymbols(info, FALSE);
}}
"""
    return {
        "DESCRIPTION": description(name, version),
        "NAMESPACE": f'useDynLib({name}, .registration = TRUE, .fixes = "C_")\nexport(add_c)\n',
        "R/add.R": "add_c <- function(a, b) .Call(C_add, as.integer(a), as.integer(b))\n",
        "src/add.c": c_code,
    }


def importing(name: str, dependency: str, call: str, version: str = "0.1.0") -> dict[str, str]:
    """A package that imports another: cheer() returns `call`, a call into the dependency."""
    return {
        "DESCRIPTION": description(name, version, (dependency,)),
        "NAMESPACE": f"export(cheer)\nimportFrom({dependency}, {call.split('(')[0].split('::')[-1]})\n",
        "R/cheer.R": f"cheer <- function() {call}\n",
    }


def write_package(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def build_tarballs(cli: str, image: str, sources: Path, out: Path) -> list[Path]:
    """`R CMD build` every package folder below `sources` into `out`, in a container of `image`."""
    out.mkdir(parents=True, exist_ok=True)
    script = "cd /out && for package in /sources/*/; do R CMD build --no-build-vignettes --no-manual $package; done"
    run_cli(
        cli,
        *("run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}", "--entrypoint", "bash"),
        *("--volume", f"{sources}:/sources:ro", "--volume", f"{out}:/out", "--env", "HOME=/tmp"),
        *(image, "-c", script),
    )
    return sorted(out.glob("*.tar.gz"))


def index_repository(cli: str, image: str, repository: Path) -> None:
    """Write src/contrib/PACKAGES of a CRAN-like folder, as R's tools::write_PACKAGES does."""
    run_cli(
        cli,
        *("run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}", "--entrypoint", "Rscript"),
        *("--volume", f"{repository}:/repository", image),
        *("-e", "tools::write_PACKAGES('/repository/src/contrib', type = 'source')"),
    )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not printed: the tests read the server's files, not its log."""


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (a free port) while the block runs; yields its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
