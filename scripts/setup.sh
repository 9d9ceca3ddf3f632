#!/usr/bin/env bash
# Sets up .venv for SME Advisor. Safe to run again: when nothing changed it only
# checks a stamp file and exits.
#
# torch==2.13.0 is installed first on purpose: that pin takes the CPU build that
# is already on this machine's disk; installing sentence-transformers first would
# pull a multi-GB CUDA build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
stamp=".venv/.setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

# -I: `bot` found through the installed package, not the current folder, so an editable install
# that points to a checkout since deleted (e.g. a copy made by a test) is noticed and redone
if [ -f "$stamp" ] && .venv/bin/python -I -c "import bot" 2>/dev/null; then
    exit 0
fi

"$python" - <<'PY' || { echo "SME Advisor needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

echo "Setting up .venv (first run takes a few minutes)..." >&2
[ -x .venv/bin/python ] || "$python" -m venv .venv
# (this machine's pip config lists extra index folders that may not exist; drop that noise)
pip_install() { .venv/bin/pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
pip_install "torch==2.13.0"
pip_install -e ".[dev,postgres]"
# The ONNX copies of the embedding models (all-MiniLM-L6-v2, with an int8 copy, and
# multilingual-e5-small), made from the shipped weights; nothing is downloaded.
# (the exporters' warnings go to a log, shown only if the export fails)
if ! .venv/bin/python -m bot export-onnx --int8 >/dev/null 2>.venv/export-onnx.log; then
    cat .venv/export-onnx.log >&2
    exit 1
fi
rm -f .venv/.setup-*
touch "$stamp"
echo "Setup done." >&2
