import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from newsbot.bot.cli import main
from newsbot.bot.console import chat, render_answer
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
    assert "Indexed 1 articles" in capsys.readouterr().out
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
                              "source": "AFP", "published": "2012-01-25", "url": None}
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
    monkeypatch.setenv("NEWSBOT_MIN_CONFIDENCE", "100")
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
    assert "warning: broken.txt: skipped" in err and "Indexed 1 articles" in out


def test_console_chat_answers_until_goodbye() -> None:
    asked: list[str] = []

    def ask(question: str) -> Answer:
        asked.append(question)
        return Answer(question, False, (), "nothing found")

    out = io.StringIO()
    chat(ask, stdin=io.StringIO("first?\n\nsecond?\nquit\nnever asked\n"), stdout=out)
    assert asked == ["first?\n", "second?\n"]
    assert out.getvalue().count("nothing found") == 2 and out.getvalue().rstrip().endswith("Bye.")


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
    assert text.splitlines()[:2] == ["Answer: at least 40 people", f"1. {sentence}"]
    assert text.count("Answer:") == 1


def test_render_answer_says_it_is_not_sure_before_the_closest_sentence() -> None:
    article = ArticleInfo("a", "Quake hits coast", "Reuters", None, None)
    sentence = "The quake killed at least 40 people on Monday."
    start = sentence.index("at least")
    top = Hit(sentence, 0.81, article, 0, 0, 0, len(sentence),
              answer=AnswerSpan(start, start + 18, "at least 40 people", "number"))
    hedged = render_answer(Answer("How many died?", True, (top,), HEDGED, 0.4, sure=False))
    assert hedged.splitlines()[:2] == [HEDGED, f"1. {sentence}"] and "Answer:" not in hedged
    lacking = MISSING.format("how many children")
    text = render_answer(Answer("How many children died?", True, (replace(top, answer=None),), lacking, 0.7))
    assert text.splitlines()[:2] == ["I found nothing that says how many children; the closest I found:",
                                     f"1. {sentence}"]


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
    assert "Indexed 1 articles" in capsys.readouterr().out
