#!/usr/bin/env bash
# Build the one-folder bundle dist/signet/ with PyInstaller, then smoke-start it offscreen:
# `signet inspect` on the bundled demo (TensorFlow works inside the bundle) and, when the window
# exists, `signet --demo` until the window is shown.
#
# Usage: packaging/pyinstaller/build.sh   (from anywhere; PYTHON=... picks another interpreter)
# About 5 minutes on 2 cores; dist/signet/ is about 1.2 GB, most of it TensorFlow.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}

# PyInstaller as pinned by pyproject.toml's `bundle` extra (not the editable reinstall it implies).
"$PYTHON" -c 'import tomllib
with open("pyproject.toml", "rb") as f:
    print(*tomllib.load(f)["project"]["optional-dependencies"]["bundle"], sep="\n")' \
    | xargs -d '\n' "$PYTHON" -m pip install -q
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/pyinstaller/signet.spec
echo "built dist/signet in $(( $(date +%s) - start )) s, $(du -sh dist/signet | cut -f1)"

bin=dist/signet/signet
demo=$(find dist/signet -path '*/app/data/demo/skip_thoughts' -type d | head -n 1)
[ -n "$demo" ] || { echo "build.sh: the demo checkpoint is missing from the bundle" >&2; exit 1; }
export QT_QPA_PLATFORM=offscreen
"$bin" --version
"$bin" inspect "$demo" | tee build/pyinstaller/inspect.txt
grep -q 'encode_ids:0' build/pyinstaller/inspect.txt \
    || { echo "build.sh: inspect did not suggest the demo's input" >&2; exit 1; }

if [ -f app/ui/shell/launch.py ]; then
    SIGNET_EXIT_WHEN_SHOWN=1 timeout 300 "$bin" --demo | tee build/pyinstaller/window.txt
    grep -q '^shown ' build/pyinstaller/window.txt \
        || { echo "build.sh: the window did not come up" >&2; exit 1; }
fi
echo "smoke test passed: $bin"
