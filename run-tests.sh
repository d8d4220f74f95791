#!/usr/bin/env bash
# Install what the tests need and run the whole suite. Arguments go to pytest.
# The tests read real Wine Reviews data: $COURSE_DATA_DIR, else ../shared/data, else data/.
set -euo pipefail
source "$(dirname "$0")/scripts/venv.sh"

install_course "[test]"
cd "$COURSE_ROOT"
if [ -z "${COURSE_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export COURSE_DATA_DIR="$(cd ../shared/data && pwd)"
fi
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
