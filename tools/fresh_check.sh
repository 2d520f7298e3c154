#!/usr/bin/env bash
# The check a newcomer's machine (and CI) makes: a clean clone of HEAD, a brand-new virtual environment with
# nothing in it, then the README's test command exactly as written. Prints the install and test times and the
# pytest summary line. Extra arguments go to pytest after the README's command line, e.g. `-m "not slow"`.
#
#   bash tools/fresh_check.sh                 # the full check (what CI runs)
#   bash tools/fresh_check.sh -m "not slow"   # the quick loop, in the same clean environment
#
# Only committed work is checked (a clone sees HEAD, not the working tree). The folder is removed afterwards
# unless KEEP=1.
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d -t featimp-fresh-XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
python3 -m venv "$work/venv"          # no --system-site-packages: nothing installed by hand is seen
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
cd "$work/clone"
echo "fresh check of $(git rev-parse --short HEAD) in $work"
t0=$(date +%s)
pip install -q -e ".[dev]" 2>&1 | grep -v "WARNING: Running pip as the 'root' user" || true
python -c "import fastai_featimp" >/dev/null   # the install must have worked, whatever pip printed
t1=$(date +%s)
set +e
python -m pytest -q "$@" 2>&1 | tee "$work/pytest.log"
status=${PIPESTATUS[0]}
set -e
t2=$(date +%s)
echo "--- fresh check: install $((t1 - t0)) s, tests $((t2 - t1)) s, pytest exit $status"
pip list 2>/dev/null | grep -iE '^(pytest|nbclient|nbformat|ipykernel|shap|captum|dask|distributed|torch|fastai|pandas|numpy) '
tail -n 1 "$work/pytest.log"
exit "$status"
