import dspy, json
from dspy.utils.dummies import DummyLM
from dspy.clients.base_lm import GLOBAL_HISTORY
lm = DummyLM([
  {"answer": "It is Brussels"},
  {"discussion": "Too long.", "advice": '{"self": "Answer with one word."}'},
  {"answer": "Brussels"},
])
# copies share the answer iterator? check
dspy.configure(lm=lm)
qa = dspy.Predict("question -> answer")
def one_word(args, pred):
    return 1.0 if len(pred.answer.split()) == 1 else 0.0
r = dspy.Refine(module=qa, N=3, reward_fn=one_word, threshold=1.0)
r.module_code = "PROGRAM"
r.reward_fn_code = "REWARD"
GLOBAL_HISTORY.clear()
out = r(question="Capital of Belgium?")
print(out)
msgs = [h["messages"] for h in GLOBAL_HISTORY]
outs = [h["outputs"] for h in GLOBAL_HISTORY]
print(len(msgs), outs)
json.dump({"messages": msgs, "outputs": outs, "answer": out.answer}, open("refine_messages.json","w"), indent=1)
for i,m in enumerate(msgs):
    print("=== call", i)
    for x in m[1:]: print(x["role"], "::", x["content"][:3000]); print('---')
