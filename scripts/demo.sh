#!/usr/bin/env bash
# The demo, from a fresh clone: a Cloudfauj server on the embedded sandbox AWS emulator, upstream's example
# environment and app applied and deployed, a kind-based environment with two apps, deployments listed.
#   bash scripts/demo.sh           run it and stop the server at the end
#   bash scripts/demo.sh --keep    leave the server running (stop it with: kill $(cat .demo/server.pid))
source "$(dirname "$0")/_env.sh"
cd "$ROOT"
KEEP=${1:-}
PORT=${CLOUDFAUJ_DEMO_PORT:-6200}
AWS_PORT=${CLOUDFAUJ_DEMO_AWS_PORT:-4566}
DEMO="$ROOT/.demo"
export CLOUDFAUJ_SERVER="http://127.0.0.1:$PORT"
export XDG_CONFIG_HOME="$DEMO/config"

if [ -f "$DEMO/server.pid" ] && kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null; then
  kill "$(cat "$DEMO/server.pid")"; sleep 1
fi
for p in "$PORT" "$AWS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "Port $p is already in use; set CLOUDFAUJ_DEMO_PORT / CLOUDFAUJ_DEMO_AWS_PORT to free ports." >&2
    exit 2
  fi
done
rm -rf "$DEMO" && mkdir -p "$DEMO"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "Starting cloudfauj server with the sandbox AWS emulator (log: .demo/server.log)"
cloudfauj server --sandbox --port "$PORT" --sandbox-port "$AWS_PORT" --data-dir "$DEMO/data" \
  >"$DEMO/server.log" 2>&1 &
echo $! >"$DEMO/server.pid"
if [ "$KEEP" != "--keep" ]; then
  trap 'kill "$(cat "$DEMO/server.pid")" 2>/dev/null || true' EXIT
fi
for _ in $(seq 1 150); do
  python -c "import urllib.request as u; u.urlopen('$CLOUDFAUJ_SERVER/readyz', timeout=1)" 2>/dev/null && break
  if ! kill -0 "$(cat "$DEMO/server.pid")" 2>/dev/null; then cat "$DEMO/server.log" >&2; exit 1; fi
  sleep 0.2
done
cat "$DEMO/server.log" >&2

SANDBOX="http://127.0.0.1:$AWS_PORT"
step "Pushing example images to the sandbox's ECR"
NGINX=$(cloudfauj sandbox push nginx:1.27 --endpoint "$SANDBOX")
cloudfauj sandbox push demo-web:v1 --endpoint "$SANDBOX" >/dev/null
cloudfauj sandbox push demo-api:v1 --endpoint "$SANDBOX" >/dev/null
echo "$NGINX"

step "Upstream's environment file: cloudfauj env create --config manifests/cf-env-staging.yml"
cloudfauj env create --config manifests/cf-env-staging.yml

step "Upstream's app: cloudfauj deploy --env staging $NGINX  (in manifests/nginx_api/)"
(cd manifests/nginx_api && cloudfauj deploy --env staging "$NGINX")

step "A kind-based file with an environment and two apps: cloudfauj apply -f manifests/demo.yml"
cloudfauj apply -f manifests/demo.yml

step "cloudfauj get environments"
cloudfauj get environments
step "cloudfauj get applications"
cloudfauj get applications
step "cloudfauj get deployments"
cloudfauj get deployments

if [ "$KEEP" = "--keep" ]; then
  step "The server keeps running at $CLOUDFAUJ_SERVER (sandbox AWS at $SANDBOX); stop it with: kill \$(cat .demo/server.pid)"
  step "Its admin token (this demo kept the CLI config in .demo/config): export CLOUDFAUJ_TOKEN=\$(cat .demo/data/admin-token)"
fi
