#!/usr/bin/env bash
# Set up everything and open the course in JupyterLab.
#   ./open-course.sh              install (first run), release, open JupyterLab in your browser;
#                                 no network needed after the install (`course-data download`: the full data)
#   ./open-course.sh --headless   the same, without opening a browser (servers, JupyterHub images)
# Extra arguments go to JupyterLab, e.g. ./open-course.sh --port 9999
set -euo pipefail
source "$(dirname "$0")/scripts/venv.sh"

jupyter_args=()
for arg in "$@"; do
  case "$arg" in
    --headless) jupyter_args+=(--no-browser --ip=127.0.0.1) ;;
    *) jupyter_args+=("$arg") ;;
  esac
done

# Containers often run as root, which JupyterLab refuses without being told.
if [ "$(id -u)" = 0 ]; then jupyter_args+=(--allow-root); fi

install_course ""
cd "$COURSE_ROOT"
.venv/bin/course-grader release
# The course ships a real subset of the data and works offline; say which data the notebooks read.
echo "Data: $(.venv/bin/course-data where)"
echo "Opening JupyterLab on release/ (stop it with Ctrl-C)."
exec .venv/bin/jupyter lab --notebook-dir="$COURSE_ROOT/release" "${jupyter_args[@]}"
