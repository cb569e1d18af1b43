#!/usr/bin/env python3
"""Build every package of the table of host builds into one release folder, with checksums.

    python scripts/build_release.py [--out dist/release] [--only krita --only gimp ...]
        [--blender "blender"] [--cache dist/wheel-cache]

For each row of scripts/host_builds.py (Krita and GIMP zips per Python and platform, the
Blender extension per Python and platform) this runs the host's build script, checks that
every compiled module bundled is for the row's Python and platform (the wheels' tags, as the
plug-ins' start-up check reads them), and writes into `--out` (emptied first):
    the packages, named as the table names them
    SHA256SUMS      `sha256sum -c SHA256SUMS` checks them
    PACKAGES.md     each file with its host, host versions, platform, Python, size and sha256
The Blender rows need a Blender (4.2 or later) to build and validate the extension
(`--blender CMD`); `--only HOST` (repeatable) builds one host's rows. Downloaded wheels are
kept in `--cache` so a second release does not fetch them again.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

import build_blender_extension
import build_gimp_plugin
import build_krita_plugin
import host_builds
from host_builds import HostBuild
from plugin_vendor import REPO

sys.path.insert(0, str(REPO / "plugins" / "common"))
from fixative_host import abi  # plain standard library, shared with the plug-ins


class ReleaseError(RuntimeError):
    pass


def wheel_tags(zip_path: Path) -> list[str]:
    """The wheel tags of every compiled package a built zip bundles: the `Tag:` lines of the
    unpacked wheels in a Krita/GIMP `deps/`, the file names of a Blender zip's `wheels/`."""
    tags: list[str] = []
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            if "/deps/" in name and name.endswith(".dist-info/WHEEL"):
                text = zf.read(name).decode("utf-8", "replace")
                tags += [
                    line.partition(":")[2].strip()
                    for line in text.splitlines()
                    if line.startswith("Tag:")
                ]
            elif name.startswith("wheels/") and name.endswith(".whl"):
                # name-version(-build)-python-abi-platform.whl; tags may be dotted sets.
                py, abi_tag, plat = Path(name).stem.split("-")[-3:]
                tags += [
                    f"{p}-{a}-{q}"
                    for p in py.split(".")
                    for a in abi_tag.split(".")
                    for q in plat.split(".")
                ]
    return tags


def check_package(zip_path: Path, row: HostBuild) -> None:
    """Every compiled module bundled is for the row's Python and platform (or for any)."""
    tags = wheel_tags(zip_path)
    if row.python and not tags:
        msg = (
            f"{zip_path.name}: bundles no compiled modules, but the row is for Python {row.python}"
        )
        raise ReleaseError(msg)
    wrong_python = sorted({t for t in tags if abi.tag_python(t) not in (None, row.python)})
    expected = abi.platform_id(row.platform or "")
    wrong_platform = sorted(
        {
            t
            for t in tags
            if (p := abi.tag_platform(t)) is not None
            and p != expected
            and not (p == "macos" and expected.startswith("macos-"))
        }
    )
    if wrong_python or wrong_platform:
        msg = (
            f"{zip_path.name}: compiled modules for another Python or platform than "
            f"{row.python} on {row.platform}: {wrong_python + wrong_platform}"
        )
        raise ReleaseError(msg)


def build_rows(
    host: str, work: Path, models: Path, *, blender: str, cache: Path | None
) -> list[tuple[Path, HostBuild]]:
    """Build `host`'s rows under `work`; returns each zip with its row."""
    rows = host_builds.rows(host)
    if host == "krita":
        return [
            (build_krita_plugin.build(work, models, r.platform, r.python, cache=cache), r)
            for r in rows
        ]
    if host == "gimp":
        built = []
        for r in rows:
            folder = build_gimp_plugin.build(
                work / Path(r.package).stem, models, r.platform, r.python, cache=cache
            )
            built.append((build_gimp_plugin.zip_of(folder), r))
        return built
    command = shlex.split(blender)
    if not command or shutil.which(command[0]) is None:
        msg = (
            f"no Blender to build the extension with ({blender!r} is not a command): give "
            "--blender CMD (Blender 4.2 or later), or leave Blender out with --only krita "
            "--only gimp"
        )
        raise ReleaseError(msg)
    zips = build_blender_extension.build(
        work, host_builds.pythons(host), blender=blender, cache=cache
    )
    by_name = {z.name: z for z in zips}
    missing = [r.package for r in rows if r.package not in by_name]
    if missing:
        msg = f"Blender built {sorted(by_name)}, not {missing}"
        raise ReleaseError(msg)
    return [(by_name[r.package], r) for r in rows]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def packages_markdown(entries: list[tuple[Path, HostBuild, str]]) -> str:
    lines = [
        "# Fixative packages",
        "",
        "Which file goes with which host build (scripts/host_builds.py); check the downloads",
        "with `sha256sum -c SHA256SUMS`.",
        "",
        "| file | host | host versions | builds | platform | Python | size | sha256 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path, row, digest in entries:
        size = f"{path.stat().st_size / 1e6:.1f} MB"
        lines.append(
            f"| `{path.name}` | {host_builds.HOSTS[row.host]} | {row.versions} | {row.builds} "
            f"| {row.platform or 'any'} | {row.python or 'the system’s'} | {size} "
            f"| `{digest}` |"
        )
    return "\n".join(lines) + "\n"


def release(
    out: Path,
    hosts: list[str],
    *,
    models: Path = REPO / "models",
    blender: str = "blender",
    cache: Path | None = None,
) -> list[Path]:
    """Build `hosts`' rows into `out` (emptied first) with SHA256SUMS and PACKAGES.md."""
    work = out.parent / f".{out.name}-work"
    shutil.rmtree(work, ignore_errors=True)
    built: list[tuple[Path, HostBuild]] = []
    for host in hosts:
        built += build_rows(host, work / host, models, blender=blender, cache=cache)
    for zip_path, row in built:
        check_package(zip_path, row)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    entries = []
    for zip_path, row in built:
        target = out / row.package
        shutil.copy2(zip_path, target)
        entries.append((target, row, sha256(target)))
    (out / "SHA256SUMS").write_text("".join(f"{d}  {p.name}\n" for p, _, d in entries))
    (out / "PACKAGES.md").write_text(packages_markdown(entries), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return [p for p, _, _ in entries]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "release")
    parser.add_argument(
        "--only", action="append", choices=sorted(host_builds.HOSTS), help="one host's rows"
    )
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--blender", default="blender", help="command that runs Blender")
    parser.add_argument(
        "--cache", type=Path, default=REPO / "dist" / "wheel-cache", help="downloaded wheels"
    )
    args = parser.parse_args(argv)
    hosts = args.only or list(host_builds.HOSTS)
    try:
        files = release(
            args.out.resolve(), hosts, models=args.models, blender=args.blender, cache=args.cache
        )
    except (ReleaseError, build_blender_extension.BuildError) as exc:
        print(f"build_release: {exc}", file=sys.stderr)
        return 1
    for path in files:
        print(path)
    print(args.out / "SHA256SUMS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
