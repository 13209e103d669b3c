"""When a task graph runs: a fixed interval or a cron expression with a time zone; and the clock that says when
it is now.

The grammar is the CLI's: ``30m``, ``12h``, ``1d``, a bare number of days (``3``, as the guide's
``--schedule``), or a 5-field cron followed by an IANA time zone (``'0 6 * * * UTC'``, optionally
written ``USING CRON 0 6 * * * UTC`` as Snowflake prints it). Snowflake limits intervals to 8 days; cron
runs at minute granularity in an explicit zone.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidConfig, Unsupported


class Clock(Protocol):
    """The current time, time-zone aware: ``utc_now`` in production, a settable fake in tests."""

    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(days=8)  # Snowflake's limit for SCHEDULE = '<n> MINUTE'
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_INTERVAL = re.compile(r"^([0-9]+)([mhd]?)$", re.IGNORECASE)
_MAX_DIGITS = 6  # anything longer is far beyond 8 days in every unit; refuse before arithmetic
_CRON_PREFIX = re.compile(r"^USING\s+CRON\s+", re.IGNORECASE)
_VALID_FORMS = (
    "valid forms: '<n>m', '<n>h', '<n>d' or a bare number of days (1 minute to 8 days), "
    "or a 5-field cron with a time zone such as '0 6 * * * UTC' or '*/30 9-17 * * MON-FRI Europe/Paris'"
)


@dataclass(frozen=True)
class IntervalSchedule:
    """Run every ``every`` (whole minutes, 1 minute to 8 days) from a base time set when the graph resumes."""

    every: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.every, timedelta):
            raise InvalidConfig(f"interval must be a timedelta, got {type(self.every).__name__}")
        if self.every % MIN_INTERVAL:
            raise InvalidConfig(f"interval {self.every} is not a whole number of minutes; {_VALID_FORMS}")
        if not MIN_INTERVAL <= self.every <= MAX_INTERVAL:
            raise InvalidConfig(
                f"interval {self.every} is out of range: Snowflake allows 1 minute to 8 days; {_VALID_FORMS}"
            )

    def text(self) -> str:
        """The canonical form, in the largest unit that divides the interval: ``1d``, ``12h``, ``90m``."""
        for unit in ("d", "h", "m"):
            count, rest = divmod(self.every, _UNITS[unit])
            if not rest:
                return f"{count}{unit}"
        raise AssertionError("unreachable: every is a whole number of minutes")

    def next_after(self, now: datetime, base: datetime | None = None) -> datetime:
        """The first ``base + k * every`` (k >= 0) strictly after ``now``; missed runs are not backfilled.

        Without a base (a deploy or resume at ``now``), the grid starts at ``now``.
        """
        base = now if base is None else base
        if (base.tzinfo is None) != (now.tzinfo is None):
            raise InvalidConfig(f"base {base!r} and now {now!r} must both be time-zone aware (or both naive)")
        if now < base:
            return base
        return base + ((now - base) // self.every + 1) * self.every


@dataclass(frozen=True)
class _CronFields:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]  # day of month; 0 stands for the last day of the month ('L')
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    day_restricted: bool
    weekday_restricted: bool


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


_MINUTE = _FieldSpec("minute", 0, 59)
_HOUR = _FieldSpec("hour", 0, 23)
_DAY = _FieldSpec("day-of-month", 1, 31)
_MONTH = _FieldSpec(
    "month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
)
_WEEKDAY = _FieldSpec("day-of-week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"))
_ITEM = re.compile(r"^(\*|[A-Z0-9]+(?:-[A-Z0-9]+)?)(?:/([0-9]+))?$")
_MAX_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # leap years exist


def _value(token: str, spec: _FieldSpec, expression: str) -> int:
    upper = [n.upper() for n in spec.names]
    if token in upper:
        return spec.low + upper.index(token)
    if token.isdigit() and len(token) <= 2 and spec.low <= int(token) <= spec.high:
        return int(token)
    last_name = spec.names[-2 if spec.name == "day-of-week" else -1] if spec.names else ""
    named = f" or {spec.names[0]}-{last_name}" if spec.names else ""
    raise InvalidConfig(
        f"cron {expression!r}: {spec.name} value {token!r} is out of range; "
        f"valid: {spec.low}-{spec.high}{named}"
    )


def _parse_field(text: str, spec: _FieldSpec, expression: str) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        m = _ITEM.match(item)
        if not m:
            raise InvalidConfig(
                f"cron {expression!r}: {spec.name} item {item!r} is not valid; use '*', a value, "
                f"a list 'a,b', a range 'a-b' or a step '*/n', 'a-b/n'"
            )
        body, step_text = m.groups()
        step = int(step_text) if step_text else 1
        if not 1 <= step <= spec.high:
            raise InvalidConfig(f"cron {expression!r}: {spec.name} step {step_text!r} must be 1-{spec.high}")
        if body == "*":
            low, high = spec.low, spec.high
        elif "-" in body:
            low, high = (_value(part, spec, expression) for part in body.split("-"))
            if low > high:
                raise InvalidConfig(
                    f"cron {expression!r}: {spec.name} range {body!r} runs backwards; write it low-high"
                )
        else:
            low = _value(body, spec, expression)
            high = spec.high if step_text else low  # 'a/n' means from a to the end, every n
        values.update(range(low, high + 1, step))
    return values


def _parse_cron(expression: str) -> _CronFields:
    parts = expression.split(" ")
    if len(parts) != 5:
        raise InvalidConfig(
            f"cron {expression!r} has {len(parts)} fields; expected 5 (minute hour day-of-month month "
            f"day-of-week) followed by a time zone"
        )
    minute, hour, day, month, weekday = parts
    if re.fullmatch(r"[0-7]?L", weekday):
        raise Unsupported(
            f"cron {expression!r}: 'L' (last weekday of the month) in day-of-week is not supported"
        )
    days = {0} if day == "L" else _parse_field(day, _DAY, expression)
    weekdays = {d % 7 for d in _parse_field(weekday, _WEEKDAY, expression)}
    fields = _CronFields(
        minutes=tuple(sorted(_parse_field(minute, _MINUTE, expression))),
        hours=tuple(sorted(_parse_field(hour, _HOUR, expression))),
        days=frozenset(days),
        months=frozenset(_parse_field(month, _MONTH, expression)),
        weekdays=frozenset(weekdays),
        # Vixie cron's rule: a field counts as restricted unless it starts with '*'.
        day_restricted=not day.startswith("*"),
        weekday_restricted=not weekday.startswith("*"),
    )
    only_days = fields.day_restricted and not fields.weekday_restricted
    possible = any(d == 0 or d <= _MAX_DAYS_IN_MONTH[m - 1] for d in fields.days for m in fields.months)
    if only_days and not possible:
        raise InvalidConfig(f"cron {expression!r} never fires: no selected month has the selected day")
    return fields


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidConfig(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC', 'Europe/Paris', 'America/New_York'"
        ) from exc


def _names_zone(token: str) -> bool:
    try:
        _zone(token)
    except InvalidConfig:
        return False
    return True


@dataclass(frozen=True)
class CronSchedule:
    """A 5-field cron expression evaluated in an IANA time zone.

    The expression is stored normalised (single spaces, upper-case names) so equal schedules compare equal.
    When both day-of-month and day-of-week are restricted, a day matching either fires (standard cron).
    Across DST changes a local time that does not exist is skipped and an ambiguous one fires once.
    """

    expression: str
    timezone: str
    _fields: _CronFields = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str) or not isinstance(self.timezone, str):
            raise InvalidConfig(f"cron expression and time zone must be strings; {_VALID_FORMS}")
        expression = " ".join(self.expression.upper().split())
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "_zone", _zone(self.timezone))
        object.__setattr__(self, "_fields", _parse_cron(expression))

    def text(self) -> str:
        return f"{self.expression} {self.timezone}"

    def next_after(self, now: datetime, base: datetime | None = None) -> datetime:
        """The next fire time strictly after ``now`` (aware), in UTC (safe to compare across DST folds).

        ``base`` does not move a cron schedule: it fires at matching minutes whenever it was resumed.
        """
        if now.tzinfo is None or now.utcoffset() is None:
            raise InvalidConfig(f"now {now!r} must be time-zone aware")
        start = now.astimezone(self._zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
        start += timedelta(minutes=1)
        day = start.date()
        # Nine years covers every leap-day expression (e.g. 2096 → 2104); parse-time checks rule out the rest.
        horizon = day + timedelta(days=9 * 366)
        while day <= horizon:
            if day.month not in self._fields.months:
                day = _first_of_next_month(day)
                continue
            if self._day_matches(day):
                fire = self._first_time_on(day, start, now.astimezone(UTC))
                if fire is not None:
                    return fire
            day += timedelta(days=1)
        raise InvalidConfig(f"cron {self.text()!r} has no fire time by {horizon.isoformat()}")

    def _day_matches(self, day: date) -> bool:
        f = self._fields
        last = calendar.monthrange(day.year, day.month)[1]
        dom = day.day in f.days or (0 in f.days and day.day == last)
        dow = (day.weekday() + 1) % 7 in f.weekdays
        if f.day_restricted and f.weekday_restricted:
            return dom or dow
        return dom if f.day_restricted else dow

    def _first_time_on(self, day: date, start: datetime, now_utc: datetime) -> datetime | None:
        for hour in self._fields.hours:
            for minute in self._fields.minutes:
                wall = datetime.combine(day, time(hour, minute))
                if wall < start:
                    continue
                local = wall.replace(tzinfo=self._zone)  # fold=0: an ambiguous time fires on its first pass
                if local.astimezone(UTC).astimezone(self._zone).replace(tzinfo=None) != wall:
                    continue  # skipped by a DST gap
                fire = local.astimezone(UTC)
                if fire > now_utc:  # compared in UTC: same-zone comparison would ignore the DST fold
                    return fire
        return None


def _first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class Schedule(Protocol):
    """When a graph runs: every schedule answers the same two questions."""

    def text(self) -> str:
        """The canonical form, as ``parse_schedule`` reads it back."""
        ...

    def next_after(self, now: datetime, base: datetime | None = None) -> datetime:
        """The first fire time strictly after ``now``; ``base`` is when the graph was deployed or resumed
        (``None``: at ``now``). Missed times are not backfilled."""
        ...


def parse_schedule(text: str) -> Schedule:
    """Parse the CLI's schedule grammar; anything else raises ``InvalidConfig`` naming the value."""
    if not isinstance(text, str):
        raise InvalidConfig(f"schedule must be a string, got {type(text).__name__} {text!r}; {_VALID_FORMS}")
    stripped = text.strip()
    m = _INTERVAL.match(stripped)
    if m:
        digits, unit = m.groups()
        if len(digits.lstrip("0")) > _MAX_DIGITS:
            raise InvalidConfig(f"schedule {text!r} is far beyond the 8-day maximum; {_VALID_FORMS}")
        count = int(digits)
        if count == 0:
            raise InvalidConfig(f"schedule {text!r} is zero; {_VALID_FORMS}")
        every = count * _UNITS[(unit or "d").lower()]
        if every > MAX_INTERVAL:
            raise InvalidConfig(f"schedule {text!r} exceeds Snowflake's 8-day interval limit; {_VALID_FORMS}")
        return IntervalSchedule(every)
    if re.match(r"^[-+]?\d*\.?\d+\s*[a-zA-Z]*$", stripped):
        raise InvalidConfig(f"schedule {text!r} is not a positive whole number of units; {_VALID_FORMS}")
    tokens = _CRON_PREFIX.sub("", stripped).split()
    if len(tokens) <= 1:
        raise InvalidConfig(f"schedule {text!r} is not understood; {_VALID_FORMS}")
    if len(tokens) != 6:
        # Count the fields the user wrote: '0 3 * * UTC' is 4 fields and a zone, not 5 fields without one.
        zoned = _names_zone(tokens[-1])
        got = f"{len(tokens) - zoned} field(s) and " + ("a time zone" if zoned else "no time zone")
        raise InvalidConfig(
            f"cron schedule {text!r} has {got}; a cron schedule needs 5 fields (minute hour day-of-month "
            f"month day-of-week) and a time zone, e.g. '0 3 * * * UTC'"
        )
    return CronSchedule(" ".join(tokens[:5]), tokens[5])
