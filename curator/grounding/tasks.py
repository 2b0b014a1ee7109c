"""Open-ended tasks: prompts whose answer is meant to say what its source text does not.

Role play and persona answers ("You are Sherlock Holmes ...", "Imagine you are an old tree ..."),
creative writing ("Write a brief speech ...", "Turn this paragraph into a story."), and answers
about code or a formal statement (the source is a program or a formula, the claims describe it in
words): the prompt's text - a scenario, a letter, a snippet - is a premise, not evidence the answer
restates. A claim that text lacks is the task, not a hallucination, so for such a pair curator
judges a claim only when the text states it with the opposite polarity (the ``neg_flip`` rule;
a new number or a name in generated text is the task too: the number and swap rules misfired on
the real rows); every other claim is ``unverifiable``, and the row's ``unverifiable_reason`` says
why. Measured in benchmarks/RESULTS.md ("Own-evidence rows").

The test reads the prompt's opening (a persona or a creative instruction) and the source's share
of code; it is deliberately narrow: "You are a helpful assistant." (a chat's system prompt) and
"You are given a passage ..." (an extractive task) are not personas.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..text import _CALL_OPEN_RE, segment_claims

#: A persona the prompt asks the answer to speak as (at the prompt's start).
_PERSONA_RE = re.compile(
    r"^\W*(?:"
    r"(?-i:You are|You're|You will be)\s+(?-i:(?=(?:a|an|the)\s|[A-Z]))(?!given|provided|asked|shown|told|presented|going\b|to\b|not\b)"
    r"|imagine (?:that )?(?:you(?:'re| are)?|yourself)\b"
    r"|pretend (?:that )?(?:you|to be)\b"
    r"|act as\b|acting as\b"
    r"|(?:assume|take on|take|play|adopt) the (?:role|persona|character)\b"
    r"|(?-i:As [A-Z][\w.'-]+(?: [A-Z][\w.'-]+){0,3}),"
    r"|in the role of\b"
    r"|(?:as|you are playing|you have been (?:transformed|turned) into) (?:a|an|the) [\w' -]{2,60},"
    r"|you (?:are playing|have been (?:transformed|turned) into)\b"
    r"|role[- ]?play(?:ing)?\b"
    r"|(?:you are|you're) (?:now )?(?:role[- ]?playing|playing the (?:role|part)|acting as|pretending)\b"
    r"|you (?:have|'ve) (?:taken|assumed|adopted|been given) the (?:role|persona|character|part)\b"
    r"|you (?:have been|were|are being) (?:appointed|hired|elected|chosen|selected|named|cast) as\b"
    r"|you (?:hear|wake up|find yourself|discover|stumble|arrive|walk into|wake|enter)\b"
    r")", re.IGNORECASE)

#: A persona met later in the prompt's first sentence ("In a post-apocalyptic world, you're a
#: resourceful survivor ..."), not a generic assistant ("You are a helpful AI assistant.").
_PERSONA_LATER_RE = re.compile(r"^[^.?!\n]{0,80}?(?:,\s*|\b(?:discover|realize|realise|learn|find out) (?:that )?)"
                               r"(?:you're|you are) (?:a|an|the) (?!helpful|honest|harmless|ai\b|"
                               r"assistant\b|language model)\w", re.IGNORECASE)

#: An instruction to produce something the source does not hold: a plan, a program, a design, an
#: estimate, a translation, a label for the source, a template, recommendations (the prompt's
#: first word or phrase, as an imperative).
_GENERATE_RE = re.compile(
    r"^\W*(?:please\s+)?(?:given (?:a|an|the|this|these) [^,.?!\n]{1,60},\s*)?(?:implement|build|train|develop|design|invent|generate|create|produce|propose|suggest|"
    r"recommend|brainstorm|plan|estimate|predict|translate|convert|expand|elaborate on|imagine|"
    r"(?:explain|describe) (?:a|an) (?:new|possible|creative|hypothetical)|"
    r"classify|categori[sz]e|assign|label|tag|"
    r"write (?:a|an|the|some|me)? ?(?:\w+ ){0,3}(?:program|script|function|code|query|class|method|email|letter|"
    r"message|reply|response|post|tweet|ad|advertisement|description|review|article|essay|blog|proposal|"
    r"cover letter|recipe|plan|list)|"
    r"find (?:the most suitable|a suitable|an? (?:appropriate|good) )|"
    r"give (?:\w+ ){0,2}examples? of|give (?:\w+ ){0,3}(?:a|an|some) (?:\w+ )?(?:motto|name|names|title|slogan|tagline|nickname|headline|"
    r"catchphrase)|make (?:a|an|up)\b|come up with|show (?:an?|the) (?:sql|query|code|example|program|script|function)|"
    r"solve|fix|debug|refactor|optimi[sz]e|complete the (?:code|function|program)|"
    r"what (?:other )?(?:\w+ ){0,2}(?:products|items|books|movies|songs|gifts) (?:might|would|could|should))\b",
    re.IGNORECASE)

#: Instruction verbs (the prompt's first word, after "Please", "Given the X," ...) that ask for
#: something new: a program, a plan, a label, a rating, solutions, a title, a completion ...
_OPEN_VERBS = frozenset("""
write compose create craft draft generate produce design develop build implement code program invent imagine
pretend brainstorm suggest propose recommend plan schedule estimate predict forecast translate convert transform
fix debug refactor optimize optimise complete continue expand elaborate recreate adapt provide offer
choose pick classify categorize categorise label tag assign rate rank detect decide solve calculate compute prove
parse sort arrange organize organise format devise formulate construct compile outline demonstrate guide link
fill insert supply concatenate reverse select
""".split())
#: Verbs that rewrite the source ("Polish the following sentence.", "Improve the headline"): the
#: words they add are the task, a number, name or polarity they change is not (``rewrite``).
_REWRITE_VERBS = frozenset("improve enhance polish".split())
#: Verbs that ask about something: judged against the source only when the prompt points at it
#: ("Explain the given code", "Describe the person in the text"), else open ("Describe how
#: Sherlock Holmes would approach ...").
_ASK_VERBS = frozenset("explain describe list identify find state name discuss".split())
_LEAD_RE = re.compile(r"^\W*(?:please\s+)?(?:(?:given|using|based on|with|from|in order to|in|for) [^,.?!\n]{1,80},\s*)?"
                      r"(?:please\s+)?(?:you (?:should|need to|will need to|must|have to|will|can)\s+)?"
                      r"(?:(?:be )?(?:required|asked|expected|supposed) to\s+)?([A-Za-z]+)\b",
                      re.IGNORECASE)
_POINTS_AT_SOURCE_RE = re.compile(
    r"\b(?:given|following|above|below|provided|this|these|the|attached)\s+(?:\w+\s+){0,2}(?:text|passage|paragraph|"
    r"article|document|context|input|story|email|review|statement|sentence|data|table|information|description|"
    r"facts?|conversation|dialogue|thread|report|excerpt|bio|biography|paper|page|transcript|post|code|snippet|"
    r"tweet|message|letter|poem|essay|summary|list|passage)\b|\binput\b|\bbased on\b|\baccording to\b",
    re.IGNORECASE)

#: "Write a summary ...", "Provide a brief synopsis ...": restating the source, judged like "Summarize".
_SUMMARY_RE = re.compile(r"^\W*(?:please\s+)?\w+ (?:a |an |the |me )?(?:\w+ ){0,2}(?:summary|synopsis|abstract|"
                         r"tl;?dr|recap)\b", re.IGNORECASE)

#: An instruction that asks for what its source says ("..., according to the passage", "from the
#: text", "mentioned in this article", "using the passage"): extractive, judged whatever its verb.
_EXTRACTIVE_RE = re.compile(
    r"\b(?:according to|as (?:stated|described|given|mentioned|shown) in|(?:mentioned|stated|described|named|listed|"
    r"given|found|shown) in|from|using|based on|with the help of) (?:the|this|that|these|those) (?:given |following |"
    r"above |provided |attached )?(?:passage|text|article|paragraph|document|context|story|report|excerpt)s?\b",
    re.IGNORECASE)

#: Verbs that ask for a label or a judgement: pointing at the source does not make them extractive.
_JUDGING_VERBS = frozenset("classify categorize categorise label tag rate rank assign decide detect judge".split())

#: A message to write, asked anywhere in the first sentence ("Turn down a job offer by sending an
#: email to a recruiter"): its words are the task's, not the source's.
_MESSAGE_RE = re.compile(r"^[^.?!\n]{0,120}?\b(?:send|sending|write|writing|draft|drafting|compose|composing|reply|"
                         r"replying|respond|responding)\s+(?:(?:to|with)\s+)?(?:a|an|the|this|that)\s+(?:\w+\s+){0,2}"
                         r"(?:email|e-mail|letter|message|note|memo|text|reply|response)\b", re.IGNORECASE)

#: A translation asked for in the prompt's first sentence (its words are in another language).
_TRANSLATE_RE = re.compile(r"^[^.?!\n]{0,120}?\btranslat(?:e|ing|ion)\b", re.IGNORECASE)

#: An instruction to write something new (a story, a poem, a speech, a letter ...).
_CREATIVE_RE = re.compile(
    r"^\W*(?:please\s+)?(?:write|compose|create|craft|draft|invent|make up|come up with|turn|rewrite|continue)\b"
    r"[^.?!\n]{0,60}\b(?:story|stories|poem|poetry|haiku|limerick|song|lyrics|rap|tale|fable|dialogue|script|scene|"
    r"speech|letter|toast|joke|slogan|tagline|monologue|narrative|plot|fiction|fictional)\b", re.IGNORECASE)

#: The same asked later in the first sentence, with a verb that only means writing ("Based on the
#: facts, compose a poem ..."; not "... the unexpected turn in the plot").
_CREATIVE_LATER_RE = re.compile(
    r"^[^.?!\n]{0,120}?\b(?:write|compose|craft)\b[^.?!\n]{0,40}\b(?:story|stories|poem|poetry|haiku|limerick|song|"
    r"lyrics|tale|fable|dialogue|script|speech|letter|monologue|narrative)\b", re.IGNORECASE)

#: A blank the answer is asked to fill ("a thick layer of eerie ____.", "[blank]", "[MASK]"): the
#: answer supplies what the text leaves out (a cloze), so the text cannot fail it.
#: An underscore blank sits inside a sentence (a word or a comma before it on its line, something
#: after it): not a separator line after a sentence ("... on Peacock. ___"), not a handle ("@____Kollin").
_BLANK_RE = re.compile(r"(?:(?<=[\w,;:'\"(=] )|^)_{3,}(?=[ \t]*[\w.,;:!?'\")])"
                       r"|\[(?:blank|mask)\]|\(blank\)|<(?:blank|mask)>", re.IGNORECASE | re.MULTILINE)
#: The same asked in words ("Fill in the blank with ...", "Supply the missing word ...").
_FILL_RE = re.compile(r"^\W*(?:please\s+)?(?:fill|insert|supply|provide|add|put|guess|predict|choose|pick|find)\b"
                      r"[^.?!\n]{0,40}\b(?:blanks?|gaps?|missing (?:word|words|term|terms|letter|letters|number|part))\b",
                      re.IGNORECASE)

#: A first sentence that only sets up an assistant ("You are a helpful AI assistant.", "You are an
#: AI assistant that helps people find information."), not a persona in a scene.
_ASSISTANT_RE = re.compile(
    r"^\W*(?:you are|you're) (?:a |an |the )?(?:[\w-]+ ){0,3}?(?:assistant|language model|chatbot)\b"
    r"(?![^.!?\n]*\b(?:world|role|character|capable|emotion|office|planet|century|survivor|detective|game|story)\b)",
    re.IGNORECASE)

#: A chat's system turn that only sets up the assistant ("You are a helpful assistant."): skipped.
_SYSTEM_LINE_RE = re.compile(r"^\W*(?:system\s*:\s*)?you are (?:a |an |the )?[^.\n]{0,40}\bassistant\b[.!]?[ \t]*\n+",
                             re.IGNORECASE)


#: Instruction verbs that ask for an analysis, a judgement or an opinion on the prompt's text:
#: the answer's reasoning is the task ("Analyze the family situation and give recommendations").
_ANALYSIS_VERBS = frozenset("analyze analyse evaluate assess critique interpret argue justify reflect comment "
                            "speculate hypothesize hypothesise infer deduce validate".split())
#: The same asked as a question or a phrase anywhere in the instruction.
_ANALYSIS_RE = re.compile(
    r"\bwhat (?:are|might be|could be|would be|will be) (?:the |some )?(?:possible |likely |potential )?"
    r"(?:implications|consequences|repercussions|effects|impacts?|benefits|risks|advantages|disadvantages|pros and cons)\b"
    r"|\bsuggestions? (?:you (?:may|might) have )?(?:for|on) (?:making|improving)\b"
    r"|\bdetermine (?:how|why)\b|\bopen[- ]ended\b"
    r"|\b(?:give|provide|offer|make|list) (?:\w+ ){0,3}(?:suggestions|recommendations|advice|feedback)\b"
    r"|\bhow (?:would|should|could|might) (?:you|one) (?:design|create|write|implement|build|develop|approach|"
    r"handle|solve|deal with|respond|react|improve|go about|plan|organi[sz]e|convince|persuade|explain)\b"
    r"|\bwhat (?:strategies|steps|measures|actions) (?:would|could|should|might|can)\b"
    r"|\bidentify (?:any |the |all )?(?:possible |potential )?(?:inaccuracies|errors|mistakes|issues|problems|flaws|"
    r"weaknesses|strengths|fallac(?:y|ies)|bias(?:es)?)\b",
    re.IGNORECASE)
#: A choice among labels the instruction offers (a class, a category, yes/no, "duplicates"):
#: the answer's words are the instruction's, the source holds no sentence stating them. Not when
#: the question is whether a claim is supported: that is what grounding checks.
_CLASSIFY_RE = re.compile(
    r"\b(?:check|determine|decide|tell(?: me)?|judge|indicate|predict|say|detect|find out) (?:if|whether)\b"
    r"|\bpossible (?:categories|labels|classes|answers|options|choices)\b"
    r"|\b(?:categories|labels|classes|options) (?:include|are)\b"
    r"|\bidentify (?:(?:all|the|its|which) ){0,2}(?:categories|category|labels?|class|sentiment|topic|tone|genre)\b"
    r"|\b(?:yes or no|true or false|positive or negative|positive, negative,? or neutral)\b",
    re.IGNORECASE)
#: A yes/no question about the given text itself (not about a claim): a judgement, even when its
#: word is "contradict" or "accurate" ("Does the text contradict itself?").
_TEXT_QUESTION_RE = re.compile(r"^\W*(?:does|do|is|are|was|can|did) (?:the|this) (?:given |following |above )?"
                               r"(?:text|passage|document|article|paragraph|sentence|review|tweet|email|story|poem|"
                               r"essay|letter|speech|post|message)\b(?![^?]*\b(?:claim|statement|summary|answer)\b)",
                               re.IGNORECASE)
_SUPPORT_QUESTION_RE = re.compile(r"\b(?:support\w*|true|accurate|correct|consistent|factual\w*|faithful\w*|"
                                  r"entail\w*|hallucinat\w*|evidence|claim|contradict\w*)\b", re.IGNORECASE)
#: A math problem: the answer computes numbers the text does not state.
_MATH_RE = re.compile(r"\b(?:(?:math(?:s|ematics|ematical)?|arithmetic) (?:word )?(?:problems?|questions?|exercises?)|"
                      r"word problems?|(?:solve|the following|following|this|these|given|an?|simple|linear|quadratic|"
                      r"algebraic|system of) (?:\w+ )?(?:equations?|calculations?)|solve for)\b"
                      # an expression of two operations ("9 - 2 x 3", "(4 + 5) * 2"); not a date (2020-12-07,
                      # 1/1/1753, 12 / 07 / 2020) nor one product of sizes ("1920 x 1080")
                      r"|\d\)?\s*(?:[+*×÷^]|\s[-x]\s)\s*\(?\d+(?:\.\d+)?\)?\s*(?:[+*×÷^]|\s[-x]\s)\s*\(?\d",
                      re.IGNORECASE)
#: The lead of a later instruction sentence: "Then", "Please", "Based on X,", "You need to" ...
_LATER_LEAD_RE = re.compile(
    r"^\W*(?:(?:and|then|so|now|also|finally),?\s+)?(?:please\s+)?"
    r"(?:(?:given|using|based on|with|from|for) [^,.?!\n]{1,80},\s*)?(?:please\s+)?"
    r"(?:(?:you|we) (?:should|need to|will need to|must|have to|are (?:asked|required|supposed|expected) to|"
    r"will|can)\s+|your (?:task|job|goal) is to\s+)?([A-Za-z]+)\b", re.IGNORECASE)
#: The same inside a sentence (", and you need to create its description").
_INNER_LEAD_RE = re.compile(
    r"\b(?:you (?:need to|will need to|are (?:asked|required|supposed|expected) to)|"
    r"your (?:task|job|goal) is to|it is up to you to)\s+(?:\w+ly\s+)?([A-Za-z]+)\b", re.IGNORECASE)
#: A sentence opening with a clause that holds commas itself ("Given three points A, B and C,
#: calculate ..."): the verb after its last comma.
_GIVEN_CLAUSE_RE = re.compile(r"^\W*(?:given|using|based on|with|for)\b[^.?!\n]*,\s*([A-Za-z]+)\b(?![^.?!\n]*,)",
                              re.IGNORECASE)
#: A sentence about writing something in the passive ("A confirmation email should be written").
_PASSIVE_WRITE_RE = re.compile(r"\bshould be (?:written|rewritten|changed|revised|composed|drafted|created|"
                               r"generated|reworded|rephrased|checked|corrected|edited|proofread|improved)\b",
                               re.IGNORECASE)
#: First person: a sentence of a chat turn ("I think you should write a book"), not an instruction.
_FIRST_PERSON_RE = re.compile(r"\b(?:I|I'm|I've|I'd|my|we're|our)\b")
_ASKS_YOU_RE = re.compile(r"\bI (?:want|would like|need) you to\b", re.IGNORECASE)


def _instruction_sentences(head: str, n: int = 4) -> list[str]:
    """The first ``n`` sentences of the prompt's first paragraph: the instruction, not its input."""
    para = re.split(r"\n\s*\n", head.strip(), maxsplit=1)[0]
    return [x for x in re.split(r"(?<=[a-z0-9)\"'][.?!:])\s+(?=[A-Z\"'(])|\n", para) if x.strip()][:n]


def _verb_kind(verb: str, sentence: str, whole: str | None = None) -> str | None:
    """The open kind an instruction sentence's leading verb asks for, or None (``sentence``
    from the verb on; ``whole``: the sentence with its lead clause, where it may point at the
    source: "Given the input, explain ...")."""
    if verb in _ANALYSIS_VERBS:
        return "analysis"
    if verb in _OPEN_VERBS and not _SUMMARY_RE.match(sentence):
        return "generation"
    if verb in _ASK_VERBS and not _POINTS_AT_SOURCE_RE.search(whole or sentence):
        return "generation"
    return None


@lru_cache(maxsize=4096)
def _task_kind(head: str) -> str | None:
    """Open kinds read from the whole instruction (not only its first words): a later sentence's
    imperative ("You are given two questions. Check if they are duplicates."), an inner one
    (", and you need to create its description"), an analysis or opinion, a choice among offered
    labels, a math problem. An instruction in the first person ("I think you should write a
    book") is a chat turn, not a task, unless it asks "I want you to ..." """
    sentences = _instruction_sentences(head)
    text = " ".join(sentences)
    if not text or (_FIRST_PERSON_RE.search(text) and not _ASKS_YOU_RE.search(text)):
        return None
    if _TEXT_QUESTION_RE.match(text) or (_CLASSIFY_RE.search(text) and not _SUPPORT_QUESTION_RE.search(text)):
        return "classification"
    if _MATH_RE.search(text):
        return "math"
    for k, x in enumerate(sentences):
        kinds = []
        lead = _LATER_LEAD_RE.match(x)
        if lead and k > 0:
            if _CREATIVE_RE.match(x[lead.start(1):]) or _GENERATE_RE.match(x[lead.start(1):]):
                return "generation"
            kinds.append(_verb_kind(lead.group(1).casefold(), x[lead.start(1):]))
        inner = _INNER_LEAD_RE.search(x)
        if inner:
            if _CREATIVE_RE.match(x[inner.start(1):]) or _GENERATE_RE.match(x[inner.start(1):]):
                return "generation"
            kinds.append(_verb_kind(inner.group(1).casefold(), x[inner.start(1):]))
        if _PASSIVE_WRITE_RE.search(x):
            kinds.append("generation")
        if k == 0:
            first = _LEAD_RE.match(x)
            if first and first.group(1).casefold() in _ANALYSIS_VERBS:
                kinds.append("analysis")
            clause = _GIVEN_CLAUSE_RE.match(x)
            if clause:  # "Given three points A, B and C, calculate the angle ABC."
                kinds.append(_verb_kind(clause.group(1).casefold(), x[clause.start(1):], x))
        found = next((kd for kd in kinds if kd), None)
        if found:
            return found
    if _ANALYSIS_RE.search(text):
        return "analysis"
    return None


#: Open kinds whose answer restates given facts in new words: a number, name or polarity it
#: changes is judged (the ``num_mismatch``, ``swap`` and ``neg_flip`` rules), the words it adds are not.
STRICT_OPEN_KINDS = frozenset({"rewrite", "message"})


def open_ended(prompt: str, source: str | None = None, response: str | None = None) -> str | None:
    """Why a pair is an open-ended task ("role play", "creative writing", "generation", "rewrite",
    "message", "code", "analysis", "classification", "math", "fill in the blank", "tool use"), or
    None. An instruction that points at its source for the answer ("..., according to the
    passage", "from the text": :data:`_EXTRACTIVE_RE`) is not a fill in the blank, rewrite,
    message or generation, whatever its verb. "rewrite" (improve, enhance, polish) and "message"
    (an email, letter or note to send) are judged for a changed number, name or polarity
    (:data:`STRICT_OPEN_KINDS`).

    "role play": the prompt opens with a persona; "creative writing": it opens with an
    instruction to write a story, poem, speech, letter ...; "generation": it opens with an
    instruction to produce something its text does not hold (a program, a plan, an estimate, a
    translation, a label, recommendations: :data:`_GENERATE_RE`); "code": most of the source's
    characters are program code (:func:`_code_share`), so the claims
    describe it in words it does not use. Read from the whole instruction (:func:`_task_kind`):
    "analysis" (analyze, evaluate, implications, advice ...), "classification" (a choice among
    labels it offers), "math" (a math problem), "generation" also from a later sentence's
    imperative; "fill in the blank": the prompt or source leaves a blank (``____``, ``[blank]``,
    ``[MASK]``) for the answer to fill. Read from the ``response`` (:func:`_response_kind`): "math" (a calculation
    written out), "tool use" (an inline tool call)."""
    if response and _response_is_code(response):
        return "code"
    head = _SYSTEM_LINE_RE.sub("", prompt.lstrip(), count=1)
    first = re.split(r"(?<=[.?!])\s|\n", head, maxsplit=1)[0]
    if _PERSONA_RE.match(head) and not _ASSISTANT_RE.match(first):
        return "role play"
    if _PERSONA_LATER_RE.match(head):
        return "role play"
    if _CREATIVE_RE.match(head) or _CREATIVE_LATER_RE.match(head):
        return "creative writing"
    lead = _LEAD_RE.match(head)
    verb = lead.group(1).casefold() if lead else ""
    # a label asked "based on the context" is still a judgement, not a fact read from it
    extractive = _EXTRACTIVE_RE.search(first) is not None and verb not in _JUDGING_VERBS
    if not extractive and (_FILL_RE.match(head) or _BLANK_RE.search(head) or (source and _BLANK_RE.search(source))):
        return "fill in the blank"
    if _TRANSLATE_RE.match(head):
        return "generation"
    if not extractive and verb in _REWRITE_VERBS:
        return "rewrite"
    if not extractive and _MESSAGE_RE.match(head):
        return "message"
    if not extractive and _GENERATE_RE.match(head):
        return "generation"
    if not extractive and verb in _OPEN_VERBS and not _SUMMARY_RE.match(head):
        return "generation"
    if verb in _ASK_VERBS and not _POINTS_AT_SOURCE_RE.search(first):
        return "generation"
    if source and source.strip() and _code_share(source) >= 0.5:
        return "code"
    if source and source.strip() and _states_nothing(source):
        return "topic"
    kind = _task_kind(head)
    if kind is None and response:
        kind = _response_kind(response)
    return kind


@lru_cache(maxsize=4096)  # the scorer and the grounding step ask for the same pairs
@lru_cache(maxsize=4096)
def _response_is_code(response: str) -> bool:
    """A response that is mostly unfenced program code (a shell script, a PHP page): its lines are
    statements, not claims. Fenced code is a not-checked segment already, so the prose around it is
    judged as usual; a written-out calculation is math (:func:`_response_kind`)."""
    if "```" in response or "~~~" in response or _code_share(response) < 0.5:
        return False
    return not any(s.kind == "calculation" for s in segment_claims(response))


#: A verb in a short comma list: it is a sentence ("Alexander Fleming discovered penicillin, a famous
#: antibiotic"), not a list of topics ("Fossil fuels, Global warming").
_STATES_RE = re.compile(r"\b(?:[a-z]+ed|is|are|was|were|has|have|had|will|can|does|did|won|made|became|wrote)\b")

#: A lowercase noun phrase of at most six words without a verb of being or having ("history of the
#: USA", "a sudden temperature change"): a subject to write about, not a statement.
_TOPIC_PHRASE_RE = re.compile(r"^(?:a |an |the )?[a-z](?!\S*\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+)"
                              r"(?!.*\b(?:is|are|was|were|has|have|had|will|can|does|did|do)\b)[^\n.\"'()*/=<>]*$")


def _states_nothing(source: str) -> bool:
    """A source that states nothing to check an answer against: only questions ("What is the
    average temperature in Los Angeles in September?"), or a short list or question without a
    sentence ("Video Games and Board Games", "Fossil fuels, Global warming", "How to prepare for
    a job interview", "history of the USA"); not a short answer-bearing source ("Satya Nadella",
    "the capital is Paris")."""
    text = source.strip()
    sentences = [x for x in re.split(r"(?<=[.?!])\s+|\n", text) if x.strip()]
    if sentences and all(x.rstrip().endswith("?") for x in sentences):
        return True
    return (len(text.split()) <= 8 and not re.search(r"[.!?;:]\s*$|[.!?;]\s|\d|[{}\[\]:=]", text)
            and bool((re.search(r",| and ", text) and not _STATES_RE.search(text))
                     or re.search(r"^\W*(?:how|what|why|when|where|who|which)\b", text, re.IGNORECASE)
                     or _TOPIC_PHRASE_RE.match(text)))


def _response_kind(response: str) -> str | None:
    """What the response itself shows: a calculation written out ("Adults = 9 * 11 = 99") makes
    it a math answer, whose other sentences restate computed numbers ("The adults' tickets cost
    $50 more."); an inline tool call ("... wolfram('seconds in a day')") makes it a tool use, whose
    facts come from a result the row does not hold."""
    kinds = {s.kind for s in segment_claims(response)}
    if "calculation" in kinds:
        return "math"
    if "code" in kinds and _CALL_OPEN_RE.search(response):  # an inline call with a quoted argument
        return "tool use"
    return None



#: Marks of program code prose does not use: statement ends, braces, operators, tags.
_CODE_MARK_RE = re.compile(r"[;{}]|=>|==|!=|\+\+|\+=|::|->|<<|>>|</?[a-zA-Z][\w.-]*>|#include\b")
_ENTITY_RE = re.compile(r"&#?\w+;")


def _code_share(text: str) -> float:
    """The share of the text's non-blank lines that read as code: a line inside a fenced block,
    or a short one (<= 150 characters) that reads as a statement
    (:data:`curator.dedup.syntax._CODE_LINE_RE`). A one-line text is code (1.0) when it has at
    least three code marks and three per 100 characters (HTML entities aside)."""
    from ..dedup.syntax import _CODE_LINE_RE

    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return 0.0
    if len(lines) == 1:
        line = _ENTITY_RE.sub(" ", lines[0])
        marks = len(_CODE_MARK_RE.findall(line))
        return 1.0 if marks >= 3 and marks * 100 >= 3 * len(line) else 0.0
    code, inside = 0, False
    for ln in lines:
        if ln.lstrip().startswith(("```", "~~~")):
            inside = not inside
            code += 1
        elif inside or (len(ln) <= 150 and _CODE_LINE_RE.match(ln)):
            code += 1
    return code / len(lines)
