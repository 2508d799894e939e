# Sourced by scripts/start and scripts/test: a project virtual environment on Python >= 3.11, and
# `install_locked LOCK`: every dependency from a hashed lock file (scripts/lock makes them), then the
# project itself without dependencies, so nothing unpinned or unverified is installed.
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "techmarket needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi

install_locked() {
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$1"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e .
}
