#!/usr/bin/env bash
# Provide an Asterisk >= 20 runtime for Madoguchi.
#
# 1. If the system already has /usr/sbin/asterisk >= 20, use it.
# 2. Otherwise build (once) a self-contained Debian sid root with debootstrap that holds
#    Asterisk and its sounds, cached outside the repository, and reuse it afterwards.
#
# Prints nothing on success but a one-line summary; exits non-zero with a clear message
# naming what is missing otherwise.
set -euo pipefail

CACHE_DIR="${MADOGUCHI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/madoguchi}"
ROOT="$CACHE_DIR/asterisk-root"
MIN_MAJOR=20

major_of() { sed -n 's/^Asterisk \([0-9]*\).*/\1/p' | head -n1; }

# Asterisk drops root to the user 'asterisk' of the root it runs from. Give that user a
# uid and gid of its own on this machine (a system user 'asterisk'), so that the files it
# writes are not some other host account's.
align_user() {
    local root="$1" old_uid old_gid uid gid
    [[ $EUID -eq 0 ]] || return 0
    getent group asterisk >/dev/null || groupadd --system asterisk
    getent passwd asterisk >/dev/null || useradd --system --gid asterisk --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin asterisk
    uid="$(id -u asterisk)"; gid="$(getent group asterisk | cut -d: -f3)"
    old_uid="$(awk -F: '$1=="asterisk"{print $3}' "$root/etc/passwd")"
    old_gid="$(awk -F: '$1=="asterisk"{print $3}' "$root/etc/group")"
    [[ -n "$old_uid" && -n "$old_gid" ]] || { echo "asterisk: $root has no user asterisk" >&2; exit 1; }
    [[ "$old_uid:$old_gid" == "$uid:$gid" ]] && return 0
    find "$root" -xdev -uid "$old_uid" -exec chown -h "$uid" {} +
    find "$root" -xdev -gid "$old_gid" -exec chgrp -h "$gid" {} +
    sed -i "s/^asterisk:x:$old_uid:$old_gid:/asterisk:x:$uid:$gid:/" "$root/etc/passwd"
    sed -i "s/^asterisk:x:$old_gid:/asterisk:x:$gid:/" "$root/etc/group"
    echo "asterisk: runs as uid $uid, gid $gid (the host's system user asterisk)"
}

if command -v asterisk >/dev/null 2>&1; then
    major="$(asterisk -V 2>/dev/null | major_of || true)"
    if [[ -n "$major" && "$major" -ge $MIN_MAJOR ]]; then
        echo "asterisk: using the system's $(asterisk -V)"
        exit 0
    fi
fi

if [[ -x "$ROOT/usr/sbin/asterisk" && -f "$ROOT/.madoguchi-ready" ]]; then
    align_user "$ROOT"
    echo "asterisk: using the cached root $ROOT ($(cat "$ROOT/.madoguchi-ready"))"
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "asterisk: no Asterisk >= $MIN_MAJOR found and building one needs root (debootstrap)." >&2
    echo "          run 'sudo make setup', or install Asterisk >= $MIN_MAJOR yourself." >&2
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "asterisk: debootstrap is missing: apt-get install debootstrap" >&2
    exit 1
fi

mkdir -p "$CACHE_DIR"
BUILD="$CACHE_DIR/asterisk-root.building"
rm -rf "$BUILD"
echo "asterisk: building a Debian sid root with Asterisk in $ROOT (a few minutes, once)"
if ! debootstrap --variant=minbase \
        --include=asterisk,asterisk-core-sounds-en,asterisk-moh-opsound-wav \
        sid "$BUILD" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    echo "asterisk: debootstrap failed; see $CACHE_DIR/debootstrap.log" >&2
    tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
    exit 1
fi
version="$(chroot "$BUILD" /usr/sbin/asterisk -V)"
echo "$version" >"$BUILD/.madoguchi-ready"
align_user "$BUILD"
rm -rf "$ROOT"
mv "$BUILD" "$ROOT"
echo "asterisk: built $ROOT ($version)"
