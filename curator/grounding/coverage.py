"""What grounding's checks can read: claims they cannot are ``unverifiable``, never ``supported``.

The lexical checks find names by their capitals (A-Z), stem English words and read numbers
written in digits or English words (:func:`curator.text.read_number_words`). A claim mostly in
another script (Arabic, Hebrew, CJK, Cyrillic, Thai, ...) has no capitals to find its names by:
"the Euphrates" for "the Nile" is not caught there, so such a claim is set aside as
``unverifiable`` (the reason names the script). So is a claim with a number written in words of
a language curator does not read ("trois millions"): that number is never compared.

:func:`set_aside_unreadable` is the one call the scorer makes, after the features and before the
combiner: a set-aside claim has no features, so neither the combiner, the verifier nor the pair's
verdict reads it, and its verdict stays ``unverifiable``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from ..text import STOPWORDS, words
from .claims import SentenceVerdict

#: A claim is set aside when more than this share of its letters are outside the Latin script.
MAX_OTHER_SCRIPT_SHARE = 0.5

_SCRIPT_NAMES = {"CJK": "CJK (Chinese/Japanese)", "HIRAGANA": "Japanese kana", "KATAKANA": "Japanese kana",
                 "HANGUL": "Korean Hangul"}

# Number words of other languages written in Latin letters, which curator does not read. Only
# words that are not also English words ("six", "once", "due", "elf", "cent", "mil" are left
# out), and a claim counts only when few of its words are English function words ("Cinco de Mayo"
# in an English sentence is a name).
_FOREIGN_NUMBER_WORDS = {
    "French": "deux trois quatre cinq huit neuf dix onze douze treize quatorze quinze seize vingt trente "
              "quarante cinquante soixante mille milliard milliards",
    "Spanish": "dos tres cuatro cinco seis siete ocho nueve diez doce trece catorce quince veinte treinta "
               "cuarenta cincuenta sesenta setenta ochenta noventa cien ciento cientos doscientos "
               "quinientos millón millones",
    "German": "zwei drei vier fünf sechs sieben acht neun zehn zwölf zwanzig dreißig vierzig fünfzig "
              "hundert tausend millionen milliarden",
    "Italian": "quattro cinque sette nove dieci venti trenta quaranta cinquanta cento mila milioni miliardi",
    "Portuguese": "dois três quatro cinco sete oito dez vinte trinta cem milhão milhões bilhões",
    "Dutch": "twee drie vijf zes zeven negen tien twintig dertig honderd duizend miljoen miljard",
}
_FOREIGN_NUMBER = {w: lang for lang, ws in _FOREIGN_NUMBER_WORDS.items() for w in ws.split()}
_LOWER_WORD_RE = re.compile(r"\b[^\W\d_A-Z]+\b")
#: A claim with at least this share of English function words is English (a foreign number word
#: in it is a name or a quotation).
_ENGLISH_SHARE = 0.15


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    """The script of a letter: "Latin", or another script's name ("Arabic", "Hebrew" ...)."""
    name = unicodedata.name(ch, "")
    if "LATIN" in name or not name:
        return "Latin"
    first = name.split(" ")[0]
    return _SCRIPT_NAMES.get(first, first.title())


def unreadable_reason(text: str) -> str | None:
    """Why curator's checks cannot read this claim ("Arabic script", "a number in French
    words"), or None when they can.

    >>> unreadable_reason("يمر نهر الفرات عبر القاهرة."), unreadable_reason("The Nile flows through Cairo.")
    ('Arabic script', None)
    """
    if not text.isascii():
        letters = [c for c in text if c.isalpha()]
        if letters:
            counts: dict[str, int] = {}
            for c in letters:
                sc = _script(c)
                counts[sc] = counts.get(sc, 0) + 1
            other = len(letters) - counts.get("Latin", 0)
            if other > MAX_OTHER_SCRIPT_SHARE * len(letters):
                script = max((k for k in counts if k != "Latin"), key=lambda k: counts[k])
                return f"{script} script"
    langs = [_FOREIGN_NUMBER[w] for w in _LOWER_WORD_RE.findall(text) if w in _FOREIGN_NUMBER]
    if langs:
        ws = words(text)
        if sum(w in STOPWORDS for w in ws) < _ENGLISH_SHARE * len(ws):
            return f"a number in {max(set(langs), key=langs.count)} words"
    return None


def set_aside_unreadable(per_pair: Sequence[list[SentenceVerdict]]) -> None:
    """Set aside (no features: ``unverifiable``, not judged) every checked claim whose text
    curator's checks cannot read (:func:`unreadable_reason`)."""
    for verdicts in per_pair:
        for v in verdicts:
            if v.features and unreadable_reason(v.text) is not None:
                v.features = {}
