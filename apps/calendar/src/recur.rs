//! Recurrence expansion: which occurrences of a series fall into a time range.
//!
//! Pure functions, no storage and no protocol. A series is expanded on the wall clock of
//! its time zone (the zone of the user who wrote it), so a weekly 09:00 meeting stays at
//! 09:00 local time across daylight-saving changes; each occurrence is then converted to
//! unix seconds with [`groupware_api::zone::to_unix`] (a time in a spring-forward gap
//! moves forward, an ambiguous time takes its first occurrence).
//!
//! The eGroupWare rules, also those of RFC 5545:
//!
//! - **monthly by date** on a day a month lacks (the 29th–31st) skips that month: a series
//!   on the 31st occurs in January, March, May, July, August, October and December only;
//!   it is never moved to the month's last day;
//! - **yearly** on February 29 occurs in leap years only;
//! - **monthly by weekday** repeats the start's weekday and week of month (the 2nd
//!   Tuesday); a start in the 5th week (the 29th–31st) skips months without a 5th such
//!   weekday;
//! - **weekly** occurs on the weekdays of the mask (Sun 1, Mon 2, Tue 4, Wed 8, Thu 16,
//!   Fri 32, Sat 64; an empty mask means the start's weekday) in every `interval`-th week,
//!   weeks starting on Monday, never before the start;
//! - the **end date** is inclusive: an occurrence whose local start date is on or before it
//!   counts;
//! - an **exception** removes the occurrence that starts on that local date.

use chrono::{Datelike as _, Duration, Months, NaiveDate, NaiveDateTime, Weekday};
use chrono_tz::Tz;
use groupware_api::zone;

/// How a series repeats (eGroupWare's `recur_type` numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    None = 0,
    Daily = 1,
    Weekly = 2,
    MonthlyByDate = 3,
    MonthlyByWeekday = 4,
    Yearly = 5,
}

impl Frequency {
    pub fn from_number(number: i64) -> Option<Frequency> {
        Some(match number {
            0 => Frequency::None,
            1 => Frequency::Daily,
            2 => Frequency::Weekly,
            3 => Frequency::MonthlyByDate,
            4 => Frequency::MonthlyByWeekday,
            5 => Frequency::Yearly,
            _ => return None,
        })
    }

    pub fn number(self) -> i64 {
        self as i64
    }
}

/// The weekday bits of `recur_data`.
pub mod days {
    pub const SUNDAY: u8 = 1;
    pub const MONDAY: u8 = 2;
    pub const TUESDAY: u8 = 4;
    pub const WEDNESDAY: u8 = 8;
    pub const THURSDAY: u8 = 16;
    pub const FRIDAY: u8 = 32;
    pub const SATURDAY: u8 = 64;
    pub const WORKDAYS: u8 = 62;
    pub const WEEKEND: u8 = 65;
    pub const ALL: u8 = 127;
}

/// The bit of `weekday` in a weekday mask.
pub fn day_bit(weekday: Weekday) -> u8 {
    1 << weekday.num_days_from_sunday()
}

/// A repetition rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub frequency: Frequency,
    /// Every `interval`-th day/week/month/year; 0 is read as 1.
    pub interval: u32,
    /// Weekday mask for weekly series.
    pub weekdays: u8,
    /// Last local date an occurrence may start on, inclusive.
    pub until: Option<NaiveDate>,
    /// Local start dates that do not occur.
    pub exceptions: Vec<NaiveDate>,
}

impl Rule {
    pub fn once() -> Rule {
        Rule {
            frequency: Frequency::None,
            interval: 1,
            weekdays: 0,
            until: None,
            exceptions: Vec::new(),
        }
    }
}

/// A series: its first occurrence on the wall clock of `zone`, and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub zone: Tz,
    pub rule: Rule,
}

/// One occurrence, in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub start: i64,
    pub end: i64,
}

/// How many candidate dates one expansion looks at at most, so a daily series from the
/// year 1 cannot stall a request.
const MAX_CANDIDATES: usize = 200_000;

/// Candidate local start dates of the series, in order (before `until`/exceptions).
struct Candidates {
    first: NaiveDate,
    rule: Rule,
    step: u32,
    /// Pending dates of the current week (weekly).
    pending: Vec<NaiveDate>,
}

impl Candidates {
    fn new(first: NaiveDate, rule: &Rule) -> Candidates {
        Candidates {
            first,
            rule: rule.clone(),
            step: 0,
            pending: Vec::new(),
        }
    }

    fn interval(&self) -> u32 {
        self.rule.interval.max(1)
    }

    /// The next candidate, or `None` past the representable calendar.
    fn next_date(&mut self) -> Option<Option<NaiveDate>> {
        let interval = self.interval();
        let k = self.step;
        self.step = self.step.checked_add(1)?;
        let first = self.first;
        match self.rule.frequency {
            Frequency::None => (k == 0).then_some(Some(first)),
            Frequency::Daily => Some(Some(
                first.checked_add_signed(Duration::days(i64::from(k) * i64::from(interval)))?,
            )),
            Frequency::Weekly => {
                // Handled by `next` through `pending`.
                let monday =
                    first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
                let week = monday
                    .checked_add_signed(Duration::weeks(i64::from(k) * i64::from(interval)))?;
                let mask = if self.rule.weekdays & days::ALL == 0 {
                    day_bit(first.weekday())
                } else {
                    self.rule.weekdays
                };
                self.pending = (0..7)
                    .rev()
                    .map(|offset| week + Duration::days(offset))
                    .filter(|date| *date >= first && mask & day_bit(date.weekday()) != 0)
                    .collect();
                Some(None)
            }
            Frequency::MonthlyByDate => {
                let month = add_months(first, k.checked_mul(interval)?)?;
                Some(NaiveDate::from_ymd_opt(
                    month.year(),
                    month.month(),
                    first.day(),
                ))
            }
            Frequency::MonthlyByWeekday => {
                let month = add_months(first, k.checked_mul(interval)?)?;
                let nth = u8::try_from((first.day() - 1) / 7 + 1).ok()?;
                Some(NaiveDate::from_weekday_of_month_opt(
                    month.year(),
                    month.month(),
                    first.weekday(),
                    nth,
                ))
            }
            Frequency::Yearly => {
                let year = first
                    .year()
                    .checked_add(i32::try_from(k.checked_mul(interval)?).ok()?)?;
                Some(NaiveDate::from_ymd_opt(year, first.month(), first.day()))
            }
        }
    }
}

/// The first day of the month `months` after `date`'s month.
fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.with_day(1)?.checked_add_months(Months::new(months))
}

impl Iterator for Candidates {
    type Item = Option<NaiveDate>;

    /// `Some(Some(date))` is a candidate, `Some(None)` a skipped period (a month without
    /// the day), `None` the end.
    fn next(&mut self) -> Option<Option<NaiveDate>> {
        if let Some(date) = self.pending.pop() {
            return Some(Some(date));
        }
        let next = self.next_date()?;
        if self.rule.frequency == Frequency::Weekly {
            return Some(self.pending.pop());
        }
        Some(next)
    }
}

/// The occurrences of `series` that overlap `[from, to)` (unix seconds), in order, at most
/// `limit` of them.
pub fn expand(series: &Series, from: i64, to: i64, limit: usize) -> Vec<Occurrence> {
    let length = series.end - series.start;
    let time = series.start.time();
    let mut found = Vec::new();
    for (seen, candidate) in Candidates::new(series.start.date(), &series.rule).enumerate() {
        if seen >= MAX_CANDIDATES || found.len() >= limit {
            break;
        }
        let Some(date) = candidate else { continue };
        if series.rule.until.is_some_and(|until| date > until) {
            break;
        }
        let local_start = date.and_time(time);
        let start = zone::to_unix(series.zone, local_start);
        if start >= to {
            break;
        }
        if series.rule.exceptions.contains(&date) {
            continue;
        }
        let end = zone::to_unix(series.zone, local_start + length).max(start);
        // A zero-length event at the range start still counts.
        if end > from || (end == start && start >= from) {
            found.push(Occurrence { start, end });
        }
    }
    found
}

/// The local dates an occurrence covers, for `daywise` listings: its start date and every
/// further date it runs into (an end at 00:00 does not cover that day).
pub fn local_days(zone: Tz, occurrence: Occurrence) -> Vec<NaiveDate> {
    let start = zone::to_local(zone, occurrence.start);
    let end = zone::to_local(zone, occurrence.end);
    let mut last = end.date();
    if end.time() == chrono::NaiveTime::MIN && end > start {
        last = last.pred_opt().unwrap_or(last);
    }
    let mut days = Vec::new();
    let mut day = start.date();
    while day <= last && days.len() < 366 {
        days.push(day);
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        date(y, m, d).and_hms_opt(h, min, 0).unwrap_or_default()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        at(y, m, d, h, min).and_utc().timestamp()
    }

    fn rule(frequency: Frequency, interval: u32) -> Rule {
        Rule {
            frequency,
            interval,
            ..Rule::once()
        }
    }

    fn series(start: NaiveDateTime, minutes: i64, rule: Rule) -> Series {
        Series {
            start,
            end: start + Duration::minutes(minutes),
            zone: Tz::UTC,
            rule,
        }
    }

    /// Local start dates of the occurrences in `[from, to)` (UTC dates).
    fn dates(series: &Series, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        expand(
            series,
            from.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp(),
            to.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp(),
            usize::MAX,
        )
        .iter()
        .map(|o| zone::to_local(series.zone, o.start).date())
        .collect()
    }

    #[test]
    fn a_single_event_occurs_once_if_it_overlaps() {
        let once = series(at(2024, 5, 1, 9, 0), 60, Rule::once());
        assert_eq!(
            dates(&once, date(2024, 4, 1), date(2024, 6, 1)),
            [date(2024, 5, 1)]
        );
        assert!(dates(&once, date(2024, 6, 1), date(2024, 7, 1)).is_empty());
        // Overlap: the range starts during the event.
        let from = utc(2024, 5, 1, 9, 30);
        assert_eq!(expand(&once, from, from + 10, 10).len(), 1);
        // The range ends exactly at its start: not included.
        assert!(expand(&once, 0, utc(2024, 5, 1, 9, 0), 10).is_empty());
    }

    #[test]
    fn daily_with_interval_until_and_exceptions() {
        let mut every_other = rule(Frequency::Daily, 2);
        every_other.until = Some(date(2024, 1, 9));
        every_other.exceptions = vec![date(2024, 1, 5)];
        let s = series(at(2024, 1, 1, 8, 0), 30, every_other);
        assert_eq!(
            dates(&s, date(2023, 12, 1), date(2024, 2, 1)),
            [
                date(2024, 1, 1),
                date(2024, 1, 3),
                date(2024, 1, 7),
                date(2024, 1, 9)
            ]
        );
    }

    #[test]
    fn daily_range_in_the_middle() {
        let s = series(at(2020, 1, 1, 8, 0), 30, rule(Frequency::Daily, 1));
        let found = dates(&s, date(2024, 2, 27), date(2024, 3, 2));
        assert_eq!(
            found,
            [
                date(2024, 2, 27),
                date(2024, 2, 28),
                date(2024, 2, 29),
                date(2024, 3, 1)
            ]
        );
    }

    #[test]
    fn weekly_by_mask_and_interval() {
        let mut mon_wed = rule(Frequency::Weekly, 2);
        mon_wed.weekdays = days::MONDAY | days::WEDNESDAY;
        // Start on Wednesday 2024-01-03: Monday 01-01 is before the start.
        let s = series(at(2024, 1, 3, 10, 0), 60, mon_wed);
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2024, 2, 1)),
            [
                date(2024, 1, 3),
                date(2024, 1, 15),
                date(2024, 1, 17),
                date(2024, 1, 29),
                date(2024, 1, 31)
            ]
        );
    }

    #[test]
    fn weekly_without_mask_uses_the_start_weekday() {
        let s = series(at(2024, 1, 4, 10, 0), 60, rule(Frequency::Weekly, 1));
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2024, 1, 20)),
            [date(2024, 1, 4), date(2024, 1, 11), date(2024, 1, 18)]
        );
    }

    #[test]
    fn weekly_weekend_mask_orders_saturday_before_sunday() {
        let mut weekend = rule(Frequency::Weekly, 1);
        weekend.weekdays = days::WEEKEND;
        let s = series(at(2024, 1, 6, 10, 0), 60, weekend);
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2024, 1, 15)),
            [
                date(2024, 1, 6),
                date(2024, 1, 7),
                date(2024, 1, 13),
                date(2024, 1, 14)
            ]
        );
    }

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        let s = series(at(2024, 1, 31, 9, 0), 60, rule(Frequency::MonthlyByDate, 1));
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2025, 1, 1)),
            [
                date(2024, 1, 31),
                date(2024, 3, 31),
                date(2024, 5, 31),
                date(2024, 7, 31),
                date(2024, 8, 31),
                date(2024, 10, 31),
                date(2024, 12, 31)
            ]
        );
    }

    #[test]
    fn monthly_on_the_30th_skips_february_only() {
        let s = series(
            at(2023, 12, 30, 9, 0),
            60,
            rule(Frequency::MonthlyByDate, 1),
        );
        let found = dates(&s, date(2024, 1, 1), date(2024, 5, 1));
        assert_eq!(
            found,
            [date(2024, 1, 30), date(2024, 3, 30), date(2024, 4, 30)]
        );
    }

    #[test]
    fn monthly_on_the_29th_hits_february_in_leap_years() {
        let s = series(at(2023, 1, 29, 9, 0), 60, rule(Frequency::MonthlyByDate, 1));
        let found = dates(&s, date(2023, 2, 1), date(2023, 4, 1));
        assert_eq!(found, [date(2023, 3, 29)]);
        let found = dates(&s, date(2024, 2, 1), date(2024, 4, 1));
        assert_eq!(found, [date(2024, 2, 29), date(2024, 3, 29)]);
    }

    #[test]
    fn monthly_by_date_with_interval() {
        let s = series(at(2024, 1, 15, 9, 0), 60, rule(Frequency::MonthlyByDate, 3));
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2025, 1, 1)),
            [
                date(2024, 1, 15),
                date(2024, 4, 15),
                date(2024, 7, 15),
                date(2024, 10, 15)
            ]
        );
    }

    #[test]
    fn monthly_by_weekday() {
        // 2024-01-09 is the 2nd Tuesday of January.
        let s = series(
            at(2024, 1, 9, 9, 0),
            60,
            rule(Frequency::MonthlyByWeekday, 1),
        );
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2024, 5, 1)),
            [
                date(2024, 1, 9),
                date(2024, 2, 13),
                date(2024, 3, 12),
                date(2024, 4, 9)
            ]
        );
    }

    #[test]
    fn monthly_by_weekday_in_the_fifth_week_skips_months_without_one() {
        // 2024-01-31 is the 5th Wednesday; February 2024 has four, May 2024 has five.
        let s = series(
            at(2024, 1, 31, 9, 0),
            60,
            rule(Frequency::MonthlyByWeekday, 1),
        );
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2024, 6, 1)),
            [date(2024, 1, 31), date(2024, 5, 29)]
        );
    }

    #[test]
    fn yearly_on_february_29_only_in_leap_years() {
        let s = series(at(2024, 2, 29, 0, 0), 24 * 60, rule(Frequency::Yearly, 1));
        assert_eq!(
            dates(&s, date(2024, 1, 1), date(2033, 1, 1)),
            [date(2024, 2, 29), date(2028, 2, 29), date(2032, 2, 29)]
        );
    }

    #[test]
    fn yearly_with_interval_and_until() {
        let mut every_two = rule(Frequency::Yearly, 2);
        every_two.until = Some(date(2030, 6, 1));
        let s = series(at(2024, 6, 1, 12, 0), 60, every_two);
        assert_eq!(
            dates(&s, date(2000, 1, 1), date(2040, 1, 1)),
            [
                date(2024, 6, 1),
                date(2026, 6, 1),
                date(2028, 6, 1),
                date(2030, 6, 1)
            ]
        );
    }

    #[test]
    fn wall_clock_time_survives_dst_changes() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
        let s = Series {
            start: at(2024, 3, 25, 9, 0),
            end: at(2024, 3, 25, 10, 0),
            zone: berlin,
            rule: rule(Frequency::Weekly, 1),
        };
        let found = expand(&s, utc(2024, 3, 1, 0, 0), utc(2024, 11, 5, 0, 0), 100);
        // 09:00 CET is 08:00 UTC until March 31, 09:00 CEST is 07:00 UTC until October 27,
        // then 08:00 UTC again.
        assert_eq!(found[0].start, utc(2024, 3, 25, 8, 0));
        assert_eq!(found[0].end, utc(2024, 3, 25, 9, 0));
        assert_eq!(found[1].start, utc(2024, 4, 1, 7, 0));
        let last_summer = found
            .iter()
            .find(|o| o.start == utc(2024, 10, 21, 7, 0))
            .copied();
        assert!(last_summer.is_some());
        assert!(found.iter().any(|o| o.start == utc(2024, 10, 28, 8, 0)));
        for occurrence in &found {
            assert_eq!(
                zone::to_local(berlin, occurrence.start).time(),
                at(2024, 1, 1, 9, 0).time()
            );
            assert_eq!(occurrence.end - occurrence.start, 3600);
        }
    }

    #[test]
    fn spring_forward_shortens_nothing_on_the_wall_clock() {
        // Daily 01:30–02:30 in New York; on 2024-03-10 02:30 does not exist.
        let new_york: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        let s = Series {
            start: at(2024, 3, 9, 1, 30),
            end: at(2024, 3, 9, 2, 30),
            zone: new_york,
            rule: rule(Frequency::Daily, 1),
        };
        let found = expand(&s, utc(2024, 3, 9, 0, 0), utc(2024, 3, 12, 0, 0), 10);
        assert_eq!(found.len(), 3);
        // 03-09 01:30 EST = 06:30 UTC; 03-10 01:30 EST = 06:30 UTC, end 02:30 → 03:30 EDT
        // = 07:30 UTC; 03-11 01:30 EDT = 05:30 UTC.
        assert_eq!(found[0].start, utc(2024, 3, 9, 6, 30));
        assert_eq!(found[1].start, utc(2024, 3, 10, 6, 30));
        assert_eq!(found[1].end, utc(2024, 3, 10, 7, 30));
        assert_eq!(found[2].start, utc(2024, 3, 11, 5, 30));
    }

    #[test]
    fn fall_back_takes_the_first_of_two_identical_wall_clock_times() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
        let s = Series {
            start: at(2024, 10, 26, 2, 30),
            end: at(2024, 10, 26, 3, 0),
            zone: berlin,
            rule: rule(Frequency::Daily, 1),
        };
        let found = expand(&s, utc(2024, 10, 26, 0, 0), utc(2024, 10, 28, 0, 0), 10);
        assert_eq!(found[1].start, utc(2024, 10, 27, 0, 30));
    }

    #[test]
    fn limit_and_runaway_guard() {
        let s = series(at(1, 1, 1, 0, 0), 1, rule(Frequency::Daily, 1));
        assert_eq!(expand(&s, i64::MIN, i64::MAX, 5).len(), 5);
        // Far in the future, past MAX_CANDIDATES days: nothing, but it returns.
        assert!(expand(&s, utc(2024, 1, 1, 0, 0), utc(2024, 2, 1, 0, 0), 10).is_empty());
    }

    #[test]
    fn daywise_days_of_an_occurrence() {
        let all_day = Occurrence {
            start: utc(2024, 1, 1, 0, 0),
            end: utc(2024, 1, 2, 0, 0),
        };
        assert_eq!(local_days(Tz::UTC, all_day), [date(2024, 1, 1)]);
        let overnight = Occurrence {
            start: utc(2024, 1, 1, 22, 0),
            end: utc(2024, 1, 2, 1, 0),
        };
        assert_eq!(
            local_days(Tz::UTC, overnight),
            [date(2024, 1, 1), date(2024, 1, 2)]
        );
    }
}
