"""The extra training images (scripts/fetch_training_data.py) never include an evaluation image,
a variant of its source file or a near-duplicate of it; no network: synthetic package trees. The
evaluation images are the ones committed in data/eval/, with their sources."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def ftd():
    import fetch_training_data

    return fetch_training_data


@pytest.fixture(scope="module")
def refs(ftd) -> dict[str, np.ndarray]:
    """Near-duplicate fingerprints of the real evaluation images."""
    return ftd.eval_thumbs()


def _texture(seed: int, size: tuple[int, int]) -> Image.Image:
    """Smooth random colour field: unlike any evaluation image."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.BICUBIC)


def _put(root: Path, rel: str, im: Image.Image) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def _sources_rows() -> dict[str, list[str]]:
    """data/eval/SOURCES.md's table: file -> [package, version, original path, size, licence]."""
    from dataset import EVAL_DIR

    rows = {}
    for line in (EVAL_DIR / "SOURCES.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].endswith(".png"):
            rows[cells[0]] = cells[1:]
    return rows


def test_eval_sources_match_dataset_and_sources_md(ftd):
    from dataset import EVAL_IMAGES

    assert set(ftd.EVAL_SOURCES) == set(EVAL_IMAGES)
    rows = _sources_rows()
    for name, source in ftd.EVAL_SOURCES.items():
        assert (rows[name][0], rows[name][2]) == source, name


def test_eval_folder_holds_the_eval_images_with_their_sources():
    from dataset import EVAL_DIR, EVAL_IMAGES, eval_files

    assert [f.name for f in eval_files()] == list(EVAL_IMAGES)
    assert sorted(p.name for p in EVAL_DIR.iterdir()) == sorted([*EVAL_IMAGES, "SOURCES.md"])
    rows = _sources_rows()
    assert sorted(rows) == sorted(EVAL_IMAGES)
    for name, (package, version, orig, size, licence) in rows.items():
        with Image.open(EVAL_DIR / name) as im:
            assert size == f"{im.width}x{im.height}", name
        assert package and version and orig.startswith("/usr/share/") and licence, name
    # Committed to the repository: keep it small.
    assert sum(p.stat().st_size for p in EVAL_DIR.iterdir()) < 2_000_000


@pytest.mark.parametrize(
    ("package", "path", "hit"),
    [
        ("gnome-backgrounds", "/usr/share/backgrounds/gnome/wood-d.webp", "gnome_wood-d.png"),
        ("gnome-backgrounds", "/usr/share/backgrounds/gnome/wood-l.webp", "gnome_wood-d.png"),
        ("gnome-backgrounds", "/usr/share/backgrounds/gnome/wood-l.png", "gnome_wood-d.png"),
        ("gnome-backgrounds", "/usr/share/backgrounds/gnome/dune-d.webp", "gnome_dune-l.png"),
        (
            "gnome-backgrounds",
            "/usr/share/backgrounds/gnome/Dune-3840x2160.jpg",
            "gnome_dune-l.png",
        ),
        (
            "desktop-base",
            "/usr/share/desktop-base/homeworld-theme/wallpaper/contents/images/3840x2160.png",
            "debian_homeworld.png",
        ),
        (
            "desktop-base",
            "/usr/share/desktop-base/homeworld-theme/grub/grub-16x9.png",
            "debian_homeworld.png",
        ),
        (
            "desktop-base",
            "/usr/share/plymouth/themes/homeworld/plymouth_background_homeworld.png",
            "debian_homeworld.png",
        ),
        ("desktop-base", "/usr/share/wallpapers/homeworld_wallpaper/1.png", "debian_homeworld.png"),
        (
            "openclipart-png",
            "/usr/share/openclipart/png/animals/mammals/big_cats/tigre04_architetto_franc_01.png",
            "clip_tiger.png",
        ),
        (
            "openclipart-png",
            "/usr/share/openclipart/png/unsorted/tigre04_architetto_franc_02.png",
            "clip_tiger.png",
        ),
        (
            "openclipart-png",
            "/usr/share/openclipart/png/plants/flowers/sun_flower_ganson.png",
            "clip_sunflower.png",
        ),
        ("openclipart-png", "/usr/share/openclipart/png/other/Set_Gatti.png", "clip_set_gatti.png"),
        (
            "openclipart-png",
            "/usr/share/openclipart/png/x/park_nicu_buculei_03.png",
            "clip_park.png",
        ),
        ("openclipart-png", "/usr/share/openclipart/png/x/caterpillar.jpg", "clip_caterpillar.png"),
    ],
)
def test_eval_sources_and_variants_excluded(ftd, package, path, hit):
    assert ftd.excluded_by_name(package, [path], ftd.eval_rules()) == hit


@pytest.mark.parametrize(
    ("package", "path"),
    [
        ("gnome-backgrounds", "/usr/share/backgrounds/gnome/adwaita-l.webp"),
        ("gnome-backgrounds", "/usr/share/backgrounds/gnome/pixels-d.webp"),
        ("desktop-base", "/usr/share/desktop-base/emerald-theme/grub/grub-16x9.png"),
        (
            "desktop-base",
            "/usr/share/desktop-base/lines-theme/wallpaper/contents/images/1920x1080.png",
        ),
        ("desktop-base", "/usr/share/plymouth/themes/softwaves/logo.png"),
        ("krita-data", "/usr/share/krita/patterns/16_texture-woody.png"),
        ("openclipart-png", "/usr/share/openclipart/png/big_cats/tigre01_architetto_franc_01.png"),
        ("openclipart-png", "/usr/share/openclipart/png/bugs/caterpillar_david_wislon_01.png"),
        ("openclipart-png", "/usr/share/openclipart/png/unsorted/van_gogh_s_sun_flower_en_01.png"),
    ],
)
def test_ordinary_files_not_excluded(ftd, package, path):
    assert ftd.excluded_by_name(package, [path], ftd.eval_rules()) is None


def test_near_duplicate_of_eval_image(ftd, refs):
    from dataset import EVAL_DIR, EVAL_IMAGES

    for name in EVAL_IMAGES:
        with Image.open(EVAL_DIR / name) as im:
            rgb = ftd.to_rgb(im)
        # Re-encoded at another size: still the same picture.
        w, h = rgb.size
        copy = rgb.resize((w * 3 // 4, h * 3 // 4), Image.BILINEAR)
        hit = ftd.near_duplicate(ftd.thumb(copy), refs)
        assert hit is not None and hit[0] == name, name
    for seed in range(5):
        assert ftd.near_duplicate(ftd.thumb(_texture(seed, (512, 384))), refs) is None


def test_collect_synthetic_package(ftd, refs, tmp_path):
    from dataset import EVAL_DIR, EVAL_IMAGES, extra_train_files

    root = tmp_path / "pkg"
    gnome = "/usr/share/backgrounds/gnome"
    half = _texture(1, (2048, 1536)).convert("RGBA")
    alpha = np.full((1536, 2048), 255, np.uint8)
    alpha[:, :1024] = 0  # the left half transparent
    half.putalpha(Image.fromarray(alpha))
    _put(root, f"{gnome}/half-l.png", half)
    _put(root, f"{gnome}/plain-l.webp", _texture(2, (800, 600)))
    _put(root, f"{gnome}/plain-copy.png", Image.open(root / gnome.lstrip("/") / "plain-l.webp"))
    _put(root, f"{gnome}/wood-l.png", _texture(3, (600, 600)))  # a variant by name
    _put(root, f"{gnome}/texture.png", _texture(4, (600, 600)))
    (root / gnome.lstrip("/") / "wood-d.png").symlink_to("texture.png")  # a link's name counts
    _put(root, f"{gnome}/small.png", _texture(5, (300, 200)))
    _put(root, f"{gnome}/banner.png", _texture(6, (2736, 256)))  # < 256 px once resized
    with Image.open(EVAL_DIR / "debian_homeworld.png") as im:  # renamed copy: pixels catch it
        _put(root, f"{gnome}/innocent.jpg", im.convert("RGB").resize((900, 506)))
    (root / gnome.lstrip("/") / "notes.svg").write_text("<svg/>")

    out = tmp_path / "out"
    out.mkdir()
    manifest: list[str] = []
    st = ftd.collect("gnome-backgrounds", root, out, 10, refs, {}, manifest)
    ftd.write_manifest(out, manifest)

    assert st.found == 8  # rasters only, the link folded into its target
    assert sorted(hit for _, hit in st.by_name) == ["gnome_wood-d.png", "gnome_wood-d.png"]
    assert [(p, hit) for p, hit, _ in st.near_dup] == [
        (f"{gnome}/innocent.jpg", "debian_homeworld.png")
    ]
    assert (st.small, st.duplicates, st.kept) == (2, 1, 2)
    names = sorted(line.split()[0] for line in manifest)
    assert names == [  # of two identical images, the first by path
        "gnome-backgrounds__backgrounds_gnome_half-l.png",
        "gnome-backgrounds__backgrounds_gnome_plain-copy.png",
    ]
    with Image.open(out / names[0]) as im:
        assert (im.mode, im.size) == ("RGB", (1024, 768))
        px = np.asarray(im)
    assert px[:, :500].min() == 255  # transparency composited onto white
    assert px[:, 524:].min() < 255

    files = extra_train_files(out)
    assert [f.name for f in files] == names
    assert not {f.name for f in files} & set(EVAL_IMAGES)
    for line in manifest:
        name, digest, package, orig = line.split(maxsplit=3)
        with Image.open(out / name) as im:
            assert ftd.pixel_sha256(im.convert("RGB")) == digest
        assert package == "gnome-backgrounds" and orig.startswith(gnome)


def test_sampling_is_seeded_and_prefers_large(ftd):
    cands = [ftd.Candidate(f"/s{i}.png", [f"/s{i}.png"], (256, 256)) for i in range(100)]
    cands += [ftd.Candidate(f"/l{i}.png", [f"/l{i}.png"], (1024, 1024)) for i in range(100)]
    order = ftd.sample_order(cands)
    assert [c.rel for c in order] == [c.rel for c in ftd.sample_order(list(reversed(cands)))]
    assert sum(c.rel.startswith("/l") for c in order[:50]) >= 40


def test_train_lists_hold_no_eval_image(ftd, tmp_path):
    from dataset import EVAL_DIR, EVAL_IMAGES, extra_train_files, split, train_files

    # A training folder laid out like the development set: the evaluation images are in it too.
    data = tmp_path / "dev"
    data.mkdir()
    for name in EVAL_IMAGES:
        (data / name).write_bytes((EVAL_DIR / name).read_bytes())
    for seed in range(2):
        _texture(seed, (300, 200)).save(data / f"train_{seed}.png")
    train, evals = split(data)
    assert [f.name for f in train] == ["train_0.png", "train_1.png"]
    assert [f.name for f in evals] == list(EVAL_IMAGES)
    assert all(f.parent == EVAL_DIR for f in evals)  # always the committed copies
    (data / "train_0.png").unlink()
    (data / "train_1.png").unlink()
    with pytest.raises(FileNotFoundError, match="--data"):
        train_files(data)  # nothing left once the evaluation names are dropped

    assert extra_train_files(tmp_path / "absent") == []
    (tmp_path / "partial").mkdir()
    with pytest.raises(FileNotFoundError, match="manifest"):
        extra_train_files(tmp_path / "partial")

    # The real cache, when it has been fetched: no evaluation name, no variant of a source.
    extra = extra_train_files()
    assert not {f.name for f in extra} & set(EVAL_IMAGES)
    if extra:
        lines = (extra[0].parent / "manifest.txt").read_text().splitlines()
        assert len(lines) == len(extra)
        rules = ftd.eval_rules()
        for line in lines:
            name, _, package, orig = line.split(maxsplit=3)
            assert re.fullmatch(rf"{re.escape(package)}__[A-Za-z0-9._-]+\.png", name)
            assert ftd.excluded_by_name(package, [orig], rules) is None, orig
