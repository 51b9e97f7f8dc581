"""Opening hours and meeting times as structured, repeating schedules (iCal-style: WEEKLY or
MONTHLY, `byday`, `opens_at`, `closes_at`) for Open Referral UK.

- OSM `opening_hours` ("Mo-Fr 09:00-17:00; Sa 10:00-14:00", "24/7") is evaluated with the
  `opening-hours-py` parser over four sample weeks spread through the year; a schedule that is
  the same every week becomes weekly slots. Seasonal rules (Jun-Aug …) or unknown states are not
  forced into a weekly shape: the caller keeps the text only.
- A group's "when you meet" text is parsed for common English forms ("Saturdays 10:00-12:00",
  "Mondays and Thursdays 6pm to 8pm", "Weekdays 9am-5pm", "First Tuesday of the month 19:00");
  every clause must parse, else nothing is returned (never a half-right schedule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import opening_hours

PARSER_ERROR: type[Exception] = getattr(opening_hours, "ParserError", SyntaxError)  # not in the package's stubs
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Mondays in 2025 spread through the year, none in a week with Easter or Christmas.
SAMPLE_WEEKS = (datetime(2025, 1, 13), datetime(2025, 4, 7), datetime(2025, 7, 14), datetime(2025, 10, 13))


@dataclass(frozen=True)
class Slot:
    freq: str  # WEEKLY or MONTHLY
    byday: str  # "MO,TU" or, monthly, "1MO" / "-1FR"
    opens_at: str | None  # "HH:MM:SS"
    closes_at: str | None


def _hhmmss(t: time) -> str:
    return t.strftime("%H:%M:%S")


def _week_pattern(oh: opening_hours.OpeningHours, monday: datetime) -> dict[str, list[tuple[str, str]]] | None:
    days: dict[str, list[tuple[str, str]]] = {d: [] for d in DAYS}
    end_of_week = monday + timedelta(days=7)
    for start, end, state, _comment in oh.intervals(monday, end_of_week):
        if state == opening_hours.State.UNKNOWN:
            return None
        if state != opening_hours.State.OPEN:
            continue
        start, end = max(start, monday), min(end or end_of_week, end_of_week)
        while start < end:  # split at midnight
            midnight = datetime.combine(start.date() + timedelta(days=1), time())
            stop = min(end, midnight)
            closes = "23:59:59" if stop == midnight else _hhmmss(stop.time())
            days[DAYS[start.weekday()]].append((_hhmmss(start.time()), closes))
            start = stop
    return days


def _group(days: dict[str, list[tuple[str, str]]]) -> list[Slot]:
    by_hours: dict[tuple[str, str], list[str]] = {}
    for day in DAYS:
        for hours in days[day]:
            by_hours.setdefault(hours, []).append(day)
    slots = [Slot("WEEKLY", ",".join(day_list), opens, closes) for (opens, closes), day_list in by_hours.items()]
    return sorted(slots, key=lambda s: (DAYS.index(s.byday.split(",")[0]), s.opens_at or ""))


def from_opening_hours(text: str | None) -> list[Slot]:
    """Weekly slots for an OSM opening_hours value; [] when it is not a plain weekly schedule."""
    if not text or not text.strip() or re.search(r"sunrise|sunset|dawn|dusk", text, re.I):
        return []  # solar times move through the year: not a fixed weekly time
    try:
        oh = opening_hours.OpeningHours(text.strip(), auto_country=False, auto_timezone=False)
    except (PARSER_ERROR, SyntaxError, ValueError):  # not OSM opening_hours syntax
        return []
    patterns = [_week_pattern(oh, monday) for monday in SAMPLE_WEEKS]
    first = patterns[0]
    if first is None or any(p != first for p in patterns[1:]):
        return []  # unknown, or not the same every week (seasonal)
    return _group(first)


# ------------------------------------------------------------------ "when you meet" in English

_DAY_WORDS = {
    "mon": "MO",
    "tue": "TU",
    "tues": "TU",
    "wed": "WE",
    "thu": "TH",
    "thur": "TH",
    "thurs": "TH",
    "fri": "FR",
    "sat": "SA",
    "sun": "SU",
}
_DAY = r"(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|rsday|urday)?s?\b\.?"
_ORDINALS = {
    "first": "1",
    "1st": "1",
    "second": "2",
    "2nd": "2",
    "third": "3",
    "3rd": "3",
    "fourth": "4",
    "4th": "4",
    "last": "-1",
}
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_RANGE = re.compile(_TIME + r"\s*(?:-|–|—|to|until|till)\s*" + _TIME, re.I)
_SINGLE = re.compile(r"(?:at|from)?\s*" + _TIME, re.I)
_FILLER = re.compile(r"\b(every|each|on|and|the|of|month|in|at|from|a|,|&|/)\b|[,&/]", re.I)


def _clock(
    hour: str, minute: str | None, meridiem: str | None, hint: str | None = None, *, bare: bool = False
) -> str | None:
    h, m = int(hour), int(minute or 0)
    mer = (meridiem or hint or "").lower().replace(".", "")
    if mer:
        if not 1 <= h <= 12:
            return None
        h = (h % 12) + (12 if mer == "pm" else 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    if not meridiem and not hint and minute is None and not bare:
        return None  # a bare number ("3") is not a time, unless in a range of hours ("10-12")
    return f"{h:02d}:{m:02d}:00"


def _times(clause: str) -> tuple[str | None, str | None, str] | None:
    """(opens, closes, the clause without the time) or None when a time is malformed."""
    match = _RANGE.search(clause)
    if match:
        h1, m1, mer1, h2, m2, mer2 = match.groups()
        bare = not (m1 or m2 or mer1 or mer2)
        opens = _clock(h1, m1, mer1, mer2 if not mer1 else None, bare=bare)
        closes = _clock(h2, m2, mer2, bare=bare)
        if opens and closes and not mer1 and mer2 and opens >= closes:  # "10-12pm": ten in the morning
            opens = _clock(h1, m1, "am")
        if opens is None or closes is None or closes <= opens:
            return None
        return opens, closes, clause[: match.start()] + " " + clause[match.end() :]
    single = [m for m in _SINGLE.finditer(clause) if m.group(2) or m.group(3)]
    if len(single) == 1:
        m = single[0]
        opens = _clock(m.group(1), m.group(2), m.group(3))
        if opens is None:
            return None
        return opens, None, clause[: m.start()] + " " + clause[m.end() :]
    if single:
        return None
    return None, None, clause


def _clause(clause: str) -> list[Slot] | None:
    timed = _times(clause)
    if timed is None:
        return None
    opens, closes, rest = timed
    rest = rest.lower()
    monthly = re.fullmatch(
        r"\s*(?:on\s+)?(?:the\s+)?(first|1st|second|2nd|third|3rd|fourth|4th|last)\s+"
        + _DAY
        + r"\s*(?:of\s+)?(?:each|every|the)?\s*(?:month)?\s*[,.]?\s*",
        rest,
    )
    if monthly:
        return [Slot("MONTHLY", f"{_ORDINALS[monthly.group(1)]}{_DAY_WORDS[monthly.group(2)]}", opens, closes)]
    days: list[str] = []
    span = re.search(_DAY + r"\s*(?:-|–|to|until|till)\s*" + _DAY, rest)
    if span:
        a, b = DAYS.index(_DAY_WORDS[span.group(1)]), DAYS.index(_DAY_WORDS[span.group(2)])
        days += [DAYS[(a + i) % 7] for i in range((b - a) % 7 + 1)]
        rest = rest[: span.start()] + " " + rest[span.end() :]
    for word, covered in (
        ("weekdays", DAYS[:5]),
        ("weekends", DAYS[5:]),
        ("weekend", DAYS[5:]),
        ("every day", DAYS),
        ("daily", DAYS),
    ):
        if word in rest:
            days += covered
            rest = rest.replace(word, " ")
    for match in re.finditer(_DAY, rest):
        days.append(_DAY_WORDS[match.group(1)])
    rest = re.sub(_DAY, " ", rest)
    if not days or _FILLER.sub(" ", rest).strip(" .-:"):
        return None  # no day, or words we do not understand
    ordered = [d for d in DAYS if d in days]
    return [Slot("WEEKLY", ",".join(ordered), opens, closes)]


def from_text(text: str | None) -> list[Slot]:
    """Slots for a group's free-text meeting times; [] unless every clause is understood."""
    if not text or not text.strip() or len(text) > 500:
        return []
    slots: list[Slot] = []
    for clause in re.split(r"[;\n]+", text):
        if not clause.strip():
            continue
        parsed = _clause(clause.strip())
        if parsed is None:
            return []
        slots += parsed
    return slots
