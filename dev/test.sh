#!/usr/bin/env bash
# Set up (dev/setup.sh) and run the whole test suite: parsers, verdict, the real
# sos with our plugin, drgn on real vmcores from the QEMU lab (first run
# downloads a Debian kernel and its debug symbols into ~/.cache/balloon-oom).
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/setup.sh
exec .venv/bin/python -m pytest "$@"
