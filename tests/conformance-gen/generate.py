#!/usr/bin/env python
"""Generates adapter conformance vectors from the reference DSPy 3.4.1.

Run it with the reference's interpreter (the venv with dspy 3.4.1 installed):

    /work/refdspy/bin/python tests/conformance-gen/generate.py OUT_DIR [--replica]

Every vector records what the reference adapters actually do, in the format described in
`../shared/conformance/README.md`:

* `format` vectors: a signature, demos and inputs, and the messages `Adapter.format` produced;
* `parse` vectors: a signature, a completion, and what `Adapter.parse` returned (or that it
  raised).

`--replica` writes only the signatures of the shared vector set, under the same ids, so the
output can be compared file by file with `../shared/conformance` (identical files mean this
generator serialises cases exactly as the shared one does; they are).

`--fuzz-format N`, `--fuzz-parse N` and `--seed S` add N random cases: random signatures and
values for format, and each adapter's rendering of random values, randomly mutated, for parse
(ids `format-*-fzK-*` and `parse-*-xfz-*`). Larger runs are a differential fuzz of the Rust
adapters against the reference:

    /work/refdspy/bin/python tests/conformance-gen/generate.py /tmp/fuzz --fuzz-format 1500 --fuzz-parse 15000 --seed 7
    DSPY_CONFORMANCE_DIR=/tmp/fuzz cargo test --test conformance conformance_vectors -- --nocapture

`tests/data/conformance-extra` holds a curated sample of the default output (see its README).
The ports of `json_repair` and `ast.literal_eval` have their own differential corpus,
`repair_corpus.py` beside this file.

The signatures below cover every type the reference renders (scalars, containers, optionals,
unions, tuples, `Any`, literals, enums, pydantic models nested and in containers), awkward
names, descriptions and instructions, awkward input values (lists for `str` fields, floats,
control characters, non-ASCII, `None`), every demo shape, and for parsing a grid of raw values
per output type for each adapter plus hand-written structural cases (fences, prose, missing,
duplicate and extra fields, nested XML, entities, truncation).
"""

from __future__ import annotations

import argparse
import enum
import json
import math
import os
import random
import sys
import types
import typing
from typing import Any, Literal, Optional, Union

from typing_extensions import TypedDict

import dspy
import pydantic
import pydantic_core
from dspy.adapters.utils import get_annotation_name
from pydantic import BaseModel, TypeAdapter

ADAPTERS = {"chat": dspy.ChatAdapter(), "json": dspy.JSONAdapter(), "xml": dspy.XMLAdapter()}


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Priority(enum.Enum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class Mood(str, enum.Enum):
    HAPPY = "happy :)"
    SAD = "sad :("
    MEH = "meh"


class Citation(BaseModel):
    source: str
    page: int


class Verdict(BaseModel):
    label: Literal["supported", "refuted", "unknown"]
    confidence: float
    citations: list[Citation]


class Address(BaseModel):
    street: str
    city: str
    zip: Optional[str] = None


class Person(BaseModel):
    name: str
    age: int
    address: Address
    nicknames: list[str] = []


class Settings(BaseModel):
    verbose: bool = False
    level: int = 1
    label: Optional[str] = None
    ratio: float = 0.5


class Point(BaseModel):
    x: float
    y: float


class Shape(BaseModel):
    kind: Literal["polygon", "circle"]
    points: list[Point]
    color: Color
    meta: dict[str, str] = {}


class Event(BaseModel):
    title: str
    priority: Priority
    tags: list[str]
    when: Optional[str] = None


class TreeNode(BaseModel):
    """A node of a tree."""

    label: str
    children: list["TreeNode"] = []


class Described(BaseModel):
    """A model with documented fields."""

    name: str = pydantic.Field(description="the display name")
    score: float = pydantic.Field(default=0.0, description="between 0 and 1")
    tags: Optional[list[str]] = None


class Level(enum.IntEnum):
    DEBUG = 10
    INFO = 20


class Shade(str, enum.Enum):
    """Shades of grey."""

    LIGHT = "light"
    DARK = "dark"


class Movie(TypedDict):
    title: str
    year: int


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------


def signature_spec(sig) -> dict:
    fields = []
    for name, info in sig.fields.items():
        extra = info.json_schema_extra or {}
        desc = extra.get("desc", "")
        fields.append(
            {
                "name": name,
                "kind": extra["__dspy_field_type"],
                "type": get_annotation_name(info.annotation),
                "json_schema": TypeAdapter(info.annotation).json_schema(),
                "desc": "" if desc == f"${{{name}}}" else desc,
            }
        )
    return {"instructions": sig.instructions, "fields": fields}


def jsonable(value: Any) -> Any:
    return pydantic_core.to_jsonable_python(value)


def finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite(v) for v in value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    return True


class Writer:
    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.count = {"format": 0, "parse": 0}
        self.skipped = 0
        os.makedirs(out_dir, exist_ok=True)

    def write(self, case: dict) -> None:
        path = os.path.join(self.out_dir, case["id"] + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(case, f, indent=1, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        self.count[case["kind"]] += 1

    def format_case(self, adapter: str, name: str, sig, di: int, demos: list, ii: int, inputs: dict) -> None:
        try:
            messages = ADAPTERS[adapter].format(sig, demos, inputs)
        except Exception as e:  # the reference cannot format this case (e.g. a list of ints for a str field)
            print(f"skipped format-{adapter}-{name}-d{di}-i{ii}: reference raised {type(e).__name__}: {e}", file=sys.stderr)
            self.skipped += 1
            return
        self.write(
            {
                "id": f"format-{adapter}-{name}-d{di}-i{ii}",
                "kind": "format",
                "adapter": adapter,
                "signature": signature_spec(sig),
                "demos": demos,
                "inputs": inputs,
                "expected": {"messages": messages},
            }
        )

    def parse_case(self, case_id: str, adapter: str, sig, completion: str) -> None:
        try:
            outputs = ADAPTERS[adapter].parse(sig, completion)
            outputs = {k: jsonable(v) for k, v in outputs.items()}
            if not finite(outputs):
                self.skipped += 1  # not representable in JSON
                return
            expected = {"ok": True, "outputs": outputs}
        except Exception as e:  # the reference's failure, recorded by type
            expected = {"ok": False, "error": type(e).__name__}
        self.write(
            {
                "id": case_id,
                "kind": "parse",
                "adapter": adapter,
                "signature": signature_spec(sig),
                "completion": completion,
                "expected": expected,
            }
        )


# --------------------------------------------------------------------------------------------
# The shared set's signatures (for --replica) and its cases
# --------------------------------------------------------------------------------------------


class BasicQA(dspy.Signature):
    """Answer questions with short factoid answers."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="often between 1 and 5 words")


class FactCheck(dspy.Signature):
    """Verify the claim against the passages.
    Cite every passage you rely on.

    Be conservative: say unknown when the passages are silent."""

    claim: str = dspy.InputField(desc="a single factual claim")
    passages: list[str] = dspy.InputField(desc="retrieved evidence")
    verdict: Verdict = dspy.OutputField()


class MathQA(dspy.Signature):
    """Solve the math word problem. Think step by step."""

    question: str = dspy.InputField()
    answer: float = dspy.OutputField()


class Rating(dspy.Signature):
    """Rate the review from 1 to 5."""

    review: str = dspy.InputField()
    stars: Literal[1, 2, 3, 4, 5] = dspy.OutputField()
    quote: Literal["it's fine", 'a "gem"', "meh"] = dspy.OutputField()


class Tagging(dspy.Signature):
    """Tag the product description."""

    description: str = dspy.InputField()
    color: Color = dspy.OutputField()
    tags: list[str] = dspy.OutputField(desc="lowercase tags")
    counts: dict[str, int] = dspy.OutputField()
    price: Optional[float] = dspy.OutputField(desc="price in USD, if stated")
    in_stock: bool = dspy.OutputField()


def cot(sig):
    return dspy.ChainOfThought(sig).predict.signature


def sig(text: str, instructions: str | None = None, **types):
    return dspy.Signature(text, instructions, custom_types=types) if types else dspy.Signature(text, instructions)


QA_INPUTS = [{"question": "Who wrote Hamlet?"}, {"question": "What is the boiling point of water\nat sea level, in Celsius?"}]
FACT_INPUTS = [
    {"claim": "The Eiffel Tower is in Berlin.", "passages": ["The Eiffel Tower is a landmark in Paris.", "Berlin is the capital of Germany."]},
    {"claim": "Water is wet.", "passages": ["Only one passage «quoted»."]},
]
RAG_INPUTS = [
    {"context": ["Paris is the capital of France.", "It has\ntwo lines."], "question": "What is the capital of France?"},
    {"context": [], "question": "Anything?"},
    {"context": ["single"], "question": "One?"},
]
MATH_Q = {"question": "A farmer has 17 sheep. All but 9 run away. How many are left?"}


def replica_signatures():
    """name -> (signature, demo sets, input sets), as in the shared set."""
    return {
        "basic_qa": (
            BasicQA,
            [[], [{"question": "What is 2+2?", "answer": "4"}, {"question": "Capital of Japan?", "answer": "Tokyo"}],
             [{"question": "Only input here"}, {"answer": "only output"}, {"question": "Q", "answer": "A"}]],
            QA_INPUTS,
        ),
        "classify": (
            sig("text -> label: Literal['positive', 'negative', 'neutral']"),
            [[], [{"text": "bad", "label": "negative"}]],
            [{"text": "The service was okay."}],
        ),
        "cot_qa": (
            cot("question -> answer"),
            [[], [{"question": "2+2?", "reasoning": "Simple addition.", "answer": "4"}]],
            [{"question": "What color is the sky on a clear day?"}],
        ),
        "cot_typed": (
            cot("passage, question -> answer: int"),
            [[]],
            [{"passage": "There are 3 cats and 4 dogs.", "question": "How many animals?"}],
        ),
        "extract": (
            sig("email -> sender, recipients: list[str], meta: dict[str, str]"),
            [[]],
            [{"email": "From: a@x.org\nTo: b@y.org, c@z.org\nSubject: hi"}],
        ),
        "fact_check": (
            FactCheck,
            [[], [{"claim": "Cats are mammals.", "passages": ["Cats are mammals."],
                   "verdict": {"label": "supported", "confidence": 0.9, "citations": [{"source": "p1", "page": 1}]}}]],
            FACT_INPUTS,
        ),
        "math": (
            cot(MathQA),
            [[], [{"question": "1+1?", "reasoning": "One plus one is two.", "answer": 2.0}, {"question": "2*3?", "answer": 6.0}]],
            [MATH_Q],
        ),
        "multi": (
            sig("query, history: list[str] -> search_queries: list[str], n: int, done: bool"),
            [[]],
            [{"query": "rust async runtimes", "history": ["tokio", "async-std"]}],
        ),
        "rag": (
            sig("context: list[str], question -> answer"),
            [[], [{"context": ["A", "B"], "question": "Q?", "answer": "A"}]],
            RAG_INPUTS,
        ),
        "rating": (Rating, [[]], [{"review": "Decent value, nothing special."}]),
        "sentiment_bool": (
            sig("sentence -> sentiment: bool"),
            [[], [{"sentence": "Terrible.", "sentiment": False}, {"sentence": "Great!", "sentiment": True}]],
            [{"sentence": "I loved every minute of it!"}],
        ),
        "summarize": (
            sig("document -> summary"),
            [[]],
            [{"document": "Line one.\nLine two.\n\nA new paragraph with unicode: café, naïve, 東京."}],
        ),
        "tagging": (
            Tagging,
            [[], [{"description": "Blue mug", "color": "blue", "tags": ["mug", "kitchen"], "counts": {"mug": 1}, "price": None, "in_stock": False}]],
            [{"description": "A red cotton T-shirt, $12.50, ships today."}],
        ),
    }


def replica_parse_cases(sigs):
    s = {name: v[0] for name, v in sigs.items()}
    chat = [
        ("basic_qa", "[[ ## answer ## ]]\nShakespeare\n\n[[ ## completed ## ]]"),
        ("basic_qa", "[[ ## answer ## ]] Shakespeare"),
        ("basic_qa", "Sure! Here you go.\n[[ ## answer ## ]]\nWilliam\nShakespeare\n[[ ## answer ## ]]\nignored duplicate"),
        ("basic_qa", "The answer is Shakespeare."),
        ("sentiment_bool", "[[ ## sentiment ## ]]\nTrue\n\n[[ ## completed ## ]]"),
        ("sentiment_bool", "[[ ## sentiment ## ]]\nfalse"),
        ("sentiment_bool", "[[ ## sentiment ## ]]\nmaybe"),
        ("math", "[[ ## reasoning ## ]]\n17 - 8 = 9\n\n[[ ## answer ## ]]\n9\n\n[[ ## completed ## ]]"),
        ("math", "[[ ## reasoning ## ]]\nx\n[[ ## answer ## ]]\nnine"),
        ("multi", "[[ ## search_queries ## ]]\n[\"tokio vs smol\", 'glommio']\n[[ ## n ## ]]\n2\n[[ ## done ## ]]\nFalse"),
        ("multi", "[[ ## search_queries ## ]]\n```json\n[\"a\", \"b\",]\n```\n[[ ## n ## ]]\n 3 \n[[ ## done ## ]]\ntrue"),
        ("classify", "[[ ## label ## ]]\npositive"),
        ("classify", "[[ ## label ## ]]\n'negative'"),
        ("classify", "[[ ## label ## ]]\nLiteral['neutral']"),
        ("classify", "[[ ## label ## ]]\nmixed"),
        ("rating", "[[ ## stars ## ]]\n3\n[[ ## quote ## ]]\nit's fine"),
        ("rating", "[[ ## stars ## ]]\n7\n[[ ## quote ## ]]\nmeh"),
        ("tagging", "[[ ## color ## ]]\nred\n[[ ## tags ## ]]\n[\"shirt\", \"cotton\"]\n[[ ## counts ## ]]\n{\"shirt\": 1}\n[[ ## price ## ]]\n12.5\n[[ ## in_stock ## ]]\nTrue"),
        ("tagging", "[[ ## color ## ]]\nRED\n[[ ## tags ## ]]\n[]\n[[ ## counts ## ]]\n{}\n[[ ## in_stock ## ]]\nFalse"),
        ("tagging", "[[ ## color ## ]]\npurple\n[[ ## tags ## ]]\n[]\n[[ ## counts ## ]]\n{}\n[[ ## price ## ]]\nNone\n[[ ## in_stock ## ]]\nFalse"),
        ("fact_check", "[[ ## verdict ## ]]\n{\"label\": \"refuted\", \"confidence\": 0.95, \"citations\": [{\"source\": \"p1\", \"page\": 3}]}"),
        ("fact_check", "[[ ## verdict ## ]]\n{label: 'refuted', confidence: 0.9, citations: []}"),
        ("fact_check", "[[ ## verdict ## ]]\n{\"label\": \"wrong\", \"confidence\": 0.9, \"citations\": []}"),
        ("extract", "[[ ## sender ## ]]\na@x.org\n[[ ## recipients ## ]]\n[\"b@y.org\", \"c@z.org\"]\n[[ ## meta ## ]]\n{\"subject\": \"hi\"}"),
        ("cot_typed", "[[ ## reasoning ## ]]\n3 + 4 = 7\n[[ ## answer ## ]]\n7"),
    ]
    js = [
        ("basic_qa", "{\"answer\": \"Shakespeare\"}"),
        ("basic_qa", "```json\n{\"answer\": \"Shakespeare\"}\n```"),
        ("basic_qa", "Here is the JSON: {\"answer\": \"Shakespeare\", \"extra\": 1}"),
        ("basic_qa", "{\"answer\": \"Shakes"),
        ("basic_qa", "no json at all"),
        ("math", "{\"reasoning\": \"9 left\", \"answer\": 9}"),
        ("math", "{'reasoning': 'single quotes', 'answer': '9.5'}"),
        ("multi", "{\"search_queries\": [\"a\"], \"n\": \"2\", \"done\": \"true\"}"),
        ("multi", "{\"search_queries\": \"a\", \"n\": 2, \"done\": false}"),
        ("tagging", "{\"color\": \"green\", \"tags\": [\"x\"], \"counts\": {\"x\": 2}, \"price\": null, \"in_stock\": true}"),
        ("fact_check", "{\"verdict\": {\"label\": \"supported\", \"confidence\": 1, \"citations\": []}}"),
        ("classify", "{\"label\": \"neutral\"}"),
        ("rating", "{\"stars\": \"4\", \"quote\": \"a \\\"gem\\\"\"}"),
    ]
    xml = [
        ("basic_qa", "<answer>Shakespeare</answer>"),
        ("basic_qa", "<answer>\nWilliam Shakespeare\n</answer>\n"),
        ("math", "<reasoning>9 left</reasoning>\n<answer>9</answer>"),
        ("multi", "<search_queries>[\"a\", \"b\"]</search_queries><n>2</n><done>False</done>"),
        ("basic_qa", "Shakespeare"),
    ]
    for adapter, cases in (("chat", chat), ("json", js), ("xml", xml)):
        for i, (name, completion) in enumerate(cases):
            yield f"parse-{adapter}-{name}-{i}", adapter, s[name], completion


# --------------------------------------------------------------------------------------------
# More signatures: every type, awkward names, descriptions, instructions and values
# --------------------------------------------------------------------------------------------


class Scalars(dspy.Signature):
    """Answer with one value of each scalar type."""

    question: str = dspy.InputField()
    text: str = dspy.OutputField()
    count: int = dspy.OutputField(desc="a whole number")
    score: float = dspy.OutputField()
    flag: bool = dspy.OutputField()


class Containers(dspy.Signature):
    """Fill the containers."""

    topic: str = dspy.InputField()
    numbers: list[int] = dspy.OutputField()
    grid: list[list[str]] = dspy.OutputField()
    buckets: dict[str, list[int]] = dspy.OutputField()
    weights: list[float] = dspy.OutputField()


class Optionals(dspy.Signature):
    """Fill what you can; leave the rest empty."""

    text: str = dspy.InputField()
    maybe_text: Optional[str] = dspy.OutputField()
    maybe_int: Optional[int] = dspy.OutputField()
    pep604: int | None = dspy.OutputField()
    maybe_list: Optional[list[str]] = dspy.OutputField()


class Unions(dspy.Signature):
    """Identify the record."""

    record: str = dspy.InputField()
    ident: Union[int, str] = dspy.OutputField()
    pair: tuple[int, str] = dspy.OutputField()
    anything: Any = dspy.OutputField()
    num_or_list: Union[float, list[int]] = dspy.OutputField()


class Literals(dspy.Signature):
    """Pick from the allowed values."""

    prompt: str = dspy.InputField()
    level: Literal[1, 2, 3] = dspy.OutputField()
    yes_no: Literal[True, False] = dspy.OutputField()
    mode: Literal["auto", 0, 1] = dspy.OutputField()
    phrase: Literal["it's", 'say "hi"', "both ' and \""] = dspy.OutputField()
    only: Literal["only"] = dspy.OutputField()


class Enums(dspy.Signature):
    """Classify with enums."""

    item: str = dspy.InputField()
    color: Color = dspy.OutputField()
    priority: Priority = dspy.OutputField()
    mood: Mood = dspy.OutputField()
    colors: list[Color] = dspy.OutputField()


class Models(dspy.Signature):
    """Extract the people and their settings."""

    bio: str = dspy.InputField()
    person: Person = dspy.OutputField()
    settings: Settings = dspy.OutputField()
    citations: list[Citation] = dspy.OutputField()
    home: Optional[Address] = dspy.OutputField()


class Shapes(dspy.Signature):
    """Describe the shape and event."""

    scene: str = dspy.InputField()
    shape: Shape = dspy.OutputField()
    event: Event = dspy.OutputField()
    by_name: dict[str, Point] = dspy.OutputField()


class Naming(dspy.Signature):
    """
        Indented docstring.
            Deeper line with trailing spaces.   

        After a blank line: unicode ✓ café 東京 — done.
    """

    userName: str = dspy.InputField(desc="the user's name\nsecond line of the description")
    item2: int = dspy.InputField(desc="an integer input")
    HTTPStatus: int = dspy.OutputField(desc="status code\n  indented continuation")
    answer_2: str = dspy.OutputField(desc="«quoted» & <tagged>")
    camelCaseFlag: bool = dspy.OutputField()


class TypedInputs(dspy.Signature):
    """Use every input."""

    text: str = dspy.InputField()
    n: int = dspy.InputField()
    x: float = dspy.InputField()
    ok: bool = dspy.InputField()
    items: list[int] = dspy.InputField()
    mapping: dict[str, Any] = dspy.InputField()
    maybe: Optional[str] = dspy.InputField()
    where: Address = dspy.InputField()
    result: str = dspy.OutputField()


class CotModel(dspy.Signature):
    """Decide and justify."""

    claim: str = dspy.InputField()
    verdict: Verdict = dspy.OutputField()
    confidence: float = dspy.OutputField()


class Exotic(dspy.Signature):
    """Exotic container and union types."""

    query: str = dspy.InputField()
    unique: set[str] = dspy.OutputField()
    bare_list: list = dspy.OutputField()
    bare_dict: dict = dspy.OutputField()
    var_tuple: tuple[int, ...] = dspy.OutputField()
    maybe_lit: Optional[Literal["a", "b"]] = dspy.OutputField()
    lits: list[Literal["x", "y"]] = dspy.OutputField()
    three_way: Union[str, int, None] = dspy.OutputField()
    num: float | int = dspy.OutputField()
    records: list[dict[str, Any]] = dspy.OutputField()


class Exotic2(dspy.Signature):
    """Recursive, documented, typed-dict and enum subclasses."""

    query: str = dspy.InputField()
    tree: TreeNode = dspy.OutputField()
    described: Described = dspy.OutputField()
    movie: Movie = dspy.OutputField()
    level: Level = dspy.OutputField()
    shade: Shade = dspy.OutputField()
    lit_float: Literal[1.5, -2, None] = dspy.OutputField()
    opt_models: Optional[list[Citation]] = dspy.OutputField()


class StrInputs(dspy.Signature):
    """Lists and objects given to text fields."""

    a: str = dspy.InputField()
    b: str = dspy.InputField()
    c: Optional[str] = dspy.InputField()
    d: Any = dspy.InputField()
    out: str = dspy.OutputField()


def more_signatures():
    """name -> (signature, demo sets, input sets)."""
    weird_instr = (
        "Line one.\n    Indented line.\n\tTabbed\tline.\n\n  Trailing spaces   \nUnicode: ✓ café 東京 \u00e9\n"
        "Ends with spaces  "
    )
    odd_strings = {
        "quotes": "He said \"hi\" and 'bye'",
        "backslash": "C:\\path\\to\\file \\n not a newline",
        "control": "bell\x07 tab\t cr\r formfeed\x0c vt\x0b nul-ish\x01 esc\x1b",
        "unicode": "naïve café — 東京 🎉 \u2028 sep \u00a0 nbsp",
        "brackets": "[[ ## fake ## ]] <tag> & «guillemets»",
        "blank": "",
        "spaces": "   padded   ",
        "multi": "line 1\n\nline 3\n",
    }
    return {
        "scalars": (
            Scalars,
            [
                [],
                [{"question": "q1", "text": "t", "count": 3, "score": 2.0, "flag": True}],
                [{"question": "q1", "text": "t", "count": 3, "score": 1e16, "flag": False},
                 {"question": "q2", "text": "u", "count": -7, "score": 1e-05, "flag": True},
                 {"question": "q3", "text": "v", "count": 0, "score": 0.1, "flag": False}],
                # incomplete (missing output), None output, only inputs (dropped), only outputs (dropped)
                [{"question": "q1", "text": "t", "score": 0.5},
                 {"question": "q2", "text": None, "count": 1, "score": 1.5, "flag": None},
                 {"question": "dropped"},
                 {"count": 9},
                 {"question": "q4", "text": "complete", "count": 4, "score": 123456.789, "flag": True}],
                [{"question": None, "text": "t", "count": 1, "score": -0.0, "flag": False}],
            ],
            [{"question": "What?"}, {}, {"question": None}, {"question": ["a", "b\nc", "«x»"]}, {"question": ["only one"]},
             {"question": []}, {"question": ["multi\nline single"]}, {"question": odd_strings["control"]}],
        ),
        "containers": (
            Containers,
            [
                [],
                [{"topic": "t", "numbers": [1, 2, 3], "grid": [["a", "b"], []], "buckets": {"x": [1], "y": []}, "weights": [0.1, 2.0, 1e16, 1e-05]}],
                [{"topic": "t", "numbers": [], "grid": [], "buckets": {}, "weights": []}],
                [{"topic": "t", "numbers": [1]}],
            ],
            [{"topic": "numbers"}, {"topic": ["list", "for", "str"]}],
        ),
        "optionals": (
            Optionals,
            [
                [],
                [{"text": "a", "maybe_text": None, "maybe_int": None, "pep604": None, "maybe_list": None}],
                [{"text": "a", "maybe_text": "x", "maybe_int": 3, "pep604": 4, "maybe_list": ["a", "b"]}],
                [{"text": "a", "maybe_text": "x"}, {"text": "b", "maybe_text": "y", "maybe_int": 1, "pep604": 2, "maybe_list": []}],
            ],
            [{"text": "fill"}],
        ),
        "unions": (
            Unions,
            [
                [],
                [{"record": "r", "ident": 7, "pair": [1, "a"], "anything": {"k": [1, None, True]}, "num_or_list": 2.5}],
                [{"record": "r", "ident": "abc", "pair": [2, "b"], "anything": "text", "num_or_list": [1, 2]}],
                [{"record": "r", "ident": "x", "pair": [3, "c"], "anything": None, "num_or_list": 1e16}],
            ],
            [{"record": "id 7, pair (1, a)"}],
        ),
        "literals": (
            Literals,
            [
                [],
                [{"prompt": "p", "level": 2, "yes_no": True, "mode": "auto", "phrase": "it's", "only": "only"}],
                [{"prompt": "p", "level": 3, "yes_no": False, "mode": 0, "phrase": "both ' and \"", "only": "only"}],
            ],
            [{"prompt": "choose"}],
        ),
        "enums": (
            Enums,
            [
                [],
                [{"item": "sky", "color": "blue", "priority": 2, "mood": "happy :)", "colors": ["red", "green"]}],
                [{"item": "x", "color": "red", "priority": 3, "mood": "meh", "colors": []}],
            ],
            [{"item": "grass"}],
        ),
        "models": (
            Models,
            [
                [],
                [{"bio": "b", "person": {"name": "Ann", "age": 30, "address": {"street": "1 Main St", "city": "Oslo", "zip": None}, "nicknames": ["A", "Annie"]},
                  "settings": {"verbose": True, "level": 2, "label": None, "ratio": 0.25},
                  "citations": [{"source": "s1", "page": 1}, {"source": "s & <2>", "page": 2}],
                  "home": {"street": "2 High St", "city": "Bergen", "zip": "5003"}}],
                [{"bio": "b", "person": {"name": "Bo", "age": 5, "address": {"street": "s", "city": "c"}},
                  "settings": {}, "citations": [], "home": None}],
                [{"bio": "b", "person": {"name": "Cy", "age": 1, "address": {"street": "s", "city": "c"}}}],
            ],
            [{"bio": "Ann, 30, lives at 1 Main St, Oslo."}],
        ),
        "shapes": (
            Shapes,
            [
                [],
                [{"scene": "s", "shape": {"kind": "polygon", "points": [{"x": 0.0, "y": 1.5}, {"x": 2, "y": -1e-05}], "color": "green", "meta": {"a-b": "1", "c d": "2", "e.f": "3", "1x": "4", "ok_key": "5"}},
                  "event": {"title": "Launch", "priority": 3, "tags": ["a"], "when": None},
                  "by_name": {"origin": {"x": 0.0, "y": 0.0}, "far away": {"x": 1e16, "y": 0.1}}}],
            ],
            [{"scene": "A green triangle at the origin."}],
        ),
        "naming": (
            Naming,
            [
                [],
                [{"userName": "ann", "item2": 2, "HTTPStatus": 200, "answer_2": "a < b && c", "camelCaseFlag": True}],
            ],
            [{"userName": "bob", "item2": 5}, {"userName": odd_strings["unicode"], "item2": 0}],
        ),
        "weird_instructions": (
            sig("question -> answer", weird_instr),
            [[{"question": odd_strings["quotes"], "answer": odd_strings["backslash"]}]],
            [{"question": v} for v in odd_strings.values()],
        ),
        "typed_inputs": (
            TypedInputs,
            [[], [{"text": "t", "n": 1, "x": 2.0, "ok": False, "items": [1, 2], "mapping": {"a": 1}, "maybe": None,
                   "where": {"street": "s", "city": "c", "zip": None}, "result": "r"}]],
            [
                {"text": "plain", "n": 42, "x": 1e16, "ok": True, "items": [1, 2, 3], "mapping": {"k": "v", "n": [1, 2.5, None], "nested": {"b": True}},
                 "maybe": None, "where": {"street": "1 Main", "city": "Oslo", "zip": None}},
                {"text": ["x", "y"], "n": -1, "x": 0.1, "ok": False, "items": [], "mapping": {}, "maybe": "set",
                 "where": {"street": "s", "city": "c"}},
                {"text": "t", "n": 0, "x": 1e-05, "ok": True, "items": [10], "mapping": {"quote\"key": "back\\slash", "ünï": "東京"}, "maybe": "",
                 "where": {"street": "s", "city": "c", "zip": "0"}},
                {"text": "t", "x": 2.0},
            ],
        ),
        "exotic": (
            Exotic,
            [
                [],
                [{"query": "q", "unique": ["a", "b"], "bare_list": [1, "x", None], "bare_dict": {"k": [1]}, "var_tuple": [1, 2, 3],
                  "maybe_lit": None, "lits": ["x"], "three_way": 5, "num": 2.5, "records": [{"a": 1}, {}]}],
            ],
            [{"query": "go"}],
        ),
        "exotic2": (
            Exotic2,
            [
                [],
                [{"query": "q", "tree": {"label": "root", "children": [{"label": "leaf", "children": []}]},
                  "described": {"name": "n", "score": 0.5, "tags": None}, "movie": {"title": "T", "year": 1999},
                  "level": 20, "shade": "dark", "lit_float": 1.5, "opt_models": [{"source": "s", "page": 2}]}],
            ],
            [{"query": "go"}],
        ),
        "str_inputs": (
            StrInputs,
            [[{"a": [{"k": "v"}, ["x", "y"]], "b": {"nested": {"x": [1, 2.5, None]}}, "c": ["c1", "c2"], "d": ["d1"], "out": ["o1", "o2"]}]],
            [
                {"a": [{"k": "«v»"}, ["\n"]], "b": {"x": 1e16, "y": 0.1, "z": 1e-05}, "c": ["only"], "d": "text"},
                {"a": [["a", "b"], {"key\nline": 1}], "b": [], "c": None, "d": {"k": True}},
                {"a": "plain", "b": 42, "c": 2.0, "d": 1e16},
                {"a": ["«already»", "tab\tsep", "multi\nline\nblob"], "b": ["x"], "c": [], "d": []},
            ],
        ),
        "cot_model": (
            cot(CotModel),
            [[], [{"claim": "c", "reasoning": "because", "verdict": {"label": "unknown", "confidence": 0.5, "citations": []}, "confidence": 0.5}]],
            [{"claim": "The moon is made of cheese."}],
        ),
    }


# --------------------------------------------------------------------------------------------
# Parse cases
# --------------------------------------------------------------------------------------------

# For each output type: raw texts as an LM might write the value. They are placed in a
# one-output signature for each adapter (a chat section, a JSON value, an XML element).
PROBES: dict[str, tuple[Any, list[str]]] = {
    "str": (str, ["hello", "  padded  ", "multi\nline", "\"quoted\"", "None", "", "[1, 2]", "a & b < c"]),
    "int": (int, ["42", " 42 ", "42.0", "42.5", "'42'", "\"42\"", "forty-two", "42 apples", "[42]", "1_000", "+5", "-0", "1e3",
                  "True", "None", "", "0x1A", "```\n42\n```", "4,200", "9007199254740993"]),
    "float": (float, ["3.14", "3", "-2.5e-3", "1e16", "'1.5'", "nan", "NaN", "inf", "Infinity", "1,5", "3.14 meters", "True", ".5", "5.",
                      "None", "[1.5]", "1_000.5"]),
    "bool": (bool, ["True", "true", "False", "false", "yes", "no", "1", "0", "'true'", "TRUE", "on", "off", "t", "maybe", "None", "2",
                    "True.", "```\ntrue\n```"]),
    "list_int": (list[int], ["[1, 2, 3]", "[1, '2', 3.0]", "1, 2, 3", "[]", "[1, 2,]", "(1, 2)", "{1, 2}", "[1, [2]]", "[\"a\"]",
                             "```json\n[1, 2]\n```", "Here: [4, 5]", "[1, 2", "[1.5]", "None", "", "7"]),
    "list_list_str": (list[list[str]], ["[[\"a\", \"b\"], [\"c\"]]", "[['a'], []]", "[[]]", "[\"a\"]", "[[1, 2]]", "[]", "[[a, b], [c]]"]),
    "dict_str_list_int": (dict[str, list[int]], ["{\"a\": [1, 2], \"b\": []}", "{'a': [1]}", "{}", "{\"a\": 1}", "{a: [1, 2]}",
                                                 "{\"a\": [\"1\"]}", "[]", "{\"a\": [1, 2], }"]),
    "opt_str": (Optional[str], ["hello", "None", "null", "", "'quoted'", "42"]),
    "opt_int": (Optional[int], ["7", "None", "null", "", "none", "seven", "7.0", "N/A"]),
    "pep604_int": (int | None, ["8", "None", "", "null", "'8'"]),
    "opt_list": (Optional[list[str]], ["[\"a\"]", "None", "", "[]", "a"]),
    "union_int_str": (Union[int, str], ["5", "five", "5.0", "'5'", "\"5\"", "None", "", "[5]", "True"]),
    "tuple_int_str": (tuple[int, str], ["[1, \"a\"]", "(1, 'a')", "[1, \"a\", 2]", "[\"1\", \"a\"]", "[1]", "1, a", "[]"]),
    "any": (Any, ["{\"a\": 1}", "[1, 2]", "42", "hello", "None", "", "True", "'quoted'", "{'a': None}", "[1, 2"]),
    "lit_int": (Literal[1, 2, 3], ["2", "'2'", "\"2\"", "2.0", "4", "Literal[2]", "two", " 3 "]),
    "lit_bool": (Literal[True, False], ["True", "true", "False", "'True'", "yes", "1"]),
    "lit_mixed": (Literal["auto", 0, 1], ["auto", "'auto'", "AUTO", "0", "1", "2", "\"0\"", "Literal['auto']", "str['auto']"]),
    "lit_quotes": (Literal["it's", 'say "hi"', "both ' and \""], ["it's", "\"it's\"", "say \"hi\"", "'say \"hi\"'", "both ' and \"",
                                                                  "'it\\'s'", "It's"]),
    "lit_str": (Literal["positive", "negative"], ["positive", "Positive", "POSITIVE", " negative ", "'positive'", "positive.",
                                                   "Literal['negative']", "Literal[\"positive\"]", "str[positive]", "[\"positive\"]",
                                                   "\"negative\"", "neg"]),
    "enum_str": (Color, ["red", "RED", "Red", "'red'", "\"red\"", "Color.RED", "purple", " green ", "blue.", "[\"red\"]"]),
    "enum_int": (Priority, ["1", "2", "HIGH", "high", "'1'", "1.0", "4", "Priority.LOW", "LOW"]),
    "enum_strmix": (Mood, ["happy :)", "HAPPY", "sad :(", "'meh'", "meh", "Meh", "SAD"]),
    "list_enum": (list[Color], ["[\"red\", \"blue\"]", "['RED']", "[]", "[\"purple\"]", "red, blue"]),
    "model": (Citation, ["{\"source\": \"a\", \"page\": 1}", "{'source': 'a', 'page': '2'}", "{source: a, page: 3}",
                         "{\"source\": \"a\"}", "{\"source\": \"a\", \"page\": 1, \"extra\": true}", "{\"Source\": \"a\", \"Page\": 1}",
                         "```json\n{\"source\": \"a\", \"page\": 1}\n```", "{\"source\": 1, \"page\": 1}", "[]", "None", "{\"source\": \"a\", \"page\": 1.5}"]),
    "model_defaults": (Settings, ["{}", "{\"verbose\": true}", "{\"level\": \"3\", \"label\": null}", "{\"ratio\": 1}", "{\"verbose\": \"maybe\"}"]),
    "model_nested": (Person, ["{\"name\": \"A\", \"age\": 3, \"address\": {\"street\": \"s\", \"city\": \"c\"}}",
                              "{\"name\": \"A\", \"age\": 3, \"address\": {\"street\": \"s\"}}",
                              "{\"name\": \"A\", \"age\": 3, \"address\": {\"street\": \"s\", \"city\": \"c\", \"zip\": 123}, \"nicknames\": [\"x\"]}"]),
    "list_model": (list[Citation], ["[{\"source\": \"a\", \"page\": 1}]", "[]", "{\"source\": \"a\", \"page\": 1}", "[{\"source\": \"a\"}]"]),
    "opt_model": (Optional[Address], ["{\"street\": \"s\", \"city\": \"c\"}", "None", "", "null", "{\"street\": \"s\"}"]),
    "dict_model": (dict[str, Point], ["{\"o\": {\"x\": 0, \"y\": 1}}", "{}", "{\"o\": {\"x\": 0}}"]),
    "set_str": (set[str], ["[\"a\", \"b\", \"a\"]", "{'a', 'b'}", "[]", "a"]),
    "bare_list": (list, ["[1, \"a\", null]", "(1, 2)", "x"]),
    "bare_dict": (dict, ["{\"a\": [1]}", "{}", "[]"]),
    "var_tuple": (tuple[int, ...], ["[1, 2, 3]", "(4,)", "[]", "[\"x\"]"]),
    "tree": (TreeNode, ["{\"label\": \"r\", \"children\": [{\"label\": \"c\"}]}", "{\"label\": \"r\"}"]),
    "typed_dict": (Movie, ["{\"title\": \"T\", \"year\": 1999}", "{\"title\": \"T\", \"year\": \"1999\"}", "{\"title\": \"T\"}"]),
    "int_enum": (Level, ["10", "20", "INFO", "30"]),
    "str_enum": (Shade, ["light", "DARK", "Shade.LIGHT"]),
    "opt_lit": (Optional[Literal["a", "b"]], ["a", "None", "", "c", "'b'"]),
    "three_way": (Union[str, int, None], ["5", "None", "x", ""]),
    "float_or_int": (float | int, ["1", "1.5", "1e3", "x"]),
}


def json_value_forms(text: str) -> list[str]:
    """How a raw probe text appears as a JSON value: as itself (when it is JSON-ish) and as a string."""
    return [text, json.dumps(text)]


def probe_cases():
    """(name, adapter, signature, completion) for every probe value in every adapter."""
    for key, (annotation, texts) in PROBES.items():
        s = dspy.Signature({"q": (str, dspy.InputField()), "out": (annotation, dspy.OutputField())}, "Probe.")
        seen = set()
        for text in texts:
            forms = [
                ("chat", f"[[ ## out ## ]]\n{text}\n\n[[ ## completed ## ]]"),
                ("xml", f"<out>{text}</out>"),
                ("xml", f"<out>\n{text}\n</out>"),
            ]
            for value in json_value_forms(text):
                forms.append(("json", "{\"out\": " + value + "}"))
            for adapter, completion in forms:
                if (adapter, completion) in seen:
                    continue
                seen.add((adapter, completion))
                yield f"probe_{key}", adapter, s, completion


def xml_structure_cases():
    """Nested XML for lists, dicts and models, entities, CDATA, malformed XML."""
    S = lambda spec: dspy.Signature(spec, "XML.")  # noqa: E731
    list_sig = dspy.Signature({"q": (str, dspy.InputField()), "tags": (list[str], dspy.OutputField()), "n": (int, dspy.OutputField())}, "XML.")
    grid_sig = dspy.Signature({"q": (str, dspy.InputField()), "grid": (list[list[int]], dspy.OutputField())}, "XML.")
    dict_sig = dspy.Signature({"q": (str, dspy.InputField()), "meta": (dict[str, int], dspy.OutputField())}, "XML.")
    model_sig = dspy.Signature({"q": (str, dspy.InputField()), "verdict": (Verdict, dspy.OutputField())}, "XML.")
    person_sig = dspy.Signature({"q": (str, dspy.InputField()), "person": (Person, dspy.OutputField()), "home": (Optional[Address], dspy.OutputField())}, "XML.")
    str_sig = dspy.Signature({"q": (str, dspy.InputField()), "answer": (str, dspy.OutputField()), "n": (int, dspy.OutputField())}, "XML.")
    union_sig = dspy.Signature({"q": (str, dspy.InputField()), "v": (Union[int, list[int]], dspy.OutputField())}, "XML.")
    shape_sig = dspy.Signature({"q": (str, dspy.InputField()), "shape": (Shape, dspy.OutputField())}, "XML.")
    del S
    cases = [
        (list_sig, "<tags><item>a</item><item>b</item></tags><n>1</n>"),
        (list_sig, "<tags>\n  <item>a</item>\n  <item> b </item>\n</tags>\n<n>2</n>"),
        (list_sig, "<tags></tags><n>0</n>"),
        (list_sig, "<tags /><n>0</n>"),
        (list_sig, "<tags>[\"x\", \"y\"]</tags><n>1</n>"),
        (list_sig, "<tags>x, y</tags><n>1</n>"),
        (list_sig, "<tags><item>a</item></tags><tags><item>b</item></tags><n>1</n>"),
        (list_sig, "<tags><tag>a</tag><tag>b</tag></tags><n>1</n>"),
        (list_sig, "<tags><item>a &amp; b</item><item>&lt;c&gt;</item><item>&#65;&#x42;</item></tags><n>3</n>"),
        (list_sig, "<tags><item><![CDATA[<raw> & stuff]]></item></tags><n>1</n>"),
        (list_sig, "<tags><item>a</item></tags>"),
        (list_sig, "<n>1</n>"),
        (list_sig, "<tags><item>a</item></tags><n>one</n>"),
        (list_sig, "<tags><item>a</item><n>1</n>"),
        (list_sig, "<tags><item>a & b</item></tags><n>1</n>"),
        (list_sig, "Here you go:\n<tags><item>a</item></tags>\n<n>5</n>\nThanks!"),
        (list_sig, "<tags><item>a</item></tags><n>1</n><extra>x</extra>"),
        (list_sig, "<?xml version=\"1.0\"?><tags><item>a</item></tags><n>1</n>"),
        (list_sig, "<!-- comment --><tags><item>a</item></tags><n>1</n>"),
        (list_sig, "<tags><item>a</item></tags><n>1</n><n>2</n>"),
        (list_sig, "<tags><item /></tags><n>1</n>"),
        (list_sig, "<tags><item><b>bold</b></item></tags><n>1</n>"),
        (list_sig, "<tags key=\"x\"><item>a</item></tags><n>1</n>"),
        (list_sig, "<TAGS><item>a</item></TAGS><n>1</n>"),
        (grid_sig, "<grid><item><item>1</item><item>2</item></item><item><item>3</item></item></grid>"),
        (grid_sig, "<grid><item>[1, 2]</item><item>[3]</item></grid>"),
        (grid_sig, "<grid>[[1, 2], [3]]</grid>"),
        (grid_sig, "<grid><item /></grid>"),
        (dict_sig, "<meta><a>1</a><b>2</b></meta>"),
        (dict_sig, "<meta><entry key=\"a b\">1</entry><entry key=\"c-d\">2</entry></meta>"),
        (dict_sig, "<meta>{\"a\": 1}</meta>"),
        (dict_sig, "<meta></meta>"),
        (dict_sig, "<meta><a>x</a></meta>"),
        (dict_sig, "<meta><a>1</a><a>2</a></meta>"),
        (dict_sig, "<meta><entry key='q&amp;a'>1</entry></meta>"),
        (model_sig, "<verdict><label>supported</label><confidence>0.9</confidence><citations><item><source>p1</source><page>3</page></item></citations></verdict>"),
        (model_sig, "<verdict><label>refuted</label><confidence>1</confidence><citations /></verdict>"),
        (model_sig, "<verdict><label>refuted</label><confidence>1</confidence><citations></citations></verdict>"),
        (model_sig, "<verdict>{\"label\": \"unknown\", \"confidence\": 0.1, \"citations\": []}</verdict>"),
        (model_sig, "<verdict><label>maybe</label><confidence>1</confidence><citations /></verdict>"),
        (model_sig, "<verdict><label>supported</label><confidence>0.5</confidence><citations><item><source>a</source><page>1</page></item><item><source>b</source><page>2</page></item></citations></verdict>"),
        (model_sig, "<verdict><label>supported</label><confidence>0.5</confidence><citations><citation><source>a</source><page>1</page></citation></citations></verdict>"),
        (model_sig, "<verdict><label>supported</label><citations /></verdict>"),
        (person_sig, "<person><name>A</name><age>3</age><address><street>s</street><city>c</city></address></person><home></home>"),
        (person_sig, "<person><name>A</name><age>3</age><address><street>s</street><city>c</city><zip /></address><nicknames><item>x</item></nicknames></person><home><street>s</street><city>c</city></home>"),
        (person_sig, "<person><name>A</name><age>3</age><address><street>s</street><city>c</city></address></person>"),
        (person_sig, "<person><name>A</name><age>3</age><address><street>s</street><city>c</city></address></person><home>None</home>"),
        (person_sig, "<person><name>A</name><age>3</age><address><street>s</street><city>c</city></address><nicknames /></person><home />"),
        (str_sig, "<answer>a &amp; b &lt; c</answer><n>1</n>"),
        (str_sig, "<answer>text with <b>bold</b> inside</answer><n>1</n>"),
        (str_sig, "<answer>  spaced  </answer><n> 2 </n>"),
        (str_sig, "<answer></answer><n>1</n>"),
        (str_sig, "<answer>a</answer><answer>b</answer><n>1</n>"),
        (str_sig, "<answer>unclosed<n>1</n>"),
        (str_sig, "<answer>x</answer><n>1</n></extra>"),
        (str_sig, "<answer>&unknown;</answer><n>1</n>"),
        (str_sig, "<answer>caf\u00e9 東京 🎉</answer><n>1</n>"),
        (str_sig, "<answer>\n  line1\n  line2\n</answer>\n<n>\n3\n</n>"),
        (str_sig, "```xml\n<answer>a</answer><n>1</n>\n```"),
        (str_sig, "<answer>a</answer><n>1</n><answer>b</answer>"),
        (str_sig, "<answer><![CDATA[x < y]]></answer><n>1</n>"),
        (str_sig, "<answer>tail<b>bold</b>after</answer><n>1</n>"),
        (union_sig, "<v>3</v>"),
        (union_sig, "<v><item>1</item><item>2</item></v>"),
        (union_sig, "<v>[1, 2]</v>"),
        (union_sig, "<v></v>"),
        (shape_sig, "<shape><kind>circle</kind><points><item><x>0</x><y>1.5</y></item></points><color>green</color><meta><entry key=\"a b\">1</entry></meta></shape>"),
        (shape_sig, "<shape><kind>circle</kind><points /><color>RED</color></shape>"),
        (shape_sig, "<shape><kind>Circle</kind><points /><color>red</color></shape>"),
    ]
    for s, completion in cases:
        yield "xmlnest", "xml", s, completion


def structural_cases(sigs):
    """Hand-written completions on the bigger signatures for every adapter."""
    sc = sigs["scalars"][0]
    ct = sigs["containers"][0]
    op = sigs["optionals"][0]
    un = sigs["unions"][0]
    li = sigs["literals"][0]
    en = sigs["enums"][0]
    mo = sigs["models"][0]
    nm = sigs["naming"][0]
    chat = [
        (sc, "[[ ## text ## ]]\nhi\n\n[[ ## count ## ]]\n3\n\n[[ ## score ## ]]\n2.5\n\n[[ ## flag ## ]]\nTrue\n\n[[ ## completed ## ]]"),
        (sc, "[[ ## text ## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5"),
        (sc, "[[ ## text ## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue\n[[ ## count ## ]]\n4"),
        (sc, "[[ ## TEXT ## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue"),
        (sc, "  [[ ## text ## ]]   hi there  \n[[ ## count ## ]]3\n[[ ## score ## ]]\n\n2.5\n\n[[ ## flag ## ]]\n  true  "),
        (sc, "[[ ## text ## ]]\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue"),
        (sc, "[[ ## text ## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue\n[[ ## extra ## ]]\nignored"),
        (sc, "[[ ## text ## ]]\nhi\r\n[[ ## count ## ]]\r\n3\r\n[[ ## score ## ]]\r\n2.5\r\n[[ ## flag ## ]]\r\nTrue\r\n"),
        (sc, "[[ ##text## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue"),
        (sc, "[[ ## text ## ]]\nhi [[ ## count ## ]] 3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue"),
        (sc, "[[ ## text ## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue\n\n[[ ## completed ## ]]\ntrailing prose"),
        (sc, "[[ ## text ## ]]\nhi\n[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue\u2028[[ ## count ## ]]\n9"),
        (sc, "[[ ## text ## ]]\nhi\x0b[[ ## count ## ]]\n3\n[[ ## score ## ]]\n2.5\n[[ ## flag ## ]]\nTrue"),
        (ct, "[[ ## numbers ## ]]\n[1, 2]\n[[ ## grid ## ]]\n[[\"a\"], []]\n[[ ## buckets ## ]]\n{\"a\": [1]}\n[[ ## weights ## ]]\n[0.5, 1]"),
        (ct, "[[ ## numbers ## ]]\n```json\n[1, 2]\n```\n[[ ## grid ## ]]\n[['a']]\n[[ ## buckets ## ]]\n{'a': [1,],}\n[[ ## weights ## ]]\n[]"),
        (ct, "[[ ## numbers ## ]]\n1, 2\n[[ ## grid ## ]]\n[]\n[[ ## buckets ## ]]\n{}\n[[ ## weights ## ]]\n[]"),
        (op, "[[ ## maybe_text ## ]]\nNone\n[[ ## maybe_int ## ]]\nNone\n[[ ## pep604 ## ]]\nnull\n[[ ## maybe_list ## ]]\nNone"),
        (op, "[[ ## maybe_text ## ]]\nx"),
        (op, ""),
        (op, "nothing here"),
        (un, "[[ ## ident ## ]]\n12\n[[ ## pair ## ]]\n[1, \"x\"]\n[[ ## anything ## ]]\n{\"k\": 1}\n[[ ## num_or_list ## ]]\n[1, 2]"),
        (un, "[[ ## ident ## ]]\nabc\n[[ ## pair ## ]]\n(2, 'y')\n[[ ## anything ## ]]\nplain text\n[[ ## num_or_list ## ]]\n2.5"),
        (li, "[[ ## level ## ]]\n2\n[[ ## yes_no ## ]]\nFalse\n[[ ## mode ## ]]\nauto\n[[ ## phrase ## ]]\nsay \"hi\"\n[[ ## only ## ]]\nonly"),
        (li, "[[ ## level ## ]]\n'3'\n[[ ## yes_no ## ]]\ntrue\n[[ ## mode ## ]]\n1\n[[ ## phrase ## ]]\n\"it's\"\n[[ ## only ## ]]\n'only'"),
        (en, "[[ ## color ## ]]\nGREEN\n[[ ## priority ## ]]\n2\n[[ ## mood ## ]]\nmeh\n[[ ## colors ## ]]\n[\"red\"]"),
        (en, "[[ ## color ## ]]\ngreen\n[[ ## priority ## ]]\nMEDIUM\n[[ ## mood ## ]]\nSAD\n[[ ## colors ## ]]\n[]"),
        (mo, "[[ ## person ## ]]\n{\"name\": \"A\", \"age\": 1, \"address\": {\"street\": \"s\", \"city\": \"c\"}}\n[[ ## settings ## ]]\n{}\n[[ ## citations ## ]]\n[]\n[[ ## home ## ]]\nNone"),
        (mo, "[[ ## person ## ]]\n{\"name\": \"A\", \"age\": 1, \"address\": {\"street\": \"s\", \"city\": \"c\"}}\n[[ ## settings ## ]]\n{\"level\": 2}\n[[ ## citations ## ]]\n[{\"source\": \"x\", \"page\": 1}]"),
        (nm, "[[ ## HTTPStatus ## ]]\n404\n[[ ## answer_2 ## ]]\nnot found\n[[ ## camelCaseFlag ## ]]\nFalse"),
        (nm, "[[ ## httpstatus ## ]]\n404\n[[ ## answer_2 ## ]]\nnot found\n[[ ## camelCaseFlag ## ]]\nFalse"),
    ]
    js = [
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": true,}"),
        (sc, "{'text': 'hi', 'count': '3', 'score': '2.5', 'flag': 'True'}"),
        (sc, "{text: hi, count: 3, score: 2.5, flag: True}"),
        (sc, "```json\n{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": false}\n```"),
        (sc, "```\n{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": false}\n```"),
        (sc, "Sure! {\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": false} Done."),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5}"),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": tr"),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": true, \"count\": 4}"),
        (sc, "{\"text\": 5, \"count\": 3.0, \"score\": 2, \"flag\": 1}"),
        (sc, "{\"text\": null, \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "{\"text\": [\"a\", \"b\"], \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "{\"text\": {\"a\": 1}, \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "{\"Text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "[{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": true}]"),
        (sc, "{\"text\": \"a \\\"q\\\" \\\\ \\n \\u00e9\", \"count\": -3, \"score\": -0.0, \"flag\": false}"),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 1e400, \"flag\": true}"),
        (sc, "{\"text\": \"hi\" \"count\": 3 \"score\": 2.5 \"flag\": true}"),
        (sc, "{\"text\": \"hi\", // comment\n \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "prefix {\"wrapper\": {\"text\": \"hi\"}} {\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": true}"),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": True}"),
        (sc, "{\"text\": \"hi\", \"count\": 3, \"score\": 2.5, \"flag\": None}"),
        (sc, "{}"),
        (sc, ""),
        (sc, "[1, 2]"),
        (sc, "\"just a string\""),
        (ct, "{\"numbers\": [1, 2], \"grid\": [[\"a\"]], \"buckets\": {\"a\": [1]}, \"weights\": [0.5]}"),
        (ct, "{\"numbers\": \"[1, 2]\", \"grid\": \"[['a']]\", \"buckets\": \"{'a': [1]}\", \"weights\": \"[0.5]\"}"),
        (ct, "{\"numbers\": [1, 2], \"grid\": [[\"a\"]], \"buckets\": {\"a\": [1]}, \"weights\": [0.5"),
        (ct, "{\"numbers\": [\"1\", 2.0], \"grid\": [[1]], \"buckets\": {\"a\": []}, \"weights\": [1]}"),
        (op, "{\"maybe_text\": null, \"maybe_int\": null, \"pep604\": null, \"maybe_list\": null}"),
        (op, "{\"maybe_text\": \"None\", \"maybe_int\": \"None\", \"pep604\": \"null\", \"maybe_list\": \"None\"}"),
        (op, "{}"),
        (op, "{\"maybe_int\": \"\", \"maybe_list\": \"\"}"),
        (un, "{\"ident\": 5, \"pair\": [1, \"a\"], \"anything\": null, \"num_or_list\": [1]}"),
        (un, "{\"ident\": \"5\", \"pair\": [\"1\", \"a\"], \"anything\": [1, {\"a\": 2}], \"num_or_list\": \"2\"}"),
        (un, "{\"ident\": 5.5, \"pair\": [1, 2], \"anything\": true, \"num_or_list\": 3}"),
        (li, "{\"level\": 1, \"yes_no\": true, \"mode\": 0, \"phrase\": \"it's\", \"only\": \"only\"}"),
        (li, "{\"level\": \"1\", \"yes_no\": \"True\", \"mode\": \"0\", \"phrase\": \"'it\\\\'s'\", \"only\": \"Only\"}"),
        (li, "{\"level\": 1.0, \"yes_no\": 1, \"mode\": false, \"phrase\": \"say \\\"hi\\\"\", \"only\": \"only\"}"),
        (en, "{\"color\": \"red\", \"priority\": 1, \"mood\": \"happy :)\", \"colors\": [\"red\", \"blue\"]}"),
        (en, "{\"color\": \"RED\", \"priority\": \"1\", \"mood\": \"HAPPY\", \"colors\": [\"RED\"]}"),
        (en, "{\"color\": \"red\", \"priority\": \"HIGH\", \"mood\": \"meh\", \"colors\": \"red\"}"),
        (mo, "{\"person\": {\"name\": \"A\", \"age\": 1, \"address\": {\"street\": \"s\", \"city\": \"c\"}}, \"settings\": {}, \"citations\": [], \"home\": null}"),
        (mo, "{\"person\": \"{\\\"name\\\": \\\"A\\\", \\\"age\\\": 1, \\\"address\\\": {\\\"street\\\": \\\"s\\\", \\\"city\\\": \\\"c\\\"}}\", \"settings\": \"{}\", \"citations\": \"[]\"}"),
        (mo, "{\"person\": {\"name\": \"A\", \"age\": \"1\", \"address\": {\"street\": \"s\", \"city\": \"c\", \"zip\": 5}}, \"settings\": {\"verbose\": \"yes\"}, \"citations\": [{\"source\": \"x\", \"page\": \"2\"}], \"home\": {\"street\": \"s\", \"city\": \"c\"}}"),
        (nm, "{\"HTTPStatus\": 200, \"answer_2\": \"ok\", \"camelCaseFlag\": true}"),
        (nm, "{\"httpstatus\": 200, \"answer_2\": \"ok\", \"camelCaseFlag\": true}"),
    ]
    xml = [
        (sc, "<text>hi</text><count>3</count><score>2.5</score><flag>True</flag>"),
        (sc, "<text>hi</text>\n<count>3</count>\n<score>2.5</score>"),
        (sc, "<text>hi</text><count>three</count><score>2.5</score><flag>True</flag>"),
        (sc, "<text>a & b</text><count>3</count><score>2.5</score><flag>True</flag>"),
        (sc, "<text>a &amp; b</text><count>3</count><score>2.5</score><flag>true</flag>"),
        (sc, "<text>hi</text><count>3</count><score>2.5</score><flag>True</flag><text>dup</text>"),
        (sc, "<Text>hi</Text><count>3</count><score>2.5</score><flag>True</flag>"),
        (sc, "<text>hi</text><count>3</count><score>2.5</score><flag>True</flag>"),
        (sc, "<text/><count>3</count><score>2.5</score><flag>True</flag>"),
        (sc, "<text>hi</text><count/><score>2.5</score><flag>True</flag>"),
        (ct, "<numbers><item>1</item><item>2</item></numbers><grid><item><item>a</item></item></grid><buckets><a><item>1</item></a><b /></buckets><weights><item>0.5</item></weights>"),
        (ct, "<numbers>[1, 2]</numbers><grid>[[\"a\"]]</grid><buckets>{\"a\": [1]}</buckets><weights>[]</weights>"),
        (ct, "<numbers /><grid /><buckets /><weights />"),
        (ct, "<numbers><item>1</item></numbers><grid><item /></grid><buckets><a>1</a></buckets><weights><item>x</item></weights>"),
        (op, "<maybe_text>None</maybe_text><maybe_int>None</maybe_int><pep604></pep604><maybe_list></maybe_list>"),
        (op, "<maybe_text></maybe_text><maybe_int /><pep604>3</pep604><maybe_list><item>a</item></maybe_list>"),
        (op, ""),
        (un, "<ident>5</ident><pair><item>1</item><item>a</item></pair><anything>x</anything><num_or_list>2.5</num_or_list>"),
        (un, "<ident>abc</ident><pair>[1, \"a\"]</pair><anything><a>1</a></anything><num_or_list><item>1</item></num_or_list>"),
        (li, "<level>2</level><yes_no>False</yes_no><mode>auto</mode><phrase>it's</phrase><only>only</only>"),
        (li, "<level>'2'</level><yes_no>true</yes_no><mode>1</mode><phrase>say \"hi\"</phrase><only>'only'</only>"),
        (en, "<color>red</color><priority>1</priority><mood>happy :)</mood><colors><item>red</item><item>BLUE</item></colors>"),
        (en, "<color>RED</color><priority>HIGH</priority><mood>SAD</mood><colors /></colors>"),
        (mo, "<person><name>A</name><age>1</age><address><street>s</street><city>c</city></address></person><settings /><citations /><home />"),
        (mo, "<person><name>A</name><age>1</age><address><street>s</street><city>c</city></address></person><settings><level>2</level></settings><citations><item><source>x</source><page>1</page></item></citations>"),
        (nm, "<HTTPStatus>200</HTTPStatus><answer_2>ok</answer_2><camelCaseFlag>True</camelCaseFlag>"),
    ]
    for adapter, cases in (("chat", chat), ("json", js), ("xml", xml)):
        for s, completion in cases:
            name = next(n for n, v in sigs.items() if v[0] is s)
            yield name, adapter, s, completion


def roundtrip_cases(sigs):
    """Each adapter parsing what it renders for the demos' outputs (the happy path)."""
    for name, (s, demo_sets, _) in sigs.items():
        for demos in demo_sets:
            for demo in demos:
                if not all(k in demo and demo[k] is not None for k in s.output_fields):
                    continue
                for adapter, a in ADAPTERS.items():
                    yield name, adapter, s, a.format_assistant_message_content(s, demo)


# --------------------------------------------------------------------------------------------
# Randomized cases: random signatures and values for format; the adapters' own renderings of
# random values, mutated, for parse. Seeded, so the output is reproducible.
# --------------------------------------------------------------------------------------------

TEXTS = [
    "plain", "", " padded ", "multi\nline\n", "tab\there", "quote \" and ' both", "back\\slash", "«guillemets»",
    "[[ ## fake ## ]]", "<tag> & </tag>", "naïve café 東京 🎉", "\u2028sep", "ctrl\x01\x1f", "None", "True", "42", "[1, 2]",
    "{\"a\": 1}", "trailing space ", "\r\nwindows",
]
FLOATS = [0.0, 2.0, 0.1, 1e16, 1e-05, -3.5, 123456.789, 1.5e300, 1e15, 0.30000000000000004, -0.0]


def random_value(annotation, rng, depth=0):
    """A valid value of the annotation, as JSON."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is str:
        return rng.choice(TEXTS)
    if annotation is bool:
        return rng.random() < 0.5
    if annotation is int:
        return rng.choice([0, 1, -7, 42, 10**12, 2**63 - 1])
    if annotation is float:
        return rng.choice(FLOATS)
    if annotation is Any:
        return random_value(rng.choice([str, int, float, list[int], dict[str, str], Optional[str]]), rng, depth + 1)
    if origin is Literal:
        return rng.choice(args)
    if origin in (Union, types.UnionType):
        return random_value(rng.choice(args), rng, depth + 1)
    if annotation is type(None):
        return None
    if origin is list:
        return [random_value(args[0], rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 3]) if depth < 3 else 0)]
    if origin is tuple:
        return [random_value(a, rng, depth + 1) for a in args]
    if origin is dict:
        keys = rng.sample(["a", "b", "key two", "k-3", "1x", "ünï", "x.y"], rng.choice([0, 1, 2, 3]))
        return {k: random_value(args[1], rng, depth + 1) for k in keys}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return rng.choice(list(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        out = {}
        for name, info in annotation.model_fields.items():
            if not info.is_required() and rng.random() < 0.3:
                continue
            out[name] = random_value(info.annotation, rng, depth + 1)
        return out
    raise TypeError(annotation)


OUTPUT_TYPES = [
    str, str, int, float, bool, list[int], list[str], list[list[str]], dict[str, int], dict[str, list[int]],
    Optional[str], Optional[int], int | None, Optional[list[str]], Union[int, str], tuple[int, str], Any,
    Literal["positive", "negative", "neutral"], Literal[1, 2, 3], Literal[True, False], Literal["auto", 0],
    Literal["it's", 'say "hi"'], Color, Priority, Mood, Shade, Citation, Address, Person, Settings, Verdict,
    list[Citation], Optional[Address], Event, dict[str, Point], list[Color], Described,
]
INPUT_TYPES = [str, str, str, int, float, bool, list[str], list[int], dict[str, Any], Optional[str], Address, Any]
NAMES = ["question", "context", "answer", "reasoning", "userName", "item2", "HTTPStatus", "x", "output_3", "résumé", "tags", "data"]
DESCS = ["", "", "", "a short description", "multi\nline\ndescription", "with «quotes» & <angles>", "trailing space "]
INSTRUCTIONS = [
    None, "Do the task.", "Line one.\n    Indented.\n\nAfter a blank line.  ", "Unicode ✓ — 東京\n\tTabbed.",
    "  Leading spaces and trailing newline\n", "Mixed\r\nline\rendings\u2028here",
]


def random_signature(rng):
    names = rng.sample(NAMES, rng.randint(2, 5))
    n_in = rng.randint(1, len(names) - 1)
    fields = {}
    for i, name in enumerate(names):
        desc = rng.choice(DESCS)
        kw = {"desc": desc} if desc else {}
        if i < n_in:
            fields[name] = (rng.choice(INPUT_TYPES), dspy.InputField(**kw))
        else:
            fields[name] = (rng.choice(OUTPUT_TYPES), dspy.OutputField(**kw))
    return dspy.Signature(fields, rng.choice(INSTRUCTIONS))


def random_example(s, rng, keep=1.0):
    out = {}
    for name, info in s.fields.items():
        if rng.random() < keep:
            out[name] = None if rng.random() < 0.05 else random_value(info.annotation, rng)
    return out


def fuzz_format_cases(n, rng):
    for k in range(n):
        s = random_signature(rng)
        demos = [random_example(s, rng, keep=rng.choice([1.0, 1.0, 0.7, 0.4])) for _ in range(rng.choice([0, 0, 1, 2, 3]))]
        inputs = {k2: v for k2, v in random_example(s, rng, keep=0.9).items() if k2 in s.input_fields}
        yield f"fz{k}", s, demos, inputs


def mutate_completion(text, rng):
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
        pos = rng.randint(0, len(chars))
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, rng.choice(list("{}[]()\"',:\\ \n#`<>/&")))
        elif op == 2:
            chars = chars[: max(pos, len(chars) * 2 // 3)]
        elif op == 3 and chars:
            i = min(pos, len(chars) - 1)
            chars[i] = {"\"": "'", "'": "\"", "{": "[", "}": "]"}.get(chars[i], chars[i].swapcase())
        elif op == 4:
            chars = list(rng.choice(["```json\n", "```\n", "Sure! Here you go:\n", "<response>"])) + chars + list(
                rng.choice(["\n```", "", "\nHope this helps.", "</response>"]))
        elif op == 5:
            text2 = "".join(chars)
            chars = list(text2.replace("true", "True").replace("null", "None").replace("\"", "'"))
        elif op == 6:
            chars.insert(pos, rng.choice(["True", "None", "1e3", "\\n", ", ", "\n\n", "[[ ## completed ## ]]", "&amp;", "<item>", "</item>"]))
        elif op == 7:
            text2 = "".join(chars)
            chars = list(text2.upper() if rng.random() < 0.2 else text2.lower())
        # op 8: unchanged
    return "".join(chars)


def fuzz_parse_cases(n, rng):
    for _ in range(n):
        s = random_signature(rng)
        outputs = {name: random_value(info.annotation, rng) for name, info in s.output_fields.items()}
        adapter = rng.choice(list(ADAPTERS))
        text = ADAPTERS[adapter].format_assistant_message_content(s, outputs)
        if rng.random() < 0.8:
            text = mutate_completion(text, rng)
        yield "fz", adapter, s, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--replica", action="store_true", help="only the shared set's cases, under its ids")
    parser.add_argument("--fuzz-format", type=int, default=300, help="random format cases")
    parser.add_argument("--fuzz-parse", type=int, default=1500, help="random (mutated) parse cases")
    parser.add_argument("--seed", type=int, default=20251126)
    args = parser.parse_args()
    w = Writer(args.out_dir)

    replica = replica_signatures()
    groups = [replica] if args.replica else [replica, more_signatures()]
    for sigs in groups:
        for name, (s, demo_sets, input_sets) in sigs.items():
            prefix = "" if sigs is replica else ""
            for adapter in ADAPTERS:
                for di, demos in enumerate(demo_sets):
                    for ii, inputs in enumerate(input_sets):
                        w.format_case(adapter, prefix + name, s, di, demos, ii, inputs)
    for case_id, adapter, s, completion in replica_parse_cases(replica):
        w.parse_case(case_id, adapter, s, completion)

    if not args.replica:
        more = more_signatures()
        counters: dict[tuple[str, str], int] = {}
        rng = random.Random(args.seed)
        for name, s, demos, inputs in fuzz_format_cases(args.fuzz_format, rng):
            for adapter in ADAPTERS:
                w.format_case(adapter, name, s, 0, demos, 0, inputs)
        generators = [probe_cases(), xml_structure_cases(), structural_cases(more), roundtrip_cases({**replica, **more}),
                      fuzz_parse_cases(args.fuzz_parse, rng)]
        for gen in generators:
            for name, adapter, s, completion in gen:
                i = counters.get((adapter, name), 0)
                counters[(adapter, name)] = i + 1
                w.parse_case(f"parse-{adapter}-x{name}-{i}", adapter, s, completion)

    print(f"wrote {w.count['format']} format and {w.count['parse']} parse vectors to {args.out_dir}"
          f" ({w.skipped} cases skipped: reference crashed or non-finite outputs)", file=sys.stderr)


if __name__ == "__main__":
    main()
