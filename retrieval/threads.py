"""The thread settings of a process that answers questions: chosen where the process starts, never on import.

One question's work is small, and on a small machine threads spread over the cores only contend with
each other and with the model's: FAISS's OpenMP threads with the model's (measured: 13 ms per search in
a process with torch, 1 ms alone), numpy's BLAS threads with the model's and FAISS's (measured on 2 busy
cores: a 2,067 x 384 product of retrieval/candidates.py took 2.9 ms, 0.26 ms on one). The `newsbot`
command, and with it the Telegram bot, calls `answer_on_one_thread` before anything else, and so do the
benchmarks; importing `retrieval`, `index` or `corpus` changes nothing in a program, which may call it
too.

A process-wide setting rather than a context around each question: OpenBLAS's thread count belongs to
the whole process, so a context entered and left by the bot's query threads at once would undo each
other's, and a fresh `threadpool_limits` costs about 0.7 ms (an answer takes about 9 ms).
"""

from __future__ import annotations

import faiss
from threadpoolctl import threadpool_limits


def answer_on_one_thread() -> None:
    """FAISS searches on one OpenMP thread (OpenMP keeps this setting per thread: the calling one's), and
    every BLAS library loaded so far (numpy's, FAISS's) on one thread for the whole process. A build
    still trains and adds to FAISS on every core (`index.vectors`)."""
    faiss.omp_set_num_threads(1)
    threadpool_limits(1, user_api="blas")
