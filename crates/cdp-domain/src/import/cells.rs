//! Cells as POS exports write them: amounts with `.` or `,` grouping
//! thousands, dates `YYYY-MM-DD` or `DD/MM/YYYY`, local times.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::{Number, Value};

/// An amount as POS exports write it: `350000`, `350.000`, `1,250,000`,
/// `1.250.000,50`, `29.99`, optionally followed by `đ`, `₫` or `VND`. A
/// separator followed by exactly three digits groups thousands; with both
/// `.` and `,` the last one is the decimal point. Never negative.
pub fn parse_amount(s: &str) -> Option<Number> {
    let mut t: String = s.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}').collect();
    for suffix in ["₫", "đ", "Đ", "vnd", "VND", "Vnd"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest.to_string();
            break;
        }
    }
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') || !t.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (dots, commas) = (t.matches('.').count(), t.matches(',').count());
    let (int, frac) = if dots > 0 && commas > 0 {
        let decimal = if t.rfind('.') > t.rfind(',') { '.' } else { ',' };
        let (i, f) = t.rsplit_once(decimal)?;
        if i.contains(decimal) {
            return None;
        }
        (grouped(i, if decimal == '.' { ',' } else { '.' })?, f.to_string())
    } else if dots + commas == 0 {
        (t.clone(), String::new())
    } else {
        let sep = if dots > 0 { '.' } else { ',' };
        let (i, f) = t.rsplit_once(sep)?;
        if dots + commas > 1 || f.len() == 3 {
            (grouped(&t, sep)?, String::new())
        } else {
            (i.to_string(), f.to_string())
        }
    };
    if int.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) || (frac.is_empty() && t.ends_with(['.', ','])) {
        return None;
    }
    let int = match int.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    let n: Value = serde_json::from_str(&text).ok()?;
    match n {
        Value::Number(n) => Some(n),
        _ => None,
    }
}

/// `1.250.000` with `.` as the thousands separator → `1250000`; groups after
/// the first are exactly three digits.
fn grouped(s: &str, sep: char) -> Option<String> {
    let mut parts = s.split(sep);
    let first = parts.next()?;
    if first.is_empty() || first.len() > 3 || !first.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut out = first.to_string();
    for p in parts {
        if p.len() != 3 || !p.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        out.push_str(p);
    }
    Some(out)
}

/// `YYYY-MM-DD` or `DD/MM/YYYY` (also `D/M/YYYY`).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y")).ok()
}

/// An RFC 3339 time, or a date with an optional `HH:MM[:SS]` (space or `T`
/// between) in `offset`.
pub fn parse_timestamp(s: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(t) = crate::event::parse_time(s) {
        return Some(t);
    }
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let date = parse_date(date)?;
    let time = match time {
        None => NaiveTime::MIN,
        Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(t, "%H:%M")).ok()?,
    };
    offset.from_local_datetime(&NaiveDateTime::new(date, time)).single().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(s: &str) -> Option<String> {
        parse_amount(s).map(|n| n.to_string())
    }

    #[test]
    fn amounts_are_read_as_pos_exports_write_them() {
        for (s, want) in [
            ("350000", "350000"),
            ("350.000", "350000"),
            ("350,000", "350000"),
            ("1.250.000", "1250000"),
            ("1,250,000", "1250000"),
            ("1.250.000,50", "1250000.50"),
            ("1,250,000.50", "1250000.50"),
            ("29.99", "29.99"),
            ("29,9", "29.9"),
            ("350.000đ", "350000"),
            ("350.000 ₫", "350000"),
            ("350 000 VND", "350000"),
            ("0", "0"),
            ("007", "7"),
        ] {
            let got = amount(s).unwrap_or_else(|| panic!("{s} refused"));
            assert_eq!(got.parse::<f64>().unwrap(), want.parse::<f64>().unwrap(), "{s}");
        }
        for s in ["350k", "-5", "1.25.000", "1,2,3", "", ".5", "5.", "1.250,000.5", "abc", "12,34,567"] {
            assert_eq!(amount(s), None, "{s} accepted");
        }
    }

    #[test]
    fn dates_and_times_in_both_spellings() {
        assert_eq!(parse_date("1990-05-01"), NaiveDate::from_ymd_opt(1990, 5, 1));
        assert_eq!(parse_date("01/05/1990"), NaiveDate::from_ymd_opt(1990, 5, 1));
        assert_eq!(parse_date("1/5/1990"), NaiveDate::from_ymd_opt(1990, 5, 1));
        assert_eq!(parse_date("31/02/1990"), None);
        let vn = FixedOffset::east_opt(7 * 3600).unwrap();
        let t = |s| parse_timestamp(s, vn).map(|t| t.to_rfc3339());
        assert_eq!(t("20/11/2026 10:15").as_deref(), Some("2026-11-20T03:15:00+00:00"));
        assert_eq!(t("2026-11-20 10:15:30").as_deref(), Some("2026-11-20T03:15:30+00:00"));
        assert_eq!(t("2026-11-20").as_deref(), Some("2026-11-19T17:00:00+00:00"));
        assert_eq!(t("2026-11-20T10:15:00Z").as_deref(), Some("2026-11-20T10:15:00+00:00"));
        assert_eq!(t("20-11-2026"), None);
    }
}
