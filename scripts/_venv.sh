# Shared by scripts/run and scripts/test: find Python 3.11+, create .venv, install.
# Usage: source scripts/_venv.sh; ensure_venv "<pip extras spec>"

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "Hearth needs Python 3.11 or newer; none was found on PATH." >&2
  return 1
}

ensure_venv() {
  local spec="$1"
  if [ ! -x .venv/bin/python ]; then
    local python
    python=$(find_python) || exit 1
    echo "Creating .venv with $("$python" --version) …"
    "$python" -m venv .venv
  fi
  # Reinstall only when the project's dependencies changed since the last install.
  local stamp=".venv/.hearth-install-$(echo "$spec" | tr -c 'a-z' '-')"
  local digest
  digest=$(cat pyproject.toml | cksum)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "Installing Hearth and its dependencies into .venv …"
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    echo "$digest" > "$stamp"
  fi
}
