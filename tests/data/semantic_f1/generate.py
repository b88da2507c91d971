# Records DSPy 3.4.1's SemanticF1 judge prompts (both variants) for tests/evaluate.rs.
import json
import dspy
from dspy.evaluate import SemanticF1
from dspy.utils.dummies import DummyLM
from dspy.clients.base_lm import GLOBAL_HISTORY

out = {}
for name, decomp, answer in [
    ("plain", False, {"reasoning": "Both mention scattering.", "recall": "1.0", "precision": "0.5"}),
    ("decompositional", True, {"reasoning": "r", "ground_truth_key_ideas": "1. scattering", "system_response_key_ideas": "1. scattering 2. sea",
                                "discussion": "half", "recall": "1.0", "precision": "0.5"}),
]:
    lm = DummyLM([answer])
    dspy.configure(lm=lm)
    GLOBAL_HISTORY.clear()
    ex = dspy.Example(question="Why is the sky blue?", response="Rayleigh scattering.")
    pred = dspy.Prediction(response="Scattering, and also the sea.")
    score = SemanticF1(decompositional=decomp)(ex, pred).score
    out[name] = {"messages": GLOBAL_HISTORY[0]["messages"], "outputs": GLOBAL_HISTORY[0]["outputs"], "score": score}
json.dump(out, open("semantic-f1.json", "w"), indent=1)
