"""Issue 22 (dedup part): nothing lost, round 2. Rows that differ in their media, in the tools
they offer, in the task after a shared preamble, in the numbers or question of a templated
problem, or in the layout and marks of their code are not duplicates; true duplicates of each
kind still are.

Every test goes through the real CLI (``curator dedup``) on small files it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.cli import cli
from curator.dedup import Deduplicator, split_preambles


def write_jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), "utf-8")
    return path


def dedup(tmp_path: Path, recs: list[dict], *opts: str, name: str = "in") -> list[int | None]:
    """``curator dedup`` on the records: per input row, the row it duplicates (None if kept)."""
    src = write_jsonl(tmp_path / f"{name}.jsonl", recs)
    out = tmp_path / f"{name}.out.jsonl"
    res = CliRunner().invoke(cli, ["--quiet", "dedup", str(src), "-o", str(out), *opts])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines() if x.strip()]
    dropped = out.with_name(out.name.replace(".jsonl", ".dropped.jsonl"))
    if dropped.exists():
        rows += [json.loads(x) for x in dropped.read_text("utf-8").splitlines() if x.strip()]
    assert len(rows) == len(recs)
    got: list[int | None] = [None] * len(recs)
    for r in rows:
        cur = r["curator"]
        got[cur["row_id"]] = cur.get("duplicate_of")
        # the user's record comes back as it was
        assert {k: v for k, v in r.items() if k != "curator"} == recs[cur["row_id"]]
    return got


FAST = ("--no-semantic",)


# -- item 2: media are part of a row's key ---------------------------------------------------------
def llava(image: str | None, question: str = "<image>\nWhat is shown in this image?",
          answer: str = "A photo.") -> dict:
    rec: dict = {"id": f"l-{image}-{len(question)}", "conversations": [
        {"from": "human", "value": question}, {"from": "gpt", "value": answer}]}
    if image is not None:
        rec["image"] = image
    return rec


def openai_image(url: str, text: str = "What is in this picture?") -> dict:
    return {"messages": [
        {"role": "user", "content": [{"type": "text", "text": text},
                                     {"type": "image_url", "image_url": {"url": url}}]},
        {"role": "assistant", "content": "Something."}]}


def test_llava_rows_with_other_images_are_not_duplicates(tmp_path):
    recs = [llava(f"coco/train2017/{k:012d}.jpg") for k in range(5)]
    recs.append(llava("coco/train2017/000000000002.jpg"))        # the same image and text again
    assert dedup(tmp_path, recs) == [None] * 5 + [2]


def test_openai_image_parts_and_inline_images(tmp_path):
    recs = [openai_image(f"https://example.org/photos/{k}.png") for k in range(4)]
    recs += [openai_image("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAE"),
             openai_image("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAI"),
             openai_image("https://example.org/photos/1.png")]     # a copy of row 1
    assert dedup(tmp_path, recs) == [None] * 6 + [1]


@pytest.mark.parametrize("field, values", [
    ("images", [["a.jpg"], ["b.jpg"], ["a.jpg", "b.jpg"]]),      # LLaMA-Factory lists
    ("audio", ["clips/1.wav", "clips/2.wav", "clips/3.flac"]),
    ("videos", [["v/1.mp4"], ["v/2.mp4"], ["v/3.mp4"]]),
    ("picture", ["cats/1.jpeg", "cats/2.jpeg", "https://x.org/3.webp"]),  # a field of any name
])
def test_media_fields_of_any_kind(tmp_path, field, values):
    recs = [{"instruction": "Describe the content in one sentence.", "output": "It shows a scene.",
             field: v} for v in values]
    recs.append(dict(recs[0]))
    assert dedup(tmp_path, recs, *FAST) == [None, None, None, 0]


def test_parquet_images_embedded_as_bytes(tmp_path):
    # a Hugging Face `Image` column: {"bytes": ..., "path": None}; the bytes tell the rows apart
    import polars as pl

    images = [b"\x89PNG-1", b"\x89PNG-2", b"\x89PNG-3", b"\x89PNG-1"]
    src = tmp_path / "img.parquet"
    pl.DataFrame({"question": ["What is shown in this image?"] * 4, "answer": ["A thing."] * 4,
                  "image": [{"bytes": b, "path": None} for b in images]}).write_parquet(src)
    out = tmp_path / "img.out.jsonl"
    res = CliRunner().invoke(cli, ["--quiet", "dedup", str(src), "-o", str(out), *FAST])
    assert res.exit_code == 0, res.output
    dropped = out.with_name("img.out.dropped.jsonl")
    rows = [json.loads(x)["curator"] for f in (out, dropped) for x in f.read_text("utf-8").splitlines()]
    assert sorted((r["row_id"], r.get("duplicate_of")) for r in rows) == [(0, None), (1, None), (2, None), (3, 0)]


def test_audio_parts(tmp_path):
    def rec(data: str) -> dict:
        return {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Transcribe this recording."},
            {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}]},
            {"role": "assistant", "content": "Hello there."}]}
    assert dedup(tmp_path, [rec("UklGRiQAAABXQVZF"), rec("UklGRiQAAABXQVZG"), rec("UklGRiQAAABXQVZF")],
                 *FAST) == [None, None, 0]


def test_edited_copies_with_other_images_are_not_near_or_semantic_duplicates(tmp_path):
    q = "<image>\nDescribe what the people in this image are doing, in two or three sentences."
    recs = [llava("a.jpg", q), llava("b.jpg", q.replace("people", "persons")),
            llava("c.jpg", q + " Be brief."),
            llava("a.jpg", q.replace("two or three", "two or 3").replace("doing", "doing here"))]
    # semantic on: the same words with other pictures embed alike, and must still stay apart
    got = dedup(tmp_path, recs)
    assert got[:3] == [None, None, None]
    assert got[3] == 0  # the same picture, an edited question: still a near duplicate


def test_rows_without_media_dedup_as_before(tmp_path):
    recs = [llava(None), llava(None), llava("x.jpg")]
    assert dedup(tmp_path, recs, *FAST) == [None, 0, None]


# -- item 11: the tools offered are part of a row's key --------------------------------------------
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}
SEARCH = {"type": "function", "function": {"name": "web_search", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}}}}}


def tool_chat(tools: object, key: str = "tools", request: str = "What is the weather in Lima?") -> dict:
    rec = {"messages": [{"role": "user", "content": request},
                        {"role": "assistant", "content": "Let me check that for you."}]}
    if tools is not None:
        rec[key] = tools
    return rec


def test_the_same_request_with_other_tools_is_another_row(tmp_path):
    recs = [tool_chat([WEATHER]), tool_chat([SEARCH]), tool_chat([WEATHER, SEARCH]), tool_chat(None),
            tool_chat([WEATHER])]                                   # a true copy of row 0
    assert dedup(tmp_path, recs) == [None, None, None, None, 0]


def test_glaive_tools_as_text_and_legacy_functions(tmp_path):
    schema = [{"name": "get_weather", "parameters": {"city": "string"}}]
    recs = [tool_chat(json.dumps(schema)),              # Glaive / LLaMA-Factory: a JSON string
            tool_chat(schema),                          # the same schema as a list: same row
            tool_chat(json.dumps([{"name": "get_time"}])),
            tool_chat(schema, key="functions"),         # OpenAI's legacy name
            tool_chat([{"name": "get_time"}], key="functions")]
    got = dedup(tmp_path, recs, *FAST)
    assert got[:3] == [None, 0, None]
    assert got[3] in (None, 0) and got[4] is None


def test_near_copies_with_other_tools_are_kept(tmp_path):
    req = "What is the weather going to be like in Lima, Peru over the coming weekend?"
    recs = [tool_chat([WEATHER], request=req), tool_chat([SEARCH], request=req.replace("going to be", "gonna be")),
            tool_chat([WEATHER], request=req.replace("going to be", "gonna be"))]
    assert dedup(tmp_path, recs, *FAST) == [None, None, 0]


# -- item 3b: a preamble shared by many rows does not decide a merge -------------------------------
SUPPORT = (
    "You are Ava, the customer support assistant for Northwind Outfitters, an online "
    "store selling outdoor clothing, tents and hiking gear. Always greet the customer by name if "
    "they give it, answer politely and concisely, and never promise refunds, discounts or delivery "
    "dates you cannot verify in the order system. If a question is about an order, ask for the "
    "order number first. If you do not know the answer, say so and offer to connect the customer "
    "with a human agent.")


def support_chat(user: str, answer: str = "Happy to help with that.", system: str = SUPPORT) -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


SUPPORT_QUESTIONS = [
    "Hi, my tent arrived with a broken pole. What can I do?",
    "Do you ship to Canada?",
    "How do I wash a down jacket without ruining it?",
    "Can I change the delivery address of my order 5512?",
    "Which hiking boots would you recommend for wide feet?",
]


def test_unrelated_chats_under_one_long_system_prompt_are_kept(tmp_path):
    assert len(SUPPORT.split()) == 81
    recs = [support_chat(q) for q in SUPPORT_QUESTIONS]
    assert dedup(tmp_path, recs) == [None] * 5


def test_true_duplicates_under_a_shared_preamble_are_still_merged(tmp_path):
    recs = [support_chat(q) for q in SUPPORT_QUESTIONS]
    recs += [support_chat("hi, my tent arrived with a broken pole - what can I do?"),   # exact
             support_chat("Hello, my tent arrived with a broken pole. What should I do?")]  # near
    got = dedup(tmp_path, recs, *FAST)
    assert got[:5] == [None] * 5
    assert got[5] == 0 and got[6] == 0


def toolformer(tool: str, task: str, inp: str = "") -> dict:
    desc = {
        "wolfram": "A wolfram alpha search engine. Useful for when you need to answer questions about "
                   "Math, Science, Technology, Culture, Society and Everyday Life. Input should be a search query.",
        "python": "A Python shell. Use this to execute python commands. Input should be a valid python command "
                  "or script. If you expect output it should be printed out. Useful for all code, as well as "
                  "math calculations.",
    }[tool]
    call = {"wolfram": "wolfram(query)", "python": "python(codetoexecute)"}[tool]
    return {"instruction": f"toolformer: enabled\ntoolformer access: {tool}\n{desc}\n{call}\n{task}",
            "input": inp, "output": f"{call.split('(')[0]}('{task}')"}


def test_toolformer_tasks_under_one_tool_description_are_kept(tmp_path):
    tasks = ["Calculate the cube root of 27", "Find the length of the given string.",
             "Convert 100 degrees Fahrenheit to Celsius", "What is the population of Brazil?",
             "Solve the equation x^2 - 4 = 0", "Find the distance between Earth and Mars."]
    recs = [toolformer("python", t) for t in tasks]
    # one task line with several inputs: the task line is part of the preamble too
    recs += [toolformer("python", "Reverse the given string.", s)
             for s in ("Hello, world!", "Curator", "A man, a plan, a canal")]
    recs.append(toolformer("wolfram", "Calculate the cube root of 27"))  # another tool
    recs.append(toolformer("python", "calculate the cube root of 27."))  # a copy of row 0
    recs.append(toolformer("python", "Find the distance between the Earth and Mars."))  # near copy of row 5
    recs.append(toolformer("python", "Reverse the given string.", "hello world"))  # a copy of row 6
    got = dedup(tmp_path, recs)
    assert got[:10] == [None] * 10
    assert got[10:] == [0, 5, 6]


def test_sharegpt_system_turn_and_one_context_with_many_questions(tmp_path):
    context = ("The Amazon rainforest covers much of the Amazon basin of South America. The basin "
               "encompasses seven million square kilometres, of which five and a half million are "
               "covered by the rainforest. The region includes territory belonging to nine nations.")
    questions = ["How many nations have territory in the region?",
                 "Which continent is the basin on?",
                 "How much of the basin does the rainforest cover?",
                 "What is the name of the forest?"]
    recs = [{"instruction": f"Answer the question using the passage.\n{context}\n{q}", "output": "x"}
            for q in questions]
    recs.append({"instruction": f"Answer the question using the passage.\n{context}\n{questions[1].lower()}",
                 "output": "y"})
    assert dedup(tmp_path, recs, *FAST) == [None] * 4 + [1]


# -- item 3c: templated problems with other numbers or another question ----------------------------
GSM = [  # (kept row, dropped row) that the old guard merged; from GSM8K (MIT)
    ("Randy has $30. He spent $10 buying his lunch. He spent a quarter of the money he had left on an "
     "ice cream cone. What is the amount of money, in dollars, Randy has left?",
     "Randy has some money. He spent $10 buying his lunch. He spent a quarter of the money he had left "
     "on an ice cream cone. If the ice cream cone cost $5, what is the amount of money, in dollars, "
     "Randy had at first?"),
    ("There were 21 dollars in the cookie jar. Doris spent $6 from the cookie jar. Martha spent half as "
     "much as Doris. How much money, in dollars, was left in the cookie jar?",
     "There was some money in the cookie jar. Doris spent $6 from the cookie jar. Martha spent half as "
     "much as Doris. If there were $15 left in the cookie jar, how much money, in dollars, was there in "
     "the cookie jar at first?"),
    ("Billy has four horses. Each one eats 4 pounds of oats, twice a day. How many pounds of oats does he "
     "need to feed his horses for 3 days?",
     "Peter has four horses. Each one eats 4 pounds of oats, twice a day, and 3 pounds of grain once a "
     "day. How many pounds of food does he need to feed his horses for 3 days?"),
    ("Aaron has some brothers. Bennett has 6 brothers. If the number of Bennett's brothers is two less "
     "than twice the number of Aaron's brothers, what is the number of Aaron's brothers?",
     "Aaron has four brothers. If the number of Bennett's brothers is two less than twice the number of "
     "Aaron's brothers, what is the number of Bennett's brothers?"),
    ("A special school has a deaf-student population 3 times its blind-student population. If there "
     "are 180 students in total, how many blind students are there?",
     "A special school for deaf and blind students has a deaf student population three times the size "
     "of blind student population. If the number of deaf students is 180, how many students are there "
     "altogether?"),
    ("In mid-May, the river flowing through Moreland is five feet deep. By mid-June, the river is 10 "
     "feet deeper than mid-May. By mid-July, the river is three times deeper than mid-June. How many "
     "feet deep is the river by mid-July?",
     "In mid-May, the depth of a river in Moreland is measured. By mid-June, the river is 10 feet "
     "deeper than mid-May. By mid-July, the river is three times deeper than mid-June. If the river is "
     "45 feet deep in mid-July, how many feet deep was the river in mid-May?"),
]


@pytest.mark.parametrize("semantic", [False, True])
def test_templated_problems_with_other_numbers_or_question_are_kept(tmp_path, semantic):
    recs = [{"instruction": t, "output": "x"} for pair in GSM for t in pair]
    got = dedup(tmp_path, recs, *(() if semantic else FAST))
    assert got == [None] * len(recs)


def test_the_same_problem_is_still_merged(tmp_path):
    a = ("Josie received $50 as a gift. She plans to buy two cassette tapes that cost $9 each and a "
         "headphone set that costs $25. How much money will she have left?")
    recs = [{"instruction": a, "output": "x"},
            {"instruction": a.replace("Josie", "Amanda"), "output": "x"},      # another name only
            {"instruction": a.replace("plans to buy", "wants to buy"), "output": "x"},
            {"instruction": a.replace("two cassette", "2 cassette"), "output": "x"}]  # 2 = two
    assert dedup(tmp_path, recs, *FAST) == [None, 0, 0, 0]


@pytest.mark.parametrize("a, b", [
    ("Find the derivative of x^3 + 2x with respect to x, showing each step.",
     "Find the derivative of x^3 + 3x^2 - 2x with respect to x, showing each step."),   # terms added
    ("Who won the 2021 Academy Award for Best Picture, and who directed the film?",
     "Who won the most recent Academy Award for Best Picture, and who directed the film?"),
    ("Who was the first president of the United States and when was he born?",
     "Who was the 16th president of the United States and when was he born?"),
    ("What was the weather like in Los Angeles yesterday, and was it windy there?",
     "What is the weather like in Los Angeles today, and is it windy there?"),
    ("Tom has three apples and buys five more at the market. How many apples does he have now?",
     "Tom has three apples and buys seven more at the market. How many apples does he have now?"),
    ("Find the third largest number in the list and explain how you found it quickly.",
     "Find the fifth largest number in the list and explain how you found it quickly."),
])
def test_other_numbers_and_days_are_not_near_duplicates(tmp_path, a, b):
    assert dedup(tmp_path, [{"instruction": a, "output": "x"}, {"instruction": b, "output": "x"}],
                 "--near-threshold", "0.3", *FAST) == [None, None]


# -- item 4: code and math keep their meaning --------------------------------------------------------
PROG_A = "for i in range(3):\n    print(i)\n    print('done')"
PROG_B = "for i in range(3):\n    print(i)\nprint('done')"


@pytest.mark.parametrize("semantic", [False, True])
def test_programs_that_differ_in_indentation_are_different(tmp_path, semantic):
    recs = [{"instruction": f"What does this program print?\n\n{p}", "output": "x"}
            for p in (PROG_A, PROG_B, PROG_A.replace("    ", "  "),    # 2 spaces: the same program
                      f"```python\n{PROG_B}\n```")]                 # fenced: the same program
    recs += [{"instruction": f"What does this code print?\n```python\n{p}\n```", "output": "x"}
             for p in (PROG_A, PROG_B)]
    got = dedup(tmp_path, recs, *(() if semantic else FAST))
    assert got[:2] == [None, None]
    assert got[2] == 0 and got[3] == 1
    assert got[4] in (None, 0) and got[5] in (None, 1)


@pytest.mark.parametrize("texts", [
    ["Compute f'(2) for f(x) = x^3.", "Compute f''(2) for f(x) = x^3.", "Compute f'''(2) for f(x) = x^3.",
     "Compute f(2) for f(x) = x^3."],
    ['What does print("5"+"5") output in Python?', "What does print(5+5) output in Python?"],
    ["What is the type of (1,) in Python?", "What is the type of (1) in Python?"],
    ["In Python, what is the value of a[1:2] for the list a = [4, 5, 6]?",
     "In Python, what is the value of a[1,2] for the list a = [4, 5, 6]?"],
    ["x = [1, 2]\ny = x\ny.append(3)\nprint(x)", "x = [1, 2]\ny = x\n    y.append(3)\nprint(x)"],
    ["```js\nif (a) {\n  b();\n}\nc();\n```", "```js\nif (a) {\n  b();\n  c();\n}\n```"],
])
def test_code_and_math_marks_are_meaning(tmp_path, texts):
    recs = [{"instruction": t, "output": "x"} for t in texts]
    assert dedup(tmp_path, recs) == [None] * len(texts)


def test_prose_punctuation_still_folds(tmp_path):
    recs = [{"instruction": "Don't forget: what is the capital of Peru?", "output": "x"},
            {"instruction": "don’t forget - what is the capital of Peru", "output": "x"},
            {"instruction": "Don't forget, what is the capital of Peru?!", "output": "x"},
            {"instruction": "Compute f'(2) for f(x) = x^3.", "output": "x"},
            {"instruction": "compute f’(2) for f(x) = x^3", "output": "x"}]
    assert dedup(tmp_path, recs, *FAST) == [None, 0, 0, None, 3]


# -- properties: preambles and keys never join rows they should keep apart -------------------------
_PRE = ["toolformer: enabled\ntoolformer access: python\nA Python shell.\npython(code)",
        "You are a helpful assistant for a bank.\nAnswer briefly.",
        "Read the passage.\nThe Nile is long.\n"]
_WORDS = ["cube", "root", "of", "27", "find", "the", "length", "string", "Paris", "weather", "now", "?"]


@st.composite
def preamble_rows(draw):
    rows, ctx = [], []
    for _ in range(draw(st.integers(2, 14))):
        if rows and draw(st.booleans()):
            k = draw(st.integers(0, len(rows) - 1))  # a copy of an earlier row
            rows.append(rows[k])
            ctx.append(draw(st.sampled_from([ctx[k], ctx[k], 1 - ctx[k]])))
            continue
        body = " ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5)))
        pre = draw(st.sampled_from(_PRE + [""]))
        rows.append(f"{pre}\n{body}" if pre else body)
        ctx.append(draw(st.integers(0, 1)))
    return rows, ctx


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preamble_rows())
def test_preambles_and_context_keep_rows_apart(case):
    texts, ctx = case
    found = split_preambles(texts)
    for t, b, p in zip(texts, found.bodies, found.preamble.tolist()):
        assert t.endswith(b)
        assert (b == t) if p == 0 else b.strip()
    # copies of one text always get the same preamble
    by_text: dict[str, int] = {}
    for t, p in zip(texts, found.preamble.tolist()):
        assert by_text.setdefault(t, p) == p
    # every row embeds alike: only the keys and preambles keep rows apart
    emb = np.ones((len(texts), 4), dtype=np.float32)
    res = Deduplicator(near_threshold=0.1, allow_value_changes=True).run(
        texts, embeddings=emb, context=ctx)
    for r in np.flatnonzero(~res.keep).tolist():
        k = int(res.duplicate_of[r])
        assert ctx[r] == ctx[k]
        if res.method[r] != "exact":
            assert found.preamble[r] == found.preamble[k]


def test_alpaca_system_field_is_a_shared_preamble_too(tmp_path):
    # LLaMA-Factory Alpaca rows with a `system` prompt (read as the conversation's system turn)
    recs = [{"system": SUPPORT, "instruction": q, "input": "", "output": "Happy to help."}
            for q in SUPPORT_QUESTIONS]
    recs.append({"system": SUPPORT, "instruction": "Do you ship to Canada", "input": "", "output": "Yes."})
    got = dedup(tmp_path, recs)
    assert got == [None] * 5 + [1]
