#!/bin/bash
# Build (or reuse) a root filesystem in which the host tests run GIMP, Krita and Blender headless.
# Two flavours, each from its own recipe below (see docs/hosts.md):
#   trixie  Debian 13: GIMP 3.0, Krita 5.2 (Qt 5), Blender 4.3            (the default)
#   newest  Debian sid + experimental: GIMP 3.2, Krita 6 (Qt 6, PyQt6), Blender 5.x
#
#   tests/hosts/rootfs.sh [--flavour F]           build if missing or stale, print the root's path
#   tests/hosts/rootfs.sh [--flavour F] --check   exit 0 if the root is ready and current, else 1
#
# The roots live outside the clone (2-3 GB each): trixie at $FIXATIVE_HOSTS_ROOT, default
# /var/cache/fixative-hosts/rootfs; newest at $FIXATIVE_HOSTS_ROOT_NEWEST, default
# /var/cache/fixative-hosts/rootfs-newest. Each is stamped with the sha256 of its recipe (the text
# between its markers below) and reused while the stamp matches; a changed recipe rebuilds it. A second,
# cheaper stage pre-warms one HOME per host (first start-up writes caches: 10-17 s cold, ~4.5 s warm)
# and has its own stamp, so changing a warm-up does not rebuild the whole root.
# Needs root, mmdebstrap and network access to deb.debian.org (first build only, ~5 minutes).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FLAVOUR=trixie
if [[ "${1:-}" == "--flavour" ]]; then
    FLAVOUR="${2:-}"
    shift 2
fi
case "$FLAVOUR" in
    trixie) ROOT="${FIXATIVE_HOSTS_ROOT:-/var/cache/fixative-hosts/rootfs}" SECTION=RECIPE ;;
    newest) ROOT="${FIXATIVE_HOSTS_ROOT_NEWEST:-/var/cache/fixative-hosts/rootfs-newest}"
        SECTION="NEWEST RECIPE" ;;
    *) echo "rootfs.sh: unknown flavour '$FLAVOUR' (trixie or newest)" >&2; exit 2 ;;
esac
export FIXATIVE_HOSTS_ROOT="$ROOT"  # run_in_rootfs.sh (the warm-up) enters this root
META="$ROOT/.fixative"
HOMES="$ROOT/opt/fixative-homes"

# ---- RECIPE (hashed: any change here rebuilds the root) ----
SUITE=trixie
MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security
PACKAGES=gimp,krita,python3-pyqt5,blender,python3,python3-numpy,python3-pil,python3-onnxruntime,xvfb,xauth,ca-certificates,libimage-exiftool-perl
HOST_USER=fixative
HOST_UID=1000
build_root() {
    local target="$1"
    # --variant=apt skips Recommends, hence python3-pyqt5 for Krita's Python is listed explicitly.
    mmdebstrap --mode=root --variant=apt --components=main --include="$PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook="chroot \"\$1\" useradd --create-home --uid $HOST_UID --user-group --shell /bin/bash $HOST_USER" \
        --customize-hook='mkdir -p "$1/src" "$1/results" "$1/stage" "$1/opt/fixative-homes"' \
        "$SUITE" "$target" \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY $SUITE-security main"
}
# ---- END RECIPE ----

# ---- NEWEST RECIPE (hashed: any change here rebuilds the newest root) ----
# sid's GIMP and Blender, experimental's Krita 6 (its dependencies from experimental where sid's
# are too old: apt's pkg/suite). The archive moves daily: its Release files may be past their
# Valid-Until, and a day's packages may not resolve (the tests then skip, quoting apt).
NEWEST_PACKAGES=gimp,krita/experimental,python3-pyqt6,blender,python3,python3-numpy,python3-pil,python3-onnxruntime,xvfb,xauth,ca-certificates,libimage-exiftool-perl,passwd
build_root_newest() {
    local target="$1"
    mmdebstrap --mode=root --variant=apt --components=main --include="$NEWEST_PACKAGES" \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook="chroot \"\$1\" useradd --create-home --uid $HOST_UID --user-group --shell /bin/bash $HOST_USER" \
        --customize-hook='mkdir -p "$1/src" "$1/results" "$1/stage" "$1/opt/fixative-homes"' \
        sid "$target" \
        "deb $MIRROR sid main" \
        "deb $MIRROR experimental main"
}
# ---- END NEWEST RECIPE ----

# ---- WARM-UP (hashed separately: a change here re-warms the HOME templates only) ----
# Each host starts once with HOME=/home/fixative; the resulting HOME is kept as a template that
# run_in_rootfs.sh --home NAME copies into the fresh HOME of a run.
gimp_console() {  # GIMP 3.0 has gimp-console-3.0; GIMP 3.2 gimp-console-3.2 (and -3, plain)
    local name
    for name in gimp-console-3.0 gimp-console-3.2 gimp-console-3 gimp-console; do
        [[ -x "$ROOT/usr/bin/$name" ]] && { echo "$name"; return; }
    done
    echo gimp-console
}
warm_homes() {
    local run="$HERE/run_in_rootfs.sh"
    "$run" --timeout 180 --save-home gimp -- \
        "$(gimp_console)" -i --batch-interpreter python-fu-eval -b 'import gi' --quit
    local stage
    stage="$(mktemp -d)"
    mkdir -p "$stage/tmp"
    printf 'def main(*args):\n    from krita import Krita\n    Krita.instance().version()\n' \
        >"$stage/tmp/fixative_warm.py"
    "$run" --timeout 180 --save-home krita --stage "$stage" \
        --env QT_QPA_PLATFORM=offscreen --env PYTHONPATH=/tmp -- \
        kritarunner -s fixative_warm -f main
    rm -rf "$stage"
    "$run" --timeout 180 --save-home blender -- \
        blender -b --factory-startup --python-exit-code 1 --python-expr 'import bpy'
}
# ---- END WARM-UP ----

# ---- BPY (trixie only; hashed separately: a change here rebuilds the bpy venv only) ----
# Blender as a Python module: PyPI's bpy (cp313 only since 5.1) in a venv of the root's Python
# 3.13 at /opt/bpy-venv, as studios' pipelines run it. The wheels are downloaded by the
# machine's pip (its index and certificates) and installed offline inside the root; Debian's
# python3 has no ensurepip without python3-venv, so pip runs from its wheel.
BPY_REQUIREMENT="bpy==5.3.0"
build_bpy() {
    local stage arch
    arch="$(uname -m)"
    stage="$(mktemp -d)"
    mkdir -p "$stage/tmp/wheels"
    python3 -m pip download --quiet --only-binary=:all: --python-version 3.13 \
        --implementation cp --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" \
        --platform "manylinux2014_$arch" -d "$stage/tmp/wheels" "$BPY_REQUIREMENT" pip
    printf '%s\n' 'set -e' 'python3 -m venv --without-pip /opt/bpy-venv' \
        'pip=$(ls /tmp/wheels/pip-*.whl)' \
        '/opt/bpy-venv/bin/python "$pip/pip" install --quiet --no-index --find-links /tmp/wheels bpy' \
        '/opt/bpy-venv/bin/python -c "import bpy; print(bpy.app.version_string)"' \
        >"$stage/tmp/build-bpy.sh"
    chmod -R a+rX "$stage"
    rm -rf "$ROOT/opt/bpy-venv"
    mkdir -p "$ROOT/opt/bpy-venv"
    chown "$HOST_UID:$HOST_UID" "$ROOT/opt/bpy-venv"
    "$HERE/run_in_rootfs.sh" --timeout 900 --writable --stage "$stage" -- sh /tmp/build-bpy.sh
    rm -rf "$stage"
}
# ---- END BPY ----

section_hash() {  # sha256 of the lines between two markers of this file
    sed -n "/^# ---- $1/,/^# ---- END $1/p" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}
RECIPE_HASH="$(section_hash "$SECTION")"
WARM_HASH="$(printf '%s %s' "$RECIPE_HASH" "$(section_hash WARM-UP)" | sha256sum | cut -d' ' -f1)"

root_current() { [[ -f "$META/recipe.sha256" && "$(cat "$META/recipe.sha256")" == "$RECIPE_HASH" ]]; }
homes_current() { [[ -f "$HOMES/.stamp" && "$(cat "$HOMES/.stamp")" == "$WARM_HASH" ]]; }
BPY_HASH="$(printf '%s %s' "$RECIPE_HASH" "$(section_hash BPY)" | sha256sum | cut -d' ' -f1)"
BPY_STAMP="$ROOT/opt/bpy-venv/.stamp"
bpy_current() { [[ $FLAVOUR != trixie || ( -f "$BPY_STAMP" && "$(cat "$BPY_STAMP")" == "$BPY_HASH" ) ]]; }

if [[ "${1:-}" == "--check" ]]; then
    root_current && homes_current && bpy_current
    exit $?
fi

[[ "$(id -u)" == 0 ]] || { echo "rootfs.sh: must run as root (mmdebstrap, chroot, mounts)" >&2; exit 2; }

mkdir -p "$(dirname "$ROOT")"
# One builder at a time: a second caller waits, then finds the root current.
exec 9>"$ROOT.lock"
flock 9

if ! root_current; then
    command -v mmdebstrap >/dev/null || {
        echo "rootfs.sh: installing mmdebstrap and zstd" >&2
        apt-get install -y mmdebstrap zstd >&2
    }
    echo "rootfs.sh: building $ROOT (recipe $RECIPE_HASH); first build takes ~5 minutes" >&2
    rm -rf "$ROOT.new"
    if [[ $FLAVOUR == newest ]]; then build_root_newest "$ROOT.new" >&2; else build_root "$ROOT.new" >&2; fi
    mkdir -p "$ROOT.new/.fixative"
    chroot "$ROOT.new" dpkg-query -W >"$ROOT.new/.fixative/packages.txt"
    echo "$RECIPE_HASH" >"$ROOT.new/.fixative/recipe.sha256"
    # Swap in the finished root only: an interrupted build never leaves a half root behind a stamp.
    rm -rf "$ROOT.old"
    [[ -e "$ROOT" ]] && mv "$ROOT" "$ROOT.old"
    mv "$ROOT.new" "$ROOT"
    rm -rf "$ROOT.old"
fi

if ! homes_current; then
    echo "rootfs.sh: warming HOME templates" >&2
    rm -rf "${HOMES:?}"/*
    rm -f "$HOMES/.stamp"
    warm_homes >&2
    echo "$WARM_HASH" >"$HOMES/.stamp"
fi

if ! bpy_current; then
    echo "rootfs.sh: installing $BPY_REQUIREMENT in /opt/bpy-venv" >&2
    build_bpy >&2
    echo "$BPY_HASH" >"$BPY_STAMP"
fi

echo "$ROOT"
