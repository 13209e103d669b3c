"""Properties of schedule parsing and next fire times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidConfig
from domain.schedule import CronSchedule, IntervalSchedule, parse_schedule

LIMIT_MINUTES = {"m": 8 * 24 * 60, "h": 8 * 24, "d": 8}
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@st.composite
def intervals(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["m", "h", "d", "M", "H", "D", ""]))
    count = draw(st.integers(1, LIMIT_MINUTES[(unit or "d").lower()]))
    return draw(st.sampled_from(["{}", " {} ", "{}\t"])).format(f"{count}{unit}")


def field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    ranges = st.tuples(value, value).map(sorted).map(lambda r: f"{r[0]}-{r[1]}")
    item = st.one_of(
        value.map(str),
        ranges,
        st.integers(1, high).map(lambda s: f"*/{s}"),
        st.tuples(ranges, st.integers(1, high)).map(lambda t: f"{t[0]}/{t[1]}"),
    )
    return st.one_of(st.just("*"), st.lists(item, min_size=1, max_size=3).map(",".join))


weekday_field = st.one_of(
    field(0, 7), st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3).map(",".join)
)
# Days 1-28 fire in every month, so generated expressions are always satisfiable.
crons = st.tuples(
    field(0, 59), field(0, 23), field(1, 28), field(1, 12), weekday_field, st.sampled_from(ZONES)
).map(" ".join)
nows = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))


@given(st.one_of(intervals(), crons))
def test_every_accepted_string_round_trips_through_its_text(text: str) -> None:
    schedule = parse_schedule(text)
    assert parse_schedule(schedule.text()) == schedule


junk = st.one_of(
    st.integers(max_value=0).map(str),
    st.integers(max_value=0).map(lambda n: f"{n}m"),
    st.floats(min_value=0.01, max_value=7.99).filter(lambda f: not f.is_integer()).map(lambda f: f"{f}d"),
    st.integers(min_value=8 * 24 * 60 + 1).map(lambda n: f"{n}m"),
    st.integers(min_value=193).map(lambda n: f"{n}h"),
    st.integers(min_value=9).map(str),
    st.tuples(st.integers(1, 99), st.sampled_from(["s", "w", "y", "ms", "x"])).map(lambda t: f"{t[0]}{t[1]}"),
    crons.map(lambda c: c.rsplit(" ", 1)[0]),  # no time zone
    crons.map(lambda c: c.rsplit(" ", 1)[0] + " Not/AZone"),
    st.integers(60, 999).map(lambda m: f"{m} * * * * UTC"),
    st.integers(24, 99).map(lambda h: f"0 {h} * * * UTC"),
    st.text(alphabet="abcxyz!@#%^&()?", max_size=30),
)


@given(junk)
def test_junk_never_parses(text: str) -> None:
    with pytest.raises(InvalidConfig):
        parse_schedule(text)


def _matches(schedule: CronSchedule, fire: datetime) -> bool:
    """A brute-force reading of the expression, independent of the parser's search."""
    minute, hour, day, month, weekday = schedule.expression.split()
    local = fire.astimezone(ZoneInfo(schedule.timezone))

    def hit(spec: str, value: int, low: int, high: int) -> bool:
        for item in spec.split(","):
            body, _, step = item.partition("/")
            if body == "*":
                lo, hi = low, high
            elif "-" in body:
                lo, hi = (int(WEEKDAYS.index(p)) if p in WEEKDAYS else int(p) for p in body.split("-"))
            else:
                lo = WEEKDAYS.index(body) if body in WEEKDAYS else int(body)
                hi = high if step else lo
            values = set(range(lo, hi + 1, int(step or 1)))
            if value in values or (high == 7 and value == 0 and 7 in values):
                return True
        return False

    dow = (local.weekday() + 1) % 7
    dom_ok, dow_ok = hit(day, local.day, 1, 31), hit(weekday, dow, 0, 7)
    if not day.startswith("*") and not weekday.startswith("*"):
        day_ok = dom_ok or dow_ok
    else:
        day_ok = dom_ok if not day.startswith("*") else dow_ok
    return (
        hit(minute, local.minute, 0, 59)
        and hit(hour, local.hour, 0, 23)
        and hit(month, local.month, 1, 12)
        and day_ok
        and local.second == 0
    )


@given(crons, nows)
def test_cron_next_after_is_strictly_later_and_matches_the_expression(text: str, now: datetime) -> None:
    schedule = parse_schedule(text)
    assert isinstance(schedule, CronSchedule)
    fire = schedule.next_after(now)
    assert fire > now
    assert _matches(schedule, fire)


@given(crons, nows)
def test_cron_next_after_skips_no_matching_minute(text: str, now: datetime) -> None:
    schedule = parse_schedule(text)
    assert isinstance(schedule, CronSchedule)
    fire = schedule.next_after(now)
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    checked = 0
    while minute < fire and checked < 3000:  # bounded: exhaustive for fire times within about two days
        assert not _matches(schedule, minute) or _is_second_pass(schedule, minute)
        minute += timedelta(minutes=1)
        checked += 1


def _is_second_pass(schedule: CronSchedule, instant: datetime) -> bool:
    """An ambiguous local time fires on its first pass only."""
    return instant.astimezone(ZoneInfo(schedule.timezone)).fold == 1


@given(
    st.integers(1, 8 * 24 * 60).map(lambda m: IntervalSchedule(timedelta(minutes=m))),
    nows,
    st.integers(-(10**7), 10**7).map(lambda s: timedelta(seconds=s)),
)
def test_interval_next_after_is_the_first_grid_point_after_now(
    schedule: IntervalSchedule, base: datetime, offset: timedelta
) -> None:
    now = base + offset
    fire = schedule.next_after(now, base=base)
    assert fire > now
    assert (fire - base) % schedule.every == timedelta(0)
    assert fire == base or fire - schedule.every <= now
