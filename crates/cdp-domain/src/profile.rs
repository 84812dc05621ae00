//! A profile's running totals, kept at ingest so that analytics cost
//! O(profiles): what an event, an order and a merge do to them.

use crate::Channel;

/// What a profile has added up so far. Times are UTC microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// The channels seen on, as `Channel::bit`s.
    pub channels: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub event_count: i64,
    /// Orders not fully refunded.
    pub orders_count: i64,
    /// Net revenue and margin, minor units of the default currency.
    pub revenue_total: i64,
    pub margin_total: i64,
    pub first_order_at: Option<i64>,
    pub last_order_at: Option<i64>,
}

impl Totals {
    /// A profile first seen at `at`, with nothing counted yet.
    pub fn new(at: i64) -> Totals {
        Totals {
            channels: 0,
            first_seen_at: at,
            last_seen_at: at,
            event_count: 0,
            orders_count: 0,
            revenue_total: 0,
            margin_total: 0,
            first_order_at: None,
            last_order_at: None,
        }
    }

    /// An event seen on `channel` at `at`.
    pub fn record_event(&mut self, channel: Channel, at: i64) {
        self.channels |= channel.bit();
        self.first_seen_at = self.first_seen_at.min(at);
        self.last_seen_at = self.last_seen_at.max(at);
        self.event_count += 1;
    }

    /// An order's change: a new order adds one order, its revenue and margin
    /// and its time (`at`); a refund takes its part off (negative amounts,
    /// and `orders` −1 when it empties the order), with no time.
    pub fn record_order(&mut self, orders: i64, revenue: i64, margin: i64, at: Option<i64>) {
        self.orders_count += orders;
        self.revenue_total += revenue;
        self.margin_total += margin;
        if let Some(t) = at {
            self.first_order_at = Some(self.first_order_at.map_or(t, |f| f.min(t)));
            self.last_order_at = self.last_order_at.max(Some(t));
        }
    }

    /// The totals of a survivor that absorbs `other` in a merge: as if every
    /// event and order of both had been counted on one profile.
    pub fn absorb(&mut self, other: &Totals) {
        self.channels |= other.channels;
        self.first_seen_at = self.first_seen_at.min(other.first_seen_at);
        self.last_seen_at = self.last_seen_at.max(other.last_seen_at);
        self.event_count += other.event_count;
        self.orders_count += other.orders_count;
        self.revenue_total += other.revenue_total;
        self.margin_total += other.margin_total;
        self.first_order_at = match (self.first_order_at, other.first_order_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_order_at = self.last_order_at.max(other.last_order_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Fact {
        Event(Channel, i64),
        Order(i64, i64, i64),
    }

    fn apply(t: &mut Totals, f: &Fact) {
        match *f {
            Fact::Event(ch, at) => t.record_event(ch, at),
            Fact::Order(revenue, margin, at) => t.record_order(1, revenue, margin, Some(at)),
        }
    }

    fn fact() -> impl Strategy<Value = Fact> {
        let channel = prop::sample::select(vec![Channel::Store, Channel::Web, Channel::App, Channel::Hotline, Channel::Social]);
        prop_oneof![
            (channel, 0..1_000_000i64).prop_map(|(c, at)| Fact::Event(c, at)),
            (0..10_000_000i64, -1_000_000..1_000_000i64, 0..1_000_000i64).prop_map(|(r, m, at)| Fact::Order(r, m, at)),
        ]
    }

    #[test]
    fn an_event_and_an_order_count() {
        let mut t = Totals::new(100);
        t.record_event(Channel::Store, 50);
        t.record_event(Channel::Hotline, 300);
        t.record_order(1, 350_000, 70_000, Some(300));
        t.record_order(1, 100_000, 0, Some(200));
        t.record_order(-1, -100_000, 0, None);
        assert_eq!(t.channels, Channel::Store.bit() | Channel::Hotline.bit());
        assert_eq!((t.first_seen_at, t.last_seen_at, t.event_count), (50, 300, 2));
        assert_eq!((t.orders_count, t.revenue_total, t.margin_total), (1, 350_000, 70_000));
        assert_eq!((t.first_order_at, t.last_order_at), (Some(200), Some(300)));
    }

    proptest! {
        /// Two profiles merged add up to one profile that saw every fact of both.
        #[test]
        fn a_merge_counts_as_if_one_profile_saw_everything(
            a in prop::collection::vec(fact(), 0..20),
            b in prop::collection::vec(fact(), 0..20),
            (start_a, start_b) in (0..1_000_000i64, 0..1_000_000i64),
        ) {
            let (mut ta, mut tb) = (Totals::new(start_a), Totals::new(start_b));
            a.iter().for_each(|f| apply(&mut ta, f));
            b.iter().for_each(|f| apply(&mut tb, f));
            let mut one = Totals::new(start_a.min(start_b));
            // One profile first seen at the earlier start, also last seen at the later.
            one.last_seen_at = start_a.max(start_b);
            a.iter().chain(&b).for_each(|f| apply(&mut one, f));
            let mut merged = ta;
            merged.absorb(&tb);
            prop_assert_eq!(merged, one);
            // Whichever survives, the totals are the same.
            let mut other_way = tb;
            other_way.absorb(&ta);
            prop_assert_eq!(other_way, merged);
        }
    }
}
