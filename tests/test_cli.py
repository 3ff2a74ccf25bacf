import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from newsbot.bot.cli import main
from newsbot.bot.console import PROMPT, WELCOME, chat, render_answer
from newsbot.bot.small_talk import FOREIGN, GREETING, THANKS
from newsbot.bot.texts import ASK_FIRST, NO_MORE, SMALL_TALK
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer, Hit
from newsbot.retrieval.retriever import HEDGED, MISSING
from newsbot.retrieval.span import AnswerSpan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dirs(corpus_dir: Path, tmp_path: Path) -> list[str]:
    return ["--corpus-dir", str(corpus_dir), "--index-dir", str(tmp_path / "idx"), "--model", "hashing"]


def test_index_then_ask_json(dirs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", *dirs]) == 0
    assert "Indexed 1 article," in capsys.readouterr().out
    assert main(["index", *dirs]) == 0
    assert "up to date" in capsys.readouterr().out

    assert main(["ask", *dirs, "--json", "-k", "2", "Russia and China vetoed a previous European attempt"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["question"] == "Russia and China vetoed a previous European attempt"
    assert result["found"] is True and 1 <= len(result["hits"]) <= 2
    top = result["hits"][0]
    assert top["text"].startswith("Russia and China vetoed")
    assert top["article"] == {"id": "ahram-2012-01-25-russia-syria-lavrov.txt",
                              "title": "Russia against sanctions, open to dialogue on Syria: Lavrov",
                              "source": "AFP", "published": "2012-01-25", "url": None,
                              "copies": [], "sources": ["AFP"]}
    assert top["answer"] is None  # a statement, not a question: its wording names no answer type


def test_ask_builds_the_index_first_when_there_is_none(dirs: list[str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", *dirs, "Russia and China vetoed"]) == 0
    out, err = capsys.readouterr()
    assert "No index yet" in err and "building one" in err
    assert "1. Russia and China vetoed" in out and "(AFP, 25 Jan 2012)" in out
    assert (tmp_path / "idx" / "CURRENT").is_file()


def test_environment_variables_choose_the_folders(corpus_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEWSBOT_CORPUS_DIR", str(corpus_dir))
    monkeypatch.setenv("NEWSBOT_INDEX_DIR", str(tmp_path / "env-idx"))
    monkeypatch.setenv("NEWSBOT_MODEL", "hashing")
    assert main(["index"]) == 0
    assert (tmp_path / "env-idx" / "CURRENT").is_file()


def test_the_answer_threshold_comes_from_the_option_over_the_environment(
        dirs: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    question = "Russia and China vetoed a previous European attempt"
    assert main(["ask", *dirs, "--json", question]) == 0
    assert json.loads(capsys.readouterr().out)["found"] is True
    monkeypatch.setenv("NEWSBOT_MIN_CONFIDENCE", "0.9999")
    assert main(["ask", *dirs, "--json", question]) == 0
    assert json.loads(capsys.readouterr().out)["found"] is False
    assert main(["ask", *dirs, "--json", "--min-confidence", "0.01", question]) == 0
    assert json.loads(capsys.readouterr().out)["found"] is True


def test_a_bad_answer_threshold_is_named_without_traceback(dirs: list[str], monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["ask", *dirs, "--min-confidence", "high", "question"])
    assert exit_status.value.code == 2
    assert "argument --min-confidence: must be a number, not 'high'" in capsys.readouterr().err
    monkeypatch.setenv("NEWSBOT_MIN_CONFIDENCE", "high")
    assert main(["ask", *dirs, "question"]) == 2
    err = capsys.readouterr().err
    assert err == "newsbot: NEWSBOT_MIN_CONFIDENCE must be a number, not 'high'\n"


def test_errors_are_one_line_without_traceback(dirs: list[str], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", *dirs]) == 0
    capsys.readouterr()
    other_model = [*dirs[:-1], "some/other-model"]
    assert main(["ask", *other_model, "question"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: the index at") and "newsbot index" in err and "Traceback" not in err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["index", "--corpus-dir", str(empty), "--index-dir", str(tmp_path / "i2"), "--model", "hashing"]) == 2
    assert "no article could be read" in capsys.readouterr().err

    assert main(["eval", str(tmp_path / "missing.jsonl"), "--model", "hashing"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bad_files_are_warned_about_by_name(dirs: list[str], corpus_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (corpus_dir / "broken.txt").write_bytes(b"\xff\xfe\x00\x01")
    assert main(["index", *dirs]) == 0
    out, err = capsys.readouterr()
    assert "warning: broken.txt: skipped" in err and "Indexed 1 article," in out


def test_console_chat_answers_until_goodbye() -> None:
    asked: list[tuple[str, int]] = []

    def ask(question: str, k: int, history: tuple[str, ...]) -> Answer:
        asked.append((question, k))
        return Answer(question, False, (), "nothing found")

    out = io.StringIO()
    chat(ask, stdin=io.StringIO("first?\n\nsecond?\nquit\nnever asked\n"), stdout=out)
    assert asked == [("first?", 3), ("second?", 3)]
    assert out.getvalue().count("nothing found") == 2 and out.getvalue().rstrip().endswith("Bye.")
    assert out.getvalue().splitlines()[0] == WELCOME


def _numbered(count: int) -> tuple[Hit, ...]:
    article = ArticleInfo("a", "Quake hits coast", "Reuters", date(2024, 5, 1), None)
    return tuple(Hit(f"Sentence {n}.", 1 - n / 100, article, n, 0, 0, 11) for n in range(1, count + 1))


def test_console_more_shows_the_next_sentences_of_the_last_question_then_says_that_is_all() -> None:
    asked: list[tuple[str, int]] = []

    def ask(question: str, k: int, history: tuple[str, ...]) -> Answer:
        asked.append((question, k))
        return Answer(question, True, _numbered(min(k, 5)))

    out = io.StringIO()
    chat(ask, stdin=io.StringIO("more\nHow big was the quake?\nmore\nmore\n"), stdout=out)
    text = out.getvalue()
    assert asked == [("How big was the quake?", 3), ("How big was the quake?", 6), ("How big was the quake?", 8)]
    assert ASK_FIRST in text and text.count(NO_MORE) == 1
    assert "4. Sentence 4.  [score 0.96]\n5. Sentence 5." in text and "6. " not in text
    assert text.count("Quake hits coast (Reuters, 1 May 2024)") == 2  # once per reply


def test_console_answers_greetings_thanks_and_other_languages_like_the_bot() -> None:
    asked: list[str] = []
    out = io.StringIO()
    chat(lambda q, k, history: asked.append(q) or Answer(q, False, ()), stdin=io.StringIO("hi!\nthanks\nWer ist Assad?\n"),
         stdout=out)
    assert asked == [] and [SMALL_TALK[GREETING], SMALL_TALK[THANKS], SMALL_TALK[FOREIGN]] == \
        out.getvalue().replace(PROMPT, "").splitlines()[1:4]


def test_ask_tells_a_question_in_another_language_that_the_bot_reads_english(
        dirs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*dirs, "ask", "Сколько людей погибло в Сирии?"]) == 0
    assert capsys.readouterr().out.strip() == SMALL_TALK[FOREIGN]
    assert main([*dirs, "ask", "--json", "Combien de personnes sont mortes ?"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["found"], result["message"]) == (False, SMALL_TALK[FOREIGN])


def test_render_answer_cites_title_source_date_and_link() -> None:
    article = ArticleInfo("a", "Quake hits coast", "Reuters", None, "https://example.org/q")
    hit = Hit("An earthquake struck.", 0.81, article, 0, 0, 0, 21)
    text = render_answer(Answer("q", True, (hit,)))
    assert text.startswith("1. An earthquake struck.")
    assert "Quake hits coast (Reuters) https://example.org/q" in text and "0.81" in text


def test_render_answer_leads_with_the_answering_words_when_found() -> None:
    article = ArticleInfo("a", "Quake hits coast", "Reuters", None, None)
    sentence = "The quake killed at least 40 people on Monday."
    start = sentence.index("at least")
    top = Hit(sentence, 0.81, article, 0, 0, 0, len(sentence),
              answer=AnswerSpan(start, start + 18, "at least 40 people", "number"))
    other = Hit("Rescuers are searching.", 0.5, article, 1, 0, 47, 70)
    text = render_answer(Answer("How many died?", True, (top, other)))
    assert text.splitlines()[:2] == ["Answer: at least 40 people", f"1. {sentence}  [score 0.81]"]
    assert text.count("Answer:") == 1


def test_render_answer_says_it_is_not_sure_before_the_closest_sentence() -> None:
    article = ArticleInfo("a", "Quake hits coast", "Reuters", None, None)
    sentence = "The quake killed at least 40 people on Monday."
    start = sentence.index("at least")
    top = Hit(sentence, 0.81, article, 0, 0, 0, len(sentence),
              answer=AnswerSpan(start, start + 18, "at least 40 people", "number"))
    hedged = render_answer(Answer("How many died?", True, (top,), HEDGED, 0.4, sure=False))
    assert hedged.splitlines()[:2] == [HEDGED, f"1. {sentence}  [score 0.81]"] and "Answer:" not in hedged
    lacking = MISSING.format("how many children")
    text = render_answer(Answer("How many children died?", True, (replace(top, answer=None),), lacking, 0.7))
    assert text.splitlines()[:2] == ["I found nothing that says how many children; the closest I found:",
                                     f"1. {sentence}  [score 0.81]"]


def test_render_answer_cites_each_article_once_under_its_sentences() -> None:
    quake = ArticleInfo("q", "Quake hits coast", "Reuters", date(2024, 5, 1), None)
    flood = ArticleInfo("f", "Floods recede", "AP", None, None)
    hits = (Hit("The quake killed 40.", 0.9, quake, 0, 0, 0, 20), Hit("Floods ended.", 0.8, flood, 0, 0, 0, 13),
            Hit("Rescuers search.", 0.7, quake, 1, 0, 21, 37))
    assert render_answer(Answer("q", True, hits)).splitlines() == [
        "1. The quake killed 40.  [score 0.90]", "2. Rescuers search.  [score 0.70]",
        "   — Quake hits coast (Reuters, 1 May 2024)",
        "3. Floods ended.  [score 0.80]", "   — Floods recede (AP)"]


def test_the_console_script_runs_as_a_module(corpus_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus_dir),
           "NEWSBOT_INDEX_DIR": str(tmp_path / "idx")}
    done = subprocess.run([sys.executable, "-m", "newsbot.bot", "ask", "--json", "Russia and China vetoed"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hits"][0]["text"].startswith("Russia and China vetoed")


def test_common_options_work_before_or_after_the_command(dirs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from newsbot.bot.cli import _parser

    assert _parser().parse_args(["-v", "ask", "q"]).verbose is True
    assert _parser().parse_args(["ask", "-v", "q"]).verbose is True
    assert _parser().parse_args(["ask", "q"]).verbose is False
    assert _parser().parse_args(["--model", "hashing", "index"]).model == "hashing"
    assert main([*dirs, "index"]) == 0
    assert "Indexed 1 article," in capsys.readouterr().out


def _read_until(fd: int, wanted: str, seen: str, timeout: float = 120) -> str:
    """`seen` and what the terminal shows next, until `wanted` has appeared once more (or `timeout` s)."""
    count, deadline = seen.count(wanted), time.monotonic() + timeout
    while seen.count(wanted) == count and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 4096).decode("utf-8", "replace")
            except OSError:  # the child closed the terminal
                break
    return seen


def test_the_console_chat_at_a_terminal_recalls_with_up_and_welcomes_after_the_progress_bars(
        corpus_dir: Path, tmp_path: Path) -> None:
    """As a person uses it: the first run builds the index (progress bars on the terminal), then the welcome
    starts a line of its own; Up recalls the last question instead of sending ^[[A."""
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus_dir),
           "NEWSBOT_INDEX_DIR": str(tmp_path / "idx"), "TERM": "xterm"}
    chat_process = subprocess.Popen([sys.executable, "-m", "newsbot.bot", "chat"], cwd=ROOT, env=env,
                                    stdin=child_fd, stdout=child_fd, stderr=child_fd)
    os.close(child_fd)
    try:
        seen = _read_until(main_fd, PROMPT, "")
        os.write(main_fd, b"Russia and China vetoed\r")
        seen = _read_until(main_fd, PROMPT, seen)
        os.write(main_fd, b"\x1b[A\r")  # the Up key, then Enter
        seen = _read_until(main_fd, PROMPT, seen)
        os.write(main_fd, b"\x04")  # Ctrl-D
        seen = _read_until(main_fd, "Bye.", seen)
        assert chat_process.wait(timeout=30) == 0
    finally:
        chat_process.kill()
        os.close(main_fd)
    welcome = seen.index(WELCOME)
    assert seen[welcome - 1] in "\r\n", repr(seen[max(0, welcome - 200):welcome + 20])
    answers = seen[welcome:]
    assert "^[[A" not in answers and answers.count("Russia against sanctions") == 2, answers
