#!/bin/bash
# Run one command inside the hosts root filesystem (built by rootfs.sh) as the unprivileged user
# (uid 1000), in a private mount + pid namespace, with a timeout. See docs/hosts.md.
#
#   run_in_rootfs.sh [options] -- COMMAND [ARGS...]
#     --timeout N        seconds before the whole namespace is killed (default 300)
#     --results DIR      outer folder mounted writable at /results (made owned by uid 1000)
#     --src DIR          outer source tree mounted read-only at /src (default: this clone)
#     --stage DIR        outer folder whose home/ and tmp/ subtrees are copied into the fresh
#                        HOME and /tmp before COMMAND runs (owned by uid 1000)
#     --home NAME        start from the pre-warmed HOME template NAME (gimp, krita, blender)
#     --save-home NAME   after COMMAND, keep its HOME as template NAME (used by rootfs.sh)
#     --writable         leave the root writable (rootfs.sh's stages that install into it)
#     --env K=V          extra environment variable for COMMAND (repeatable)
#     --cwd DIR          working directory for COMMAND inside the root (default: HOME)
# Exit status: COMMAND's, or 124/137 from `timeout` when it ran too long.
#
# Inside: /dev and /sys are bound from the machine, /proc is the new pid namespace's, /tmp and
# /dev/shm are fresh tmpfs, HOME=/home/fixative is a fresh tmpfs, the root itself is read-only.
# Nothing stays mounted afterwards: every mount lives in the private namespace.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${FIXATIVE_HOSTS_ROOT:-/var/cache/fixative-hosts/rootfs}"
HOST_UID=1000
HOME_IN=/home/fixative

if [[ "${1:-}" == "--inner" ]]; then
    # PID 1 of the new pid namespace. It must stay a shell that waits: a command that becomes
    # PID 1 itself (exec chroot) breaks xvfb-run, whose ready signal never arrives.
    shift
    results="$1" src="$2" stage="$3" home="$4" save_home="$5" cwd="$6" writable="$7"
    shift 7
    envs=()
    while [[ "$1" != "--" ]]; do envs+=("$1"); shift; done
    shift

    # Read-only root: a test cannot damage the cached root. --save-home needs it writable.
    mount --bind "$ROOT" "$ROOT"
    [[ -n "$save_home" || -n "$writable" ]] || mount -o remount,bind,ro "$ROOT"
    mount --rbind /dev "$ROOT/dev"
    mount --rbind /sys "$ROOT/sys"
    mount -t proc proc "$ROOT/proc"
    mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
    mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm"
    mount -t tmpfs -o "mode=0755,uid=$HOST_UID,gid=$HOST_UID" tmpfs "$ROOT$HOME_IN"
    mount --bind "$src" "$ROOT/src"
    mount -o remount,bind,ro "$ROOT/src"
    if [[ -n "$results" ]]; then
        mount --bind "$results" "$ROOT/results"
    fi

    if [[ -n "$home" ]]; then
        [[ -d "$ROOT/opt/fixative-homes/$home" ]] || {
            echo "run_in_rootfs.sh: no HOME template '$home' (run tests/hosts/rootfs.sh)" >&2
            exit 2
        }
        cp -a "$ROOT/opt/fixative-homes/$home/." "$ROOT$HOME_IN/"
    fi
    if [[ -n "$stage" ]]; then
        [[ -d "$stage/home" ]] && cp -r "$stage/home/." "$ROOT$HOME_IN/"
        [[ -d "$stage/tmp" ]] && cp -r "$stage/tmp/." "$ROOT/tmp/"
        [[ -d "$stage/tmp" ]] && for p in "$stage"/tmp/*; do
            [[ -e "$p" ]] && chown -R "$HOST_UID:$HOST_UID" "$ROOT/tmp/$(basename "$p")"
        done
    fi
    chown -R "$HOST_UID:$HOST_UID" "$ROOT$HOME_IN"

    set +e
    chroot --userspec="$HOST_UID:$HOST_UID" "$ROOT" /usr/bin/env -i \
        PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME_IN" USER=fixative LOGNAME=fixative \
        LANG=C.UTF-8 TMPDIR=/tmp "${envs[@]}" \
        /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "${cwd:-$HOME_IN}" "$@"
    rc=$?
    set -e
    if [[ -n "$save_home" && $rc -eq 0 ]]; then
        rm -rf "$ROOT/opt/fixative-homes/$save_home"
        cp -a "$ROOT$HOME_IN" "$ROOT/opt/fixative-homes/$save_home"
    fi
    exit $rc
fi

timeout=300 results="" src="$(cd "$HERE/../.." && pwd)" stage="" home="" save_home="" cwd=""
writable=""
envs=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --timeout) timeout="$2"; shift 2 ;;
        --results) results="$(realpath "$2")"; shift 2 ;;
        --src) src="$(realpath "$2")"; shift 2 ;;
        --stage) stage="$(realpath "$2")"; shift 2 ;;
        --home) home="$2"; shift 2 ;;
        --save-home) save_home="$2"; shift 2 ;;
        --writable) writable=1; shift ;;
        --env) envs+=("$2"); shift 2 ;;
        --cwd) cwd="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "run_in_rootfs.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $# -gt 0 ]] || { echo "run_in_rootfs.sh: no command given" >&2; exit 2; }
[[ "$(id -u)" == 0 ]] || { echo "run_in_rootfs.sh: must run as root (namespaces, chroot)" >&2; exit 2; }
[[ -f "$ROOT/.fixative/recipe.sha256" ]] || {
    echo "run_in_rootfs.sh: no root filesystem at $ROOT (run tests/hosts/rootfs.sh)" >&2
    exit 2
}
if [[ -n "$results" ]]; then
    mkdir -p "$results"
    chown "$HOST_UID:$HOST_UID" "$results"
fi

# timeout kills unshare; --kill-child then kills PID 1 of the namespace, and with it every process.
exec timeout -k 10 "$timeout" \
    unshare --mount --pid --fork --kill-child --propagation private \
    "$HERE/run_in_rootfs.sh" --inner "$results" "$src" "$stage" "$home" "$save_home" "$cwd" "$writable" \
    "${envs[@]}" -- "$@"
