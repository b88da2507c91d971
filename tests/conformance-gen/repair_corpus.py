#!/usr/bin/env python
"""Writes a differential corpus for the ports of `json_repair.loads` and `ast.literal_eval`.

    /work/refdspy/bin/python tests/conformance-gen/repair_corpus.py VECTOR_DIR OUT.jsonl [N_MUTATIONS]

Each line is {"input": text, "repair": canon(json_repair.loads(text)) or "ERROR",
"literal": canon(ast.literal_eval(text)) or "NotLiteral"/"TypeError"}. Inputs are the
completions of the vectors in VECTOR_DIR, their field sections, hand-written edge cases, and
random mutations of all of those. `canon` tags types so that the comparison is exact:
{"i": "42"}, {"f": "1.5"}, {"d": [[k, v], ...]}, {"t": [...]} (tuple), {"s": [...]} (set),
{"b": "..."} (bytes), {"c": [re, im]}, "..." for Ellipsis, and JSON for the rest.

The Rust side is `DSPY_REPAIR_CORPUS=OUT.jsonl cargo test -p dspy-core --lib corpus`.
"""

import ast
import json
import os
import random
import re
import sys

import json_repair


def canon(v):
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"f": repr(v)}
    if isinstance(v, complex):
        return {"c": [repr(v.real), repr(v.imag)]}
    if isinstance(v, bytes):
        return {"b": v.decode("latin-1")}
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, tuple):
        return {"t": [canon(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"s": sorted((canon(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))}
    if isinstance(v, dict):
        return {"d": [[canon(k), canon(x)] for k, x in v.items()]}
    if v is Ellipsis:
        return "..."
    return {"other": repr(v)}


def repair(text):
    try:
        return canon(json_repair.loads(text))
    except Exception:
        return "ERROR"


def literal(text):
    try:
        return canon(ast.literal_eval(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "NotLiteral"
    except TypeError:
        return "TypeError"


EDGE = [
    "", " ", "nine", "7", "True", "None", "null", "{1, 2}", "1, 2, 3", "0x1A", "1_000", "'a'", "\"a\"",
    "[1, 2", "{\"a\": 1", "{'a': 1}", "{a: 1}", "{a: b, c: d}", "[a, b]", "(1, 2)", "(1)", "()", "foo (bar): {\"a\": 1}",
    "```json\n{\"a\": 1}\n```", "```\n[1]\n```", "Here: [4, 5]", "{\"out\": Here: [4, 5]}", "{\"out\": multi\nline}",
    "{\"out\": ```\ntrue\n```}", "{\"out\": ```json\n[1, 2]\n```}", "[1] [2]", "{\"a\": 1} {\"a\": 2}", "{\"a\": 1}, {\"b\": 2}",
    "// c\n{\"a\": 1}", "# c\n[1]", "/* x */ [1]", "{\"a\": 1 /* c */, \"b\": 2}", "{\"a\": [1, 2,], }", "[1, 2, ...]",
    "{\"a\": \"b\"c\", \"d\": 1}", "{\"a\": \"say \"hi\" now\"}", "[\"a\" \"b\"]", "{\"k\": “smart”}", "“quoted”",
    "{\"a\": tru", "{\"a\": nul}", "{\"a\": None, \"b\": True, \"c\": False}", "[NaN, Infinity, -Infinity]",
    "{\"a\": 1e400}", "[1.5e, 2]", "[-]", "[.]", "[1/2]", "[1,2,3]", "{\"a\": 1,2}", "[\"a\\\"b\"]", "\"\\u00e9\"",
    "{\"a\": \"x\\ny\"}", "{\"a\": \"unterminated", "{\"a\": [1, {\"b\": 2", "[[[1]]]", "{\"\": 1}", "{,}", "[,]", "{:}",
    "{\"a\" 1}", "{\"a\": 1 \"b\": 2}", "[1 2 3]", "{\"a\": {\"b\": {\"c\": 1}}}", "{'a': 'it\\'s'}", "{\"a\": 'mixed\"}",
    "\"just a string\"", "'single'", "[\"x\",]", "{\"a\": [\"b\", \"c\"], [\"d\"]}", "{\"a\": [[1, 2], [3, 4]], [5, 6]}",
    "{key: value, other: 2}", "{\"a\": b c d}", "{\"a\": \"b\", \"a\": \"c\"}", "[{\"a\": 1, \"a\": 2}]", "[{\"a\": 1}, {\"a\": 1}]",
    "{\\\"a\\\": 1}", "{\\'a\\': 1}", "text {\"a\": 1} more {\"b\": 2}", "{\"a\": \"}\"}", "{\"a\": \"{\"}", "[\"]\"]",
    "{\"a\": 'b', # comment\n \"c\": 2}", "{\"regex\": \"[a-z\"0-9]\"}", "„low quote“", "{\"a\": „x“}",
    "1.", ".5", "-.5", "1e5", "+5", "-0", "00", "007", "0.0", "1_0.5", "1j", "1+2j", "b'x'", "set()", "{1: 2}", "{(1, 2): 3}",
    "{[1]: 2}", "{[1]}", "'a' 'b'", "u'x'", "f'x'", "r'\\d'", "'''a\nb'''", "...", "[1, ...]", "-(5)", "--5",
]


def mutate(text, rng):
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(chars))
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, rng.choice(list("{}[]()\"',:\\ \n#/`*-.0123456789aeflnrstuTFN“”„")))
        elif op == 2:
            chars = chars[:pos]
        elif op == 3 and chars:
            i = min(pos, len(chars) - 1)
            c = chars[i]
            chars[i] = {"\"": "'", "'": "\"", "{": "[", "[": "{", "}": "]", "]": "}"}.get(c, c.swapcase())
        elif op == 4:
            chars = list(rng.choice(["```json\n", "```\n", "Sure: ", "(", "["])) + chars + list(rng.choice(["\n```", "", " ok", ")", "]"]))
        elif op == 5 and len(chars) > 2:
            i, j = sorted(rng.sample(range(len(chars)), 2))
            chars = chars[:i] + chars[j:]
        else:
            chars.insert(pos, rng.choice(["True", "None", "null", "1e3", "\\n", "\\\"", ", ", ": "]))
    return "".join(chars)


def main():
    vec_dir, out = sys.argv[1], sys.argv[2]
    n_mut = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    seeds = list(EDGE)
    for name in sorted(os.listdir(vec_dir)):
        if not name.endswith(".json"):
            continue
        case = json.load(open(os.path.join(vec_dir, name)))
        if case["kind"] != "parse":
            continue
        c = case["completion"]
        seeds.append(c)
        for part in re.split(r"\[\[ ## \w+ ## \]\]", c):
            seeds.append(part.strip())
        for m in re.finditer(r"<(\w+)>(.*?)</\1>", c, re.S):
            seeds.append(m.group(2).strip())
    seeds = list(dict.fromkeys(seeds))
    rng = random.Random(1234)
    inputs = list(seeds)
    for _ in range(n_mut):
        inputs.append(mutate(rng.choice(seeds), rng))
    inputs = list(dict.fromkeys(inputs))
    with open(out, "w", encoding="utf-8") as f:
        for text in inputs:
            f.write(json.dumps({"input": text, "repair": repair(text), "literal": literal(text)}, ensure_ascii=False) + "\n")
    print(f"wrote {len(inputs)} corpus entries to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
