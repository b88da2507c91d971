"""The Python DSPy 3.4.1 side of bench/real_vs_dspy: the task of examples/compile_real.rs.

Same data file (examples/data/order_ids.jsonl: first 20 train, last 16 dev, no shuffling), same
signature, metric, LM settings (temperature 0, max_tokens 64, cache off) and optimizer settings
(LabeledFewShot k=4 first-k, BootstrapFewShot 4/4, MIPROv2 light unless REAL_MIPRO=0, COPRO
breadth 3 depth 2, SIMBA batches of 8 with 3 candidates and 3 steps, GEPA 150 metric calls;
then the two-stage program (find the mention, write the ID) uncompiled, with BootstrapFewShot
and with GEPA; REAL_ROWS=copro,simba,gepa,two-stage runs only those rows, as on the Rust side).

    python dspy_side.py --api-base http://127.0.0.1:8765/v1 [--model openai/smollm2] [--json out.json]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import dspy
from dspy.teleprompt import COPRO, GEPA, SIMBA, BootstrapFewShot, LabeledFewShot, MIPROv2

ROOT = Path(__file__).resolve().parents[2]
TRAIN, MAX_TOKENS, K, SEED = 20, 64, 4, 0


class ExtractOrderId(dspy.Signature):
    """Extract the order ID from the customer's message."""

    message: str = dspy.InputField()
    order_id: str = dspy.OutputField()


class FindOrderMention(dspy.Signature):
    """Find the part of the customer's message that names the order."""

    message: str = dspy.InputField()
    mention: str = dspy.OutputField()


class WriteOrderId(dspy.Signature):
    """Write the order ID in its standard form: two capital letters, a hyphen, four digits (AB-1234)."""

    mention: str = dspy.InputField()
    order_id: str = dspy.OutputField()


class TwoStage(dspy.Module):
    def __init__(self):
        super().__init__()
        self.find = dspy.Predict(FindOrderMention)
        self.write = dspy.Predict(WriteOrderId)

    def forward(self, message):
        found = self.find(message=message)
        return self.write(mention=found.mention)


def first_line(s):
    for line in str(s).split("\n"):
        t = line.strip().strip("\"'`").strip()
        if t:
            return t.lower()
    return ""


def metric(example, prediction, trace=None):
    gold = str(example.order_id).strip().lower()
    got = prediction.get("order_id", "")
    got = str(got).strip().lower() if trace is not None else first_line(got)
    return bool(gold) and got == gold


def gepa_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    """The same metric in the five-argument form GEPA requires."""
    return metric(gold, pred, trace)


def wanted(name):
    """Whether REAL_ROWS (comma-separated, lower case) selects it: a listed name selects the rows
    whose name, up to any parenthesis, starts with it (`two-stage` all three)."""
    rows = os.environ.get("REAL_ROWS", "").strip()
    key = name.split("(")[0].lower()
    return not rows or any(r and key.startswith(r) for r in (r.strip().lower() for r in rows.split(",")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api-base", default=os.environ.get("DSPY_API_BASE", "http://127.0.0.1:8765/v1"))
    ap.add_argument("--model", default=os.environ.get("DSPY_LM", "openai/smollm2"))
    ap.add_argument("--data", default=str(ROOT / "examples" / "data" / "order_ids.jsonl"))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    rows = [json.loads(line) for line in open(args.data) if line.strip()]
    data = [dspy.Example(**r).with_inputs("message") for r in rows]
    trainset, devset = data[:TRAIN], data[TRAIN:]
    # LiteLLM sends `max_tokens` to an `openai/` model as `max_completion_tokens`, which llama.cpp's
    # server ignores (generations then run to hundreds of tokens); `extra_body` passes the key the
    # server reads, so both sides generate at most MAX_TOKENS tokens.
    lm = dspy.LM(args.model, api_base=args.api_base, api_key=os.environ.get("DSPY_API_KEY", "x"),
                 cache=False, temperature=0.0, max_tokens=MAX_TOKENS, extra_body={"max_tokens": MAX_TOKENS})
    dspy.configure(lm=lm)
    evaluate = dspy.Evaluate(devset=devset, metric=metric, num_threads=1, display_progress=False, max_errors=10_000)
    print(f"Using {args.model} at {args.api_base} (DSPy {dspy.__version__}); cache off, temperature 0, "
          f"max_tokens {MAX_TOKENS}. {len(trainset)} train / {len(devset)} dev.", file=sys.stderr)

    def usage_since(start):
        entries = lm.history[start:]
        tokens = sum((e.get("usage") or {}).get("total_tokens", 0) or 0 for e in entries)
        return len(entries), tokens

    results = []

    def run(name, compile_fn):
        if not wanted(name):
            return
        h0, t0 = len(lm.history), time.perf_counter()
        try:
            program = compile_fn()
        except Exception as e:  # an optimizer that aborts is a result too: record it, go on
            compile_s = time.perf_counter() - t0
            calls, tokens = usage_since(h0)
            error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(f"== {name}: compile failed after {compile_s:.1f} s, {calls} LM calls: {error}", file=sys.stderr)
            results.append({"program": name, "error": error, "lm_calls": calls, "tokens": tokens,
                            "compile_s": compile_s, "eval_s": 0.0})
            return
        compile_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        score = evaluate(program).score
        eval_s = time.perf_counter() - t1
        calls, tokens = usage_since(h0)
        demos = sum(len(p.demos) for p in program.predictors())
        print(f"== {name}: {score:.1f}% on dev ({demos} demos; compile {compile_s:.1f} s; eval {eval_s:.1f} s; "
              f"{calls} LM calls)", file=sys.stderr)
        results.append({"program": name, "dev_score": score, "lm_calls": calls, "tokens": tokens,
                        "compile_s": compile_s, "eval_s": eval_s})

    student = dspy.Predict(ExtractOrderId)
    run("uncompiled", lambda: student.deepcopy())
    run("LabeledFewShot(k=4)", lambda: LabeledFewShot(k=K).compile(student, trainset=trainset, sample=False))
    run("BootstrapFewShot", lambda: BootstrapFewShot(metric=metric, max_bootstrapped_demos=K,
                                                      max_labeled_demos=K).compile(student, trainset=trainset))
    if os.environ.get("REAL_MIPRO") != "0":
        run("MIPROv2(light)", lambda: MIPROv2(metric=metric, auto="light", max_bootstrapped_demos=K,
                                              max_labeled_demos=K, seed=SEED, num_threads=1)
            .compile(student, trainset=trainset))
    run("COPRO(3x2)", lambda: COPRO(metric=metric, breadth=3, depth=2, init_temperature=1.4)
        .compile(student, trainset=trainset, eval_kwargs={"num_threads": 1, "display_progress": False}))
    run("SIMBA(8x3x3)", lambda: SIMBA(metric=metric, bsize=8, num_candidates=3, max_steps=3, max_demos=K, num_threads=1)
        .compile(student, trainset=trainset, seed=SEED))
    run("GEPA(150)", lambda: GEPA(metric=gepa_metric, max_metric_calls=150, reflection_lm=lm, reflection_minibatch_size=3,
                                  seed=SEED, num_threads=1).compile(student, trainset=trainset))
    two_stage = TwoStage()
    run("two-stage uncompiled", lambda: two_stage.deepcopy())
    run("two-stage BootstrapFewShot", lambda: BootstrapFewShot(metric=metric, max_bootstrapped_demos=K,
                                                                max_labeled_demos=K).compile(two_stage, trainset=trainset))
    run("two-stage GEPA(150)", lambda: GEPA(metric=gepa_metric, max_metric_calls=150, reflection_lm=lm,
                                            reflection_minibatch_size=3, seed=SEED, num_threads=1)
        .compile(two_stage, trainset=trainset))

    print(f"{'program':<26} {'dev score':>9} {'LM calls':>9} {'tokens':>9} {'compile s':>10} {'eval s':>8}", file=sys.stderr)
    for r in results:
        score = f"{r['dev_score']:>8.1f}%" if "error" not in r else f"{'failed':>9}"
        print(f"{r['program']:<26} {score} {r['lm_calls']:>9} {r['tokens']:>9} "
              f"{r['compile_s']:>10.1f} {r['eval_s']:>8.1f}", file=sys.stderr)
    out = {"side": "dspy-python", "dspy_version": dspy.__version__, "model": args.model, "train": len(trainset),
           "dev": len(devset), "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
