"""Whether a question is written in a language other than English, so that its asker is told the bot
reads English instead of "I found nothing" (the model and the articles are English: a question in
another language finds nothing, or worse, something by chance).

A question is foreign when most of its letters are not Latin (Arabic, Cyrillic, Greek, Hebrew, CJK,
Devanagari...), or when it holds more of the small words other Latin-script languages ask with
("wie", "combien", "cuántos", "quem", "hoeveel"...) than English ones. The lists leave out words that
are English too or live in English names ("die", "de", "la", "del", "van", "der"), so a question about
the Copa del Rey or Düsseldorf stays English. Measured (`python -m benchmarks.language`): no SQuAD dev
question is taken for foreign, and most questions in other languages are.
"""

from __future__ import annotations

import re
import unicodedata

_WORDS = re.compile(r"[^\W\d_]+")

# Small words (question words, auxiliaries, pronouns, prepositions) of the Latin-script languages people
# most often ask in, none of them an English word or common in English names.
FOREIGN_WORDS = frozenset("""
    wie wer wo wann warum welche welcher welches viele viel ist sind haben wurde wurden und oder nicht dem
    eine einen einem gibt sich zum zur vom gegen nach über für auf auch noch schon passiert gestorben
    combien qui quoi quel quelle quels quelles pourquoi quand où sont ont été une aux avec pour dans sur qu
    ce cette ces ils nous vous leur dit
    cuántos cuántas cuantos cuantas cuánto quién quiénes qué dónde cuándo cuando cómo cuál por para una
    unos unas fue fueron está están es muy pero sobre pasó dijo según
    quanti quante quanto cosè perché quale dello delle degli sono stato stata successo detto
    quantos quantas quem onde porque qual quais não foi foram pelo pela uma aconteceu disse há
    hoeveel waar wanneer waarom welke zijn het een niet gebeurd zei heeft hebben
    kaç neden nerede zaman nedir oldu dedi mı
    ilu kto jest dlaczego gdzie kiedy jaki jaka się nie czy zginęło
    hur många vem vad varför när och
    berapa siapa mengapa kapan itu
    có nhiêu người ở là tại gì đã của chuyện xảy
""".split())

# English small words, so that a question quoting a foreign phrase ("What does 'je ne sais quoi' mean?")
# stays English when its own words are English.
ENGLISH_WORDS = frozenset("""
    what who whom whose which where when why how are were be been being do does did has have had
    the an of on at to for from by with about into than that this these those it its they their
    there many much and or not will would can could should may might shall say said happen happened
    mean name called
""".split())

# Small words of those languages that are English words too or live in names (Los Angeles, da Vinci, Kim
# Jong-un): each counts half, and only beside a word of FOREIGN_WORDS.
SHARED_WORDS = frozenset("""
    de la le les des del los las il da das den die der van von el di du chi cosa was hat wat kim mit come
    dove han hay no na ne er co que se en al lo si os ao
""".split())

# A question whose letters are mostly outside the Latin script is foreign: English questions name a
# Chinese city or a Greek letter, but in English words around them.
NON_LATIN_SHARE = 0.5


def is_foreign(text: str) -> bool:
    """Whether `text` reads as a language other than English (see the module's docstring)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    if latin < len(letters) * (1 - NON_LATIN_SHARE):
        return True
    words = _WORDS.findall(text.lower())
    foreign = sum(1 for w in words if w in FOREIGN_WORDS)
    if not foreign:
        return False
    shared = sum(1 for w in words if w in SHARED_WORDS)
    english = sum(1 for w in words if w in ENGLISH_WORDS)
    return foreign + shared / 2 > english
