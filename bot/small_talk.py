"""What in a chat is not a question for the articles: a greeting, thanks, an "ok", a goodbye, or a
question in another language. Each gets the reply a person would give (bot.texts.SMALL_TALK) instead
of "I found nothing".

Only a whole message of them counts ("hi", "Hello there!", "ok thanks", "got it", "bye!"), so a question
that starts with "hi" or thanks someone is still answered. Pure: the bot, the console chat and
`newsbot ask` (the language only) ask it before answering.
"""

from __future__ import annotations

import re

from newsbot.retrieval.language import is_foreign

GREETING = "greeting"
THANKS = "thanks"
OKAY = "okay"
GOODBYE = "goodbye"
FOREIGN = "foreign"

_TO_ME = r"(?:[\s,]+(?:there|all|everyone|bot|newsbot))?"
_END = r"[\s!.,:;)(^*~-]*"
_GREETING = re.compile(rf"(?:(?:hi|hello|hey|hiya|heya|howdy|yo|hallo|greetings|"
                       rf"good\s+(?:morning|afternoon|evening|day)){_TO_ME}{_END})+", re.IGNORECASE)
_THANKS = re.compile(rf"(?:(?:ok(?:ay)?|great|cool|perfect|nice|awesome|brilliant)[\s,!.]+)?"
                     rf"(?:thanks|thank\s+(?:you|u)|thx|ty|cheers|many\s+thanks|much\s+appreciated)"
                     rf"(?:\s+(?:a\s+lot|so\s+much|very\s+much|a\s+bunch))?{_TO_ME}{_END}", re.IGNORECASE)
_OKAY = re.compile(rf"(?:ok(?:ay)?|k|cool|great|nice|good|perfect|awesome|alright|all\s+right|got\s+it|i\s+see|"
                   rf"understood|interesting){_END}", re.IGNORECASE)
_GOODBYE = re.compile(rf"(?:bye|goodbye|good\s+bye|bye\s+bye|see\s+you(?:\s+later)?|good\s+night|ciao|cya)"
                      rf"{_TO_ME}{_END}", re.IGNORECASE)


def small_talk(text: str) -> str | None:
    """GREETING, THANKS, OKAY, GOODBYE or FOREIGN for a message that is one, else None (a question to answer)."""
    stripped = text.strip()
    for kind, pattern in ((GREETING, _GREETING), (THANKS, _THANKS), (OKAY, _OKAY), (GOODBYE, _GOODBYE)):
        if pattern.fullmatch(stripped):
            return kind
    return FOREIGN if is_foreign(stripped) else None
