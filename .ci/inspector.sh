#!/usr/bin/env bash
# Drives the MCP Inspector CLI headless against a running compliance server with a minted token:
# Inspector 2.x (Node 24) and inspector-cli 1.x (Node 20): tools/list, then tools/call screen_sanctions,
# checking that the result names the token's subject; resources/list, resources/read and prompts/get. Prints "inspector: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.ci/tools/inspector
[ -d "$TOOLS/node_modules/@modelcontextprotocol/inspector" ] || npm ci --prefix "$TOOLS" --no-audit --no-fund >/dev/null
NODE24="$TOOLS/node_modules/node/bin/node"
WORK=$(mktemp -d)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export AUTH_ISSUER="http://127.0.0.1:$PORT/ci-issuer"
AUTH_HS256_SECRET=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
export AUTH_HS256_SECRET PORT
export DATA_DIR="$WORK/data" LOG_LEVEL=warn LOG_FORMAT=json
mkdir -p "$DATA_DIR"
node apps/compliance-server/dist/main.js serve >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" && break; sleep 0.1; done
SUBJECT="inspector-ci-$RANDOM"
TOKEN=$(node apps/compliance-server/dist/main.js mint-token --sub "$SUBJECT" --scopes "sanctions:screen sanctions:read cases:read risk:read" --ttl 10m)
URL="http://127.0.0.1:$PORT/mcp"
passed=0; failed=0
check () { # name expected-pattern command...
  local name=$1 pattern=$2; shift 2
  local out
  out=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ] && grep -qE "$pattern" <<<"$out"; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name (exit $rc)"; echo "$out" | head -c 2000; echo; fi
}
V2=("$NODE24" "$TOOLS/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" --cli "$URL" --transport http --header "Authorization: Bearer $TOKEN" --stored-auth-only --format json)
check "inspector 2.x tools/list" '"screen_sanctions"' "${V2[@]}" --method tools/list
check "inspector 2.x tools/call names the caller" "\"subject\":\"$SUBJECT\"" "${V2[@]}" --method tools/call --tool-name screen_sanctions --tool-arg "name=Banco Nacional de Cuba"
check "inspector 2.x resources/list" '"sanctions://sources"' "${V2[@]}" --method resources/list
check "inspector 2.x resources/read sanctions://entry" 'BANCO NACIONAL DE CUBA' "${V2[@]}" --method resources/read --uri sanctions://entry/OFAC-SDN/306
check "inspector 2.x resources/read risk://countries" '2026-06-19' "${V2[@]}" --method resources/read --uri risk://countries
check "inspector 2.x prompts/get triage_hit" 'record_decision' "${V2[@]}" --method prompts/get --prompt-name triage_hit --prompt-args alertId=A-1
check "inspector 2.x refuses without a token (exit 3)" 'x' bash -c "\"$NODE24\" \"$TOOLS/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js\" --cli \"$URL\" --transport http --stored-auth-only --method tools/list >/dev/null 2>&1; [ \$? -eq 3 ] && echo x"
# inspector-cli 1.x reads the version from a package.json two levels above its build folder (its monorepo
# layout); the published package lacks it, so give it one.
STUB="$TOOLS/node_modules/@modelcontextprotocol/package.json"
[ -f "$STUB" ] || echo '{"name":"inspector-cli-root","version":"1.0.3","type":"module"}' >"$STUB"
V1=(node "$TOOLS/node_modules/@modelcontextprotocol/inspector-cli/build/index.js" "$URL" --transport http --header "Authorization: Bearer $TOKEN")
check "inspector-cli 1.x (Node 20) tools/list" 'screen_sanctions' bash -c "cd \"$TOOLS/node_modules/@modelcontextprotocol/inspector-cli\" && $(printf '%q ' "${V1[@]}") --method tools/list"
check "inspector-cli 1.x tools/call names the caller" "$SUBJECT" bash -c "cd \"$TOOLS/node_modules/@modelcontextprotocol/inspector-cli\" && $(printf '%q ' "${V1[@]}") --method tools/call --tool-name screen_sanctions --tool-arg 'name=Muammar Gaddafi'"
check "inspector-cli 1.x resources/read sanctions://sources" 'sha256' bash -c "cd \"$TOOLS/node_modules/@modelcontextprotocol/inspector-cli\" && $(printf '%q ' "${V1[@]}") --method resources/read --uri sanctions://sources"
check "inspector-cli 1.x prompts/get onboard_customer" 'screen_sanctions' bash -c "cd \"$TOOLS/node_modules/@modelcontextprotocol/inspector-cli\" && $(printf '%q ' "${V1[@]}") --method prompts/get --prompt-name onboard_customer --prompt-args name=Ada country=GB"
# The embedded records engine serves one process: stop the server, then verify its chain in DATA_DIR.
kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null
check "audit chain verifies" '^ok: ' node apps/compliance-server/dist/main.js verify-audit
echo "inspector: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
