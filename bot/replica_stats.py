"""/stats for a bot served by several replicas: each replica's own figures, and their sum.

Each replica writes its figures (questions answered since it started, its recent answer latencies) into a
hash of its own beside its presence key, with the same lease (bot.replicas), and /stats adds up the hashes
of the replicas alive. A hash per replica rather than shared HINCRBY counters because latency percentiles
cannot be added up (the samples can), because a replica gone stops counting without anyone cleaning up,
and because answering then costs Redis nothing: the hash is written with the presence key, not per answer.
Index figures (articles, sentences, model, build) are one index's, the same at every replica: not summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from newsbot.bot.service import Service, Stats
from newsbot.retrieval.evaluation.percentile import percentile

# Latencies each replica shares: enough for a p99 (10 samples above it), about 6 KB a replica.
SHARED_SAMPLES = 1000


@dataclass(frozen=True)
class Figures:
    """One replica's figures that /stats sums: questions answered, and recent answer latencies in seconds."""

    questions: int
    latencies: tuple[float, ...]

    def encoded(self) -> dict[str, str]:
        """The hash fields stored in Redis: latencies in whole microseconds, comma-separated."""
        recent = self.latencies[-SHARED_SAMPLES:]
        return {"questions": str(self.questions), "latencies": ",".join(str(round(s * 1e6)) for s in recent)}

    @staticmethod
    def decoded(fields: dict[bytes, bytes]) -> Figures | None:
        """The figures a hash holds, or None for one that is not a replica's figures (damaged, or half written)."""
        try:
            questions = int(fields[b"questions"])
            raw = fields[b"latencies"].decode()
            latencies = tuple(int(value) / 1e6 for value in raw.split(",")) if raw else ()
        except (KeyError, ValueError, UnicodeDecodeError):
            return None
        return Figures(questions, latencies)


def summed(own: Stats, own_latencies: Sequence[float], others: list[Figures]) -> Stats:
    """This replica's /stats with the other replicas' answers added: questions summed, latency percentiles
    over every replica's recent answers (the same number of samples from each)."""
    questions = own.questions + sum(figures.questions for figures in others)
    samples = [*own_latencies[-SHARED_SAMPLES:], *(value for figures in others for value in figures.latencies)]
    if not samples:
        return replace(own, questions=questions)
    return replace(own, questions=questions, latency_p50=percentile(samples, 50),
                   latency_p90=percentile(samples, 90), latency_p99=percentile(samples, 99))


def figures_of(service: Service) -> Figures:
    """This replica's figures now."""
    return Figures(service.stats().questions, tuple(service.answer_times()))
