"""Issue 21, own-evidence rows: in an open-ended task (role play, creative writing, an answer about
code) the prompt's text is a premise the answer adds to; what it lacks is never a hallucination,
a contradiction of it still is. Variants written for the kinds found by reading 30 flags of the
real file's rows with their `input` as source (benchmarks/RESULTS.md, "Own-evidence rows")."""

import json

import pytest

from curator.grounding import GroundingScorer, PairInput
from curator.grounding.claims import is_label, is_lead_in
from curator.grounding.tasks import open_ended
from curator.text import segment_claims, stem

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


# -- own-evidence rows, second reading (56 flags): instruction sentences after the first, analyses,
# labels the instruction offers, math problems; variants written for each kind --------------------
@pytest.mark.parametrize("prompt, kind", [
    ("You are given two questions. Check if they are duplicates.", "classification"),
    ("You are given a review. Determine whether its sentiment is positive or negative.", "classification"),
    ("Read the tweet. Tell me if it is sarcastic.", "classification"),
    ("You are provided with a news article. Identify all the categories it belongs to.", "classification"),
    ("Here is an email. Is it spam? Possible labels are: spam, ham.", "classification"),
    ("A job description is a document that lists duties. You need to write a job description.", "generation"),
    ("Choosing a channel name matters. Based on the description, you should come up with some names.",
     "generation"),
    ("The last message in the chat is partial. You should complete and rewrite it.", "generation"),
    ("A confirmation email should be written appropriately for the situation.", "generation"),
    ("The tone of the email should be changed and rewritten in a more professional manner.", "generation"),
    ("You are given a list of features of a product, and you need to create its description.", "generation"),
    ("Someone tells you where they want to go. Describe a proper road trip for them.", "generation"),
    ("We have described a scene from a movie. Find out what movie it is.", "generation"),
    ("Give the provided brand a motto to use in its marketing.", "generation"),
    ("Give the new cafe a catchy name.", "generation"),
    ("In Python, create a code snippet that implements bubble sort.", "generation"),
    ("Using Python, demonstrate how to count the words of a file.", "generation"),
    ("You are given a description of facts. It is up to you to craft a story from them.", "generation"),
    ("Analyze the following family situation and provide recommendations.", "analysis"),
    ("Evaluate the argument made in the paragraph.", "analysis"),
    ("What are the implications of this development?", "analysis"),
    ("What might be the consequences of the new law?", "analysis"),
    ("Given a financial statement, identify any inaccuracies in the reporting.", "analysis"),
    ("How would you approach the negotiation described below?", "analysis"),
    ("Read the situation carefully and give the best advice you can.", "analysis"),
    ("Notify me of any suggestions you may have for making the text more grammatically correct.", "analysis"),
    ("You are roleplaying as Sherlock Holmes. Deduce how the necklace was stolen.", "role play"),
    ("You have taken the role of a negotiator in a post-apocalyptic world.", "role play"),
    ("You have been appointed as the spokesperson for an alien species.", "role play"),
    ("You hear a knock on your door and discover you are an alien ambassador.", "role play"),
    ("You wake up in a world where electricity was never discovered.", "role play"),
    ("Solving the math word problem with linear algebra equations.", "math"),
    ("Read the paragraph and answer a math question about it. Write out the calculation.", "math"),
    # still judged: extractive, a question, a chat turn, a claim to verify
    ("Retrieve the meeting information from the conversation.", None),
    ("Extract the address of the property from the text.", None),
    ("Read the given story carefully, and then answer the question in the end.", None),
    ("Determine whether the claim is supported by the passage.", None),
    ("Is the statement true according to the article?", None),
    ("do you have any suggestions on how to stay motivated?", None),
    ("yeah that is true, they say you should write about what you know about.", None),
    ("Yes I do like bowling, I am awful at it though. Can you give me some tips?", None),
    ("What do you think of Maleficent ?", None),
    ("i see you would categorize them as a hard rock band, are there any other genres?", None),
    ("What suburban county on Long Island in the U.S. state of New York is the location of Lindenhurst?", None),
    ("A song reached number two on the Hot 100 and spent how many weeks at No. 1 on the hot 100?", None),
    ("Give three tips for designing e-learning.", None),
])
def test_open_task_kinds_read_from_the_whole_instruction(prompt, kind):
    assert open_ended(prompt) == kind


@pytest.mark.parametrize("instruction, source, response", [
    ("Analyze the family situation and provide recommendations.",
     "John is a single dad with two teenage daughters. Kim struggles with her grades.",
     "John could seek advice from a counselor who specializes in parenting teenagers."),
    ("What are the implications of this development?",
     "Scientists have diagnosed a new virus which is highly contagious.",
     "Hospitals may face a heavy burden and governments could impose travel restrictions."),
    ("You are given a news article. Identify all the categories it belongs to.",
     "FIFA's president launched a tirade against critics on the eve of the World Cup in Qatar.",
     "Sports, Politics, Soccer."),
])
def test_analyses_and_labels_are_not_flagged_for_what_the_input_lacks(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{source}", response, source)])
    assert g.verdict != "hallucinated", [(s.text, s.verdict, s.support) for s in g.sentences]


def test_an_analysis_stating_its_input_negated_is_still_flagged(scorer):
    src = "The bridge is used by cyclists every morning, when there is no traffic on the main road."
    (g,) = scorer.score([PairInput(f"Analyze the following situation.\n\n{src}",
                                   "The bridge is not used by cyclists every morning.", src)])
    assert g.verdict == "hallucinated"


@pytest.mark.parametrize("instruction, response", [
    ('Does the document support the claim? You can answer "Support" or "Unsupport".', "Unsupport"),
    ("Classify whether the document is relevant to the query or not relevant.", "relevant"),
    ("You are given two questions. Check if they are duplicates.", "Yes, they are duplicates."),
    ("Label the review as positive, negative or neutral.", "Neutral."),
    # offered names the source does not name stay labels
    ("Answer Supported or Unsupported: is the claim supported by the passage?", "Unsupported"),
    ("Is this text about France or Germany?", "France."),
    ("Classify the review as Positive or Negative.", "Positive"),
])
def test_a_label_the_instruction_offers_is_not_checked(instruction, response):
    source = "The housing market is finally slowing after a record-breaking run, economists say."
    prompt = f"{instruction}\n\n{source}"
    claims = [s for s in segment_claims(response) if s.checked]
    assert claims and all(is_label(s.check, prompt, source) for s in claims)


@pytest.mark.parametrize("instruction, source, response", [
    # a comparison the source cannot decide: it names one of the two only
    ("Who was born first, Albert Einstein or Marie Curie?", "Albert Einstein was born in Ulm in 1879.", "Marie Curie"),
    ("Which planet is larger, Mars or Jupiter?", "Jupiter has dozens of moons.", "Mars"),
])
def test_a_pick_in_a_comparison_the_source_cannot_decide_stays_a_label(instruction, source, response):
    claims = [s for s in segment_claims(response) if s.checked]
    assert claims and all(is_label(s.check, f"{instruction}\n\n{source}", source) for s in claims)


@pytest.mark.parametrize("prompt, source, response", [
    # a chat reply echoing the last turn: the knowledge snippet is not part of the prompt
    ("I love dogs.", "Dogs are domesticated descendants of wolves.", "I love dogs too!"),
    # a choice between things the source names: the source can decide it
    ("Which magazine was started first, Arthur's Magazine or First for Women?\n\nArthur's Magazine was "
     "founded in 1844. First for Women was started in 1989.",
     "Arthur's Magazine was founded in 1844. First for Women was started in 1989.", "First for Women"),
    # an answer with content of its own
    ("Is the review positive?\n\nThe food was cold.", "The food was cold.", "No, the waiter forgot our order twice."),
    # a wrong pick between names the prompt offers, the source naming only the other (a trial's)
    ("Which city is the capital of Australia, Sydney or Canberra?\n\nCanberra has been the capital of "
     "Australia since 1913.", "Canberra has been the capital of Australia since 1913.", "Sydney."),
    ("Which river flows through Vienna, the Danube or the Rhine?\n\nVienna lies on the Danube, the "
     "second-longest river in Europe.", "Vienna lies on the Danube, the second-longest river in Europe.", "The Rhine."),
    ("Does the review mention Paris or Rome?\n\nWe loved every day we spent in Rome.",
     "We loved every day we spent in Rome.", "Paris."),
    # with no source given (index mode): the prompt's text after its first blank line
    ("Which city is the capital of Australia, Sydney or Canberra?\n\nCanberra has been the capital of "
     "Australia since 1913.", None, "Sydney."),
])
def test_what_is_not_a_label(prompt, source, response):
    claims = [s for s in segment_claims(response) if s.checked]
    assert claims and not any(is_label(s.check, prompt, source) for s in claims)


def test_a_wrong_pick_the_source_decides_is_flagged(scorer):
    source = "Canberra has been the capital of Australia since 1913."
    (g,) = scorer.score([PairInput(f"Which city is the capital of Australia, Sydney or Canberra?\n\n{source}",
                                   "Sydney.", source)])
    assert g.verdict == "hallucinated", (g.reason, [(s.verdict, s.support) for s in g.sentences])


def test_a_label_answer_is_unverifiable_not_hallucinated(scorer):
    source = "The housing market is finally slowing after a record-breaking run, economists say."
    prompt = f'Does the document support the claim? You can answer "Support" or "Unsupport".\n\n{source}'
    (g,) = scorer.score([PairInput(prompt, "Unsupport", source)])
    assert g.verdict == "unverifiable" and [s.verdict for s in g.sentences] == ["not_checked"]
    assert "a label the instruction offers" in g.reason


@pytest.mark.parametrize("response, checks", [
    ("Date: Tomorrow\nTime: 5 pm\nPlace: Coffee shop on Main Street", ["Tomorrow", "5 pm", "Coffee shop on Main Street"]),
    ('-Address: "Capitola"\n-Type of home: Condo', ['"Capitola"', "Condo"]),
    ("- Name: Ada Lovelace\n- Born: 1815", ["Ada Lovelace", "1815"]),
    # running text keeps its colon: a title, a single line
    ("Puss in Boots: The Three Diablos is not a sequel.", ["Puss in Boots: The Three Diablos is not a sequel."]),
    ("Note: the museum is closed on Mondays.", ["Note: the museum is closed on Mondays."]),
    # a frame about the source
    ("The document discusses the popularity of soccer.", ["the popularity of soccer."]),
    ("This article explains how vaccines work.", ["vaccines work."]),
    ("It highlights that the sport brings people together.", ["the sport brings people together."]),
    ("The author argues that taxes should rise.", ["taxes should rise."]),
])
def test_field_labels_and_source_frames_are_not_part_of_the_claim(response, checks):
    assert [s.check for s in segment_claims(response) if s.checked] == checks


@pytest.mark.parametrize("text", ["No, that's wrong.", "Yes, that is correct.", "No, it's not true.", "Yes it is right"])
def test_a_yes_no_with_a_verdict_word_is_a_bare_yes_no(text):
    assert [s.kind for s in segment_claims(text)] == ["yes_no"]


@pytest.mark.parametrize("text", [
    "There are shell('echo \"AI is a field. It is big.\" | wc -w') words in the text.",
    'The count is: python("text = \'\'\'One. Two.\'\'\'.split(); print(len(text))").',
    "The answer is calculator('2 + 2. Then 3')",
])
def test_a_tool_call_whose_argument_holds_sentences_is_one_piece_of_code(text):
    assert [s.kind for s in segment_claims(text)] == ["code"]


@pytest.mark.parametrize("a, b", [("analyzed", "Analyze"), ("proposed", "propose"), ("presents", "presented"),
                                  ("created", "create"), ("employees", "employee"), ("agreed", "agree")])
def test_verbs_ending_in_e_share_a_stem(a, b):
    assert stem(a) == stem(b)


@pytest.mark.parametrize("w", ["there", "these", "those", "where", "while", "before", "above"])
def test_stopwords_keep_their_form(w):
    assert stem(w) == w


@pytest.mark.parametrize("claim, source", [
    ("The chalet is in Grass Valley, California.", "Tucked in the historic mining town of Grass Valley, CA, this chalet is spacious."),
    ("The office is in Austin, Texas.", "Our office is located in Austin, TX, near the river."),
])
def test_a_state_code_after_a_place_reads_as_the_state(scorer, claim, source):
    (g,) = scorer.score([PairInput("Where is it?", claim, source)])
    assert g.verdict != "hallucinated", [(s.text, s.unsupported_tokens) for s in g.sentences]


@pytest.mark.parametrize("response", [
    "Rose analyzed data and presented her findings. Then, John proposed a new idea.",
    "Jane was appointed to head the project.",
])
def test_a_faithful_first_hand_account_is_not_flagged(scorer, response):
    src = "Rose: Analyze data and presents findings\nJohn: propose new idea\nJane: appointed to head project"
    prompt = f"Summarize a meeting from the given list of bullet points.\n\n{src}"
    (g,) = scorer.score([PairInput(prompt, response, src)])
    assert g.verdict != "hallucinated", [(s.text, s.verdict, s.unsupported_tokens) for s in g.sentences]


# -- wrong-index run, second reading (10 flags, 0 right): answers that compute or call a tool ------
@pytest.mark.parametrize("response, kind", [
    ("Adults = 9 * 11 = 99\nChildren = 7 * 7 = 49\nThe adults' tickets cost $50 more than the children's.", "math"),
    ("Quinn reads 2 books per week for 10 weeks so 2*10=20 books\nHe gets a free donut for every 5 books.", "math"),
    ("There are 86,400 seconds in a day. This can be calculated as follows: wolfram('seconds in a day')", "tool use"),
    ("Abraham Lincoln was the 16th President. Read more here: wikipedia('Abraham Lincoln').", "tool use"),
    ('The weather in Paris is sunny: weather("Paris").', "tool use"),
    # facts without a calculation or a call: judged
    ("The tower was built in 1889. It is 330 m tall.", None),
    ("He called print() in his first program.", None),
    ("The score was 3-2 after extra time.", None),
])
def test_what_the_response_shows_makes_an_open_task(response, kind):
    assert open_ended("Tell me about it.", None, response) == kind


def test_a_computed_answer_against_an_unrelated_index_is_not_flagged(scorer):
    src = "The cost of guest tickets for that night's ceremony was $5."
    resp = "Adults = 9 * 11 = 99\nChildren = 7 * 7 = 49\nThe adults' tickets cost $50 more than the children's tickets."
    (g,) = scorer.score([PairInput("Nine adults went to a play with seven children. Adult tickets are $11 each and "
                                   "children's tickets are $7 each. How many dollars more did the adults' tickets "
                                   "cost?", resp, src)])
    assert g.verdict != "hallucinated", [(s.text, s.verdict) for s in g.sentences]


@pytest.mark.parametrize("prompt", ["Give examples of data types.", "Give three examples of mammals.",
                                    "Give me some examples of renewable energy."])
def test_asking_for_examples_is_generation(prompt):
    assert open_ended(prompt) == "generation"


# -- a tool's record lacks only names and numbers: the answer's other words are its phrasing ------
@pytest.mark.parametrize("question, record, answer", [
    ("What's the weather like in Berlin?", '{"temperature": 18, "condition": "partly cloudy", "humidity": 60}',
     "In Berlin it is currently 18 degrees and partly cloudy, with humidity at 60%."),
    ("How far is it from London to Paris?", '{"distance": 344, "unit": "km"}',
     "The distance between London and Paris is roughly 344 kilometres by road."),
    ("What is the stock price of Apple?", '{"stock_price": "145.09"}',
     "Right now, Apple's stock is trading at $145.09 per share."),
])
def test_an_answer_restating_a_record_in_its_own_words_is_not_flagged(scorer, question, record, answer):
    (g,) = scorer.score([PairInput(question, answer, record)])
    assert g.verdict != "hallucinated", [(s.text, s.verdict, s.unsupported_tokens) for s in g.sentences]


@pytest.mark.parametrize("question, record, answer", [
    ("What's the weather like in Berlin?", '{"temperature": 18, "condition": "partly cloudy"}',
     "In Berlin it is currently 25 degrees and partly cloudy."),
    ("What is the stock price of Microsoft?", '{"stock_price": "216.54"}',
     "The current price of Microsoft's stock is $261.45."),
])
def test_an_answer_misreading_a_record_is_still_flagged(scorer, question, record, answer):
    (g,) = scorer.score([PairInput(question, answer, record)])
    assert g.verdict == "hallucinated", [(s.text, s.verdict, s.features.get("num_mismatch")) for s in g.sentences]


@pytest.mark.parametrize("text", [
    "Product | this item | Other pens\nPoint Type | Fine | Extra Fine\nPrice | $10 | $12",
    "Name | Age | City\n---|---|---\nAda | 36 | London",
])
def test_a_table_without_outer_pipes_is_a_table(text):
    assert [s.kind for s in segment_claims(text)] == ["table"]


def test_one_line_with_pipes_is_still_a_claim():
    assert [s.kind for s in segment_claims("He said a | b | c once.\nThen he left.")] == ["claim", "claim"]


@pytest.mark.parametrize("prompt, kind", [
    ("Does the text contradict itself?", "classification"),
    ("Is the email formal or informal?", "classification"),
    ("Does the passage use the passive voice?", "classification"),
    ("Is this review positive?", "classification"),
    ("Is the text accurate?", "classification"),
    # about a claim, a statement, a summary: what grounding checks
    ("Does the information in the document support the claim?", None),
    ("Is this claim supported?", None),
    ("Does the passage support the statement below?", None),
    ("Is the summary consistent with the article?", None),
])
def test_a_yes_no_question_about_the_given_text_is_a_judgement(prompt, kind):
    assert open_ended(prompt) == kind


def test_a_prompt_holding_its_source_is_read_without_it(scorer):
    # An Alpaca row: the input is both in the prompt and the source. The source's words are
    # evidence, not words the user gave: a faithful first-hand account is supported.
    src = "Rose: Analyze data and presents findings\nJohn: propose new idea\nJane: appointed to head project"
    prompt = f"Summarize a meeting from the given list of bullet points.\n\n{src}"
    (g,) = scorer.score([PairInput(prompt, "At the meeting, Rose analyzed data and presented her findings. "
                                           "Then, John proposed a new idea.", src)])
    assert g.verdict == "supported", [(s.text, s.verdict, s.unsupported_tokens) for s in g.sentences]
    (g,) = scorer.score([PairInput(prompt, "At the meeting, Rose analyzed data and presented her findings. "
                                           "Then, John proposed to cut the budget by 40 percent.", src)])
    assert g.verdict == "hallucinated", [(s.text, s.verdict, s.unsupported_tokens) for s in g.sentences]


# -- new-user trial (2026-12-07): sources that state nothing, unfenced code, lead clauses ----------
@pytest.mark.parametrize("instruction, source, kind", [
    ("Compare and contrast the two topics.", "Video Games and Board Games", "topic"),
    ("Connect the following items with a logical argument.", "Fossil fuels, Global warming", "topic"),
    ("Answer this query using an appropriate search engine.",
     "What is the average temperature in Los Angeles in September?", "topic"),
    ("Tell me about it.", "How to prepare for a job interview", "topic"),
    ("Write an essay on the subject.", "How to prepare for a job interview", "generation"),
    ("Given three points A, B and C, calculate the angle ABC.", "A=(1,2), B=(3,4), C=(5,6)", "generation"),
    ("Validate the given statement with appropriate facts.", "Technology does not always improve life.", "analysis"),
    ("Determine how this example sentence illustrates parallel structure.", "She likes to run, swim and bike.",
     "analysis"),
    ("This is an open-ended generation task. Generate an appropriate output.", "A letter to a friend", "generation"),
    ("This is an open-ended task.", "Travel tips", "analysis"),
    # sources that state something: judged
    ("Who is the CEO?", "Satya Nadella", None),
    ("Is the capital of Peru Lima or Quito?", '{"country": "Peru", "capital": "Lima"}', None),
    ("When was he born?", "Komorida was born on July 10, 1981.", None),
    ("Given the input, explain what the global goals are.", "The SDGs are 17 goals set by the United Nations.", None),
])
def test_what_the_source_holds_and_lead_clauses(instruction, source, kind):
    assert open_ended(f"{instruction}\n\n{source}", source) == kind


@pytest.mark.parametrize("response, kind", [
    ("#!/bin/bash\n\ndirectory_path='/home/user/documents'\nls -l \"$directory_path\"", "code"),
    ("def count_words(filename):\n    count = 0\n    with open(filename) as f:\n        for line in f:\n"
     "            count += len(line.split())\n    return count", "code"),
    # prose around a fenced block is judged; a written-out calculation is math
    ("The sort is stable.\n\n```python\nx = sorted(y)\nprint(x)\n```", None),
    ("Adults = 9 * 11 = 99\nChildren = 7 * 7 = 49\nThe adults' tickets cost $50 more.", "math"),
])
def test_a_response_of_unfenced_code_is_a_code_task(response, kind):
    assert open_ended("Show me how to do it.", None, response) == kind


# -- lead-ins: a line that restates the task before a list states nothing -------------------------
@pytest.mark.parametrize("prompt, response", [
    ("Summarize the timeline of important events leading to World War II.",
     "The timeline of important events leading up to World War II:\n- 1919: The Treaty of Versailles ends World War I."),
    ("Give five tips for staying healthy.", "Here are five tips for staying healthy:\n1. Drink water."),
    ("What are the different uses of machine learning?",
     "Some of its most common applications include:\n1. Fraud detection in banking."),
    ("How do I bake sourdough bread?", "The steps to bake sourdough bread are as follows:\n1. Feed the starter."),
    ("List the planets of the solar system.", "The planets of the solar system:\nMercury, Venus, Earth, Mars."),
    # a label of one or two words names the part that follows
    ("Give me a recipe for pancakes.", "Ingredients:\n- 2 eggs"),
    ("Write a song about the sea.", "Verse 1:\nThe waves roll in at night."),
    ("Construct a regular expression for email addresses.", "Explanation:\nThe pattern matches a user name."),
])
def test_a_lead_in_that_restates_the_task_is_not_checked(prompt, response):
    first, *rest = [s for s in segment_claims(response) if s.checked]
    assert is_lead_in(first.check, prompt) and rest and not any(is_lead_in(s.check, prompt) for s in rest)


@pytest.mark.parametrize("prompt, claim", [
    # a word of its own: still a claim
    ("Tell me about Paris.", "Paris has three airports:"),
    ("Summarize the history of the treaty.", "The treaty was signed in 1919 by:"),
    ("Give five tips for staying healthy.", "Doctors at Harvard recommend these tips:"),
    # no colon: a sentence, whatever its words
    ("Give five tips for staying healthy.", "Here are five tips for staying healthy."),
    # short, but a statement of its own (a new-user trial's cases), not a two-word label
    ("Tell me about the capital of Australia.", "Sydney is the capital:"),
    ("Tell me about Thomas Edison.", "He was born in 1899:"),
    ("Who won the 2014 World Cup final?", "The winner was Brazil:"),
    ("Who invented the telephone? List the steps.", "Edison invented it:"),
    # the prompt's own words, but taking a side: a negation, or a pick of the prompt's choice
    ("Is coffee healthy or not? Give the main reasons.", "Coffee is not healthy, for these main reasons:"),
    ("Is coffee healthy? Give the main reasons.", "Coffee is healthy, for these main reasons:"),
])
def test_what_is_not_a_lead_in(prompt, claim):
    assert not is_lead_in(claim, prompt)


def test_a_lead_in_is_not_flagged_and_the_list_after_it_is_judged(scorer):
    source = ("Machine learning is used in fraud detection, where banks flag unusual transactions. "
              "It also powers recommendation systems in online shops.")
    prompt = "What are the different uses of machine learning?"
    response = ("The different uses of machine learning:\n1. Fraud detection: banks flag unusual transactions.\n"
                "2. Recommendation systems in online shops.")
    (g,) = scorer.score([PairInput(prompt, response, source)])
    assert [s.verdict for s in g.sentences][0] == "not_checked"
    assert g.verdict != "hallucinated" and any(s.verdict == "supported" for s in g.sentences[1:])


# -- a cloze: the answer fills a blank the text leaves (Alpaca 999 vs its own inputs' index: "fog.") --
@pytest.mark.parametrize("prompt, source", [
    ("Fill in the blank using a word that best completes the sentence.", None),
    ("Fill in the blanks with the right words.", None),
    ("Supply the missing word in this sentence.", None),
    ("Insert the missing words.", None),
    ("Choose the best word to fill the gap.", None),
    ("What word goes in the blank?", "I like to drink ____ in the morning."),
    ("Complete it.", "Paris is the [MASK] of France."),
    ("Which word belongs here?", "The (blank) barked at the mailman."),
])
def test_fill_in_the_blank_kinds(prompt, source):
    assert open_ended(prompt, source) == "fill in the blank"


@pytest.mark.parametrize("prompt, source", [
    ("What does __init__ do in a Python class?", None),
    ("Fill out the form with your details.", None),  # an open task, not a cloze
    ("What is the capital of France?", None),
    # underscores that are not a blank: a separator after a sentence, a handle (FactCG, FakeSumm)
    ("Is this claim supported?", "The parade airs on NBC and streams on Peacock. ___"),
    ("Summarize the article.", "The telescope is named after a mathematician. ___\nThe Associated Press receives support."),
    ("Summarize the article.", "A fan posted it (@____Kollin) on December 15, 2020."),
])
def test_what_is_not_a_blank(prompt, source):
    assert open_ended(prompt, source) != "fill in the blank"


@pytest.mark.parametrize("instruction, source, response", [
    ("Fill in the blank using a word that best completes the sentence.",
     "The city was blanketed in a thick layer of eerie ____.", "fog."),
    ("Fill in the blank.", "The ____ barked loudly at the mailman every morning.", "The dog barked loudly at the mailman."),
    ("Supply the missing word.", "Maria poured a cup of hot [blank] and sat by the window.", "tea"),
])
def test_a_word_filling_a_blank_is_not_a_hallucination(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{source}", response, source)])
    assert g.verdict != "hallucinated", [(s.text, s.verdict, s.support) for s in g.sentences]
    assert g.verdict == "unverifiable" and g.reason.startswith("an open-ended task")


# -- a label answer in index mode: the row's input is in its prompt, not given as a source -----------
HOUSING = ("Document: After a record-breaking run that saw mortgage rates plunge to all-time lows and home prices "
           "soar to new highs, the U.S. housing market finally is slowing. While demand and price gains are "
           "cooling, any correction is likely to be a modest one, housing economists and analysts say.\n"
           "Claim: The US housing market is going to crash soon.")
REVIEW = "The soup arrived cold, the waiter ignored us for twenty minutes and the bill was wrong."


@pytest.fixture(scope="module")
def own_inputs_scorer(embedder):
    from curator.index import Document, PassageIndex

    index = PassageIndex.build([Document("housing", HOUSING), Document("review", REVIEW),
                                Document("geo", "Lima is the capital of Peru. Quito is the capital of Ecuador.")],
                               embedder)
    return GroundingScorer(embedder=embedder, index=index)


@pytest.mark.parametrize("instruction, source, response", [
    ('Does the information in the document support the claim? You can answer "Support" or "Unsupport".', HOUSING,
     "Unsupport"),
    ("Is the sentiment of this review positive or negative?", REVIEW, "Negative"),
    ("Label the review as favourable or unfavourable.", REVIEW, "Unfavourable."),
])
def test_a_label_answer_is_not_judged_against_an_index(own_inputs_scorer, instruction, source, response):
    (g,) = own_inputs_scorer.score([PairInput(f"{instruction}\n\n{source}", response)])
    assert g.verdict == "unverifiable" and [s.verdict for s in g.sentences] == ["not_checked"], \
        [(s.text, s.verdict, s.support) for s in g.sentences]


def test_a_claim_against_an_index_is_still_judged_when_the_prompt_has_an_input(own_inputs_scorer):
    (g,) = own_inputs_scorer.score([PairInput("What is the capital of Peru?\n\nAnswer in one sentence.",
                                              "Quito is the capital of Peru.")])
    assert g.verdict == "hallucinated"


# -- tasks the new-user trial's flags showed (self-instruct and Alpaca rows, own wording) ---------------
@pytest.mark.parametrize("prompt, source, kind", [
    ("Given the following statement, select the best-suited reaction.", "The team was disqualified.", "generation"),
    ("Improve the following headline:", "New Launch of Online Banking", "rewrite"),
    ("Concatenate the two strings together.", 'String1: "Hello" String2: "World!"', "generation"),
    ("Turn down a job offer by sending an email to a recruiter explaining the reason.",
     "Reason: You decided to accept a different offer.", "message"),
    ("Decline the invitation by writing a short note to the host.", "Dinner on Friday at 8.", "message"),
    ("In relation to the given weather scenario, give some tips on how to adjust the travel plans.",
     "a sudden temperature change", "topic"),
    ("You will be required to write a few questions from the given company's interview section.", "Kohl's",
     "generation"),
    ("Include important study notes and key points about the given subject.", "history of the USA", "topic"),
    # still judged
    ("How does slicing in Python work? Please include references where appropriate.", None, None),
    ("What is the name of the website's home page?", "www.example.com", None),
    ("Convert it into Ruby.", 'print("Hello World!")', "generation"),
])
def test_tasks_the_trial_found(prompt, source, kind):
    assert open_ended(f"{prompt}\n\n{source}" if source else prompt, source) == kind


def test_a_question_answering_a_statement_is_not_a_hallucination(scorer, own_inputs_scorer):
    src = "The team was disqualified from the competition."
    prompt = f"Given the following statement, select the best-suited reaction.\n\n{src}"
    reply = "Is there a specific reason why the team was disqualified?"
    for s, pair in ((scorer, PairInput(prompt, reply, src)), (own_inputs_scorer, PairInput(prompt, reply))):
        (g,) = s.score([pair])
        assert g.verdict != "hallucinated", [(v.text, v.verdict, v.support) for v in g.sentences]


@pytest.mark.parametrize("prompt, kind", [
    ("Resolve the following problem: 9 - 2 x 3", "math"),
    ("What is 3+4*2?", "math"),
    ("What is 12 * 4 - 1?", "math"),
    ("The meeting is on 2020-12-07 at 10.", None),
    ("What is the significance of 1/1/1753 in SQL Server?", None),
    ("Set the resolution to 1920 x 1080 pixels.", None),
    ("Pages 10 - 20 of the report.", None),
])
def test_an_arithmetic_expression_is_a_math_task(prompt, kind):
    assert open_ended(prompt) == kind



# -- the second trial: a prompt that points at its source is judged whatever its verb; a rewrite or a
# message answers for a number or name it changes; "equations" in a question is not a math task ------
@pytest.mark.parametrize("prompt", [
    "Provide the year the treaty was signed, according to the passage.",
    "Select the sentence that names the palace, from the text.",
    "Choose the founding year of the company mentioned in the article.",
    "Generate a list of all the animals mentioned in this article.",
    "Fill in the blank using the passage: The Eiffel Tower is located in ____.",
    "What did Maxwell's equations unify, according to the text?",
    "When were Halley's calculations of the comet's orbit published?",
    "The contract dated 12 / 07 / 2020 was signed by whom?",
])
def test_a_prompt_pointing_at_its_source_or_a_question_about_equations_is_judged(prompt):
    assert open_ended(prompt) is None


@pytest.mark.parametrize("prompt, kind", [
    ("Classify the following statement as fake or real, based on the given context.", "generation"),
    ("What value of x satisfies the following equation: 2x + 3 = 7?", "math"),
    ("Perform a simple calculation of the total.", "math"),
    ("Polish the following sentence.", "rewrite"),
    ("Write an email to the team announcing the meeting details below.", "message"),
    ("Fill in the blank with a suitable word: The night was ____.", "fill in the blank"),
])
def test_open_kinds_that_stay(prompt, kind):
    assert open_ended(prompt) == kind


@pytest.mark.parametrize("instruction, source, wrong, right", [
    ("Polish the following sentence.", "The company was founded in Boston in 1998 by two engineers.",
     "Founded in 2003 in Boston by two engineers, the company has grown steadily.",
     "Founded in Boston in 1998 by two engineers, the company has grown steadily."),
    ("Improve the readability of this paragraph.", "Neil Armstrong walked on the Moon in July 1969.",
     "In July 1971, Neil Armstrong became the first person to walk on the Moon.",
     "In July 1969, Neil Armstrong became the first person to walk on the Moon."),
    ("Write an email to the team announcing the meeting details below.",
     "Meeting: Tuesday 14 March, 3 pm, Room 204.",
     "Dear team, our meeting is on Tuesday 14 March at 3 pm in Room 305. Best regards.",
     "Dear team, our meeting is on Tuesday 14 March at 3 pm in Room 204. Best regards."),
])
def test_a_rewrite_or_message_that_changes_a_number_is_flagged_and_its_additions_are_not(
        scorer, instruction, source, wrong, right):
    bad, good = scorer.score([PairInput(f"{instruction}\n\n{source}", wrong, source),
                              PairInput(f"{instruction}\n\n{source}", right, source)])
    assert bad.verdict == "hallucinated", [(v.text, v.verdict, v.features.get("num_mismatch")) for v in bad.sentences]
    assert good.verdict != "hallucinated", [(v.text, v.verdict, v.support) for v in good.sentences]


@pytest.mark.parametrize("instruction, source, wrong", [
    ("Provide the year the treaty was signed, according to the passage.",
     "The Treaty of Versailles was signed in 1919, ending the war.", "The Treaty of Versailles was signed in 1925."),
    ("Fill in the blank using the passage: The Eiffel Tower is located in ____.",
     "The Eiffel Tower is located in Paris, France.", "Berlin"),
])
def test_an_extractive_answer_that_contradicts_its_source_is_flagged(scorer, instruction, source, wrong):
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{source}", wrong, source)])
    assert g.verdict == "hallucinated", [(v.text, v.verdict, v.support) for v in g.sentences]


@pytest.mark.parametrize("source, topic", [
    ("Alexander Fleming discovered penicillin, a famous antibiotic", False),
    ("Marie Curie won two Nobel Prizes, in physics and chemistry", False),
    ("Fossil fuels, Global warming", True),
    ("Video Games and Board Games", True),
    ("Red, yellow and blue", True),
])
def test_a_short_sentence_with_a_comma_is_not_a_topic(source, topic):
    assert (open_ended("Who discovered it?", source) == "topic") is topic


@pytest.mark.parametrize("instruction, source, response, verdict", [
    # a short pick among offered names: the source naming another of them is about the pick
    ("Who wrote the novel, Charles Dickens or Jane Austen?",
     "Pride and Prejudice is an 1813 novel of manners written by Jane Austen.", "Charles Dickens", "hallucinated"),
    ("Who wrote the novel, Charles Dickens or Jane Austen?",
     "Pride and Prejudice is an 1813 novel of manners written by Jane Austen.", "Jane Austen", "supported"),
    ("Who painted the Mona Lisa: Leonardo da Vinci or Michelangelo?",
     "The Mona Lisa is a half-length portrait painting by the Italian artist Leonardo da Vinci.", "Michelangelo",
     "hallucinated"),
    ("Which river flows through Vienna, the Danube or the Rhine?",
     "Vienna lies on the Danube, the second-longest river in Europe.", "The Rhine.", "hallucinated"),
    # a comparison the source names one side of cannot be decided
    ("Who was born first, Albert Einstein or Marie Curie?", "Albert Einstein was born in Ulm in 1879.", "Marie Curie",
     "unverifiable"),
    ("Who was born first, Albert Einstein or Marie Curie?",
     "Albert Einstein was born in Ulm in 1879. Marie Curie was born in Warsaw in 1867.", "Marie Curie",
     "supported"),
])
def test_a_pick_among_offered_names_is_judged_where_the_source_decides_it(scorer, instruction, source, response, verdict):
    (g,) = scorer.score([PairInput(f"{instruction}\n\n{source}", response, source)])
    assert g.verdict == verdict, (g.reason, [(s.verdict, s.support) for s in g.sentences])


MSFT = "Microsoft was founded by Bill Gates and Paul Allen in 1975 in Albuquerque."
NADELLA = "Satya Nadella has been the chief executive officer of Microsoft since 2014."


@pytest.mark.parametrize("instruction, source, response, verdict", [
    # a short answer naming only what the source never writes, to a prompt pointing at the source
    ("Extract the name of the CEO from the text.", NADELLA, "The CEO is Bill Gates.", "hallucinated"),  # a trial's
    ("Based on the text, who founded the company?", MSFT, "Steve Jobs founded it.", "hallucinated"),
    ("From the passage, where was the company founded?", MSFT, "In Seattle.", "hallucinated"),
    # faithful answers stay supported
    ("Extract the name of the CEO from the text.", NADELLA, "Satya Nadella", "supported"),
    ("Based on the text, who founded the company?", MSFT, "Paul Allen and Bill Gates founded it.", "supported"),
    ("According to the passage, when did Nadella take over?", NADELLA, "In 2014.", "supported"),
])
def test_a_short_answer_to_a_prompt_pointing_at_its_source_is_judged(scorer, instruction, source, response, verdict):
    (g,) = scorer.score([PairInput(instruction, response, source)])
    assert g.verdict == verdict, (g.reason, [(s.verdict, s.support) for s in g.sentences])


@pytest.mark.parametrize("instruction, source, response", [
    # a count is read, not copied; a true addition to a name the source writes
    ("According to the passage, how many founders did Microsoft have?", MSFT, "Two."),
    ("From the passage, where was the company founded?", MSFT, "Albuquerque, New Mexico."),
    # without a pointer to the source, an answer about nothing in it is not judged
    ("Who founded the company?", MSFT, "Steve Jobs founded it."),
])
def test_a_count_an_addition_or_an_unpointed_question_is_not_condemned(scorer, instruction, source, response):
    (g,) = scorer.score([PairInput(instruction, response, source)])
    assert g.verdict != "hallucinated", (g.reason, [(s.verdict, s.support) for s in g.sentences])
