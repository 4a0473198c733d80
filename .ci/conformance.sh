#!/usr/bin/env bash
# Runs the official MCP conformance suite (pinned in .ci/tools/conformance, on Node 24) against the
# conformance server, and prints "conformance: N passed, M failed" from the suite's own totals.
# Usage: .ci/conformance.sh [--spec-version 2026-07-28]   (the 2026 run uses the 0.2.0 prerelease)
set -uo pipefail
cd "$(dirname "$0")/.."
TOOLS=.ci/tools/conformance
[ -x "$TOOLS/node_modules/.bin/node" ] || npm ci --prefix "$TOOLS" --no-audit --no-fund >/dev/null
NODE24="$TOOLS/node_modules/node/bin/node"
SUITE="$TOOLS/node_modules/@modelcontextprotocol/conformance/dist/index.js"
ARGS=(--suite all)
if [ "${1:-}" = "--spec-version" ]; then
  SUITE="$TOOLS/node_modules/conformance-2026/dist/index.js"
  ARGS=(--spec-version "$2" --suite all)
fi
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
LOG=$(mktemp)
PORT=$PORT LOG_LEVEL=silent node apps/conformance-server/dist/main.js >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/mcp" && break
  sleep 0.1
done
OUT=$(mktemp)
"$NODE24" "$SUITE" server --url "http://127.0.0.1:$PORT/mcp" "${ARGS[@]}" 2>&1 | tee "$OUT"
RC=${PIPESTATUS[0]}
TOTAL=$(grep -E 'Total: *[0-9]+ passed, *[0-9]+ failed' "$OUT" | tail -n 1)
P=$(echo "$TOTAL" | sed -E 's/.*Total: *([0-9]+) passed.*/\1/')
F=$(echo "$TOTAL" | sed -E 's/.*passed, *([0-9]+) failed.*/\1/')
echo "conformance: ${P:-0} passed, ${F:-1} failed"
exit "$RC"
