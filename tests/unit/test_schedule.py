"""Schedule parsing and next fire times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.errors import InvalidConfig, Unsupported
from domain.schedule import CronSchedule, IntervalSchedule, parse_schedule

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "every"),
    [
        ("1d", timedelta(days=1)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("3", timedelta(days=3)),
        ("  12H ", timedelta(hours=12)),
        ("8d", timedelta(days=8)),
        ("1m", timedelta(minutes=1)),
    ],
)
def test_interval_forms_parse_to_their_duration(text: str, every: timedelta) -> None:
    assert parse_schedule(text) == IntervalSchedule(every)


@pytest.mark.parametrize(
    ("every", "text"),
    [(timedelta(minutes=90), "90m"), (timedelta(minutes=1440), "1d"), (timedelta(hours=36), "36h")],
)
def test_interval_text_uses_the_largest_exact_unit(every: timedelta, text: str) -> None:
    assert IntervalSchedule(every).text() == text


@pytest.mark.parametrize(
    "text", ["0", "0m", "-1d", "1.5h", "0.5", "9d", "193h", "11521m", "99999999999999999999d", "", "   ", "d"]
)
def test_bad_intervals_are_rejected_naming_the_value(text: str) -> None:
    with pytest.raises(InvalidConfig, match="valid forms"):
        parse_schedule(text)


def test_interval_below_a_minute_is_rejected() -> None:
    with pytest.raises(InvalidConfig, match="whole number of minutes"):
        IntervalSchedule(timedelta(seconds=30))


def test_cron_with_time_zone_parses_and_normalises_spacing_and_case() -> None:
    schedule = parse_schedule("  */30   9-17 * * mon-fri   Europe/Paris ")
    assert schedule == CronSchedule("*/30 9-17 * * MON-FRI", "Europe/Paris")
    assert schedule.text() == "*/30 9-17 * * MON-FRI Europe/Paris"


def test_snowflake_using_cron_prefix_is_accepted() -> None:
    assert parse_schedule("USING CRON 0 6 * * * UTC") == CronSchedule("0 6 * * *", "UTC")


def test_cron_without_time_zone_is_rejected() -> None:
    with pytest.raises(InvalidConfig, match="no time zone"):
        parse_schedule("0 6 * * *")


def test_cron_with_four_fields_and_a_zone_says_it_needs_five_fields_and_a_zone() -> None:
    with pytest.raises(InvalidConfig, match=r"has 4 field\(s\) and a time zone; .*needs 5 fields") as err:
        parse_schedule("0 3 * * UTC")
    assert "'0 3 * * * UTC'" in str(err.value)


def test_unknown_time_zone_is_rejected_naming_it() -> None:
    with pytest.raises(InvalidConfig, match="Mars/Olympus"):
        parse_schedule("0 6 * * * Mars/Olympus")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("60 * * * * UTC", "minute value '60'"),
        ("0 24 * * * UTC", "hour value '24'"),
        ("0 0 0 * * UTC", "day-of-month value '0'"),
        ("0 0 * 13 * UTC", "month value '13'"),
        ("0 0 * * 8 UTC", "day-of-week value '8'"),
        ("0 0 * FOO * UTC", "month value 'FOO'"),
        ("5-1 * * * * UTC", "runs backwards"),
        ("*/0 * * * * UTC", "step '0'"),
        ("0 0 31 2 * UTC", "never fires"),
        ("0 0 30,31 2 * UTC", "never fires"),
        ("1,,2 * * * * UTC", "minute item ''"),
    ],
)
def test_out_of_range_or_malformed_cron_fields_are_rejected(text: str, fragment: str) -> None:
    with pytest.raises(InvalidConfig, match=fragment):
        parse_schedule(text)


def test_last_weekday_of_month_is_unsupported_rather_than_misread() -> None:
    with pytest.raises(Unsupported):
        parse_schedule("0 0 * * 5L UTC")


def test_interval_next_after_is_the_next_grid_point_strictly_after_now() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    every = IntervalSchedule(timedelta(hours=12))
    assert every.next_after(base, base=base) == base + timedelta(hours=12)
    assert every.next_after(base + timedelta(hours=30), base=base) == base + timedelta(hours=36)


def test_interval_next_after_a_future_base_is_the_base() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    assert IntervalSchedule(timedelta(days=1)).next_after(base - timedelta(hours=5), base=base) == base


def test_cron_next_after_is_strictly_after_now() -> None:
    schedule = CronSchedule("*/15 * * * *", "UTC")
    now = datetime(2024, 1, 1, 0, 15, tzinfo=UTC)
    assert schedule.next_after(now) == datetime(2024, 1, 1, 0, 30, tzinfo=UTC)


def test_cron_is_evaluated_in_its_time_zone() -> None:
    schedule = CronSchedule("0 6 * * *", "America/New_York")
    fire = schedule.next_after(datetime(2024, 1, 1, 12, tzinfo=UTC))
    assert fire == datetime(2024, 1, 2, 11, tzinfo=UTC)  # 06:00 EST


def test_cron_weekday_names_and_seven_mean_sunday() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
    sunday = datetime(2024, 1, 7, tzinfo=UTC)
    assert CronSchedule("0 0 * * SUN", "UTC").next_after(now) == sunday
    assert CronSchedule("0 0 * * 7", "UTC").next_after(now) == sunday


def test_cron_with_day_of_month_and_weekday_fires_on_either() -> None:
    now = datetime(2024, 1, 1, 1, tzinfo=UTC)  # Monday 1 January
    assert CronSchedule("0 0 15 * FRI", "UTC").next_after(now) == datetime(2024, 1, 5, tzinfo=UTC)


def test_cron_leap_day_finds_the_next_leap_year_across_a_century() -> None:
    fire = CronSchedule("0 0 29 2 *", "UTC").next_after(datetime(2097, 1, 1, tzinfo=UTC))
    assert fire == datetime(2104, 2, 29, tzinfo=UTC)


def test_cron_last_day_of_month() -> None:
    fire = CronSchedule("0 0 L * *", "UTC").next_after(datetime(2024, 2, 1, tzinfo=UTC))
    assert fire == datetime(2024, 2, 29, tzinfo=UTC)


def test_cron_skips_a_local_time_that_does_not_exist() -> None:
    # 2024-03-10 02:30 does not exist in New York (clocks jump from 02:00 to 03:00).
    fire = CronSchedule("30 2 * * *", "America/New_York").next_after(datetime(2024, 3, 9, 12, tzinfo=UTC))
    assert fire.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2024, 3, 11, 2, 30)


def test_cron_fires_once_at_an_ambiguous_local_time() -> None:
    # 2024-11-03 01:30 happens twice in New York; the schedule fires on the first pass only.
    schedule = CronSchedule("30 1 * * *", "America/New_York")
    first = schedule.next_after(datetime(2024, 11, 3, 4, tzinfo=UTC))
    second = schedule.next_after(first)
    assert first == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert second == datetime(2024, 11, 4, 6, 30, tzinfo=UTC)  # 01:30 EST next day


def test_cron_next_after_requires_an_aware_now() -> None:
    with pytest.raises(InvalidConfig, match="aware"):
        CronSchedule("0 0 * * *", "UTC").next_after(datetime(2024, 1, 1))


@pytest.mark.parametrize("text", ["１d", "٣", "0 ６ * * * UTC"])
def test_digits_other_than_ascii_are_refused(text: str) -> None:
    with pytest.raises(InvalidConfig):
        parse_schedule(text)
