"""newsbot's benchmark suite: every speed figure of docs/PERFORMANCE.md in one run, with the machine.

Benchmarks, not tests: nothing asserts a time. Run from the project root, after
`.venv/bin/pip install -c constraints.txt -e '.[test,bench]'` (bench brings txtai, the peer):

    .venv/bin/python -m benchmarks.suite                   # everything, a table
    .venv/bin/python -m benchmarks.suite --quick           # the same, shrunk (a few minutes)
    .venv/bin/python -m benchmarks.suite --only answer,cold --json
    .venv/bin/python -m benchmarks.suite --write-docs      # also write the tables into the docs (below)

--write-docs replaces the generated blocks (benchmarks/report.py) of docs/PERFORMANCE.md, docs/BOT.md and
README.md with this run's figures, the date, the machine and its load; a block is written only when
every measurement it shows was run.

Measurements (--only / --skip take these names):
  encode  the product's build of the SQuAD dev index from an empty cache (sentences/s), and encoding one question
  search  one question against FAISS at --sizes sentences, per index type (benchmarks/scale.py)
  answer  Retriever.answer end to end in process on the SQuAD dev index
  bot     `newsbot serve` through the loopback fake Bot API: 1, 20, 200 chats saturated, and 200 chats paced
  cold    `newsbot ask` in a fresh process on the bundled corpus, and its peak memory
  txtai   txtai's Embeddings (FAISS) on the same SQuAD dev sentences, beside newsbot's figures of this run

SQuAD dev is read from ../shared/eval/squad_v1.1_dev.jsonl; without it, encode, answer and txtai are
skipped with a note. Latencies are medians over --rounds rounds of p50 and p99 (each round asks every
question once); the build runs once per run (it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import core
from benchmarks.report import provenance, table, write_block
from benchmarks.stats import machine
from newsbot.retrieval.threads import answer_on_one_thread

ROOT = Path(__file__).resolve().parents[1]

MEASUREMENTS = ("encode", "search", "answer", "bot", "cold", "txtai")
BOT_LEVELS = (1, 20, 200)


@dataclass(frozen=True)
class Figure:
    """One reported number and what it measures."""

    measurement: str
    name: str
    value: float | str
    unit: str
    measures: str


@dataclass
class Report:
    machine: dict[str, object]
    options: dict[str, object]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)

    def add(self, measurement: str, name: str, value: float | str, unit: str, measures: str) -> None:
        self.figures.append(Figure(measurement, name, value, unit, measures))


@dataclass(frozen=True)
class Options:
    only: tuple[str, ...]
    quick: bool
    rounds: int
    questions: int
    articles: int | None
    sizes: tuple[int, ...]
    bot_messages: int
    bot_rate: float
    cold_runs: int
    backend: str | None


@dataclass(frozen=True)
class Output:
    """What to do with the report besides measuring: print JSON instead of a table, write the docs."""

    json: bool = False
    write_docs: bool = False


def run_suite(options: Options) -> Report:
    """Run the chosen measurements in a fixed order; the SQuAD index is built once and shared."""
    report = Report(machine(), asdict(options))
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as scratch:
        squad = _squad(options, report) if {"encode", "answer", "txtai"} & set(options.only) else None
        if squad is not None:
            _squad_measurements(options, report, squad, Path(scratch))
        if "search" in options.only:
            _search(options, report)
        if "bot" in options.only:
            _bot(options, report)
        if "cold" in options.only:
            _cold(options, report, Path(scratch))
    report.machine["load_average_at_end"] = machine()["load_average"]
    return report


def _squad(options: Options, report: Report) -> core.SquadTask | None:
    task = core.squad_task(options.questions, options.articles)
    if task is None:
        report.notes.append(f"{core.SQUAD} is absent: encode, answer and txtai were skipped")
    return task


def _squad_measurements(options: Options, report: Report, task: core.SquadTask, scratch: Path) -> None:
    from newsbot.index import load_embedder
    from newsbot.retrieval import Retriever

    embedder = load_embedder(backend=options.backend)
    embedder.encode(["warm up the model before the build is timed"])
    name = f"{len(task.sentences):,} SQuAD dev sentences"
    build = core.build_squad_index(task, embedder, scratch / "squad-index")
    report.details["build"] = build
    if "encode" in options.only:
        report.add("encode", "index build", build["sentences_per_second"], "sentences/s",
                   f"the product build of {name} ({build['texts_embedded']:,} texts with the paragraphs) "
                   f"from an empty cache, {embedder.name}: {build['seconds']} s")
        encode = _rounds(options.rounds, lambda: core.question_encode_ms(embedder, task.questions))
        report.details["question_encode_ms"] = encode
        _add_latency(report, "encode", "one question encoded", encode,
                     f"encode([question]), {len(task.questions)} SQuAD questions, warm")
    retriever = Retriever.open(scratch / "squad-index", embedder=embedder)
    if "answer" in options.only:
        answer = _rounds(options.rounds, lambda: core.answer_ms(retriever, task.questions))
        report.details["answer_ms"] = answer
        _add_latency(report, "answer", "Retriever.answer", answer,
                     f"one question end to end in process on {name}, warm, {len(task.questions)} questions")
    if "txtai" in options.only:
        _txtai(options, report, task, retriever, build, scratch)
    retriever.close()


def _txtai(options: Options, report: Report, task: core.SquadTask, retriever: object, build: dict,
           scratch: Path) -> None:
    from benchmarks import peer

    if peer.txtai_version() is None:
        report.notes.append("txtai is not installed (pip install -c constraints.txt -e '.[bench]'): txtai skipped")
        return
    embeddings, built = peer.build_txtai(task.sentences, scratch)
    report.details["txtai_build"] = built
    report.add("txtai", "txtai index build", built["sentences_per_second"], "sentences/s",
               f"txtai {peer.txtai_version()} Embeddings.index of the same {len(task.sentences):,} sentences "
               f"(torch fp32, FAISS {built['faiss_index']} nprobe {built['nprobe']}): {built['seconds']} s; "
               f"newsbot's build above: {build['seconds']} s")
    report.add("txtai", "build time, txtai / newsbot", round(built["seconds"] / build["seconds"], 2), "x",
               "above 1: newsbot builds faster (newsbot also embeds the paragraphs and writes SQLite)")
    rounds = []
    for _ in range(options.rounds):  # interleaved, so load from other processes hits both alike
        ours = core.search_ms(retriever, task.questions, peer.QUERY_K)
        theirs = peer.txtai_query_ms(embeddings, task.questions)
        rounds.append({"newsbot_p50_ms": ours["p50_ms"], "newsbot_p99_ms": ours["p99_ms"],
                       "txtai_p50_ms": theirs["p50_ms"], "txtai_p99_ms": theirs["p99_ms"],
                       "ratio_p50": theirs["p50_ms"] / ours["p50_ms"]})
    query = {key: round(statistics.median(r[key] for r in rounds), 2) for key in rounds[0]}
    report.details["txtai_query_ms"] = {"rounds": rounds, "median": query}
    what = f"one question, top {peer.QUERY_K}, warm, {len(task.questions)} questions"
    report.add("txtai", "newsbot Retriever.search p50 / p99", f"{query['newsbot_p50_ms']} / {query['newsbot_p99_ms']}",
               "ms", f"{what}: encode, FAISS, paragraph ranking, lexical evidence, SQLite")
    report.add("txtai", "txtai Embeddings.search p50 / p99", f"{query['txtai_p50_ms']} / {query['txtai_p99_ms']}",
               "ms", f"{what}: encode (torch fp32) and FAISS")
    report.add("txtai", "query p50, txtai / newsbot", query["ratio_p50"], "x", "above 1: newsbot answers faster")


def _search(options: Options, report: Report) -> None:
    from benchmarks.scale import measure_search

    rows = measure_search(list(options.sizes))
    report.details["search"] = rows
    for row in rows:
        label = f"{row['index']} at {row['sentences']:,}"
        for key in ("p50_ms", "p99_ms", "recall_at_10", "rss_mb"):
            report.add("search", f"{label}: {key}", row[key], "", "one question, warm (benchmarks/scale.py)")


def _bot(options: Options, report: Report) -> None:
    from benchmarks.bot_throughput import median_level, measure_bot

    levels: list[tuple[int, float | None]] = [(chats, None) for chats in BOT_LEVELS]
    levels.append((BOT_LEVELS[-1], options.bot_rate))
    measured = [median_level(rounds) for rounds in measure_bot(levels, messages=options.bot_messages,
                                                               rounds=options.rounds, model=None)]
    report.details["bot"] = [asdict(level) for level in measured]
    for level in measured:
        load = "saturated" if level.offered_per_second is None else f"paced at {level.offered_per_second:g}/s"
        one = "each question answered exactly once" if level.exactly_one_answer_each else "SOME QUESTIONS NOT ANSWERED ONCE"
        report.add("bot", f"{level.chats} chats, {load}",
                   f"{level.per_second} msg/s, p50 {level.p50_ms:.0f} ms, p99 {level.p99_ms:.0f} ms", "",
                   f"answered messages/s and latency from the user's send to the fake receiving the answer; {one}; "
                   f"CPU per message: bot {level.bot_cpu_ms_per_message} ms, "
                   f"fake API + load generator {level.fake_and_load_cpu_ms_per_message} ms")


def _cold(options: Options, report: Report, scratch: Path) -> None:
    cold = core.cold_ask(scratch / "cold-index", options.cold_runs, backend=options.backend)
    report.details["cold"] = cold
    runs = f"median of {cold['runs']} fresh processes"
    report.add("cold", "newsbot ask, fresh process", round(statistics.median(cold["seconds"]), 2), "s",
               f"from exec to the printed answer on the bundled corpus, index built, {runs}")
    report.add("cold", "newsbot ask, peak memory", round(statistics.median(cold["peak_rss_mib"]), 1), "MiB",
               f"the process's peak RSS (VmHWM read by the process at exit), {runs}")
    report.add("cold", "newsbot ask imports torch", "yes" if cold["imports_torch"] else "no", "",
               "python -X importtime -m newsbot.bot ask ...")


def _rounds(rounds: int, measure: Callable[[], dict[str, float]]) -> dict[str, object]:
    samples = [measure() for _ in range(rounds)]
    return {"rounds": samples, "p50_ms": round(statistics.median(s["p50_ms"] for s in samples), 2),
            "p99_ms": round(statistics.median(s["p99_ms"] for s in samples), 2)}


def _add_latency(report: Report, measurement: str, name: str, figures: dict, measures: str) -> None:
    report.add(measurement, f"{name} p50 / p99", f"{figures['p50_ms']} / {figures['p99_ms']}", "ms",
               f"{measures}; medians of {len(figures['rounds'])} rounds")


def format_report(report: Report) -> str:
    m = report.machine
    libraries = ", ".join(f"{name} {version}" for name, version in m["libraries"].items() if version)
    lines = [f"machine: {m['cpu']}, {m['cores']} cores ({' '.join(m['simd'])}), Python {m['python']}",
             f"load average (1, 5, 15 min): {m['load_average']} at start, {m['load_average_at_end']} at end",
             f"libraries: {libraries}", ""]
    width = max((len(f.name) for f in report.figures), default=10)
    current = None
    for figure in report.figures:
        if figure.measurement != current:
            current = figure.measurement
            lines.append(f"[{current}]")
        value = f"{figure.value} {figure.unit}".strip()
        lines.append(f"  {figure.name:<{width}}  {value:<34}  {figure.measures}")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


# ---------------------------------------------------------------- the generated blocks of the docs

def _figures_block(report: Report) -> str:
    """Every figure but the search rows (their own table), with the libraries that set the speed."""
    m = report.machine
    libraries = ", ".join(f"{name} {version}" for name, version in m["libraries"].items() if version)
    rows = [(f.measurement, f.name, f"{f.value} {f.unit}".strip(), f.measures)
            for f in report.figures if f.measurement != "search"]
    notes = "".join(f"\n\nNote: {note}." for note in report.notes)
    return f"Python {m['python']}; {libraries}.\n\n{table(('measurement', 'figure', 'value', 'what it measures'), rows)}{notes}"


def _search_block(report: Report) -> str:
    from benchmarks.scale import search_table

    return search_table(report.details["search"])  # type: ignore[arg-type]


def _bot_block(report: Report) -> str:
    rows = []
    for level in report.details["bot"]:  # type: ignore[union-attr]
        load = "saturated" if level["offered_per_second"] is None else f"paced at {level['offered_per_second']:g} questions/s"
        rows.append((f"{level['chats']}, {load}", level["per_second"], f"{level['p50_ms']:.0f} ms", f"{level['p99_ms']:.0f} ms",
                     f"{level['bot_cpu_ms_per_message']} / {level['fake_and_load_cpu_ms_per_message']} ms",
                     "yes" if level["exactly_one_answer_each"] else "**no**"))
    return table(("concurrent chats", "answered msg/s", "p50 latency", "p99 latency",
                  "CPU per message: bot / fake API and load", "each question answered once"), rows, "lrrrrl")


def _headline_block(report: Report) -> str:
    """A few figures for the README: build, answer, cold start, the bot at its target load, search at the
    largest size measured, and the peer."""
    from newsbot.index.vectors import plan_index

    d = report.details
    build, answer, cold = d["build"], d["answer_ms"], d["cold"]
    paced = [level for level in d["bot"] if level["offered_per_second"] is not None][-1]  # type: ignore[union-attr]
    size = max(row["sentences"] for row in d["search"])  # type: ignore[union-attr]
    chosen = plan_index(size).factory
    search = next(row for row in d["search"] if row["sentences"] == size and row["index"] == chosen)  # type: ignore[union-attr]
    rows = [(f"index build, {build['sentences']:,} SQuAD dev sentences and their paragraphs, empty cache",
             f"{build['sentences_per_second']} sentences/s"),
            (f"one question answered (`Retriever.answer`, warm, {build['sentences']:,} sentences), p50 / p99",
             f"{answer['p50_ms']} / {answer['p99_ms']} ms"),
            ("cold start of `newsbot ask` on the bundled corpus, peak memory",
             f"{statistics.median(cold['seconds']):.2f} s, {statistics.median(cold['peak_rss_mib']):.0f} MiB"),
            (f"Telegram bot, {paced['chats']} chats asking {paced['offered_per_second']:g} questions/s",
             f"{paced['per_second']} answered/s, p50 {paced['p50_ms']:.0f} ms, p99 {paced['p99_ms']:.0f} ms"),
            (f"FAISS search at {size:,} sentences ({chosen}), p50, recall@10 against exact",
             f"{search['p50_ms']} ms, {search['recall_at_10']}")]
    if "txtai_query_ms" in d:
        ratio = round(d["txtai_build"]["seconds"] / build["seconds"], 2)  # type: ignore[index]
        rows.append(("against txtai on the same sentences: build, one query (p50)",
                     f"{ratio}× / {d['txtai_query_ms']['median']['ratio_p50']}× faster"))  # type: ignore[index]
    return table(("figure (default int8 backend)", "measured"), rows)


# (page, block): the measurements the block shows, and how it is written
DOC_BLOCKS: dict[tuple[str, str], tuple[tuple[str, ...], Callable[[Report], str]]] = {
    ("docs/PERFORMANCE.md", "speed"): (("encode", "answer", "bot", "cold", "txtai"), _figures_block),
    ("docs/PERFORMANCE.md", "speed-search"): (("search",), _search_block),
    ("docs/BOT.md", "bot-throughput"): (("bot",), _bot_block),
    ("README.md", "speed-headline"): (MEASUREMENTS, _headline_block),
}


def write_docs(report: Report, command: str, root: Path = ROOT) -> list[str]:
    """Write every block whose measurements all ran; the blocks written, as page#block."""
    ran = set(report.options["only"])  # type: ignore[arg-type]
    line = provenance(command, report.machine, report.machine["load_average_at_end"])  # type: ignore[arg-type]
    written = []
    for (page, block), (needs, render) in DOC_BLOCKS.items():
        if set(needs) <= ran:
            write_block(root / page, block, f"{line}\n\n{render(report)}")
            written.append(f"{page}#{block}")
    return written


def parse_options(argv: list[str] | None = None) -> tuple[Options, Output]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(MEASUREMENTS), help="comma-separated measurements to run")
    parser.add_argument("--skip", default="", help="comma-separated measurements to leave out")
    parser.add_argument("--quick", action="store_true",
                        help="shrink everything: 4 SQuAD articles, 50 questions, 1 round, 100 bot messages, 3 cold runs")
    parser.add_argument("--rounds", type=int, default=None, help="repeated rounds per latency figure (default 3)")
    parser.add_argument("--questions", type=int, default=None, help="SQuAD questions per round (default 200)")
    parser.add_argument("--articles", type=int, default=None, help="index only the first N SQuAD dev articles")
    parser.add_argument("--sizes", default=None, help="sentence counts for search (default 10000,100000,1000000)")
    parser.add_argument("--bot-messages", type=int, default=None, help="questions per bot level (default 400)")
    parser.add_argument("--bot-rate", type=float, default=100.0,
                        help="questions/s offered by 200 paced chats (default 100)")
    parser.add_argument("--cold-runs", type=int, default=None, help="fresh `newsbot ask` processes (default 5)")
    parser.add_argument("--backend", default=None, help="encoding backend (default: the product's, onnx-int8)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the figures into docs/PERFORMANCE.md, docs/BOT.md and README.md")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name and name not in args.skip.split(",")]
    unknown = set(chosen) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s) {', '.join(sorted(unknown))}; choose from {', '.join(MEASUREMENTS)}")

    def pick(value: object, full: object, quick: object) -> object:
        return value if value is not None else quick if args.quick else full

    sizes = pick(args.sizes, "10000,100000,1000000", "10000")
    options = Options(only=tuple(chosen), quick=args.quick, rounds=pick(args.rounds, 3, 1),
                      questions=pick(args.questions, 200, 50), articles=pick(args.articles, None, 4),
                      sizes=tuple(int(size) for size in str(sizes).split(",")),
                      bot_messages=pick(args.bot_messages, 400, 100), bot_rate=args.bot_rate,
                      cold_runs=pick(args.cold_runs, 5, 3), backend=args.backend)
    return options, Output(args.json, args.write_docs)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options, output = parse_options(argv)
    answer_on_one_thread()  # as the `newsbot` command does
    report = run_suite(options)
    print(json.dumps(asdict(report), indent=2) if output.json else format_report(report))
    if output.write_docs:
        written = write_docs(report, shlex.join(["python", "-m", "benchmarks.suite", *argv]))
        print(f"wrote {', '.join(written) or 'nothing: no block has all its measurements in this run'}",
              file=sys.stderr)
    bot = report.details.get("bot", [])
    return 0 if all(level["exactly_one_answer_each"] for level in bot) else 1  # type: ignore[union-attr]


if __name__ == "__main__":
    raise SystemExit(main())
