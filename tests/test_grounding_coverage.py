"""Issue 22 item 10: what grounding cannot read is unverifiable, never supported.

A swapped entity in Arabic or Hebrew ("the Euphrates" for "the Nile") passed as supported while
the English one was caught; number words were compared in no language. Now a claim mostly in a
script the checks do not read, or with a number in another language's words, is unverifiable
(with its reason, counted, warned once with the language); English number words are numbers."""

import json

import pytest
from click.testing import CliRunner

from curator.cli import cli
from curator.grounding.coverage import unreadable_reason
from curator.text import read_number_words

CAIRO = {
    "en": ("Which river flows through Cairo?", "The Nile flows through Cairo.", "The Euphrates flows through Cairo.",
           "Cairo is the capital of Egypt. The Nile flows through Cairo and the city lies on its banks."),
    "ar": ("ما النهر الذي يمر عبر القاهرة؟", "يمر نهر النيل عبر القاهرة.", "يمر نهر الفرات عبر القاهرة.",
           "القاهرة هي عاصمة مصر. يمر نهر النيل عبر القاهرة وتقع المدينة على ضفافه."),
    "he": ("איזה נהר זורם דרך קהיר?", "נהר הנילוס זורם דרך קהיר.", "נהר הפרת זורם דרך קהיר.",
           "קהיר היא בירת מצרים. נהר הנילוס זורם דרך קהיר והעיר שוכנת על גדותיו."),
    "ru": ("Какая река протекает через Каир?", "Через Каир протекает Нил.", "Через Каир протекает Евфрат.",
           "Каир является столицей Египта. Через Каир протекает Нил, и город стоит на его берегах."),
    "zh": ("哪条河流经开罗？", "尼罗河流经开罗。", "幼发拉底河流经开罗。", "开罗是埃及的首都。尼罗河流经开罗，城市位于河岸上。"),
}
SCRIPT = {"ar": "Arabic script", "he": "Hebrew script", "ru": "Cyrillic script", "zh": "CJK (Chinese/Japanese) script"}
POP = "How many people live in the city?"
NUMBERS = [  # (id, response, source, expected verdict)
    ("words_vs_digits_same", "About three million people live in the city.",
     "The city has a population of about 3,000,000 people.", "supported"),
    ("words_vs_digits_other", "About three million people live in the city.",
     "The city has a population of about 800,000 people.", "hallucinated"),
    ("words_vs_words_other", "About three million people live in the city.",
     "The city has a population of about eight hundred thousand people.", "hallucinated"),
    ("decimal_scale_same", "About 3.5 million people live in the city.",
     "The city has a population of about 3,500,000 people.", "supported"),
    ("hyphenated_same", "Twenty-one thousand people live in the city.",
     "The city has a population of 21,000 people.", "supported"),
    ("french_words", "Environ trois millions de personnes vivent dans la ville.",
     "La ville compte environ huit cent mille habitants.", "unverifiable"),
    ("spanish_words", "Unos tres millones de personas viven en la ciudad.",
     "La ciudad tiene unos ochocientos mil habitantes.", "unverifiable"),
]


def _score(tmp_path, rows, *extra):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    res = CliRunner().invoke(cli, ["score", str(path), "--source-field", "context", "-o", str(out), *extra])
    assert res.exit_code == 0, res.output
    return {json.loads(x)["id"]: json.loads(x)["curator"] for x in out.read_text().splitlines()}, res


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_CACHE_DIR", str(tmp_path / "cache"))


def test_scripts_the_checks_do_not_read_are_unverifiable_not_supported(tmp_path):
    rows = []
    for lang, (q, good, bad, src) in CAIRO.items():
        rows.append({"id": f"{lang}_good", "instruction": q, "output": good, "context": src})
        rows.append({"id": f"{lang}_swap", "instruction": q, "output": bad, "context": src})
    got, res = _score(tmp_path, rows)
    assert got["en_good"]["grounding_verdict"] == "supported"
    assert got["en_swap"]["grounding_verdict"] == "hallucinated"      # English: caught, as before
    for lang, script in SCRIPT.items():
        for kind in ("good", "swap"):
            row = got[f"{lang}_{kind}"]
            assert row["grounding_verdict"] == "unverifiable", (lang, kind, row)
            assert script in row["unverifiable_reason"], row
            assert not row.get("hallucinated")
    warnings = [x for x in res.stderr.splitlines() if "curator's checks do not read them" in x]
    assert len(warnings) == 1, res.stderr
    for script in SCRIPT.values():
        assert f"2 in {script}" in warnings[0]


def test_number_words(tmp_path):
    rows = [{"id": i, "instruction": POP, "output": r, "context": s} for i, r, s, _ in NUMBERS]
    got, res = _score(tmp_path, rows)
    for i, _, _, want in NUMBERS:
        assert got[i]["grounding_verdict"] == want, (i, got[i])
    assert "a number in French words" in got["french_words"]["unverifiable_reason"]
    assert "a number in Spanish words" in got["spanish_words"]["unverifiable_reason"]
    assert "with a number in French words" in res.stderr


def test_run_counts_them_in_the_summary(tmp_path):
    q, good, bad, src = CAIRO["ar"]
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"instruction": q, "output": bad, "context": src}, ensure_ascii=False) + "\n")
    res = CliRunner().invoke(cli, ["run", str(path), "--source-field", "context", "-o", str(tmp_path / "o"), "--no-report"])
    assert res.exit_code == 0, res.output
    g = json.loads((tmp_path / "o" / "summary.json").read_text())["stages"]["grounding"]
    assert g["verdicts"] == {"supported": 0, "hallucinated": 0, "unverifiable": 1}
    assert any("1 in Arabic script" in w for w in g["warnings"])


@pytest.mark.parametrize("text,reason", [
    ("يمر نهر الفرات عبر القاهرة.", "Arabic script"),
    ("נהר הפרת זורם דרך קהיר.", "Hebrew script"),
    ("ประเทศไทยมีเมืองหลวงคือกรุงเทพ", "Thai script"),
    ("서울은 한국의 수도입니다.", "Korean Hangul script"),
    ("The Nile flows through Cairo.", None),
    ("The capital, القاهرة, lies on the Nile river in northern Egypt.", None),   # mostly Latin letters
    ("The restaurant serves tres leches cake on Cinco de Mayo.", None),           # an English sentence
    ("Environ trois millions de personnes.", "a number in French words"),
    ("Die Stadt hat drei Millionen Einwohner.", "a number in German words"),
    ("Café au lait costs three euros.", None),
])
def test_unreadable_reason(text, reason):
    assert unreadable_reason(text) == reason


@pytest.mark.parametrize("text,want", [
    ("three million", "3,000,000"), ("eight hundred thousand", "800,000"), ("twenty-one", "21"),
    ("one hundred and five", "105"), ("3.5 million", "3,500,000"), ("half a million", "500,000"),
    ("two dozen eggs", "24 eggs"), ("seven thousand five hundred", "7500"), ("nineteen hundred", "1900"),
    ("a hundred years", "100 years"), ("Three of them", "3 of them"), ("1.2 billion", "1,200,000,000"),
    # left alone: a lone "one", plurals, numbers in digits, words that are not numbers
    ("no one knows", "no one knows"), ("one of the best", "one of the best"), ("millions of stars", "millions of stars"),
    ("In 2019 there were 12 teams.", "In 2019 there were 12 teams."), ("a few million", "a few million"),
    ("two three", "2 3"), ("five and six", "5 and 6"),
    # a fraction's numerator stays a word (a trial: "about two thirds of patients (68%)" read 2)
    ("about two thirds of patients", "about two thirds of patients"), ("three quarters of the vote",
     "three quarters of the vote"), ("one fifth", "one fifth"), ("two third-party apps", "2 third-party apps"),
])
def test_read_number_words(text, want):
    assert read_number_words(text) == want
