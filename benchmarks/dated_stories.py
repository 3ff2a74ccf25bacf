"""A corpus of one story reported on four dates with a rising toll, for the answers that know their dates.

The Syrian uprising's death toll as four sources reported it from 25 January to 20 February 2012, two wire
copies of one report carried by two sites (the same text), and an unrelated story. Written by the tests
(tests/test_dates.py) and the dates benchmark (benchmarks/research/dates.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

# (file, source, date, title, body): each report's toll sentence in its own words, as different papers write it
REPORTS = (
    ("afp-2012-01-25.txt", "AFP", date(2012, 1, 25), "Syria agrees to extend Arab League mission",
     "Syria has agreed to extend the Arab League observer mission for a second month.\n\n"
     "The government blames armed groups for the violence, which the UN says has killed more than 5,400 people "
     "since March.\n\nRussia said it would oppose any UN resolution backing sanctions."),
    ("reuters-2012-01-31.txt", "Reuters", date(2012, 1, 31), "Security Council debates Syria resolution",
     "Arab and Western ministers urged the Security Council to back the Arab League plan for Syria.\n\n"
     "The United Nations estimates that more than 5,800 people have been killed in the uprising since March.\n\n"
     "Russia warned that it would not support any call for regime change."),
    ("bbc-2012-02-08.txt", "BBC", date(2012, 2, 8), "Homs shelled for fifth day",
     "Government forces shelled the city of Homs for a fifth day, residents said.\n\n"
     "Activists say more than 6,000 people have died since the uprising began in March.\n\n"
     "Aid agencies called for a pause in the fighting to bring in food and medicine."),
    ("ap-2012-02-20.txt", "AP", date(2012, 2, 20), "Red Cross seeks daily ceasefire in Syria",
     "The Red Cross asked for a daily two-hour ceasefire to deliver aid in the worst-hit areas.\n\n"
     "The death toll has risen to more than 7,500 people since March, according to United Nations officials.\n\n"
     "Diplomats met in Cairo to discuss the crisis."),
)
# The same wire report, carried word for word by a second site on the same day
SYNDICATED = ("xinhua-2012-01-25.txt", "Xinhua", date(2012, 1, 25))
UNRELATED = ("harbour-2012-02-10.txt", "Harbour Gazette", date(2012, 2, 10), "New ferry line opens",
             "A new ferry line opened between the two harbours on Friday.\n\n"
             "The ferry carries up to 300 passengers and runs every hour.\n\n"
             "The town council paid for the new pier.")
NEWEST, FIRST = REPORTS[-1], REPORTS[0]


def write_dated_corpus(folder: Path) -> Path:
    """Write the corpus (header format) into `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    first = REPORTS[0]
    for name, source, day, title, body in (*REPORTS, (SYNDICATED[0], SYNDICATED[1], SYNDICATED[2], first[3], first[4]),
                                           UNRELATED):
        (folder / name).write_text(f"title: {title}\nsource: {source}\ndate: {day.isoformat()}\n\n{body}\n",
                                   encoding="utf-8")
    return folder
