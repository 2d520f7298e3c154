#!/usr/bin/env bash
# The README's CPU install recipe, checked in a brand-new virtual environment: the CPU builds of torch and torchvision
# installed together first, then `pip install .`, which must keep them (no CUDA torch, no NVIDIA libraries).
#
#   bash tools/check_cpu_install.sh                      # with the PyTorch CPU index, as the README says
#   TORCH_SPEC="torch==2.13.0+cpu torchvision==0.28.0" INDEX="" bash tools/check_cpu_install.sh
#                                                        # offline machines: wheels the local index and find-links hold
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d -t featimp-cpu-XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
spec=${TORCH_SPEC:-"torch torchvision"}
index=${INDEX-"--index-url https://download.pytorch.org/whl/cpu"}
t0=$(date +%s)
# shellcheck disable=SC2086
pip install -q $spec $index 2>&1 | grep -v "Running pip as the 'root' user" || true
before=$(python -c "import torch; print(torch.__version__)")
(cd "$repo" && pip install -q . 2>&1 | grep -v "Running pip as the 'root' user" || true)
after=$(python -c "import torch; print(torch.__version__)")
nvidia=$(pip list 2>/dev/null | grep -ci '^nvidia-' || true)
size=$(du -sm "$work/venv" | cut -f1)
echo "torch before: $before, after pip install .: $after; NVIDIA packages: $nvidia; environment: ${size} MB; $(( $(date +%s) - t0 )) s"
python -c "import fastai_featimp, fastai; print('fastai', fastai.__version__, 'imports')"
[ "$before" = "$after" ] && [ "$nvidia" = 0 ]
