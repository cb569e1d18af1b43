"""The packages for the host builds artists download (scripts/host_builds.py's table).

`python scripts/build_release.py --only krita --only gimp` builds every Krita and GIMP row
here (PyPI's wheels for Windows, macOS and Linux; the Blender rows need Blender and are built
in tests/hosts/test_blender.py). Each zip is then read as a stranger would: every compiled
file's own header (ELF, PE, Mach-O) says its platform and architecture, and its name or its
imports say its Python, independently of the wheel tags the build and the plug-ins go by.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "plugins" / "common"))

import build_krita_plugin  # noqa: E402
import build_release  # noqa: E402
import host_builds  # noqa: E402
from binaries import COMPILED, binary_platform, python_marks  # noqa: E402
from fixative_host import abi  # noqa: E402

ZIPPED = [b for b in host_builds.BUILDS if b.host in ("krita", "gimp")]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, wheel_cache: Path) -> Path:
    out = tmp_path_factory.mktemp("release") / "release"
    assert (
        build_release.main(
            ["--only", "krita", "--only", "gimp", "--out", str(out), "--cache", str(wheel_cache)]
        )
        == 0
    )
    return out


def test_table_says_which_python_each_official_build_bundles() -> None:
    krita = {(b.versions, b.python) for b in host_builds.rows("krita")}
    assert ("5.2", "3.10") in krita and ("5.3, 6.0", "3.13") in krita
    assert {b.python for b in host_builds.rows("gimp") if b.platform} == {"3.10"}
    assert {b.platform for b in host_builds.rows("gimp") if b.python} == {
        "macos-arm64",
        "macos-x86_64",
    }
    assert host_builds.pythons("blender") == ["3.11", "3.13", "3.14"]
    names = [b.package for b in host_builds.BUILDS]
    assert len(names) == len(set(names)), "two rows would write the same file"
    for b in host_builds.BUILDS:
        if b.python:
            assert b.tag in b.package and b.platform.replace("-", "_") in b.package.replace(
                "-", "_"
            ), b
    assert (
        host_builds.package_name("krita", "3.10", "windows-x86_64")
        == "fixative-krita-py310-windows-x86_64.zip"
    )


def test_docs_show_the_table_as_generated() -> None:
    """The host pages carry the generated table, current (`host_builds.py --docs` writes it)."""
    pages = {p.name for p in host_builds.doc_pages()}
    assert {"krita.md", "gimp.md", "blender.md"} <= pages
    for page in host_builds.doc_pages():
        text = page.read_text(encoding="utf-8")
        assert host_builds.render_docs(text) == text, (
            f"{page}: run python scripts/host_builds.py --docs"
        )
    for host in host_builds.HOSTS:
        page = (REPO / "docs" / f"{host}.md").read_text(encoding="utf-8")
        for row in host_builds.rows(host):
            assert row.package in page


def test_build_without_python_makes_one_zip_per_krita_python(
    tmp_path: Path, wheel_cache: Path
) -> None:
    rc = build_krita_plugin.main(
        ["--platform", "linux-x86_64", "--out", str(tmp_path), "--cache", str(wheel_cache)]
    )
    assert rc == 0
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == [
        "fixative-krita-py310-linux-x86_64.zip",
        "fixative-krita-py313-linux-x86_64.zip",
    ]


@pytest.mark.parametrize("row", ZIPPED, ids=[b.package for b in ZIPPED])
def test_every_compiled_module_is_for_its_rows_python_and_platform(
    release: Path, row: host_builds.HostBuild
) -> None:
    path = release / row.package
    assert path.is_file(), sorted(p.name for p in release.iterdir())
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        facts = json.loads(next(zf.read(n) for n in names if n.endswith(abi.PACKAGE_FILE)))
        compiled = [n for n in names if n.endswith(COMPILED) or ".so." in Path(n).name]
        if not row.python:
            assert compiled == [] and not any("/deps/" in n for n in names)
            assert facts["python"] is None
            return
        assert facts["python"] == row.python and facts["platform"] == row.platform
        assert {"numpy", "onnxruntime", "PIL"} <= {
            n.split("/deps/")[1].split("/")[0] for n in names if "/deps/" in n
        }
        system, arch = row.platform.split("-", 1)
        named = 0
        for name in compiled:
            data = zf.read(name)
            found_system, arches = binary_platform(data)
            assert found_system == system and arch in arches, (name, found_system, arches)
            marks = python_marks(name, data)
            assert marks <= {row.python}, (name, marks)
            named += bool(marks)
        # numpy's, Pillow's and onnxruntime's extension modules say their Python.
        assert named >= 3, f"{row.package}: only {named} compiled modules name a Python"


@pytest.mark.parametrize("row", ZIPPED, ids=[b.package for b in ZIPPED])
def test_every_package_carries_its_hosts_manual(release: Path, row: host_builds.HostBuild) -> None:
    with zipfile.ZipFile(release / row.package) as zf:
        names = zf.namelist()
    manual = [n for n in names if "/fixative_host/manual/" in n]
    page = f"/fixative_host/manual/en/docs/{row.host}.html"
    assert any(n.endswith(page) for n in manual), row.package
    assert any(n.endswith(f"/docs/images/{row.host}-dialog.png") for n in manual), row.package
    assert any(n.endswith("/en/gimp-help.xml") for n in manual) == (row.host == "gimp")


def test_release_lists_and_checksums_every_file(release: Path) -> None:
    sums = (release / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in sums)
    assert set(listed) == {b.package for b in ZIPPED}
    for name, digest in listed.items():
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == digest
    packages = (release / "PACKAGES.md").read_text(encoding="utf-8")
    for row in ZIPPED:
        line = next(ln for ln in packages.splitlines() if f"`{row.package}`" in ln)
        assert row.versions in line and (row.python or "system") in line
        assert listed[row.package] in line
    assert sorted(p.name for p in release.iterdir()) == sorted(
        [*listed, "SHA256SUMS", "PACKAGES.md"]
    )


def test_wrong_python_names_the_right_package(release: Path, tmp_path: Path) -> None:
    """The start-up check on a real package: the Krita 5.2 zip loaded by Krita 6's Python
    names the 5.3/6.0 zip; the right Python gets no message."""
    with zipfile.ZipFile(release / "fixative-krita-py310-windows-x86_64.zip") as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / "fixative_krita"
    message = abi.mismatch(folder, "Krita", python="3.13", platform="windows-x86_64")
    assert message is not None
    assert "for Python 3.10" in message and "your Krita runs Python 3.13" in message
    assert "install fixative-krita-py313-windows-x86_64.zip" in message
    assert "Krita 5.3, 6.0" in message
    assert abi.mismatch(folder, "Krita", python="3.10", platform="windows-x86_64") is None
    elsewhere = abi.mismatch(folder, "Krita", python="3.10", platform="macos-arm64")
    assert elsewhere is not None and "Windows" in elsewhere
    assert "fixative-krita-py310-macos-arm64.zip" in elsewhere
    # No table row for it: the External Python route, in words.
    odd = abi.mismatch(folder, "Krita", python="3.12", platform="windows-x86_64")
    assert odd is not None and "External Python" in odd


def test_broken_package_is_refused_by_the_release(release: Path, tmp_path: Path) -> None:
    """The release's own check catches a zip whose modules are for another Python."""
    row = host_builds.find("krita", "3.13", "windows-x86_64")
    other = release / "fixative-krita-py310-windows-x86_64.zip"
    with pytest.raises(build_release.ReleaseError, match="another Python"):
        build_release.check_package(other, row)
