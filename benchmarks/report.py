"""Generated parts of the project's Markdown pages: the scripts that measure a figure write it, nobody copies it.

A page marks each generated part with a named pair of HTML comments, invisible when rendered:

    <!-- BEGIN GENERATED speed -->
    ...written by the script, replaced on every run...
    <!-- END GENERATED speed -->

`write_block(path, "speed", text)` replaces what is between the pair and nothing else, so a page can
hold several named blocks and hand-written text around them. A page that lacks the pair is refused
rather than appended to: where a table goes is the page's decision, made once by hand. A page that does
not exist yet is created holding the block alone.

Each block starts with `provenance(command)`: the date, the machine and its load, and the command that
regenerates it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmarks.stats import machine

# The SIMD flags that set the speed of int8 and fp32 inference here (VNNI: int8 dot products).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class MarkerError(ValueError):
    """The page lacks the named block's markers, or has them more than once or out of order."""


def markers(name: str) -> tuple[str, str]:
    """The BEGIN and END comments of the block `name` (lower-case letters, digits and hyphens)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a block name is lower-case letters, digits and hyphens, not {name!r}")
    return f"<!-- BEGIN GENERATED {name} -->", f"<!-- END GENERATED {name} -->"


def write_block(path: Path, name: str, content: str) -> None:
    """Replace the text between the markers of block `name` in the page at `path` with `content`."""
    begin, end = markers(name)
    body = content.rstrip("\n") + "\n"
    if not path.exists():
        path.write_text(f"{begin}\n{body}{end}\n", encoding="utf-8")
        return
    page = path.read_text(encoding="utf-8")
    if page.count(begin) != 1 or page.count(end) != 1 or page.index(begin) > page.index(end):
        raise MarkerError(f"{path} needs exactly one {begin} followed by one {end} where the block goes")
    before, _, rest = page.partition(begin)
    _, _, after = rest.partition(end)
    path.write_text(f"{before}{begin}\n{body}{end}{after}", encoding="utf-8")


def provenance(command: str, started: dict[str, object] | None = None,
               load_at_end: Sequence[float] | None = None) -> str:
    """One line: when, on what machine and under what load the figures were measured, and how to redo it.
    `started` is `benchmarks.stats.machine()` taken when the run began (now, if not given)."""
    m = started or machine()
    flags = [flag for flag in SPEED_FLAGS if flag in m["simd"]]  # type: ignore[operator]
    vnni = "" if any("vnni" in flag for flag in flags) else ", no VNNI"
    load = _load(m["load_average"])  # type: ignore[arg-type]
    if load_at_end is not None:
        load = f"{load} at the start, {_load(load_at_end)} at the end"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (f"*Generated {when} on {m['cpu']}, {m['cores']} cores ({', '.join(flags) or 'no AVX2'}{vnni}), "
            f"load average (1 / 5 / 15 min) {load}. Regenerate: `{command}`.*")


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table; `align` holds one of 'l' or 'r' per column (default: all left)."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [_row(header), _row(rule)] + [_row([str(cell) for cell in row]) for row in rows]
    return "\n".join(lines)


def _load(averages: Sequence[float]) -> str:
    return " / ".join(f"{x:.1f}" for x in averages)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
