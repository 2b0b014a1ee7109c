"""Code and math keep their meaning: which characters are syntax, not sentence punctuation.

Dedup folds case, whitespace and sentence punctuation (normalize.py). In code and math those
carry meaning:

* **Code** (fenced with ``` or ~~~, or detected: lines that read as statements, see
  :func:`code_regions`): indentation, line breaks, quotes, commas and every other mark are
  kept. Two Python programs that differ only in indentation print different things;
  ``print("5"+"5")`` is not ``print(5+5)``.
* **Primes**: ``f'(2)``, ``f''(2)`` and ``f'''(2)`` are three derivatives. An apostrophe
  after a letter and before a bracket, a run of two or more after a letter, and one after a
  closing bracket are primes (kept as ``′``); one between two letters ("don't") is kept too.
* **Marks inside an expression**: ``, . ; : ! ?`` directly followed by a letter, digit,
  bracket or operator (``(1,)``, ``a.b``, ``x!=y``, ``f(a,b)``) and quotes next to a bracket
  or operator (``("5"+"5")``) are syntax; followed by a space or the end they are sentence
  punctuation, as before.

:func:`protect` rewrites a text so that the normaliser keeps all of this (kept marks become
private-use characters it never folds); :func:`code_signature` is what the value guard compares
(the layout and marks of a text's code, without its names).
"""

from __future__ import annotations

import re

# Private-use characters the normaliser treats as letters (Unicode Co; NFKC and casefold keep
# them): a kept mark c becomes chr(_KEEP + ord(c)); a code line break and an indent level get
# their own.
_KEEP = 0xF0000
_LINE = chr(0xF000A)
_INDENT = chr(0xF0009)

_FENCE_RE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
# A line that reads as a statement of a programming language.
_CODE_LINE_RE = re.compile(
    r"""^[ \t]*(?:
        (?:def|class)[ \t]+\w+.*:[ \t]*$                                   # Python definitions
      | (?:if|elif|else|for|while|try|except|finally|with|async[ \t]+def)\b.*:[ \t]*$
      | (?:import[ \t]+[\w.]+|from[ \t]+[\w.]+[ \t]+import\b|\#include\b|using[ \t]+namespace\b
         |package[ \t]+[\w.]+;|\#!/)
      | [A-Za-z_][\w.]*(?:\[[^\]\n]*\])?[ \t]*(?:[-+*/%&|^]|//|\*\*|<<|>>)?=[ \t]*\S.*$  # assignment
      | [A-Za-z_][\w.]*\(.*\)[ \t]*;?[ \t]*$                              # a call
      | .*[;{][ \t]*$ | [ \t]*[}\])][ \t;,)]*$                            # C-like blocks
      | (?://|/\*)                                                        # comments
    )""", re.M | re.X)

# Marks kept outside code (see the module notes). Letters: [^\W\d_]; operands: letters,
# digits and closing brackets.
# Each pattern opens with the mark itself (a lookbehind then checks what stands before it), so
# the regular-expression engine jumps from mark to mark instead of testing every position.
_PRIME_RE = re.compile(r"['’′](?:(?<=[^\W_]['’′])(?=[(\[])|(?<=[^\W_)\]}]['’′])['’′]+"
                       r"|(?<=[)\]}]['’′])['’′]*)")
_APOSTROPHE_RE = re.compile(r"['’](?<=[^\W\d_]['’])(?=[^\W\d_])")
_OPERAND = r"A-Za-z0-9_({\[<>=+\-*/\\|&^%$#@~"
_MARK_RE = re.compile(
    rf"[;!?](?<=\S.)(?=[{_OPERAND}])|[,.:](?<=\S.)(?=[{_OPERAND.replace('0-9', '')}])"
    r"|[,.:](?<=[^\s\d].)(?=\d)|,(?<=\S,)(?=[)\]}])")
_QUOTE_RE = re.compile(r"[\"'](?<=[(\[{+\-*/=<>%][\"'])|[\"'](?=[)\]}+\-*/=<>%])")
# The same marks as the value guard reads them in a chunk of text (replaced ones are values),
# with separators between digits ("a[1:2]" / "a[1,2]"; "10,000" / "10000" only removes one).
SYNTAX_MARK_RE = re.compile(
    "|".join(f"(?:{r.pattern})" for r in (_PRIME_RE, _MARK_RE, _QUOTE_RE))
    + r"|[.,:](?<=\d.)(?=\d)")
# Marks that change an expression even when only added or removed: primes ("f(2)" / "f'(2)"),
# a comma before a closing bracket ("(1)" / "(1,)"), quotes next to an operator or bracket
# ('print(5+5)' / 'print("5"+"5")').
EXPRESSION_MARK_RE = re.compile(
    "|".join(f"(?:{r.pattern})" for r in (_PRIME_RE, re.compile(r",(?<=\S,)(?=[)\]}])"),
                                          _QUOTE_RE)))


def expression_marks(text: str) -> tuple[str, ...]:
    """The text's :data:`EXPRESSION_MARK_RE` marks, sorted (primes written one way).

    >>> expression_marks("f''(2) + (1,)"), expression_marks("f'(2) + (1)")
    (("''", ','), ("'",))
    """
    if not EXPRESSION_MARK_RE.search(text):
        return ()
    return tuple(sorted(m.group(0).replace("’", "'").replace("′", "'")
                        for m in EXPRESSION_MARK_RE.finditer(text)))


def code_regions(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the code in a text: fenced blocks (their body), and runs of
    lines that read as statements, with the indented and blank lines between and after them.

    >>> t = "Fix this:\\nfor i in range(3):\\n    print(i)\\nprint('done')\\nThanks."
    >>> [t[a:b] for a, b in code_regions(t)]
    ["for i in range(3):\\n    print(i)\\nprint('done')"]
    """
    out: list[tuple[int, int]] = []
    fenced: list[tuple[int, int]] = []
    if "```" in text or "~~~" in text:
        for m in _FENCE_RE.finditer(text):
            fenced.append((m.start(), m.end()))
            out.append((m.start(2), m.end(2)))
    if not _CODE_LINE_RE.search(text):
        return out
    start = end = -1  # the open region
    pos = 0
    for line in text.split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        if any(fa <= a < fb for fa, fb in fenced):
            continue
        stripped = line.strip()
        if _CODE_LINE_RE.match(line):
            if start < 0:
                start = a
            end = b
        elif start >= 0 and (not stripped or line[:1] in " \t"):
            if stripped:
                end = b  # an indented line continues the block
        elif start >= 0:
            out.append((start, end))
            start = -1
    if start >= 0:
        out.append((start, end))
    return sorted(out)


def _indent_width(line: str) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 8 - width % 8
        else:
            break
    return width


def _code_lines(code: str) -> list[tuple[int, str]]:
    """(indent level, line without its indentation and with inner whitespace collapsed) of
    the non-blank lines of a block of code. Levels rank the block's indent widths, so 2-space
    and 4-space copies of one program have the same levels."""
    lines = [(_indent_width(line), " ".join(line.split())) for line in code.split("\n")]
    lines = [(w, s) for w, s in lines if s]
    widths = sorted({w for w, _ in lines})
    level = {w: k for k, w in enumerate(widths)}
    return [(level[w], s) for w, s in lines]


def _keep(chars: str) -> str:
    return "".join(chr(_KEEP + ord(c)) if ord(c) < 0x10000 and not (c.isalnum() or c.isspace())
                   else c for c in chars)


def _protect_marks(text: str) -> str:
    if "'" in text or "’" in text or "′" in text:
        text = _PRIME_RE.sub(lambda m: "′" * len(m.group(0)), text)
        text = _APOSTROPHE_RE.sub("ʼ", text)
    if _MARK_RE.search(text):
        text = _MARK_RE.sub(lambda m: _keep(m.group(0)), text)
    if _QUOTE_RE.search(text):
        text = _QUOTE_RE.sub(lambda m: _keep(m.group(0)), text)
    return text


def protect(text: str) -> str:
    """The text with its syntax made safe from folding: code regions laid out as indent levels
    and line breaks with every mark kept, primes and marks inside expressions kept.

    >>> protect("f'(2)") != protect("f''(2)"), protect("(1,)") != protect("(1)")
    (True, True)
    """
    regions = code_regions(text)
    if not regions:
        return _protect_marks(text)
    out: list[str] = []
    pos = 0
    for a, b in regions:
        out.append(_protect_marks(text[pos:a]))
        lines = _code_lines(text[a:b])
        out.append(" " + _LINE.join(_INDENT * lvl + _keep(s) for lvl, s in lines) + " ")
        pos = b
    out.append(_protect_marks(text[pos:]))
    return "".join(out)


def code_signature(text: str) -> str | None:
    """The layout and marks of a text's code: per line its indent level and every character
    that is not a letter, digit or space (names and numbers left to the other checks); None
    for a text without code. Two texts whose code differs in indentation, quotes, commas,
    brackets or operators have different signatures.

    >>> code_signature("for i in x:\\n    print(i)") == code_signature("for j in y:\\n  print(j)")
    True
    >>> code_signature("for i in x:\\n    print(i)\\n    print(1)") == code_signature(
    ...     "for i in x:\\n    print(i)\\nprint(1)")
    False
    """
    regions = code_regions(text)
    if not regions:
        return None
    parts = []
    for a, b in regions:
        for lvl, s in _code_lines(text[a:b]):
            parts.append(f"{lvl}:" + "".join(c for c in s if not (c.isalnum() or c.isspace())))
    return "\n".join(parts)
