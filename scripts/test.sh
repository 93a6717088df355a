#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, then runs every test, slow ones too.
#   bash scripts/test.sh              everything (what CI runs)
#   bash scripts/test.sh -m 'not slow'  the everyday run (also plain `pytest` inside .venv)
source "$(dirname "$0")/_env.sh"
cd "$ROOT"
# awscli v1 pins botocore exactly, so the third-party-client test gets a virtual environment of its own.
AWSCLI_VENV="$ROOT/.venv-awscli"
if [ ! -x "$AWSCLI_VENV/bin/aws" ]; then
  echo "Installing awscli into $AWSCLI_VENV for the third-party client test..." >&2
  "$PY" -m venv "$AWSCLI_VENV"
  "$AWSCLI_VENV/bin/python" -m pip install -q awscli
fi
export CLOUDFAUJ_TEST_AWSCLI="$AWSCLI_VENV/bin/aws"
# The dashboard's browser test drives Debian's Chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the dashboard test..." >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "Could not install chromium; the dashboard test will be skipped." >&2
fi
case " $* " in
  *" -m "*) ;;                       # the caller chose the markers
  *) set -- -m "slow or not slow" "$@" ;;
esac
# The PostgreSQL store's tests need a server: start a throwaway one unless one is given (.ci/run starts
# it; CLOUDFAUJ_TEST_POSTGRES names it), when this machine has PostgreSQL's server programs.
if [ -z "${CLOUDFAUJ_TEST_POSTGRES:-}" ] && [ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]; then
  source "$ROOT/scripts/postgres.sh"
fi
# Lint, format and types first: any finding fails the suite (`set -e` from _env.sh).
ruff check cloudfauj controllers tests
ruff format --check cloudfauj controllers tests
mypy  # strict, on cloudfauj/ and controllers/ (pyproject.toml [tool.mypy])
python -m pytest "$@"  # not `exec`: the PostgreSQL server's EXIT trap must run
