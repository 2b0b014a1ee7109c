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
    r")", re.IGNORECASE)

#: A persona met later in the prompt's first sentence ("In a post-apocalyptic world, you're a
#: resourceful survivor ..."), not a generic assistant ("You are a helpful AI assistant.").
_PERSONA_LATER_RE = re.compile(r"^[^.?!\n]{0,80}?,\s*(?:you're|you are) (?:a|an|the) (?!helpful|honest|harmless|ai\b|"
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
    r"make (?:a|an|up)\b|come up with|show (?:an?|the) (?:sql|query|code|example|program|script|function)|"
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
parse sort arrange organize organise format devise formulate construct compile outline
""".split())
#: Verbs that ask about something: judged against the source only when the prompt points at it
#: ("Explain the given code", "Describe the person in the text"), else open ("Describe how
#: Sherlock Holmes would approach ...").
_ASK_VERBS = frozenset("explain describe list identify find state name discuss".split())
_LEAD_RE = re.compile(r"^\W*(?:please\s+)?(?:(?:given|using|based on|with|from|in order to) [^,.?!\n]{1,80},\s*)?"
                      r"(?:please\s+)?(?:you (?:should|need to|will need to|must|have to|will|can)\s+)?([A-Za-z]+)\b",
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

#: A first sentence that only sets up an assistant ("You are a helpful AI assistant.", "You are an
#: AI assistant that helps people find information."), not a persona in a scene.
_ASSISTANT_RE = re.compile(
    r"^\W*(?:you are|you're) (?:a |an |the )?(?:[\w-]+ ){0,3}?(?:assistant|language model|chatbot)\b"
    r"(?![^.!?\n]*\b(?:world|role|character|capable|emotion|office|planet|century|survivor|detective|game|story)\b)",
    re.IGNORECASE)

#: A chat's system turn that only sets up the assistant ("You are a helpful assistant."): skipped.
_SYSTEM_LINE_RE = re.compile(r"^\W*(?:system\s*:\s*)?you are (?:a |an |the )?[^.\n]{0,40}\bassistant\b[.!]?[ \t]*\n+",
                             re.IGNORECASE)


def open_ended(prompt: str, source: str | None = None) -> str | None:
    """Why a pair is an open-ended task ("role play", "creative writing", "generation", "code"),
    or None.

    "role play": the prompt opens with a persona; "creative writing": it opens with an
    instruction to write a story, poem, speech, letter ...; "generation": it opens with an
    instruction to produce something its text does not hold (a program, a plan, an estimate, a
    translation, a label, recommendations: :data:`_GENERATE_RE`); "code": most of the source's
    characters are program code (:func:`_code_share`), so the claims
    describe it in words it does not use."""
    head = _SYSTEM_LINE_RE.sub("", prompt.lstrip(), count=1)
    first = re.split(r"(?<=[.?!])\s|\n", head, maxsplit=1)[0]
    if _PERSONA_RE.match(head) and not _ASSISTANT_RE.match(first):
        return "role play"
    if _PERSONA_LATER_RE.match(head):
        return "role play"
    if _CREATIVE_RE.match(head) or _CREATIVE_LATER_RE.match(head):
        return "creative writing"
    if _GENERATE_RE.match(head) or _TRANSLATE_RE.match(head):
        return "generation"
    lead = _LEAD_RE.match(head)
    verb = lead.group(1).casefold() if lead else ""
    if verb in _OPEN_VERBS and not _SUMMARY_RE.match(head):
        return "generation"
    if verb in _ASK_VERBS and not _POINTS_AT_SOURCE_RE.search(first):
        return "generation"
    if source and source.strip() and _code_share(source) >= 0.5:
        return "code"
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
