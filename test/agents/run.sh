#!/usr/bin/env bash
# End-to-end: the real agent CLIs against a real gateway (Anthropic Messages and OpenAI Responses
# front ends) over a fake OpenAI-compatible upstream (test/agents/gateway.ts).
#
#   claude  (npm @anthropic-ai/claude-code, headless `-p`, ANTHROPIC_BASE_URL at the gateway; and
#            once configured only by `npm run serve -- configure claude --yes` on a fake home)
#   codex   (npm @openai/codex, `codex exec`, a custom model provider with wire_api = "responses",
#            once over HTTP and once over the Responses WebSocket transport)
#
# Each CLI completes a plain prompt and a tool round trip (the upstream asks for a shell command,
# the CLI runs it, the output comes back through the gateway as a tool result).
#
# The CLIs are installed (pinned, Node 20 compatible) into test/agents/.tools (git-ignored).
# A CLI that cannot be installed or cannot execute on this machine is reported as SKIP (exit 0
# for that part); one that runs but does not complete through the gateway is a FAIL (exit 1).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
AGENTS=$ROOT/test/agents
TOOLS=$AGENTS/.tools
WORK=$AGENTS/.work
CLAUDE_PKG=@anthropic-ai/claude-code@2.1.197 # last release whose engines allow Node 18/20
CODEX_PKG=@openai/codex@0.169.0
MARKER='RELAY-E2E-OK: hello from Lingma Relay'
TOOL_MARKER='TOOL-OUTPUT-42'
CLI_TIMEOUT=${AGENT_CLI_TIMEOUT:-180}

rm -rf "$WORK"
mkdir -p "$WORK/home" "$TOOLS"
FAILED=0
RESULTS=()
GW_PID=''

cleanup() {
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; fi
  GW_PID=''
}
trap cleanup EXIT

pass() { RESULTS+=("PASS  $1"); echo "PASS: $1"; }
fail() { RESULTS+=("FAIL  $1: $2"); echo "FAIL: $1: $2"; FAILED=1; }
skip() { RESULTS+=("SKIP  $1: $2"); echo "SKIP: $1: $2"; }

# Install a CLI package into .tools unless its binary already answers --version.
ensure_cli() { # name pkg
  local bin=$TOOLS/node_modules/.bin/$1
  if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then return 0; fi
  echo "installing $2 into test/agents/.tools ..."
  if ! npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "$2" >"$WORK/npm-$1.log" 2>&1; then
    echo "  npm install failed; see below"; tail -5 "$WORK/npm-$1.log"
    return 2
  fi
  if ! "$bin" --version >"$WORK/version-$1.log" 2>&1; then
    echo "  $1 is installed but does not execute here:"; tail -5 "$WORK/version-$1.log"
    return 3
  fi
  return 0
}

# Start the gateway (optionally scripting the upstream's first answers); sets GW_URL, GW_KEY.
start_gateway() { # [E2E_SCRIPT json]
  cleanup
  : >"$WORK/gw.out"
  TEST_LOG=1 E2E_SCRIPT=${1:-} E2E_PLAIN_SCRIPT=${E2E_PLAIN_SCRIPT:-} "$ROOT/node_modules/.bin/tsx" "$AGENTS/gateway.ts" >"$WORK/gw.out" 2>"$WORK/gw.err" &
  GW_PID=$!
  for _ in $(seq 1 120); do
    grep -q '^READY ' "$WORK/gw.out" && break
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.25
  done
  if ! grep -q '^READY ' "$WORK/gw.out"; then
    echo "gateway did not start:"; cat "$WORK/gw.err"
    return 1
  fi
  GW_URL=$(awk '/^READY /{print $2}' "$WORK/gw.out")
  GW_KEY=$(awk '/^READY /{print $3}' "$WORK/gw.out")
}

# Stop the gateway (it prints its STATS line on SIGTERM) and put that line's JSON in $stats.
# Not called in a subshell: `wait` only works on our own child.
stop_gateway() {
  if [ -n "$GW_PID" ]; then kill -TERM "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; GW_PID=''; fi
  stats=$(sed -n 's/^STATS //p' "$WORK/gw.out")
}

stat_has_tool_output() { # stats-json
  node -e 'const s=JSON.parse(process.argv[1]||"{}");process.exit((s.toolOutputs||[]).some(o=>o.includes(process.argv[2]))?0:1)' "$1" "$TOOL_MARKER"
}
stat_has_emulated_result() { # stats-json
  node -e 'const s=JSON.parse(process.argv[1]||"{}");process.exit((s.plainToolResults||[]).some(o=>o.includes(process.argv[2]))&&s.plainWithTools===0?0:1)' "$1" "$TOOL_MARKER"
}
stat_requests() { # stats-json
  node -e 'const s=JSON.parse(process.argv[1]||"{}");console.log(s.upstreamRequests||0)' "$1"
}

claude_run() { # model prompt [extra args...]
  local model=$1 prompt=$2; shift 2
  (cd "$WORK" && HOME=$WORK/home ANTHROPIC_BASE_URL=$GW_URL ANTHROPIC_API_KEY=$GW_KEY \
    DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    timeout "$CLI_TIMEOUT" "$TOOLS/node_modules/.bin/claude" -p "$prompt" --model "$model" "$@" </dev/null)
}

codex_run() { # websockets(true|false) prompt [extra args...]
  local ws=$1 prompt=$2; shift 2
  mkdir -p "$WORK/codex"
  cat >"$WORK/codex/config.toml" <<EOF
model = "gpt-5-relay"
model_provider = "relay"

[model_providers.relay]
name = "Lingma Relay"
base_url = "$GW_URL/v1"
env_key = "RELAY_API_KEY"
wire_api = "responses"
supports_websockets = $ws
EOF
  (cd "$WORK" && HOME=$WORK/home CODEX_HOME=$WORK/codex RELAY_API_KEY=$GW_KEY \
    timeout "$CLI_TIMEOUT" "$TOOLS/node_modules/.bin/codex" exec --skip-git-repo-check "$@" "$prompt" </dev/null)
}

# ---------------------------------------------------------------- claude
ensure_cli claude "$CLAUDE_PKG"; rc=$?
if [ $rc -eq 2 ]; then
  skip "claude" "could not install $CLAUDE_PKG (npm registry unreachable?)"
elif [ $rc -eq 3 ]; then
  skip "claude" "$CLAUDE_PKG installed but its binary cannot run on this machine"
else
  echo "== claude $("$TOOLS/node_modules/.bin/claude" --version 2>/dev/null)"
  if start_gateway; then
    out=$(claude_run claude-sonnet-4-5 "Say hello" 2>"$WORK/claude-text.err"); code=$?
    stop_gateway
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && [ "$(stat_requests "$stats")" -ge 1 ]; then pass "claude -p: text answer through /v1/messages"
    else fail "claude -p: text answer" "exit $code, output: ${out:0:300} $(tail -3 "$WORK/claude-text.err")"; fi
  else fail "claude" "gateway did not start"; fi

  if start_gateway '[{"toolCalls":[{"name":"Bash","arguments":"{\"command\":\"echo '"$TOOL_MARKER"'\",\"description\":\"Print the marker\"}"}]}]'; then
    out=$(claude_run claude-sonnet-4-5 "Run the marker command" --allowedTools Bash 2>"$WORK/claude-tool.err"); code=$?
    stop_gateway
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && stat_has_tool_output "$stats"; then pass "claude -p: tool_use round trip (Bash ran, its result reached the upstream)"
    else fail "claude -p: tool round trip" "exit $code, output: ${out:0:300}, stats: ${stats:0:300}"; fi
  else fail "claude" "gateway did not start"; fi

  # Tool emulation: alias `emu` routes to a text-only backend with options.toolEmulation.
  EMU_CALL='[{"reply":"I will run it.\n<tool_call>\n{\"name\":\"Bash\",\"arguments\":{\"command\":\"echo '"$TOOL_MARKER"'\",\"description\":\"Print the marker\"}}\n</tool_call>"}]'
  if E2E_PLAIN_SCRIPT=$EMU_CALL start_gateway; then
    out=$(claude_run emu "Run the marker command" --allowedTools Bash 2>"$WORK/claude-emu.err"); code=$?
    stop_gateway
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && stat_has_emulated_result "$stats"; then pass "claude -p: tool round trip through prompt-based tool emulation on a text-only backend"
    else fail "claude -p: emulated tool round trip" "exit $code, output: ${out:0:300}, stats: ${stats:0:400}"; fi
  else fail "claude" "gateway did not start"; fi

  # "Connect a client": `serve configure claude --yes` writes a fake home's ~/.claude/settings.json
  # from the relay's config (address, key); claude then runs with HOME there and NO ANTHROPIC_*
  # variables at all, so the answer can only come through the relay via the written file.
  if start_gateway; then
    CHOME=$WORK/configured-home
    rm -rf "$CHOME" "$WORK/configure-data"; mkdir -p "$CHOME"
    gw_port=${GW_URL##*:}; gw_port=${gw_port%%/*}
    cfg_out=$(cd "$ROOT" && RELAY_API_KEYS=$GW_KEY node bin/serve.mjs configure claude --yes --home "$CHOME" \
      --data-dir "$WORK/configure-data" --host 127.0.0.1 --port "$gw_port" --model claude-sonnet-4-5 2>&1); cfg=$?
    if [ $cfg -ne 0 ] || [ ! -f "$CHOME/.claude/settings.json" ]; then
      stop_gateway; fail "configure claude --yes" "exit $cfg: ${cfg_out:0:400}"
    else
      unset_anthropic=()
      for v in $(env | sed -n 's/^\(ANTHROPIC_[A-Za-z0-9_]*\)=.*/\1/p'); do unset_anthropic+=(-u "$v"); done
      out=$(cd "$WORK" && env "${unset_anthropic[@]}" HOME=$CHOME \
        DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
        timeout "$CLI_TIMEOUT" "$TOOLS/node_modules/.bin/claude" -p "Say hello" </dev/null 2>"$WORK/claude-configured.err"); code=$?
      stop_gateway
      if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && [ "$(stat_requests "$stats")" -ge 1 ]; then
        pass "claude -p: configured by 'serve configure claude --yes' (settings.json env, no ANTHROPIC_* variables), answer through the relay"
      else fail "claude -p after configure" "exit $code, output: ${out:0:300} $(tail -3 "$WORK/claude-configured.err")"; fi
    fi
  else fail "claude" "gateway did not start"; fi
fi

# ---------------------------------------------------------------- codex
ensure_cli codex "$CODEX_PKG"; rc=$?
if [ $rc -eq 2 ]; then
  skip "codex" "could not install $CODEX_PKG (npm registry unreachable?)"
elif [ $rc -eq 3 ]; then
  skip "codex" "$CODEX_PKG installed but its binary cannot run on this machine"
else
  echo "== $("$TOOLS/node_modules/.bin/codex" --version 2>/dev/null)"
  if start_gateway; then
    out=$(codex_run false "Say hello" 2>"$WORK/codex-text.err"); code=$?
    stop_gateway
    ws=$(grep -c '"transport":"websocket"' "$WORK/gw.err" 2>/dev/null || true)
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && [ "$(stat_requests "$stats")" -ge 1 ] && [ "${ws:-0}" -eq 0 ]; then pass "codex exec: text answer through POST /v1/responses"
    else fail "codex exec (HTTP)" "exit $code, output: ${out:0:300} $(tail -3 "$WORK/codex-text.err")"; fi
  else fail "codex" "gateway did not start"; fi

  if start_gateway '[{"toolCalls":[{"name":"exec_command","arguments":"{\"cmd\":\"echo '"$TOOL_MARKER"'\"}"}]}]'; then
    out=$(codex_run false "Run the marker command" -s danger-full-access 2>"$WORK/codex-tool-http.err"); code=$?
    stop_gateway
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && stat_has_tool_output "$stats"; then
      pass "codex exec: function call round trip over POST /v1/responses"
    else fail "codex exec (HTTP, tool)" "exit $code, output: ${out:0:300}, stats: ${stats:0:300} $(tail -3 "$WORK/codex-tool-http.err")"; fi
  else fail "codex" "gateway did not start"; fi

  if start_gateway '[{"toolCalls":[{"name":"exec_command","arguments":"{\"cmd\":\"echo '"$TOOL_MARKER"'\"}"}]}]'; then
    out=$(codex_run true "Run the marker command" -s danger-full-access 2>"$WORK/codex-tool.err"); code=$?
    stop_gateway
    ws=$(grep -c '"transport":"websocket"' "$WORK/gw.err" 2>/dev/null || true)
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && stat_has_tool_output "$stats" && [ "${ws:-0}" -ge 1 ]; then
      pass "codex exec: function call round trip over the Responses WebSocket (exec_command ran, its output reached the upstream)"
    else fail "codex exec (WebSocket, tool)" "exit $code, websocket sessions: ${ws:-0}, output: ${out:0:300}, stats: ${stats:0:300} $(tail -3 "$WORK/codex-tool.err")"; fi
  else fail "codex" "gateway did not start"; fi

  CODEX_EMU_CALL='[{"reply":"<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"echo '"$TOOL_MARKER"'\"}}</tool_call>"}]'
  if E2E_PLAIN_SCRIPT=$CODEX_EMU_CALL start_gateway; then
    out=$(codex_run false "Run the marker command" -m emu -s danger-full-access 2>"$WORK/codex-emu.err"); code=$?
    stop_gateway
    if [ $code -eq 0 ] && [[ "$out" == *"$MARKER"* ]] && stat_has_emulated_result "$stats"; then pass "codex exec: function call round trip through prompt-based tool emulation on a text-only backend"
    else fail "codex exec: emulated tool round trip" "exit $code, output: ${out:0:300}, stats: ${stats:0:400} $(tail -3 "$WORK/codex-emu.err")"; fi
  else fail "codex" "gateway did not start"; fi
fi

echo
echo "agent CLI results:"
for r in "${RESULTS[@]}"; do echo "  $r"; done
exit $FAILED
