#!/usr/bin/env bash
# Side by side: examples/compile_real.rs (dspy for Rust) and dspy_side.py (Python DSPy 3.4.1) on
# the same task, data, split, metric, LM settings and optimizers, against the same served model.
#
#   bench/real_vs_dspy/run.sh                       # starts scripts/serve-local-lm.sh if needed
#   DSPY_PYTHON=/path/to/python bench/real_vs_dspy/run.sh   # a Python with dspy==3.4.1 already
#   DSPY_API_BASE=http://host:port/v1 DSPY_LM=openai/model bench/real_vs_dspy/run.sh
#   REAL_MIPRO=0 bench/real_vs_dspy/run.sh          # without MIPROv2 light (its ~12 min a side)
#   REAL_ROWS=copro,simba,gepa bench/real_vs_dspy/run.sh   # only these rows, on both sides
#
# Caches are off on both sides. The two sides run one after the other (the server answers one
# request at a time). Results: $OUT (default bench/real_vs_dspy/out/) rust.json, python.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${OUT:-$here/out}"
mkdir -p "$out"
export DSPY_LM="${DSPY_LM:-openai/smollm2}"
# LiteLLM would otherwise try to download its model price list at import (no network needed here).
export LITELLM_LOCAL_MODEL_COST_MAP="${LITELLM_LOCAL_MODEL_COST_MAP:-True}"
port="${REAL_LM_PORT:-8765}"

# 1. The server.
if [ -z "${DSPY_API_BASE:-}" ]; then
  DSPY_API_BASE="http://127.0.0.1:$port/v1"
  if ! curl -sf "$DSPY_API_BASE/models" >/dev/null 2>&1; then
    serve="${REAL_LM_SERVE:-$root/scripts/serve-local-lm.sh}"
    [ -x "$serve" ] || { echo "no server at $DSPY_API_BASE and no $serve to start one" >&2; exit 1; }
    echo "starting the model server: $serve $port" >&2
    DSPY_API_BASE="$("$serve" "$port" | tail -n 1)"
  fi
fi
export DSPY_API_BASE
curl -sf "$DSPY_API_BASE/models" >/dev/null || { echo "the server at $DSPY_API_BASE does not answer" >&2; exit 1; }
echo "server: $DSPY_API_BASE, model: $DSPY_LM" >&2

# 2. Python DSPy 3.4.1.
py="${DSPY_PYTHON:-}"
if [ -z "$py" ]; then
  venv="$here/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv with dspy==3.4.1 from PyPI (set DSPY_PYTHON to use an existing one)" >&2
    python3 -m venv "$venv"
    # numpy: DSPy's SIMBA needs it (the `dspy[numpy]` extra).
    "$venv/bin/pip" install -q "dspy==3.4.1" numpy
  fi
  py="$venv/bin/python"
fi
"$py" -c 'import dspy, sys; v = dspy.__version__; sys.exit(0 if v == "3.4.1" else f"dspy {v} found, 3.4.1 wanted")'

# 3. Both sides, one after the other (ORDER=python-first to swap them); the Rust example is
# built before any timer starts.
( cd "$root" && cargo build --release --example compile_real )
run_rust() {
  echo "== dspy for Rust" >&2
  local start; start=$(date +%s.%N)
  ( cd "$root" && COMPILE_REAL_JSON="$out/rust.json" cargo run -q --release --example compile_real ) >&2
  rust_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
}
run_python() {
  echo "== Python DSPy" >&2
  local start; start=$(date +%s.%N)
  "$py" "$here/dspy_side.py" --api-base "$DSPY_API_BASE" --model "$DSPY_LM" --json "$out/python.json" >/dev/null
  py_wall=$(awk "BEGIN { print $(date +%s.%N) - $start }")
}
if [ "${ORDER:-rust-first}" = python-first ]; then run_python; run_rust; else run_rust; run_python; fi

# 4. One table.
"$py" - "$out/rust.json" "$out/python.json" "$rust_wall" "$py_wall" <<'PY'
import json, sys
rust, py = (json.load(open(p)) for p in sys.argv[1:3])
walls = {"dspy-rs": float(sys.argv[3]), "dspy-python": float(sys.argv[4])}
if rust.get("simulated"):
    print("WARNING: the Rust side ran on its simulated LM (DSPY_LM unset?)")
print(f"task: order-ID extraction, {rust['train']} train / {rust['dev']} dev, model {py['model']}, caches off")
print(f"{'program':<26} | {'Rust dev':>8} {'Rust s':>7} {'calls':>5} {'tokens':>6} | {'DSPy dev':>8} {'DSPy s':>7} {'calls':>5} {'tokens':>6}")
by = {r["program"]: r for r in py["results"]}
for r in rust["results"]:
    p = by.get(r["program"], {})
    rs = r["compile_s"] + r["eval_s"]
    ps = p.get("compile_s", 0) + p.get("eval_s", 0)
    pscore = f"{'failed':>8}" if "error" in p else f"{p.get('dev_score', float('nan')):>7.1f}%"
    rscore = f"{'failed':>8}" if "error" in r else f"{r['dev_score']:>7.1f}%"
    print(f"{r['program']:<26} | {rscore} {rs:>7.1f} {r['lm_calls']:>5} {r['tokens']:>6} | "
          f"{pscore} {ps:>7.1f} {p.get('lm_calls', 0):>5} {p.get('tokens', 0):>6}")
for side, results in (("Rust", rust["results"]), ("DSPy", py["results"])):
    for p in results:
        if "error" in p:
            print(f"{side} {p['program']}: {p['error'][:160]}")
print(f"{'whole run (wall s)':<26} | {walls['dspy-rs']:>16.1f} {'':>12} | {walls['dspy-python']:>16.1f}")
print("(s = compile + dev evaluation; whole run includes process start-up and imports)")
PY
