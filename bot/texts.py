"""Everything the Telegram bot says, in one place, so that its wording is read and changed here and
not in the handlers: replies as styled blocks (bot.render makes them Telegram messages), the lines it
sends as they are, button labels and the command menu.

What comes from elsewhere (an article's title, the reason an index build or an upload failed) is
passed in and shown as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from newsbot.bot.citation import by_article, cite, format_date
from newsbot.bot.feedback import HELPFUL
from newsbot.bot.history import QUIET_SECONDS
from newsbot.bot.ratelimit import MAX_WAITING
from newsbot.bot.render import Block, Span, text_blocks
from newsbot.bot.service import FETCHING, Stats
from newsbot.bot.small_talk import FOREIGN, GOODBYE, GREETING, OKAY, THANKS
from newsbot.corpus import Article
from newsbot.corpus.known import Stored
from newsbot.index import BuildReport
from newsbot.index.build import EMBEDDING, READING
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer, Hit
from newsbot.retrieval.retriever import NOT_FOUND
from newsbot.retrieval.timeline import Report

if TYPE_CHECKING:
    from newsbot.corpus.web.feed_state import Feed
    from newsbot.corpus.web.ingest import PageRefused

EXAMPLE_QUESTION = "How many people have died?"
# The command menu, (command, description); plain pairs so that the console chat, which shares these texts,
# does not import python-telegram-bot (0.12 s of every `newsbot ask`)
COMMANDS = [("help", "What I know and how to ask"),
            ("sources", "The articles I have read"),
            ("more", "More results for your last question"),
            ("new", "Start a new topic: forget my earlier questions")]

# --- to everyone ---

SMALL_TALK = {
    GREETING: f"Hello! Ask me a question about the news, for example “{EXAMPLE_QUESTION}”",
    THANKS: "You're welcome! Ask me anything else about the news.",
    OKAY: "👍 Ask me anything else about the news whenever you like.",
    GOODBYE: "Bye! Come back with any question about the news.",
    FOREIGN: (f"Sorry, I can only read questions in English, the language of my articles. Please ask in English, "
              f"for example “{EXAMPLE_QUESTION}”"),
}
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
ONLY_TEXT = "I can only read questions written as text, or as a photo's caption. Ask me something, or see /help."
UNKNOWN_COMMAND = "I don't know that command. /help shows what I can do."
ASK_FIRST = "Ask me a question first; then /more shows further answers."
FORGOTTEN = "That question is too old for me to remember. Please ask it again."
NO_MORE = "That's all I found for this question."
NEW_CONVERSATION = ("New topic: I have forgotten your earlier questions. "
                    f"(I forget them by myself after {QUIET_SECONDS // 60} quiet minutes.)")
QUEUE_FULL = (f"I already have {MAX_WAITING} of your questions waiting, and I answer them in order. "
              "Please send this one again once they are answered.")
MORE_RESULTS = "More results"
HELPFUL = "👍 Helpful"
WRONG_ANSWER = "👎 Wrong answer"
RATING_FORGOTTEN = "That answer is too old for me to rate. Ask again, and rate the new answer."
RATING_NOT_YOURS = "Only the person who asked can rate this answer."
RATING_NOT_SAVED = "Sorry, I could not save that just now. Please try again later."
PREVIOUS_PAGE = "◀ Previous"
NEXT_PAGE = "Next ▶"


def slow_down(retry_after: float, limit: int, seconds: float) -> str:
    """What a user over the rate limit is told (once until the wait is over): the limit, and when they may
    send again; what they send meanwhile is not read."""
    wait = max(1, math.ceil(retry_after))
    return (f"You have reached my limit of {limit} message{_s(limit)} {_per(seconds)} for each person. I'll read your "
            f"messages again in {wait} s; please send this one again then.")


def _per(seconds: float) -> str:
    """"a minute", "an hour" or "every 90 s"."""
    return {60: "a minute", 3600: "an hour"}.get(seconds, f"every {seconds:g} s")


def welcome_blocks(count: int) -> list[Block]:
    """The /start greeting, for someone new: what the bot is, one question to try, where to read more."""
    return [(Span("Hello! I answer questions about the news from the "), Span(f"{count:,} article{_s(count)}", "b"),
             Span(" I have read, with the sentences that answer them and where each comes from.")),
            (Span("Try: "), Span(EXAMPLE_QUESTION, "i")),
            (Span("/help shows what I know and my commands."),)]


def rated(verdict: str, changed: bool) -> str:
    """The short acknowledgement of a "Helpful" / "Wrong answer" tap (`bot.feedback`'s verdicts)."""
    what = "helpful" if verdict == HELPFUL else "a wrong answer"
    return f"Changed: noted as {what}." if changed else f"Thanks! Noted as {what}; it helps me improve."


def help_blocks(count: int, first: date | None, last: date | None, username: str | None,
                is_admin: bool) -> list[Block]:
    """The /help reference: what the bot knows (`count` articles dated `first` to `last`), how to ask, the commands."""
    span = f", from {format_date(first)} to {format_date(last)}" if first and last else ""
    blocks: list[Block] = [
        (Span("What I know: ", "b"), Span(f"{count:,} news article{_s(count)}{span}. I read questions in English.")),
        (Span("How to ask: ", "b"), Span("send a question in plain words, for example "),
         Span(EXAMPLE_QUESTION, "i"), Span(" I reply with the sentences that answer it, grouped by the article "
                                           "they come from, and say so when my articles do not answer it. "
                                           "You can edit a question to ask it again, or send it as a "
                                           "photo's caption.")),
        (Span("Follow-ups: ", "b"), Span("a question is read after your earlier ones, as in "),
         Span("How many people have died in Syria? … Who does the government blame for it?", "i"),
         Span(f" /new starts a new topic (I forget by myself after {QUIET_SECONDS // 60} quiet minutes).")),
        (Span("Commands: ", "b"), Span("/more further answers to your last question (or tap “More results”) · "
                                       "/new a new topic · /sources the articles I have read · /help this message")),
    ]
    if username:
        blocks.append((Span(f"In a group, mention me (@{username}) or reply to one of my messages."),))
    if is_admin:
        blocks.append((Span("Admin: ", "b"), Span("/reindex rebuilds the index from the corpus folder · "
                                                  "/add adds an article (text after the command, a .txt "
                                                  "file with /add as its caption, or web page links after the "
                                                  "command) · /feeds follows news feeds · /stats shows figures")))
    return blocks


def _s(count: int) -> str:
    return "s" if count != 1 else ""


def answer_blocks(answer: Answer, first_number: int = 1) -> list[Block]:
    """The answer sentences, numbered, grouped by article: one block per article, its sentences and then
    its citation once (`by_article`: the article of the best sentence first).

    When the top sentence's answering words were found, they lead the reply ("Answer: …", which the
    plain-text form keeps too) with the date they were reported, and are in bold inside the sentence. A
    changing figure's earlier reports follow, dated (`earlier_reports`).
    """
    period = period_note(answer) if first_number == 1 else None
    noted: list[Block] = [(Span(period, "i"),)] if period else []
    if not answer.found:
        blocks = [*noted, (Span(answer.message or NOT_FOUND),)]
        if answer.message in (None, NOT_FOUND):
            blocks.append((Span("Try other words, or see /sources for the articles I have read.", "i"),))
        return blocks
    pointed = answering_words(answer)
    details = lead_details(answer)
    lead: list[Block] = [(Span("Answer: "), Span(pointed, "b"), *([Span(f" ({details})")] if details else []))
                         ] if pointed else []
    if answer.message:  # not sure: the hedge ("I am not sure; the closest I found:") comes first, no "Answer:"
        lead = [(Span(answer.message, "i"),)] if first_number == 1 else []
    numbers = iter(range(first_number, first_number + len(answer.hits)))
    blocks = noted + lead + [_article_block(article, hits, numbers) for article, hits in by_article(answer.hits)]
    earlier = answer.timeline[1:] if first_number == 1 else ()
    if earlier:
        spans: list[Span] = [Span("Earlier reports:", "b")]
        for report in earlier:
            spans += [Span("\n• "), *_figure_in_sentence(report), Span(f" ({report_details(report)})")]
        blocks.append(tuple(spans))
    return blocks


def answering_words(answer: Answer) -> str | None:
    """The words that answer: the top sentence's marked span, else the latest figure of a timeline."""
    if answer.hits and answer.hits[0].answer:
        return answer.hits[0].answer.text
    return answer.timeline[0].figure if answer.timeline else None


def lead_details(answer: Answer) -> str | None:
    """Who reported the answer and when ("AP, 20 Feb 2012"): every source of its figure when the answer
    has a timeline, else its article's; None for an undated article (its citation says what there is)."""
    if answer.timeline:
        return report_details(answer.timeline[0])
    return cite(answer.hits[0].article).details if answer.hits and answer.hits[0].article.published else None


def report_details(report: Report) -> str:
    """A figure's report as the reply dates it: its sources, then its date ("AFP, Xinhua, 25 Jan 2012")."""
    return ", ".join([*report.sources, format_date(report.published)])


def period_note(answer: Answer) -> str | None:
    """What the reply says about the time the question named: answered from the articles published
    then, or none was published then."""
    if answer.period is None:
        return None
    if answer.from_period:
        return f"From the articles published {answer.period.describe()}:"
    return f"None of my articles was published {answer.period.describe()}; I answer from all of them."


def _figure_in_sentence(report: Report) -> list[Span]:
    """The report's sentence with its figure in bold."""
    text, start = report.hit.text, report.hit.text.find(report.figure)
    if start < 0:
        return [Span(text)]
    end = start + len(report.figure)
    return [Span(text[:start]), Span(text[start:end], "b"), Span(text[end:])]


def articles_blocks(articles: Sequence[ArticleInfo], page: int, per_page: int) -> list[Block]:
    """One page of the indexed articles (pages count from 1)."""
    first = (page - 1) * per_page
    shown = articles[first:first + per_page]
    if not shown:
        pages = -(-len(articles) // per_page)
        return [(Span(f"There is no page {page:,}: my {len(articles):,} articles fill pages 1 to {pages:,}."
                      if pages else "I have no articles yet."),)]
    title = f"Articles {first + 1:,}–{first + len(shown):,} of {len(articles):,}"
    lines: list[Span] = [Span(title, "b")]
    for number, article in enumerate(shown, start=first + 1):
        lines += [Span(f"\n{number}. "), *citation(article)]
    return [tuple(lines)]


def citation(article: ArticleInfo) -> list[Span]:
    """The article's `cite` with its title in bold and its link behind the word "link"."""
    cited = cite(article)
    spans = [Span(cited.title, "b")]
    if cited.details:
        spans.append(Span(" — " + cited.details))
    if cited.url:
        spans += [Span(" · "), Span("link", url=cited.url)]
    return spans


def _article_block(article: ArticleInfo, hits: Sequence[Hit], numbers: Iterator[int]) -> Block:
    """An article's sentences, one a line, each with the next number, then its citation."""
    spans: list[Span] = []
    for hit in hits:
        spans += [Span(f"{next(numbers)}. ", "b"), *_sentence(hit), Span("\n")]
    return (*spans, Span("📰 "), *citation(article))


def _sentence(hit: Hit) -> list[Span]:
    """The sentence, with the part that answers the question (if marked) in bold."""
    if hit.answer is None:
        return [Span(hit.text)]
    start, end = hit.answer.start, hit.answer.end
    return [Span(hit.text[:start]), Span(hit.text[start:end], "b"), Span(hit.text[end:])]


# --- to admins ---

ADMIN_ONLY = "Sorry, that command is only for this bot's admins."
HOW_TO_ADD = ("Send the article after the command, e.g.\n/add title: …\nsource: …\ndate: 2024-05-01\n\nBody…\n\n"
              "or upload a .txt file with /add as its caption, or reply /add to a message holding the article, "
              "or send links to web pages: /add https://… (several separated by spaces).")
REBUILDING = "Rebuilding the index from the corpus folder"
ADDING = "Adding the article"
ADDING_PAGES = "Adding the pages"
BUILD_RUNNING = "A rebuild is already running; please wait for it to finish."
BUILD_RUNNING_MEANWHILE = f"{BUILD_RUNNING} I keep answering questions from the current index meanwhile."


def unreadable_upload(reason: Exception) -> str:
    return f"I could not read that file: {reason}."


def started(doing: str) -> str:
    """The status message a rebuild or an /add starts with (`doing` is REBUILDING or ADDING)."""
    return f"⏳ {doing}…"


def progress_text(doing: str, stage: str, done: int, total: int | None) -> str:
    """The status line for a build's stage (index.build's READING, EMBEDDING, INDEXING); "" before it starts."""
    if stage == FETCHING and total:
        return f"⏳ {doing}… {done:,} of {total:,} pages fetched"
    if stage == READING:
        return f"⏳ {doing}… reading the articles: {done:,} read"
    if not total:
        return ""
    percent = 100 * done // total
    if stage == EMBEDDING:
        return f"⏳ {doing}… {done:,} of {total:,} sentences and paragraphs embedded ({percent}%)"
    return f"⏳ {doing}… building the search index: {done:,} of {total:,} vectors added ({percent}%)"


def articles_counted(articles: int, copies: int) -> str:
    """"12 articles", or with republished copies grouped "12 articles (10 stories: 2 copies grouped)"."""
    if not copies:
        return f"{articles:,} article{_s(articles)}"
    stories = articles - copies
    return (f"{articles:,} articles ({stories:,} stor{'ies' if stories != 1 else 'y'}: {copies:,} "
            f"republished cop{'ies' if copies != 1 else 'y'} grouped with {'their' if copies != 1 else 'its'} story)")


def indexed_line(report: BuildReport) -> str:
    """What a build that wrote a version did, one line for the CLI (`newsbot index`, `add`, `feeds poll`)."""
    return (f"Indexed {articles_counted(report.articles, report.copies)}, {report.sentences} sentences "
            f"({report.embedded} embedded, the rest reused) in {report.seconds:.1f} s -> {report.version}")


def rebuilt_blocks(report: BuildReport) -> list[Block]:
    """The outcome of /reindex, with the files the build skipped (the first ten named)."""
    if report.up_to_date:
        blocks = text_blocks(f"✅ The index is already up to date: {articles_counted(report.articles, report.copies)}, "
                             f"{report.sentences:,} sentences. Send /reindex force to rebuild it anyway.")
    else:
        blocks = text_blocks(f"✅ Index rebuilt in {report.seconds:.1f} s: {articles_counted(report.articles, report.copies)}, "
                             f"{report.sentences:,} sentences ({report.embedded:,} sentences newly embedded, "
                             "the rest reused). I now answer from it.")
    if report.problems:
        listed = "\n".join(f"• {p}" for p in report.problems[:10])
        extra = f"\n…and {len(report.problems) - 10} more" if len(report.problems) > 10 else ""
        blocks += text_blocks(f"⚠️ {len(report.problems)} file(s) were skipped:\n{listed}{extra}")
    return blocks


def added_blocks(article: Article, report: BuildReport, stories: Sequence[ArticleInfo] = ()) -> list[Block]:
    """The outcome of /add with a pasted or uploaded article (`stories` as in `added_pages_blocks`)."""
    joined = _joined_story(article.id, _story_of(stories))
    return text_blocks(f"✅ Added “{article.title}” as {article.id}{joined}; you can ask about it now.",
                       f"The index holds {articles_counted(report.articles, report.copies)}, {report.sentences} sentences.")


def added_pages_blocks(outcomes: Sequence[Stored | PageRefused], report: BuildReport | None,
                       stories: Sequence[ArticleInfo] = ()) -> list[Block]:
    """The outcome of /add with links: one line per link, in the order sent (a page that republishes a story
    already held says so: `stories` are the new index's articles, with their copies), then the index's size."""
    story_of = _story_of(stories)
    lines = "\n".join(_page_outcome(outcome) + (_joined_story(outcome.path, story_of) if isinstance(outcome, Stored)
                                                 and outcome.status in ("added", "updated") else "")
                      for outcome in outcomes)
    if report is None:
        return text_blocks(lines, "Nothing new to index; I answer from the same articles.")
    return text_blocks(lines, f"The index holds {articles_counted(report.articles, report.copies)}, "
                              f"{report.sentences:,} sentences; you can ask about the new ones now.")


def _page_outcome(outcome: Stored | PageRefused) -> str:
    if not isinstance(outcome, Stored):
        return f"❌ {outcome.url}: {outcome.reason}. Nothing was stored."
    return {"added": f"✅ {outcome.url}: added “{outcome.title}”",
            "updated": f"🔄 {outcome.url}: updated “{outcome.title}” to the page's new text",
            "unchanged": f"➖ {outcome.url}: unchanged since I stored it as “{outcome.title}”",
            "duplicate": f"➖ {outcome.url}: already stored as “{outcome.title}”"}[outcome.status]


def _story_of(stories: Sequence[ArticleInfo]) -> dict[str, ArticleInfo]:
    """Each article id, indexed or a copy, to the story it is cited with."""
    return {article.id: story for story in stories for article in (story, *story.copies)}


def _joined_story(article_id: str, story_of: Mapping[str, ArticleInfo]) -> str:
    """", a republished copy of “…”: …" when the article written is grouped with another article's story."""
    story = story_of.get(article_id)
    if story is None or not story.copies:
        return ""
    other = next(article for article in (story, *story.copies) if article.id != article_id)
    return f", a republished copy of “{other.title}”: answers from it name {', '.join(story.sources)}"


def rejected_article(reason: Exception) -> str:
    return f"❌ I could not add that article: {reason}. Nothing was stored."


def build_failed_blocks(doing: str, problem: Exception | None) -> list[Block]:
    """A failed rebuild or /add: what failed (an IndexProblem says), or for anything else that the log has it."""
    what = f"failed: {problem}." if problem is not None else "failed unexpectedly (the details are in the bot's log)."
    return text_blocks(f"❌ {doing} {what}", "I keep answering from the previous index.")


def stats_blocks(stats: Stats, building: bool, replicas: int | None = None) -> list[Block]:
    """The /stats figures; `replicas`: how many replicas serving the bot the answer figures add up (None: one
    process, or the others could not be asked)."""
    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value * 1000:.0f} ms"

    serving = "" if replicas is None else f"\nReplicas serving: {replicas} (answers added up)"
    return text_blocks(
        f"Articles: {stats.articles:,}{f' ({stats.articles - stats.copies:,} stories)' if stats.copies else ''}\nSentences: {stats.sentences:,}\nModel: {stats.model}",
        f"Index built: {stats.built_at} in {stats.build_seconds:.1f} s{' (a rebuild is running)' if building else ''}",
        f"Questions answered: {stats.questions:,}\nAnswer latency: p50 {ms(stats.latency_p50)}, "
        f"p90 {ms(stats.latency_p90)}, p99 {ms(stats.latency_p99)}{serving}")


# --- feeds ---

FEEDS_USAGE = ("/feeds lists the feeds I follow and their health; /feeds add URL follows a feed (RSS or Atom); "
               "/feeds remove URL stops following one (its articles stay).")
NO_FEEDS = "I follow no feeds yet. Follow one with /feeds add https://…/feed.xml"
CHECKING_FEED = "Checking the feed…"
FEEDS_UNAVAILABLE = "Sorry, I cannot read my list of feeds just now (the details are in my log)."


def every(interval: timedelta) -> str:
    """A poll interval as people say it: "15 minutes", "90 seconds", "1 hour"."""
    seconds = interval.total_seconds()
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0 or unit == "second":
            count = seconds / size
            return f"{count:g} {unit}{_s(int(count))}"
    raise AssertionError("unreachable")


def feed_health(feed: Feed) -> list[str]:
    """A feed's health, a few lines: shared by /feeds and `newsbot feeds list`."""
    lines = [f"last success: {_when(feed.last_success)}; {entries_counted(feed.entries_seen)} seen, "
             f"{feed.articles_added:,} article{_s(feed.articles_added)} added"]
    if feed.last_error:
        lines.append(f"last error ({_when(feed.last_error_at)}): {feed.last_error}")
    if feed.failures:
        lines.append(f"{feed.failures} failed poll{_s(feed.failures)} in a row; next attempt {_when(feed.next_attempt)}")
    return lines


def entries_counted(count: int) -> str:
    """"1 entry", "2 entries": a feed's entries, for /feeds and `newsbot feeds`."""
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC").lstrip("0") if moment else "never"


def feeds_blocks(feeds: Sequence[Feed], interval: timedelta) -> list[Block]:
    """/feeds: each feed followed, with its health."""
    if not feeds:
        return text_blocks(NO_FEEDS, FEEDS_USAGE)
    head: list[Block] = [(Span(f"I follow {len(feeds)} feed{_s(len(feeds))}, polled every {every(interval)}:"),)]
    return head + [(Span(feed.title, "b"), Span("\n" + "\n".join([feed.url, *feed_health(feed)])))
                   for feed in feeds] + text_blocks(FEEDS_USAGE)


def feed_added(title: str, url: str, entries: int, interval: timedelta) -> str:
    return (f"✅ Following “{title}” ({url}): {entries_counted(entries)} now. I fetch their "
            f"articles at the next poll (every {every(interval)}) and index them.")


def feed_already_followed(url: str) -> str:
    return f"➖ I already follow {url}."


def feed_refused(reason: Exception) -> str:
    return f"❌ I cannot follow {reason}. Nothing was added."


def feed_removed(url: str) -> str:
    return f"✅ I no longer follow {url}; the articles it brought stay."


def feed_not_followed(url: str) -> str:
    return f"❌ I do not follow {url}. /feeds lists the feeds I follow."
