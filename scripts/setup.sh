#!/usr/bin/env bash
# make setup: everything Madoguchi needs on a fresh Debian/Ubuntu machine.
# Idempotent: on a ready machine it only checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# chromium: the consoles' browser tests drive Debian's build through Playwright
# fonts-noto-cjk: Japanese in the KPI reports' charts; fonts-ipafont-gothic: embedded in their
# PDFs; poppler-utils: pdftoppm (report PDFs to PNG)
# poppler-data: the Japanese CMaps poppler needs to show PDFs that use the standard CID fonts
# (the erasure certificate)
# fail2ban, nftables: the stack's own ban server drops SIP password guessers
# baresip-core: a real softphone (TLS, SRTP) for the tests of agents on another host
APT_PACKAGES=(sip-tester sox espeak-ng debootstrap python3-venv chromium fonts-noto-cjk
              fonts-ipafont-gothic poppler-utils poppler-data fail2ban nftables baresip-core)

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done
# pg_dump/pg_restore: `acd backup`/`acd restore` on PostgreSQL; systemd-analyze: the tests
# of `acd install-service` verify its units
command -v pg_dump >/dev/null || need_apt+=(postgresql-client)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
# PostgreSQL for the tests: use a server on 127.0.0.1:5432 if one runs, else install
# Debian's so the tests can start a private instance.
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need_apt+=(postgresql)
fi
if ((${#need_apt[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "setup: missing system packages: ${need_apt[*]}; run 'sudo make setup'" >&2
        exit 1
    fi
    echo "setup: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

"$PYTHON" - <<'PY' || { echo "setup: Python >= 3.11 is required ($PYTHON)" >&2; exit 1; }
import sys; sys.exit(sys.version_info < (3, 11))
PY

stamp=".venv/.madoguchi-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -x .venv/bin/acd || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "setup: creating .venv and installing Madoguchi with its dependencies"
    [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[test]'
    echo "$want" >"$stamp"
fi

scripts/install-asterisk.sh
echo "setup: ready (run 'make test', then 'make run')"
