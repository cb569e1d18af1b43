"""Fetch the TAEF2 encoder/decoder state dicts (the attack target) and check their pinned sha256.

    python scripts/fetch_models.py                      # download from the upstream repository
    python scripts/fetch_models.py --from ../shared/models/taef2   # copy from a local folder

Files land in `--dest`, by default the cache `$XDG_CACHE_HOME/fixative/taef2`
(`~/.cache/fixative/taef2`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

UPSTREAM = "https://raw.githubusercontent.com/madebyollin/taesd/main/"
PINNED = {
    "taef2_encoder.pth": "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
    "taef2_decoder.pth": "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
}
# The other families' autoencoders (measuring and preview only; scripts/export_taef2.py): the
# same author's weights as vendored by ComfyUI (models/vae_approx/), bf16 safetensors.
FAMILY_PINNED = {
    "taesdxl_encoder.safetensors": (
        "3d78013286676a1a51074831230f90972e573698fe4b11416d6f28e0cd5bbe7e"
    ),
    "taesdxl_decoder.safetensors": (
        "ae5256b046b01d577279ed93a55bbb1fb2689e55aa14cfc0f7f841e0160202a5"
    ),
    "taef1_encoder.safetensors": (
        "19f5a854ce575fd0a1c0a52938410cf5fb4dc4b8ae71c8887533646d8fe47030"
    ),
    "taef1_decoder.safetensors": (
        "bb41500b646d5b8b592b7f3ca5d20d888c3075e209d178d99af609cd7e02a1d4"
    ),
}
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fixative" / "taef2"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _install(tmp: Path, dest: Path, name: str) -> None:
    got = sha256_of(tmp)
    if got != PINNED[name]:
        tmp.unlink(missing_ok=True)
        msg = f"{name}: sha256 {got} does not match the pinned {PINNED[name]}"
        raise SystemExit(msg)
    os.replace(tmp, dest / name)


def fetch(dest: Path = CACHE_DIR, source: Path | None = None) -> Path:
    """Ensure both files are in `dest` with the pinned hashes; return `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, digest in PINNED.items():
        target = dest / name
        if target.is_file() and sha256_of(target) == digest:
            continue
        fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                with (source / name).open("rb") as src:
                    shutil.copyfileobj(src, out)
            else:
                import requests

                with requests.get(UPSTREAM + name, stream=True, timeout=60) as r:
                    r.raise_for_status()
                    for chunk in r.iter_content(1 << 20):
                        out.write(chunk)
        _install(tmp, dest, name)
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--from", dest="source", type=Path, help="copy from this folder instead of downloading"
    )
    p.add_argument("--dest", type=Path, default=CACHE_DIR)
    args = p.parse_args(argv)
    dest = fetch(args.dest, args.source)
    print(f"TAEF2 weights verified in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
