//! Wall-clock times in the caller's time zone.
//!
//! Dates on the wire are in the user's time zone without a zone suffix (§4 of the protocol
//! notes); storage keeps unix seconds (UTC). Every application converts through here, so a
//! daylight-saving gap or overlap is resolved one way everywhere: a time that does not
//! exist (spring forward) moves forward by the gap, an ambiguous time (fall back) takes its
//! first occurrence, as eGroupWare's PHP `mktime` did.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset as _, TimeZone as _};
pub use chrono_tz::Tz;

use crate::ctx::Account;
use crate::value::Value;

/// The zone of `account`; an unknown name falls back to UTC.
pub fn of(account: &Account) -> Tz {
    parse(&account.timezone)
}

/// Parses an IANA zone name; unknown or empty is UTC.
pub fn parse(name: &str) -> Tz {
    name.trim().parse().unwrap_or(Tz::UTC)
}

/// Unix seconds of the wall-clock time `local` in `zone`.
pub fn to_unix(zone: Tz, local: NaiveDateTime) -> i64 {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(moment) => moment.timestamp(),
        LocalResult::Ambiguous(first, _) => first.timestamp(),
        LocalResult::None => {
            // In a gap: read the wall clock with the offset in force just before the gap,
            // so 02:30 in a 02:00→03:00 gap becomes 03:30.
            let before = zone
                .offset_from_utc_datetime(&(local - Duration::hours(6)))
                .fix()
                .local_minus_utc();
            local.and_utc().timestamp() - i64::from(before)
        }
    }
}

/// The wall-clock time in `zone` of unix seconds `unix`.
pub fn to_local(zone: Tz, unix: i64) -> NaiveDateTime {
    DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .with_timezone(&zone)
        .naive_local()
}

/// Now, in unix seconds (what every stored time is).
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Unix seconds as a wire date in the caller's zone.
pub fn to_wire(account: &Account, unix: i64) -> Value {
    Value::DateTime(to_local(of(account), unix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h, min, 0))
            .unwrap_or_default()
    }

    #[test]
    fn round_trips_in_a_zone() {
        let zone = parse("Europe/Berlin");
        let unix = to_unix(zone, at(2024, 7, 1, 9, 0));
        assert_eq!(unix, at(2024, 7, 1, 7, 0).and_utc().timestamp());
        assert_eq!(to_local(zone, unix), at(2024, 7, 1, 9, 0));
    }

    #[test]
    fn gaps_move_forward_and_overlaps_take_the_first() {
        let zone = parse("Europe/Berlin");
        // 2024-03-31 02:30 does not exist in Berlin: it becomes 03:30 CEST (01:30 UTC).
        assert_eq!(
            to_unix(zone, at(2024, 3, 31, 2, 30)),
            at(2024, 3, 31, 1, 30).and_utc().timestamp()
        );
        // 2024-10-27 02:30 happens twice: the first is CEST (00:30 UTC).
        assert_eq!(
            to_unix(zone, at(2024, 10, 27, 2, 30)),
            at(2024, 10, 27, 0, 30).and_utc().timestamp()
        );
    }

    #[test]
    fn unknown_zone_is_utc() {
        assert_eq!(parse("Mars/Olympus"), Tz::UTC);
    }
}
