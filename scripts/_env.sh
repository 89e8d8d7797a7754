# Sourced by scripts/demo and scripts/test: creates or reuses .venv and installs what
# the given extras need, plus the node packages when asked. Reinstalls only when
# pyproject.toml or package-lock.json changed since the last install.
set -euo pipefail

ensure_env() {
    local extras="$1" with_node="${2:-no}"
    local python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv
    fi
    local stamp=".venv/.installed-${extras//,/-}"
    local digest
    digest=$(cat pyproject.toml package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".[${extras}]"
        echo "$digest" > "$stamp"
    fi
    if [ "$with_node" = "node" ] && [ ! -f node_modules/dynalite/cli.js ]; then
        npm ci --no-audit --no-fund --loglevel=error
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}
