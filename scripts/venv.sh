# Shared by open-course.sh and run-tests.sh: make .venv and install the course into it.
# Usage: source scripts/venv.sh; install_course "[test]"   (extras, may be empty)
set -euo pipefail

COURSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$COURSE_ROOT/.venv"
PYTHON_FOR_VENV="${PYTHON:-python3}"

require_python() {
  if ! command -v "$PYTHON_FOR_VENV" >/dev/null; then
    echo "error: $PYTHON_FOR_VENV not found. Install Python 3.10 or newer (or set PYTHON=/path/to/python3)." >&2
    exit 1
  fi
  if ! "$PYTHON_FOR_VENV" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: $("$PYTHON_FOR_VENV" --version) is too old; the course needs Python 3.10 or newer." >&2
    exit 1
  fi
}

# torch: PyPI's Linux wheels bundle CUDA (several GB). On Linux, take the CPU build
# from PyTorch's own index unless a local wheelhouse already has it (as CI does).
# COURSE_TORCH_INDEX overrides this, e.g. a CUDA index for a GPU machine.
torch_index_args() {
  if [ -n "${COURSE_TORCH_INDEX:-}" ]; then
    echo "--extra-index-url $COURSE_TORCH_INDEX"
  elif [ "$(uname -s)" = "Linux" ] && ! "$VENV/bin/pip" install --dry-run --quiet --no-index --no-deps "torch==2.13.0" >/dev/null 2>&1; then
    echo "--extra-index-url https://download.pytorch.org/whl/cpu"
  fi
}

# Install only when the requirements changed since the last install. The stamp
# lists the extras installed; the plain install is part of every one of them.
needs_install() {
  local stamp="$1" extras="$2"
  [ -f "$stamp" ] || return 0
  [ -n "$extras" ] || return 1
  ! grep -qxF "extras:$extras" "$stamp"
}

install_course() {
  local extras="${1:-}"
  require_python
  [ -x "$VENV/bin/python" ] || "$PYTHON_FOR_VENV" -m venv "$VENV"
  local stamp="$VENV/.installed-$(cksum < "$COURSE_ROOT/pyproject.toml" | cut -d' ' -f1)"
  if needs_install "$stamp" "$extras"; then
    echo "Installing the course and its packages into .venv (first time: a few minutes, ~3 GB)..."
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # shellcheck disable=SC2046
    "$VENV/bin/python" -m pip install --quiet $(torch_index_args) -e "$COURSE_ROOT$extras"
    "$VENV/bin/python" -m pip check
    echo "extras:$extras" >> "$stamp"
  fi
}
