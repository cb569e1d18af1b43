#!/bin/bash
# Build (or reuse) the Debian 13 root filesystem in which the host tests run GIMP 3.0, Krita 5.2
# and Blender 4.3 headless. See docs/hosts.md.
#
#   tests/hosts/rootfs.sh            build if missing or stale, then print the root's path
#   tests/hosts/rootfs.sh --check    exit 0 if the root is ready and current, 1 otherwise
#
# The root lives outside the clone (it is ~2 GB): $FIXATIVE_HOSTS_ROOT, default
# /var/cache/fixative-hosts/rootfs. It is stamped with the sha256 of its recipe (the text between the
# RECIPE markers below) and reused while the stamp matches; a changed recipe rebuilds it. A second,
# cheaper stage pre-warms one HOME per host (first start-up writes caches: 10-17 s cold, ~4.5 s warm)
# and has its own stamp, so changing a warm-up does not rebuild the whole root.
# Needs root, mmdebstrap and network access to deb.debian.org (first build only, ~5 minutes).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${FIXATIVE_HOSTS_ROOT:-/var/cache/fixative-hosts/rootfs}"
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

# ---- WARM-UP (hashed separately: a change here re-warms the HOME templates only) ----
# Each host starts once with HOME=/home/fixative; the resulting HOME is kept as a template that
# run_in_rootfs.sh --home NAME copies into the fresh HOME of a run.
warm_homes() {
    local run="$HERE/run_in_rootfs.sh"
    "$run" --timeout 180 --save-home gimp -- \
        gimp-console-3.0 -i --batch-interpreter python-fu-eval -b 'import gi' --quit
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

section_hash() {  # sha256 of the lines between two markers of this file
    sed -n "/^# ---- $1/,/^# ---- END $1/p" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}
RECIPE_HASH="$(section_hash RECIPE)"
WARM_HASH="$(printf '%s %s' "$RECIPE_HASH" "$(section_hash WARM-UP)" | sha256sum | cut -d' ' -f1)"

root_current() { [[ -f "$META/recipe.sha256" && "$(cat "$META/recipe.sha256")" == "$RECIPE_HASH" ]]; }
homes_current() { [[ -f "$HOMES/.stamp" && "$(cat "$HOMES/.stamp")" == "$WARM_HASH" ]]; }

if [[ "${1:-}" == "--check" ]]; then
    root_current && homes_current
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
    build_root "$ROOT.new" >&2
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

echo "$ROOT"
