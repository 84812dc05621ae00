//! Trait merge policy: per trait, the value with the later `occurred_at` wins.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A profile's traits and, for each, the time (µs since the epoch) of the
/// event that set it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraitState {
    pub values: Map<String, Value>,
    pub times: Map<String, Value>,
}

impl TraitState {
    fn time_of(&self, key: &str) -> Option<i64> {
        self.times.get(key).and_then(Value::as_i64)
    }

    /// Applies the traits of an event that happened at `at`. A trait set by an
    /// event at least as recent as the one already held replaces it.
    /// Returns whether anything changed.
    pub fn apply(&mut self, traits: &Map<String, Value>, at: i64) -> bool {
        let mut changed = false;
        for (k, v) in traits {
            let newer = self.time_of(k).is_none_or(|t| at >= t);
            if newer {
                if self.values.get(k) != Some(v) {
                    changed = true;
                }
                self.values.insert(k.clone(), v.clone());
                if self.time_of(k) != Some(at) {
                    changed = true;
                }
                self.times.insert(k.clone(), Value::from(at));
            }
        }
        changed
    }

    /// Folds a merged-away profile's traits into the survivor's: for each trait
    /// the more recent value wins; on a tie the survivor keeps its own.
    pub fn absorb(&mut self, other: &TraitState) {
        for (k, v) in &other.values {
            let theirs = other.time_of(k).unwrap_or(i64::MIN);
            let keep_ours = self.time_of(k).is_some_and(|ours| ours >= theirs);
            if !keep_ours {
                self.values.insert(k.clone(), v.clone());
                self.times.insert(k.clone(), Value::from(theirs));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn later_occurred_at_wins_whatever_the_arrival_order() {
        let mut s = TraitState::default();
        s.apply(&map(json!({"city": "Hà Nội"})), 200);
        s.apply(&map(json!({"city": "Huế", "name": "An"})), 100);
        assert_eq!(s.values["city"], "Hà Nội");
        assert_eq!(s.values["name"], "An");
    }

    #[test]
    fn absorb_keeps_most_recent() {
        let mut a = TraitState::default();
        a.apply(&map(json!({"city": "Hà Nội", "tier": "x"})), 100);
        let mut b = TraitState::default();
        b.apply(&map(json!({"city": "Đà Nẵng", "name": "Bình"})), 300);
        b.apply(&map(json!({"tier": "y"})), 50);
        a.absorb(&b);
        assert_eq!(a.values["city"], "Đà Nẵng");
        assert_eq!(a.values["name"], "Bình");
        assert_eq!(a.values["tier"], "x");
    }

    proptest! {
        /// Applying the same updates in any order ends in the same state when
        /// their times are distinct.
        #[test]
        fn order_independent(mut ups in proptest::collection::vec((0u8..4, 0i64..1000, 0u8..5), 1..20), seed in any::<u64>()) {
            ups.sort_by_key(|u| u.1);
            ups.dedup_by_key(|u| u.1);
            let apply = |order: &[(u8, i64, u8)]| {
                let mut s = TraitState::default();
                for (k, t, v) in order {
                    let mut m = Map::new();
                    m.insert(format!("k{k}"), json!(v));
                    s.apply(&m, *t);
                }
                s.values
            };
            let forward = apply(&ups);
            let mut shuffled = ups.clone();
            let n = shuffled.len();
            for i in 0..n { shuffled.swap(i, (seed as usize).wrapping_mul(i + 7) % n); }
            prop_assert_eq!(forward, apply(&shuffled));
        }
    }
}
