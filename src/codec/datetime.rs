//! Date-time spellings on the wire.
//!
//! Input accepts every form real clients send: the spec's `19980717T14:08:55`, the
//! extended `1998-07-17T14:08:55`, colon-less `19980717T140855` (aXMLRPC), with an
//! optional fraction, an optional `Z` or `±HH:MM`/`±HHMM` offset (normalised to UTC), and
//! date-only forms. Output is only the compact spec form, because Python's client with
//! `use_builtin_types=True` refuses anything else.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// Parses a wire date-time; `None` if it is not one or names an impossible date.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if text.len() > 64 || !text.is_ascii() {
        return None;
    }
    let (body, offset_seconds) = split_zone(text)?;
    let (date_part, time_part) = match body.find(['T', 't', ' ']) {
        Some(index) => (&body[..index], Some(&body[index + 1..])),
        None => (body, None),
    };
    let date = parse_date(date_part)?;
    let time = match time_part {
        Some(time_text) => parse_time(time_text)?,
        None => NaiveTime::MIN,
    };
    let local = date.and_time(time);
    local.checked_sub_signed(Duration::seconds(offset_seconds))
}

/// Formats the compact XML-RPC form `YYYYMMDDTHH:MM:SS`.
pub fn format_compact(moment: &NaiveDateTime) -> String {
    let mut out = String::with_capacity(17);
    push_compact(&mut out, moment);
    out
}

/// Appends the compact form to `out`. Years 0–9999 are written digit by digit (a listing
/// writes one per record, and chrono's format machinery cost more than the rest of the
/// value); any other year goes through chrono, which writes it with its sign.
pub fn push_compact(out: &mut String, moment: &NaiveDateTime) {
    push_digits(out, moment, "", "%Y%m%dT%H:%M:%S");
}

/// Appends XML Schema's `dateTime` form without a zone, `YYYY-MM-DDTHH:MM:SS` (SOAP), the
/// way [`push_compact`] writes its form.
pub fn push_extended(out: &mut String, moment: &NaiveDateTime) {
    push_digits(out, moment, "-", "%Y-%m-%dT%H:%M:%S");
}

/// Writes `moment` with `date_separator` between year, month and day; `pattern` is the same
/// layout for chrono, used for years outside 0–9999.
fn push_digits(out: &mut String, moment: &NaiveDateTime, date_separator: &str, pattern: &str) {
    use chrono::{Datelike as _, Timelike as _};
    let year = moment.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&moment.format(pattern).to_string());
        return;
    }
    let digits = |out: &mut String, value: u32, width: u32| {
        for place in (0..width).rev() {
            let digit = value / 10_u32.pow(place) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
    };
    digits(out, year.unsigned_abs(), 4);
    out.push_str(date_separator);
    digits(out, moment.month(), 2);
    out.push_str(date_separator);
    digits(out, moment.day(), 2);
    out.push('T');
    digits(out, moment.hour(), 2);
    out.push(':');
    digits(out, moment.minute(), 2);
    out.push(':');
    digits(out, moment.second(), 2);
}

/// Splits a trailing `Z` or numeric offset off; returns the offset in seconds east of UTC.
fn split_zone(text: &str) -> Option<(&str, i64)> {
    if let Some(body) = text.strip_suffix(['Z', 'z']) {
        return Some((body, 0));
    }
    // An offset sign can only appear after the time part begins.
    let Some(time_start) = text.find(['T', 't', ' ']) else {
        return Some((text, 0));
    };
    let Some(sign_index) = text[time_start..].rfind(['+', '-']).map(|i| i + time_start) else {
        return Some((text, 0));
    };
    let sign = if text.as_bytes()[sign_index] == b'-' {
        -1
    } else {
        1
    };
    let digits: String = text[sign_index + 1..]
        .chars()
        .filter(|c| *c != ':')
        .collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((&text[..sign_index], sign * (hours * 3600 + minutes * 60)))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    let dashes = text.len() - digits.len();
    if digits.len() != 8
        || !(dashes == 0 || dashes == 2)
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let year = digits[..4].parse().ok()?;
    let month = digits[4..6].parse().ok()?;
    let day = digits[6..].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let (whole, fraction) = match text.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits: String = whole.chars().filter(|c| *c != ':').collect();
    let colons = whole.len() - digits.len();
    if digits.len() != 6
        || !(colons == 0 || colons == 2)
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(fraction) if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) => {
            let padded: String = fraction
                .chars()
                .chain(std::iter::repeat('0'))
                .take(9)
                .collect();
            padded.parse().ok()?
        }
        Some(_) => return None,
    };
    NaiveTime::from_hms_nano_opt(
        digits[..2].parse().ok()?,
        digits[2..4].parse().ok()?,
        digits[4..].parse().ok()?,
        nanos,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        parse(text)
            .map(|m| format_compact(&m))
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn accepts_every_client_spelling() {
        for text in [
            "20240102T03:04:05",
            "2024-01-02T03:04:05",
            "20240102T030405",
            "20240102T03:04:05Z",
            "2024-01-02T03:04:05.250Z",
            " 20240102T03:04:05 ",
            "2024-01-02T04:04:05+01:00",
            "20240102T02:04:05-0100",
        ] {
            assert_eq!(at(text), "20240102T03:04:05", "{text}");
        }
        assert_eq!(at("20240102"), "20240102T00:00:00");
        assert_eq!(at("2024-01-02"), "20240102T00:00:00");
    }

    #[test]
    fn refuses_impossible_and_malformed_dates() {
        for text in [
            "20240230T00:00:00",
            "20241301T00:00:00",
            "20240102T25:00:00",
            "2024010T03:04:05",
            "yesterday",
            "",
            "20240102T03:04:05+99:00",
            "2024-0102T03:04:05",
        ] {
            assert_eq!(at(text), "none", "{text}");
        }
    }

    #[test]
    fn leap_day_is_fine() {
        assert_eq!(at("2024-02-29T12:00:00"), "20240229T12:00:00");
    }

    #[test]
    fn both_forms_match_chrono_in_every_year_range() {
        for (year, month, day) in [
            (2024, 1, 2),
            (0, 12, 31),
            (9999, 7, 9),
            (10000, 1, 1),
            (-5, 3, 4),
        ] {
            let Some(moment) = chrono::NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|date| date.and_hms_opt(3, 4, 5))
            else {
                panic!("valid date {year}-{month}-{day}");
            };
            let mut compact = String::new();
            push_compact(&mut compact, &moment);
            assert_eq!(compact, moment.format("%Y%m%dT%H:%M:%S").to_string());
            let mut extended = String::new();
            push_extended(&mut extended, &moment);
            assert_eq!(extended, moment.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
    }
}
