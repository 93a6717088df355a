#!/usr/bin/env bash
# The performance benchmark (README "Performance"): prints the four figures. --quick for small sizes.
source "$(dirname "$0")/_env.sh"
cd "$ROOT"
exec python scripts/benchmark.py "$@"
