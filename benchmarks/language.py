"""How reliably `retrieval.language.is_foreign` tells English questions from others: the share of SQuAD
v1.1 dev questions (English, written by people) it takes for foreign, which must be about nil, and the
share of the questions in tests/non_english_questions.py it detects: HELD_OUT (16 languages, never tuned
on) is the figure; NON_ENGLISH (20 languages) is what the word lists were written against.

    .venv/bin/python -m benchmarks.language [--langid]    # --langid: py3langid too, if installed, for comparison
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from newsbot.retrieval.language import is_foreign
from tests.non_english_questions import ENGLISH_CHAT, HELD_OUT, NON_ENGLISH

SQUAD_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "squad_v1.1_dev.jsonl"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langid", action="store_true")
    args = parser.parse_args()
    squad = squad_questions()
    results = {"heuristic": measure(is_foreign, squad)}
    if args.langid:
        for p in (0.5, 0.9, 0.99):
            results[f"py3langid p>={p}"] = measure(langid_detector(p), squad)
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
