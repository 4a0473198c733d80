#!/usr/bin/env bash
# The container without a Docker daemon: lint the Dockerfile and validate compose.yaml (pinned npm
# tools in .ci/tools/container), then run the image's own steps on this machine: the same
# `pnpm deploy`, a read-only deployed tree, the image's environment and entry point, and the
# image's HEALTHCHECK command against it. Prints "container: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
passed=0; failed=0
ok () { passed=$((passed + 1)); echo "ok: $1"; }
ko () { failed=$((failed + 1)); echo "not ok: $1"; }

npm ci --prefix .ci/tools/container --no-audit --no-fund >/dev/null 2>&1 || { ko "install container tools"; }
if node .ci/tools/container/check.mjs "$ROOT"; then ok "Dockerfile and compose.yaml checks"; else ko "Dockerfile and compose.yaml checks"; fi

OUT=$(mktemp -d)/app
DATA=$(mktemp -d)
# The build stage's commands (the workspace is already installed and built by .ci/run).
if pnpm --filter compliance-server deploy --legacy --prod "$OUT" >"$DATA/deploy.log" 2>&1; then ok "pnpm deploy --legacy --prod"; else ko "pnpm deploy --legacy --prod"; tail -n 20 "$DATA/deploy.log"; fi
if [ -d "$OUT/node_modules/tap" ] || [ -d "$OUT/node_modules/typescript" ]; then ko "no dev dependencies in the deployed tree"; else ok "no dev dependencies in the deployed tree"; fi
chmod -R a-w "$OUT"   # read-only root file system: only DATA_DIR is writable

PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
HEALTH=$(node .ci/tools/container/check.mjs "$ROOT" --print-healthcheck | tail -n 1)
# The image's ENV (HOST on loopback here) and entry point, with the auth production requires.
env -i PATH="$PATH" HOME="$DATA" NODE_ENV=production LOG_FORMAT=json HOST=127.0.0.1 PORT="$PORT" \
  DATA_DIR="$DATA" AUTH_ISSUER=https://issuer.example AUTH_HS256_SECRET=container-check-secret-of-32-chars-or-more \
  node "$OUT/dist/main.js" serve >"$DATA/server.log" 2>&1 &
PID=$!
healthy=0
for _ in $(seq 1 100); do
  if env PORT="$PORT" node -e "$(node -e "process.stdout.write(JSON.parse(process.argv[1])[2])" "$HEALTH")" 2>/dev/null; then healthy=1; break; fi
  sleep 0.2
done
if [ "$healthy" = 1 ]; then ok "the image's HEALTHCHECK passes against the deployed server"; else ko "the image's HEALTHCHECK passes against the deployed server"; cat "$DATA/server.log"; fi
if node -e "const l=require('fs').readFileSync(process.argv[1],'utf8').trim().split('\\n').map((x)=>JSON.parse(x));process.exit(l.some((x)=>x.msg.startsWith('Server listening'))&&l.some((x)=>/^GET \\/health 200/.test(x.msg))?0:1)" "$DATA/server.log"; then ok "JSON logs in production"; else ko "JSON logs in production"; fi
kill -TERM "$PID"; wait "$PID"; rc=$?
if [ "$rc" = 0 ]; then ok "SIGTERM exits 0"; else ko "SIGTERM exits 0 (got $rc)"; fi
chmod -R u+w "$OUT"; rm -rf "$OUT" "$DATA"
echo "container: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
