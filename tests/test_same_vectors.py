"""A text's vector, and so a question's answer, depends on that text only: not on what is encoded beside
it, in which order, on how many threads, or on whether a build was killed and resumed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest

from newsbot.corpus import BUNDLED_CORPUS_DIR
from newsbot.index import build_index
from newsbot.index.embedder import Embedder
from newsbot.index.onnx_embedder import OnnxEmbedder
from newsbot.index.store import current_version
from newsbot.retrieval import Retriever
from tests.conftest import SEED_QUESTION, SQUAD_DEV
from tests.reliability import Record

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "How many people have died?", "What position does Jerricho Cotchery play?", "Who vetoed the resolution?",
    "Which NFL team represented the AFC at Super Bowl 50?", "", "a", "😀🎉", "Le café est très bon.",
    "Muallem said Syria had no choice but to confront the armed groups that the government holds responsible "
    "for the violence which the UN says has killed more than 5,400 people since March.",
    "Russia against sanctions, open to dialogue on Syria: Lavrov", "word " * 600, "ALL CAPS HEADLINE!!!",
    "The Broncos defeated the Panthers 24-10 to earn their third Super Bowl title.",
    "In 1868 the city was renamed, and its population grew to 1.2 million by 1900 (a fourfold rise).",
] + [f"Question number {n} about the harbour, the river and the {n * 7} ships that sailed." for n in range(12)]


def groupings(texts: list[str]) -> dict[str, Callable[[Embedder], np.ndarray]]:
    """The same texts encoded in different company, each result put back in the texts' order."""
    shuffled = list(range(len(texts)))
    random.Random(5).shuffle(shuffled)
    return {
        "all at once": lambda e: e.encode(texts),
        "reversed": lambda e: e.encode(texts[::-1])[::-1],
        "shuffled": lambda e: e.encode([texts[i] for i in shuffled])[np.argsort(shuffled)],
        "in threes": lambda e: np.concatenate([e.encode(texts[i:i + 3]) for i in range(0, len(texts), 3)]),
        "beside the longest": lambda e: np.stack([e.encode([t, "word " * 600])[0] for t in texts]),
    }


BACKENDS = {"int8": "onnx-int8", "fp32": "onnx", "real_embedder": "torch"}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_text_gets_the_same_vector_alone_in_any_batch_and_any_order(backend: str, request: pytest.FixtureRequest,
                                                                    reliability: Record) -> None:
    """Bit for bit: int8 quantisation scales taken from a batch, and padding, used to move vectors (cosine 0.98)."""
    embedder: Embedder = request.getfixturevalue(backend)
    alone = np.stack([embedder.encode([text])[0] for text in TEXTS])
    assert np.allclose(np.linalg.norm(alone, axis=1), 1, atol=1e-5)
    ways = groupings(TEXTS)
    differing = {how: [TEXTS[i][:40] for i in np.flatnonzero(~(encode(embedder) == alone).all(axis=1))]
                 for how, encode in ways.items()}
    reliability("Consistency", f"{len(TEXTS)} texts (questions, sentences, empty, emoji, 600 words) embedded with "
                f"the {BACKENDS[backend]} backend alone and {', '.join(ways)}", len(TEXTS) * len(ways),
                f"{sum(map(len, differing.values()))} vectors differed from the text's vector alone "
                "(compared bit for bit)")
    assert differing == {how: [] for how in ways}


@pytest.fixture(scope="module")
def squad_questions() -> list[str]:
    if not SQUAD_DEV.is_file():
        pytest.skip(f"{SQUAD_DEV} is not here (the shared evaluation set is optional)")
    from newsbot.retrieval.evaluation.reqa import load_squad

    questions = [qa["question"] for article in load_squad(SQUAD_DEV, slice(0, 3))
                 for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    return questions[::7][:60]


def test_an_answer_does_not_depend_on_the_questions_asked_beside_it(tmp_path: Path, int8: OnnxEmbedder,
                                                                    reliability: Record) -> None:
    """The bot answers a burst of questions together: each must get what it gets alone."""
    build_index(BUNDLED_CORPUS_DIR, tmp_path, int8)
    retriever = Retriever.open(tmp_path, embedder=int8)
    questions = [SEED_QUESTION, "What position does Jerricho Cotchery play?", "Who vetoed the resolution?",
                 "What did Lavrov say about sanctions?", "Who won the world cup?", "When did the violence begin?",
                 "What is the capital of Australia?", "Which countries are drafting the resolution?", "Why?",
                 "Is Russia open to dialogue?"]
    alone = [retriever.answer(question) for question in questions]
    together = retriever.answer_many(questions)
    reversed_ = retriever.answer_many(questions[::-1])[::-1]
    changed = sum(not one == other == third for one, other, third in zip(alone, together, reversed_))
    reliability("Consistency", f"{len(questions)} questions on the bundled article (int8) answered one by one, "
                "as one burst and as the burst reversed", len(questions) * 3,
                f"{changed} answers changed (hits, scores, confidence, found or not); "
                f"{sum(a.found for a in alone)} found and {sum(not a.found for a in alone)} refused")
    assert changed == 0


def test_real_questions_alone_and_in_bursts_get_identical_vectors(int8: OnnxEmbedder, squad_questions: list[str],
                                                                  reliability: Record) -> None:
    alone = np.stack([int8.encode([q])[0] for q in squad_questions])
    bursts = (6, 17, len(squad_questions))
    differing = 0
    for burst in bursts:
        together = np.concatenate([int8.encode(squad_questions[i:i + burst])
                                   for i in range(0, len(squad_questions), burst)])
        differing += int((~(together == alone).all(axis=1)).sum())
    reliability("Consistency", f"{len(squad_questions)} SQuAD dev questions (int8) encoded alone and in bursts of "
                f"{', '.join(map(str, bursts))}", len(squad_questions) * len(bursts),
                f"{differing} vectors differed from the question's vector alone (bit for bit)")
    assert differing == 0


KILLED_BUILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import newsbot.index.build
    from newsbot.index import build_index, load_embedder

    newsbot.index.build.SENTENCES_PER_BATCH = 40  # several embedding calls, so the kill lands between cached batches

    class Dying:
        def __init__(self, inner):
            self.inner, self.calls = inner, 0
            self.name, self.dimension = inner.name, inner.dimension

        def encode(self, texts):
            self.calls += 1
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return self.inner.encode(texts)

    build_index(Path(sys.argv[1]), Path(sys.argv[2]), Dying(load_embedder(backend="onnx-int8")))
""")


def test_a_killed_and_resumed_build_with_the_real_model_equals_a_clean_build(
        corpus_dir: Path, tmp_path: Path, onnx_cache: Path, int8: OnnxEmbedder, reliability: Record) -> None:
    """The resumed build mixes vectors cached by the killed one with vectors embedded in other batches."""
    for n in range(8):
        body = " ".join(f"Report {n}.{m}: the council of town {n} voted {m + 3} to {n + 1} on the harbour plan."
                        for m in range(9))
        (corpus_dir / f"council{n}.txt").write_text(f"title: Council vote {n}\nsource: Wire\n\n{body}\n",
                                                    encoding="utf-8")
    resumed_dir, clean_dir = tmp_path / "resumed", tmp_path / "clean"
    env = {**os.environ, "NEWSBOT_ONNX_DIR": str(onnx_cache), "NEWSBOT_MODEL": ""}
    killed = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(corpus_dir), str(resumed_dir)],
                            cwd=ROOT, env=env, timeout=300, check=False)
    assert killed.returncode == -signal.SIGKILL
    resumed = build_index(corpus_dir, resumed_dir, int8)
    assert 0 < resumed.embedded < resumed.sentences  # some vectors came from the killed build's cache
    clean = build_index(corpus_dir, clean_dir, int8)
    assert clean.embedded == clean.sentences
    differing = {}
    for name in ("vectors.faiss", "paragraphs.faiss"):
        resumed_vectors, clean_vectors = (_all_vectors(current_version(folder) / name)
                                          for folder in (resumed_dir, clean_dir))
        assert resumed_vectors.shape == clean_vectors.shape and len(clean_vectors) > 0
        differing[name] = int((~(resumed_vectors == clean_vectors).all(axis=1)).sum())
    answers = [Retriever.open(folder, embedder=int8).answer(SEED_QUESTION) for folder in (resumed_dir, clean_dir)]
    reliability("Consistency", "a build with the real model (int8) SIGKILLed at its third embedding call, resumed, "
                "and compared with a clean build of the same corpus", 1,
                f"the resumed build embedded {resumed.embedded} of {resumed.sentences} sentences (the rest from the "
                f"killed build's cache); rows differing from the clean build: {differing}; the seed question's "
                f"answers {'identical' if answers[0] == answers[1] else 'DIFFERENT'}")
    assert differing == {"vectors.faiss": 0, "paragraphs.faiss": 0}
    assert answers[0] == answers[1] and answers[0].found


def _all_vectors(path: Path) -> np.ndarray:
    index = faiss.read_index(str(path))
    return index.reconstruct_n(0, index.ntotal)
