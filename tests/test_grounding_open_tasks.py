"""Issue 21, own-evidence rows: in an open-ended task (role play, creative writing, an answer about
code) the prompt's text is a premise the answer adds to; what it lacks is never a hallucination,
a contradiction of it still is. Variants written for the kinds found by reading 30 flags of the
real file's rows with their `input` as source (benchmarks/RESULTS.md, "Own-evidence rows")."""

import json

import pytest

from curator.grounding import GroundingScorer, PairInput
from curator.grounding.tasks import open_ended
from curator.text import segment_claims

from .cli_helpers import run

SCENARIO = ("The mansion is 10,000 square feet, with a large garden, a pool and a hedge maze. "
            "Fluffy the hamster has been missing for 12 hours.")
INVENTED = ("I would look for trails of hamster food and chewed plants in the garden and the hedge maze. "
            "Then I would set humane traps baited with sunflower seeds near the pool.")


@pytest.fixture(scope="module")
def scorer(embedder):
    return GroundingScorer(embedder=embedder)


@pytest.mark.parametrize("instruction", [
    "You are a pet detective. How do you plan to locate Fluffy?",
    "You're a pet detective hired by a worried family. Describe your plan.",
    "Imagine you are a pet detective. How would you find the hamster?",
    "Imagine yourself as a pet detective and explain your search plan.",
    "Pretend to be a pet detective and describe what you would do.",
    "Roleplay as a pet detective who is asked to find a missing hamster.",
    "Role-play a pet detective explaining the search.",
    "Assume the role of a pet detective and describe your plan.",
    "Take on the role of a pet detective. Explain your approach.",
    "Act as a pet detective and tell the family your plan.",
])
def test_role_play_additions_are_not_hallucinations(scorer, instruction):
    assert open_ended(instruction) == "role play"
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{SCENARIO}", INVENTED, SCENARIO)])
    assert g.verdict != "hallucinated", [(s.text, s.verdict, s.support) for s in g.sentences]


@pytest.mark.parametrize("instruction", [
    "You are a city guide. Tell the tourists about the bridge.",
    "Imagine you are a city guide and describe the bridge.",
    "Write a short story about the bridge.",
])
def test_an_open_task_stating_its_premise_negated_is_still_flagged(scorer, instruction):
    src = "The bridge is used by cyclists every morning, when there is no traffic on the main road."
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{src}", "The bridge is not used by cyclists every morning.", src)])
    assert g.verdict == "hallucinated", [(s.text, s.verdict, s.features) for s in g.sentences]


@pytest.mark.parametrize("response", [
    "The 5,000 square foot mansion makes the search easier.",      # a number the answer brings
    "Sincerely, Sherlock Holmes.",                                  # the persona's name
    "Apple stock value = 1,000 shares * $200/share = $200,000.",    # a computed number
])
def test_open_tasks_do_not_judge_numbers_and_names_the_answer_brings(scorer, response):
    """In generated text a new number or the persona's name is the task: the number and swap rules
    misfired on such rows of the real file (e.g. "Aquarium pump x2 ($13)" for an estimate)."""
    prompt = f"You are Sherlock Holmes, a pet detective. How do you plan to locate Fluffy?\n\n{SCENARIO}"
    (g,) = scorer.score([PairInput(prompt, response, SCENARIO)])
    assert g.verdict == "unverifiable"


@pytest.mark.parametrize("instruction", [
    "Write a short story about a hamster lost in a mansion.",
    "Please write a poem about Fluffy the hamster.",
    "Compose a brief speech by the family thanking the detective.",
    "Turn this paragraph into a story.",
    "Continue the story.",
])
def test_creative_writing_additions_are_not_hallucinations(scorer, instruction):
    assert open_ended(instruction) == "creative writing"
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{SCENARIO}", INVENTED, SCENARIO)])
    assert g.verdict != "hallucinated"


@pytest.mark.parametrize("code", [
    "int a = 8;\nint b = 10;\nint sum = a + b;\ncout << sum << endl;",
    "#include <iostream> using namespace std; int main() { int a = 8; int b = 10; int sum = a + b; "
    "cout << sum << endl; return 0; }",
    "def add(a, b):\n    total = a + b\n    return total\nprint(add(8, 10))",
    "```js\nconst numbers = [1, 2, 3];\nconst sum = numbers.reduce((acc, x) => acc + x);\n```",
])
def test_explaining_code_is_not_flagged_for_words_the_code_lacks(scorer, code):
    assert open_ended("Explain this code.", code) == "code"
    response = ("The program calculates the sum of two values and stores the result in a variable. "
                "Then it outputs the value to the console.")
    (g,) = scorer.score([PairInput(f"Explain this code.\n\n{code}", response, code)])
    assert g.verdict != "hallucinated"


@pytest.mark.parametrize("prompt", [
    "You are given a passage. When was the tower built?",
    "You are a helpful assistant.\nWhen was the tower built?",
    "system: You are a helpful AI assistant.\nWhen was the tower built?",
    "When was the tower built?",
    "Write a summary: when was the tower built?",
])
def test_extractive_prompts_are_still_judged(scorer, prompt):
    assert open_ended(prompt) is None
    src = "The Eiffel Tower was built between 1887 and 1889 in Paris. It is 330 metres tall."
    (g,) = scorer.score([PairInput(prompt, "The Eiffel Tower was built between 1887 and 1899.", src)])
    assert g.verdict == "hallucinated"


@pytest.mark.parametrize("prompt", [
    "You are right, I have heard that drug use was involved.",
    "you are a toy!",
    "You are speaking of the creatures in a video game?",
    "You are one of the lucky ones.",
])
def test_dialogue_lines_are_not_personas(prompt):
    assert open_ended(prompt) is None


@pytest.mark.parametrize("source", [
    "Redskins cor&shy;ner&shy;back Josh Norman has joined the grow&shy;ing num&shy;ber of play&shy;ers; "
    "he said so on Tuesday.",
    "Baron said that Starlink will likely go public within three years.\nWhen asked, he declined to comment.",
    "The company reported revenue of $5 billion; profit rose 10 %; shares fell.",
])
def test_prose_sources_are_not_code(source):
    assert open_ended("Summarize the article.", source) is None


def test_an_inline_list_number_is_not_a_claim():
    segs = segment_claims("1. Ensure HTTPS is used. 2. Use a reputable host. 3. Update software.")
    assert [(s.kind, s.text) for s in segs if not s.checked] == [("punctuation", "2."), ("punctuation", "3.")]
    assert [s.kind for s in segment_claims("4.")] == ["claim"]           # a bare number answer is checked
    assert [s.kind for s in segment_claims("What is 2+2? 4.")] == ["claim", "claim"]


def test_the_run_says_why_and_counts_open_tasks(tmp_path):
    rows = [
        {"instruction": "You are a pet detective. How do you plan to locate Fluffy?", "input": SCENARIO,
         "output": INVENTED},
        {"instruction": "Write a short story about a lost hamster.", "input": SCENARIO,
         "output": "Fluffy squeezed under the greenhouse door at dawn. A robin watched him nibble a tomato "
                   "leaf until the gardener's daughter scooped him up and carried him home."},
        {"instruction": "How long has Fluffy been missing?", "input": SCENARIO,
         "output": "Fluffy has been missing for 12 hours."},
    ]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    code, output = run("run", src, "--source-field", "input", "-o", out, "--no-report")
    assert code == 0, output
    assert "2 rows are open-ended tasks (1 role play, 1 creative writing)" in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["grounding"]["open_ended"] == {"role play": 1, "creative writing": 1}
    # (the rows share their input, so dedup may merge them: their grounding is read either way)
    rows_out = [json.loads(x) for f in ("kept.jsonl", "dropped.jsonl") for x in (out / f).read_text().splitlines()]
    assert len(rows_out) == 3
    assert not any(r["curator"].get("drop_reason") == "hallucinated" for r in rows_out)
    reasons = {r["instruction"][:10]: r["curator"].get("unverifiable_reason") for r in rows_out}
    assert reasons["You are a "].startswith("an open-ended task (role play)")
    assert reasons["Write a sh"].startswith("an open-ended task (creative writing)")
    assert reasons["How long h"] is None


@pytest.mark.parametrize("prompt, kind", [
    ("As a wise village elder in a medieval fantasy world, what guidance would you give?", "role play"),
    ("In a post-apocalyptic world, you're a resourceful survivor. Tell them what to do.", "role play"),
    ("You have been transformed into Sherlock Holmes. Solve the mystery.", "role play"),
    ("You are playing the role of Sherlock Holmes; unravel the crime.", "role play"),
    ("You are a compassionate AI assistant in a busy therapist's office. What advice would you give?", "role play"),
    ("Implement a C program that counts the lines of a file.", "generation"),
    ("Show an SQL query that retrieves all columns from the table.", "generation"),
    ("Given a dialogue, classify whether the user is satisfied.", "generation"),
    ("Estimate the cost of supplies required for the project.", "generation"),
    ("Make the article available in a second language by translating it.", "generation"),
    ("Explain a new invention that could solve the issue in the input.", "generation"),
    ("Find the most suitable email template for the following context.", "generation"),
    ("What other Amazon products might interest someone who visited this product?", "generation"),
    ("Based on these facts, compose a short poem about the campaign.", "creative writing"),
    ("Provide multiple solutions for the given ethical dilemma.", "generation"),
    ("Describe how Sherlock Holmes would approach solving a time travel mystery.", "generation"),
    ("Take the role of a botanical expert who has just discovered a new plant.", "role play"),
    ("As Sherlock Holmes, summarize your findings.", "role play"),
    ("Parse the natural language query into a SQL query.", "generation"),
    ("You are an AI in a post-apocalyptic world assisting a group of survivors.", "role play"),
    ("You are an AI capable of experiencing emotions. Give advice.", "role play"),
    ("Given a short story, adapt it in the form of a poem.", "generation"),
    ("You should write a Product Description that will persuade the buyer.", "generation"),
    ("You are an AI assistant that helps people find information.\nWhen was the tower built?", None),
    # extractive, or a dialogue line: still judged
    ("Describe the person in the text.", None),
    ("Explain the main argument of the following passage.", None),
    ("Tell me more about Florida, have not been there before", None),
    ("come to think of it, maybe i'm over sandra bullock", None),
    ("As they all do, ultimately the books are way better", None),
    ("Guess she moves back home to Boulder City, Nevada!", None),
    ("Given the input, explain what the global goals are.", None),
    ("Summarize a meeting from the given list of bullet points.", None),
    ("Summarize the article.", None),
    ("Is this claim supported?", None),
    ("that was a horrible way to reveal the unexpected turn in the plot.", None),
    ("You are a helpful assistant.\nSummarize the article.", None),
])
def test_open_task_kinds(prompt, kind):
    assert open_ended(prompt) == kind


# -- wrong-index run of the real file: 30 flags read, 0 right; the kinds fixed whole -----------------
@pytest.mark.parametrize("text", [
    "Each box contains 4*2=8 crayons.",
    "So the selling price is $80 000+ $16 000 + $4 000 = $100 000.",
    "There are 2 clarinets/flute x 5 flutes = 10 clarinet players",
    "The entire radio show plays for 3 hours * 60 minutes = 180 minutes.",
    "First find the total cost of the drink tickets: 5 tickets * $7/ticket = $35",
    "California had 400 more cases than Texas, thus Texas had 1000-400 = 600 cases.",
])
def test_a_written_out_calculation_is_not_a_claim(text):
    assert [s.kind for s in segment_claims(text)] == ["calculation"]


@pytest.mark.parametrize("text", [
    "The 2021 Wimbledon Men's singles champion is search('2021 Wimbledon Mens singles winner')",
    "The GDP per capita of the United States is: wolfram('GDP per capita United States').",
    'The result of the command is shell("echo Hello").',
    "The result of your shell command is shell('echo \\'Hello, World!\\'').",
])
def test_a_sentence_with_a_tool_call_is_code(text):
    assert [s.kind for s in segment_claims(text)] == ["code"]


@pytest.mark.parametrize("text", [
    "The tower is 330 m tall.",
    "In 2010-2012 the rate was 5%.",
    "The score was 3-2 after extra time.",
    "He called print() in his first program.",
])
def test_facts_with_numbers_and_dashes_are_still_claims(text):
    assert [s.kind for s in segment_claims(text)] == ["claim"]


def test_a_word_problem_against_an_unrelated_index_is_not_flagged(scorer):
    src = ("The committee considered an eight-bit code, since eight bits would allow two four-bit "
           "patterns to encode two digits.")
    (g,) = scorer.score([PairInput("A crayon factory makes 4 colors of crayons. They put 2 of each color in each "
                                   "box. How many crayons are in a box?", "Each box contains 4*2=8 crayons.", src)])
    assert g.verdict == "unverifiable"
