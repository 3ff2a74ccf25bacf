"""How reliably `retrieval.language.is_foreign` tells English questions from others: the share of SQuAD
v1.1 dev questions (English, written by people) it takes for foreign, which must be about nil, and the
share of the questions in tests/non_english_questions.py it detects: HELD_OUT (16 languages, never tuned
on) is the figure; NON_ENGLISH (21 languages) is what the word lists were written against.

    .venv/bin/python -m benchmarks.language [--langid]    # --langid: py3langid too, if installed, for comparison
    .venv/bin/python -m benchmarks.language --write-docs  # the table in docs/BOT.md
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import provenance, table, write_block
from newsbot.retrieval.language import is_foreign
from tests.non_english_questions import ENGLISH_CHAT, HELD_OUT, NON_ENGLISH

ROOT = Path(__file__).resolve().parents[1]
SQUAD_DEV = ROOT.parent / "shared" / "eval" / "squad_v1.1_dev.jsonl"
COMMAND = ".venv/bin/python -m benchmarks.language --write-docs"


def squad_questions(path: Path = SQUAD_DEV) -> list[str]:
    questions = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            for paragraph in json.loads(line)["paragraphs"]:
                questions += [qa["question"] for qa in paragraph["qas"]]
    return questions


def measure(detect: Callable[[str], bool], squad: list[str]) -> dict[str, object]:
    started = time.perf_counter()
    flagged = [q for q in squad if detect(q)]
    seconds = time.perf_counter() - started
    tuning = [q for qs in NON_ENGLISH.values() for q in qs]
    held_out = [q for qs in HELD_OUT.values() for q in qs]
    return {"squad_questions": len(squad), "squad_flagged": len(flagged), "squad_flagged_examples": flagged[:10],
            "held_out_questions": len(held_out), "held_out_detected": sum(map(detect, held_out)),
            "held_out_missed": [q for q in held_out if not detect(q)],
            "tuning_questions": len(tuning), "tuning_detected": sum(map(detect, tuning)),
            "tuning_missed": [q for q in tuning if not detect(q)],
            "chat_english_flagged": [q for q in ENGLISH_CHAT if detect(q)],
            "microseconds_per_question": round(1e6 * seconds / len(squad), 1)}


def langid_detector(min_probability: float) -> Callable[[str], bool]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(text: str) -> bool:
        language, probability = identifier.classify(text)
        return language != "en" and probability >= min_probability

    return detect


def render(result: dict[str, object]) -> str:
    def share(found: object, total: object) -> str:
        return f"{found:,} of {total:,} ({100 * int(found) / int(total):.1f}%)"  # type: ignore[str-format]

    r = result
    return table(["questions", "taken for another language"], [
        ["SQuAD v1.1 dev (English)", share(r["squad_flagged"], r["squad_questions"])],
        ["English as typed to a chat bot (lower case, foreign names)",
         share(len(r["chat_english_flagged"]), len(ENGLISH_CHAT))],  # type: ignore[arg-type]
        [f"other languages, held out ({len(HELD_OUT)} languages, never tuned on)",
         share(r["held_out_detected"], r["held_out_questions"])],
        [f"other languages, the set the word lists were written against ({len(NON_ENGLISH)} languages)",
         share(r["tuning_detected"], r["tuning_questions"])],
    ], "lr") + f"\n\nAbout {r['microseconds_per_question']} µs a question."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langid", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/BOT.md")
    args = parser.parse_args()
    squad = squad_questions()
    results = {"heuristic": measure(is_foreign, squad)}
    if args.langid:
        for p in (0.5, 0.9, 0.99):
            results[f"py3langid p>={p}"] = measure(langid_detector(p), squad)
    if args.write_docs:
        write_block(ROOT / "docs" / "BOT.md", "language", f"{provenance(COMMAND)}\n\n{render(results['heuristic'])}")
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
