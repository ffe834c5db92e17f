#!/usr/bin/env bash
# Installs moto (a local AWS emulator, used in server mode) for the tests of
# opsdeck-provider-aws. Called by .ci/run; safe to run again (does nothing when installed).
#
# Where: $MOTO_VENV, default ~/.cache/opsdeck/moto-venv. The tests look there (or at
# $MOTO_SERVER, or moto_server on PATH). Version pinned: the tests rely on moto's Cost Explorer
# seeding API (/moto-api/static/ce/cost-and-usage-results) as of this release.
set -euo pipefail

MOTO_VERSION="5.2.5"
VENV="${MOTO_VENV:-${HOME}/.cache/opsdeck/moto-venv}"
PY="${PYTHON:-python3}"

if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "setup-moto: moto $MOTO_VERSION already installed at $VENV/bin/moto_server"
  exit 0
fi

if ! "$PY" -m venv "$VENV" 2>/dev/null; then
  # Debian splits venv support out of python3.
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv "$VENV"
  else
    echo "setup-moto: cannot create a Python venv with $PY" >&2
    exit 1
  fi
fi

"$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
"$VENV/bin/moto_server" --help >/dev/null
echo "setup-moto: moto $MOTO_VERSION installed at $VENV/bin/moto_server"
