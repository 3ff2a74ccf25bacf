"""The `newsbot` command: index, add, feeds, ask, chat, eval, serve. Thin: parse flags, call the core, print."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot.bot.building import build_with_retention, publish_build
from newsbot.bot.config import MIN_CONFIDENCE, ConfigError, max_article_age_days, min_confidence
from newsbot.bot.opening import open_or_build
from newsbot.bot.texts import articles_counted, indexed_line
from newsbot.corpus import default_corpus_dir
from newsbot.corpus.known import Stored
from newsbot.index import (
    BuildReport,
    Embedder,
    IndexProblem,
    default_index_dir,
    default_model,
    load_embedder,
)
from newsbot.index.embedder import BACKENDS, DEFAULT_BACKEND
from newsbot.index.stores import FilesStore, Store, StoreAddressError, parse_store, store_from_environment
from newsbot.retrieval import Answer, Retriever
from newsbot.retrieval.threads import answer_on_one_thread

if TYPE_CHECKING:  # the page fetching stack (trafilatura, 0.2 s to import) is loaded by `newsbot add` only
    from collections.abc import Callable

    from newsbot.corpus.article import Article
    from newsbot.corpus.web.extract import Extracted
    from newsbot.corpus.web.ingest import PageRefused

log = logging.getLogger("newsbot")


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors are reported in one line, never as a traceback (unless --verbose)."""
    args = _parser().parse_args(argv)
    # the process's settings, made here where it starts and not by importing newsbot
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    answer_on_one_thread()
    try:
        return int(args.run(args) or 0)
    except (IndexProblem, ConfigError) as problem:
        print(f"newsbot: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (e.g. `newsbot ask ... | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the last line of defence: one line, no traceback
        if args.verbose:
            raise
        print(f"newsbot: unexpected error ({type(error).__name__}: {error}); run with --verbose for details",
              file=sys.stderr)
        return 1


def _common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """Options every command takes, before or after the command name.

    The copy on each command has no defaults (SUPPRESS), so `newsbot -v ask ...` keeps its -v.
    """
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus-dir", type=Path, default=default(None),
                        help="article folder (default: $NEWSBOT_CORPUS_DIR or the bundled corpus/articles)")
    common.add_argument("--index-dir", type=Path, default=default(None),
                        help="index folder (default: $NEWSBOT_INDEX_DIR or index/data)")
    common.add_argument("--model", default=default(None),
                        help="sentence-transformers model name or path (default: $NEWSBOT_MODEL or the packaged "
                             "all-MiniLM-L6-v2)")
    common.add_argument("--backend", choices=BACKENDS, default=default(None),
                        help="how the model runs: torch (sentence-transformers), onnx or onnx-int8 "
                             f"(default: $NEWSBOT_BACKEND or {DEFAULT_BACKEND})")
    common.add_argument("-v", "--verbose", action="store_true", default=default(False),
                        help="log details, show tracebacks")
    return common


def _answering_options() -> argparse.ArgumentParser:
    """Options of the commands that answer questions."""
    answering = argparse.ArgumentParser(add_help=False)
    answering.add_argument("--min-confidence", type=_threshold, default=None, metavar="NUMBER",
                           help=f"the confidence an answer needs, else \"not found\" (default: ${MIN_CONFIDENCE}, "
                                "else a threshold that grows with the index's size)")
    return answering


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description="Answer questions from news articles.",
                                     parents=[_common_options(suppress=False)])
    common = _common_options(suppress=True)
    answering = _answering_options()
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="build or update the index from the corpus folder")
    index.add_argument("--force", action="store_true", help="write a new version even if nothing changed")
    index.set_defaults(run=_index)

    add = commands.add_parser("add", parents=[common],
                              help="fetch web pages, store their articles in the corpus folder and index them")
    add.add_argument("urls", nargs="+", metavar="URL", help="a web page's address (http or https; private "
                     "addresses only with NEWSBOT_ALLOW_PRIVATE_URLS=1)")
    add.add_argument("--dry-run", action="store_true", help="print what would be stored, and store nothing")
    add.add_argument("--json", action="store_true", help="print one JSON object per URL, one a line, in order")
    add.set_defaults(run=_add)

    ask = commands.add_parser("ask", parents=[common, answering], help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--after", action="append", default=[], metavar="EARLIER_QUESTION",
                     help="a question asked before this one, for a follow-up's context (repeatable, oldest first)")
    ask.add_argument("-k", type=int, default=3, help="at most this many sentences (default 3)")
    ask.add_argument("--json", action="store_true", help="print a machine-readable result")
    ask.set_defaults(run=_ask)

    chat = commands.add_parser("chat", parents=[common, answering], help="interactive console chat")
    chat.set_defaults(run=_chat)

    evaluate = commands.add_parser("eval", parents=[common],
                                   help="measure answer-sentence retrieval on SQuAD-format JSON Lines (ReQA protocol)")
    evaluate.add_argument("dataset", type=Path)
    evaluate.add_argument("--segmentation", choices=["dataset", "own", "both"], default="both",
                          help="sentence boundaries: the dataset's reqa_sentence_spans, the project's segmenter, or both")
    evaluate.add_argument("--articles", type=str, default=None, metavar="FROM:TO",
                          help="only articles FROM..TO-1 of the file, e.g. 0:24")
    evaluate.add_argument("--work-dir", type=Path, default=None,
                          help="keep the evaluation indexes here, so a rerun reuses their embeddings")
    evaluate.add_argument("--json", action="store_true", help="print a machine-readable result")
    evaluate.add_argument("--store", default=None, metavar="URI",
                          help="index and search through this store (e.g. milvus:///tmp/eval.db), one of the "
                               "evaluation's own: never the one NEWSBOT_STORE names, as eval builds throwaway indexes")
    evaluate.set_defaults(run=_eval)

    feedback = commands.add_parser("feedback", parents=[common], help="the verdicts users gave the bot's answers")
    actions = feedback.add_subparsers(required=True, metavar="ACTION")
    export = actions.add_parser("export", parents=[common],
                                help="write them as an evaluation set (SQuAD-format JSON Lines) that `newsbot eval` scores")
    export.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write the set here (default: standard output)")
    export.set_defaults(run=_feedback_export)

    _feeds_parser(commands, common)

    serve = commands.add_parser("serve", parents=[common, answering],
                                help="run the Telegram bot (long polling, or a webhook with --webhook-url)")
    serve.add_argument("--env-file", type=Path, default=Path(".env"),
                       help="settings file read under the environment (default: .env; see .env.example)")
    serve.add_argument("--webhook-url", default=None,
                       help="public HTTPS URL Telegram posts updates to; enables webhook mode")
    serve.add_argument("--listen", default="0.0.0.0", help="webhook mode: address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8443, help="webhook mode: port to listen on (default 8443)")
    serve.set_defaults(run=_serve)
    return parser


def _feeds_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    feeds = commands.add_parser("feeds", parents=[common], help="follow news feeds (RSS, Atom)")
    actions = feeds.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", parents=[common], help="follow a feed (checked by fetching it once)")
    add.add_argument("url", metavar="URL", help="the feed's address (http or https; RSS or Atom)")
    listing = actions.add_parser("list", parents=[common], help="the feeds followed and their health")
    listing.add_argument("--json", action="store_true", help="print a machine-readable list")
    remove = actions.add_parser("remove", parents=[common], help="stop following a feed (its articles stay)")
    remove.add_argument("url", metavar="URL", help="the feed's address (http or https), as `feeds list` shows it")
    actions.add_parser("poll", parents=[common], help="one pass over the feeds that are due: store their new "
                                                     "articles, index them once (for cron or a systemd timer; exit "
                                                     "status 1 when a feed failed)")
    for name, action in actions.choices.items():
        action.set_defaults(run=_feeds, feeds_action=name)


def _feeds(args: argparse.Namespace) -> int:
    from newsbot.bot.feed_commands import run_feeds

    return run_feeds(args, lambda: _build(args, _embedder(args)))


def _embedder(args: argparse.Namespace) -> Embedder:
    return load_embedder(args.model if args.model is not None else default_model(), backend=args.backend)


def _index(args: argparse.Namespace) -> int:
    report = _build(args, _embedder(args), force=args.force)
    if report.up_to_date:
        print(f"The index is up to date: {articles_counted(report.articles, report.copies)}, "
              f"{report.sentences} sentences ({report.version}).")
    else:
        print(indexed_line(report))
    return 0


class ProgressBars:
    """One progress bar on stderr per stage, for `progress(stage, done, total)` callbacks; a total of
    None (not known yet) shows a counter."""

    def __enter__(self) -> ProgressBars:
        self._bars: dict[str, object] = {}
        return self

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if stage not in self._bars:
            self._bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, disable=None, leave=False)
        bar = self._bars[stage]
        if total is not None:
            bar.total = total  # type: ignore[attr-defined]
        bar.update(done - bar.n)  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()  # type: ignore[attr-defined]
        if self._bars and sys.stderr.isatty():
            # tqdm clears a bar with spaces and leaves the cursor at the end of them: what is printed next
            # (the chat's welcome) would start at the right edge of the terminal.
            print("\r", end="", file=sys.stderr, flush=True)


def _build(args: argparse.Namespace, embedder: Embedder, *, force: bool = False) -> BuildReport:
    """Build under the age limit (NEWSBOT_MAX_ARTICLE_AGE_DAYS), saying what it removed and left out."""
    max_age = max_article_age_days(os.environ)
    with ProgressBars() as progress:
        report, removed = build_with_retention(args.corpus_dir or default_corpus_dir(),
                                               args.index_dir or default_index_dir(), embedder, max_age,
                                               progress=progress, force=force)
    publish_build(store_from_environment(), args.index_dir or default_index_dir())
    if removed:
        print(f"Removed {len(removed)} article{'s' if len(removed) != 1 else ''} published more than {max_age} days "
              f"ago: {', '.join(removed)}", file=sys.stderr)
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return report


def _add(args: argparse.Namespace) -> int:
    """Fetch, extract and store each URL, then one incremental build for the batch; one line per URL, in
    order. Exit status 2 when any URL was refused; the others are stored all the same."""
    from datetime import date

    from newsbot.corpus.retention import too_old
    from newsbot.corpus.web.ingest import PageRefused, fetch_all, store_then_build

    max_age = max_article_age_days(os.environ)  # a bad setting stops the command before any fetch
    corpus_dir = args.corpus_dir or default_corpus_dir()
    if not args.dry_run and not corpus_dir.is_dir():
        print(f"newsbot: the corpus folder {corpus_dir} does not exist; create it or pass --corpus-dir",
              file=sys.stderr)
        return 2
    with ProgressBars() as progress:
        fetched = fetch_all(args.urls, progress=lambda done, total: progress("fetching", done, total))
    leave_out = too_old(max_age, date.today())
    if args.dry_run:
        return _dry_run(fetched, leave_out, args.json)
    refused = any(isinstance(item, PageRefused) for item in fetched)
    outcomes, report = store_then_build(corpus_dir, fetched, lambda: _build(args, _embedder(args)), leave_out)
    for outcome in outcomes:
        if isinstance(outcome, Stored):
            _print_line(json.dumps(_stored_object(outcome), ensure_ascii=False) if args.json
                        else _stored_line(outcome))
        else:
            refused = True
            _report_refused(outcome, args.json)
    if report is not None and not args.json:
        print(indexed_line(report))
    return 2 if refused else 0


def _dry_run(fetched: list[Extracted | PageRefused], leave_out: Callable[[Article], str | None] | None,
             as_json: bool) -> int:
    """What `add` would store, one line per URL; refused as storing would refuse it (unusable, or older than
    the age limit). Exit status 2 when any URL was refused."""
    from newsbot.corpus.web.extract import to_dry_run
    from newsbot.corpus.web.ingest import PageRefused, parsed_article

    refused = False
    for item in fetched:
        reason = leave_out(parsed_article(item)) if leave_out and not isinstance(item, PageRefused) else None
        if isinstance(item, PageRefused) or reason:
            refused = True
            _report_refused(item if isinstance(item, PageRefused) else PageRefused(item.url, reason), as_json)
        else:
            _print_line(json.dumps(to_dry_run(item), ensure_ascii=False) if as_json else _dry_run_line(item))
    return 2 if refused else 0


def _print_line(line: str) -> None:
    print(line, flush=True)


def _report_refused(refused: PageRefused, as_json: bool) -> None:
    """A refused URL: a JSON line among the others, or one line on stderr naming the URL and the reason."""
    if as_json:
        _print_line(json.dumps({"url": refused.url, "error": refused.reason}, ensure_ascii=False))
    else:
        print(f"newsbot: {refused}", file=sys.stderr, flush=True)


def _dry_run_line(extracted: Extracted) -> str:
    from newsbot.corpus.web.extract import to_dry_run

    would = to_dry_run(extracted)
    details = ", ".join(str(v) for v in (would["source"], would["published"]) if v)
    return (f"{would['url']}: would store “{would['title']}”{f' ({details})' if details else ''}, "
            f"{len(would['body'].split())} words, as {would['canonical_url']}")


def _open(args: argparse.Namespace) -> Retriever:
    """Open the index, building it first when there is none yet."""
    threshold = args.min_confidence if args.min_confidence is not None else min_confidence(os.environ)
    embedder = _embedder(args)
    index_dir = args.index_dir or default_index_dir()

    def build() -> None:
        print(f"No index yet in {index_dir}; building one from {args.corpus_dir or default_corpus_dir()} first.",
              file=sys.stderr)
        _build(args, embedder)

    return open_or_build(index_dir, embedder, build, min_confidence=threshold, store=store_from_environment())


def _ask(args: argparse.Namespace) -> int:
    from newsbot.bot.console import render_answer
    from newsbot.bot.small_talk import FOREIGN
    from newsbot.bot.texts import SMALL_TALK
    from newsbot.retrieval.language import is_foreign

    if args.k < 1:
        print("newsbot: -k must be at least 1", file=sys.stderr)
        return 2
    if is_foreign(args.question):  # told before the index is opened: nothing in it would answer
        answer = Answer(args.question, False, (), SMALL_TALK[FOREIGN])
    else:
        answer = _open(args).answer(args.question, k=args.k, history=args.after)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer))
    return 0


def _chat(args: argparse.Namespace) -> int:
    from newsbot.bot.console import chat

    retriever = _open(args)
    chat(retriever.answer)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from newsbot.retrieval.evaluation.evaluate import evaluate_file, format_report
    from newsbot.retrieval.evaluation.reqa import DatasetError

    if not args.dataset.is_file():
        print(f"newsbot: the dataset {args.dataset} does not exist", file=sys.stderr)
        return 2
    try:
        store = _evaluation_store(args.store)
        with ProgressBars() as progress:
            report = evaluate_file(args.dataset, _embedder(args), segmentations=_segmentations(args.segmentation),
                                   articles=_article_range(args.articles), work_dir=args.work_dir, progress=progress,
                                   store=store)
    except (DatasetError, StoreAddressError) as problem:
        print(f"newsbot: {problem}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _evaluation_store(value: str | None) -> Store | None:
    """`eval --store`: a store of the evaluation's own (its indexes replace whatever the store serves)."""
    if value is None:
        return None
    store = parse_store(value)
    if isinstance(store, FilesStore):
        raise StoreAddressError("--store takes a Milvus store (milvus:///tmp/eval.db or a server); the files are "
                                "eval's default, in --work-dir or a scratch folder")
    if store == store_from_environment():
        raise StoreAddressError(f"--store names the store NEWSBOT_STORE serves from ({value}); an evaluation "
                                "replaces its index, so give it a store of its own (e.g. milvus:///tmp/eval.db)")
    return store


def _feedback_export(args: argparse.Namespace) -> int:
    from newsbot.bot.feedback import FEEDBACK_FILE, FeedbackStore, FeedbackUnavailable
    from newsbot.bot.feedback_export import evaluation_set, indexed_sentences, jsonl

    index_dir = args.index_dir or default_index_dir()
    try:
        verdicts = FeedbackStore(index_dir / FEEDBACK_FILE).all()
    except FeedbackUnavailable as problem:
        print(f"newsbot: {problem}", file=sys.stderr)
        return 2
    if not verdicts:
        print(f"newsbot: no verdicts yet in {index_dir / FEEDBACK_FILE}; nothing to export", file=sys.stderr)
        return 0
    exported = evaluation_set(verdicts, indexed_sentences(index_dir))
    text = jsonl(exported.records)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    skipped = f"; {exported.skipped} left out: their sentence is no longer indexed" if exported.skipped else ""
    print(f"exported {exported.helpful} helpful and {exported.wrong} wrong answers as questions over "
          f"{len(exported.records)} articles{f' to {args.output}' if args.output else ''}{skipped}; "
          f"score them with `newsbot eval {args.output or 'FILE'} --segmentation dataset`", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from newsbot.bot.serve import serve

    if args.backend:  # the service loads its model by name, so the flag travels as the setting
        os.environ["NEWSBOT_BACKEND"] = args.backend
    return serve(args)


def _stored_line(stored: Stored) -> str:
    """One stored URL's outcome: stored as, updated, unchanged, or duplicate of the article already held."""
    return {"added": f"{stored.url}: stored as {stored.path} (“{stored.title}”)",
            "updated": f"{stored.url}: updated {stored.path} (“{stored.title}”)",
            "unchanged": f"{stored.url}: unchanged ({stored.path})",
            "duplicate": f"{stored.url}: duplicate of {stored.same_as} (“{stored.title}”); not stored again",
            }[stored.status]


def _stored_object(stored: Stored) -> dict[str, object]:
    return {"url": stored.url, "status": stored.status, "path": stored.path, "title": stored.title,
            "same_as": stored.same_as}


def _segmentations(choice: str) -> tuple[str, ...]:
    return ("dataset", "own") if choice == "both" else (choice,)


def _threshold(text: str) -> float:
    """--min-confidence, validated like NEWSBOT_MIN_CONFIDENCE."""
    try:
        value = min_confidence({"--min-confidence": text}, key="--min-confidence")
    except ConfigError as problem:
        raise argparse.ArgumentTypeError(str(problem).removeprefix("--min-confidence ")) from None
    if value is None:
        raise argparse.ArgumentTypeError("needs a number")
    return value


def _article_range(text: str | None) -> slice | None:
    if text is None:
        return None
    start, _, stop = text.partition(":")
    try:
        return slice(int(start) if start else None, int(stop) if stop else None)
    except ValueError:
        raise SystemExit("newsbot: --articles takes FROM:TO, e.g. 0:24") from None
