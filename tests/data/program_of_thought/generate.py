# Records the reference ProgramOfThought (DSPy 3.4.1) over scripted LM answers and a scripted
# interpreter, for tests/agent_modules.rs: run with the reference Python, output in /tmp/potvec.
# The scripted interpreter results are what the Rust sandbox really computes for the same code.
import json, warnings
warnings.filterwarnings("ignore")
import dspy
from dspy.utils.dummies import DummyLM
from dspy.primitives.code_interpreter import CodeExecutionError, FinalOutput

class Mock:
    tools = {}
    def __init__(self, results): self.results = list(results)
    def start(self): pass
    def shutdown(self): pass
    def execute(self, code, variables=None):
        r = self.results.pop(0)
        if isinstance(r, Exception): raise r
        return r

def record(name, sig, inputs, lm_outputs, results, max_iters=3):
    lm = DummyLM([{}]*0)
    lm = DummyLM(lm_outputs)
    dspy.configure(lm=lm, adapter=dspy.ChatAdapter())
    pot = dspy.ProgramOfThought(sig, max_iters=max_iters, interpreter_factory=lambda: Mock(results))
    try:
        p = pot(**inputs)
        outputs = dict(p.items())
        error = None
    except Exception as e:
        outputs = None
        error = str(e)
    vec = {"id": name, "module": "program_of_thought", "signature": sig, "config": {"max_iters": max_iters},
           "inputs": inputs, "lm_outputs": [ [v for v in lm.history[i]["outputs"]][0] for i in range(len(lm.history))],
           "messages": [h["messages"] for h in lm.history], "outputs": outputs, "error": error}
    json.dump(vec, open(f"/tmp/potvec/{name}.json", "w"), indent=1, ensure_ascii=False)

record("pot-submit", "question -> answer: int", {"question": "What is 6 times 7?"},
  [{"reasoning": "Multiply.", "generated_code": "```python\nSUBMIT({'answer': 6 * 7})\n```"},
   {"reasoning": "The code gave 42.", "answer": "42"}],
  [FinalOutput({"output": {"answer": 42}})])
record("pot-retry", "question -> answer", {"question": "Sum 1..10?"},
  [{"reasoning": "Sum.", "generated_code": "```python\ntotal = sum(rang(11))\n```"},
   {"reasoning": "Fix the typo.", "generated_code": "```python\ntotal = sum(range(11))\n```"},
   {"reasoning": "It is 55.", "answer": "55"}],
  [CodeExecutionError("NameError: [\"name 'rang' is not defined\"]"), 55])
record("pot-maxhops", "question -> answer", {"question": "Q?"},
  [{"reasoning": "a", "generated_code": "a = b = 1"},
   {"reasoning": "b", "generated_code": "```python\n1/0\n```"}],
  [CodeExecutionError("ZeroDivisionError: ['division by zero']")], max_iters=2)
