//! Schedules of recurring work, as slots: the scheduled time a run is for.
//! A slot runs once, however many processes see it due.

const MINUTE_US: i64 = 60_000_000;
const DAY_US: i64 = 86_400_000_000;

/// `HH:MM` (UTC) as minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// The slot of work every `minutes` at `now` (µs): the latest multiple of
/// the period, counted from the epoch, not after `now`.
pub fn every_minutes(now: i64, minutes: i64) -> i64 {
    let period = minutes.max(1) * MINUTE_US;
    now.div_euclid(period) * period
}

/// The slot of daily work at `minute` after midnight UTC: today's if it has
/// come, else yesterday's.
pub fn daily_at(now: i64, minute: i64) -> i64 {
    let today = now.div_euclid(DAY_US) * DAY_US + minute * MINUTE_US;
    if today <= now {
        today
    } else {
        today - DAY_US
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times_of_day_are_checked() {
        assert_eq!(parse_hhmm("02:30"), Some(150));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        for bad in ["24:00", "2:30", "02:60", "0230", "aa:bb", ""] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
    }

    #[test]
    fn daily_slots_are_today_once_the_time_has_come() {
        let day = 20_000 * DAY_US;
        assert_eq!(daily_at(day + 3 * 60 * MINUTE_US, 2 * 60), day + 2 * 60 * MINUTE_US);
        assert_eq!(daily_at(day + 60 * MINUTE_US, 2 * 60), day - DAY_US + 2 * 60 * MINUTE_US);
        assert_eq!(daily_at(day + 2 * 60 * MINUTE_US, 2 * 60), day + 2 * 60 * MINUTE_US);
    }

    proptest! {
        #[test]
        fn a_slot_is_the_last_scheduled_time_not_after_now(now in 0i64..4_000_000_000_000_000, minutes in 1i64..10_080, at in 0i64..1440) {
            let s = every_minutes(now, minutes);
            prop_assert!(s <= now && now - s < minutes * MINUTE_US && s % (minutes * MINUTE_US) == 0);
            let d = daily_at(now, at);
            prop_assert!(d <= now && now - d < DAY_US && d.rem_euclid(DAY_US) == at * MINUTE_US);
        }
    }
}
