//! Identity resolution: given which profiles an event's identities already
//! point at, decide whether to create a profile, attach to one, or merge
//! several — never giving one profile more values of a type than the
//! identity rules allow (one `user_id` by default).

use crate::identity::{Identity, IdentityType};
use crate::identity_rules::{Counts, IdentityRules};

/// A live profile that one or more of the event's identities point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub id: String,
    /// Creation time (µs); the oldest profile survives a merge.
    pub created_at: i64,
    /// How many values of each type the profile holds.
    pub counts: &'a Counts,
}

/// A merge of `merged` into the plan's survivor, bridged by `bridge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeStep {
    pub merged: String,
    pub bridge: Identity,
}

/// Why an identity of the event did not link its profile to the event's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The profile would hold more values of a type than its limit.
    Limit,
    /// The two profiles were kept apart when a merge of them was undone.
    Unmerged,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Limit => "limit",
            Reason::Unmerged => "unmerged",
        }
    }
}

/// An identity of the event that could not join the event's profile: it
/// points at a profile that may not merge with it, or it is a value the
/// profile has no room for. `profile_id` is the profile it points at, or
/// the event's when it points at none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub identity: Identity,
    pub profile_id: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The event's identities point at no compatible profile.
    New,
    Existing(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: Target,
    /// Profiles to fold into the target (only when the target exists).
    pub merges: Vec<MergeStep>,
    /// Identities of the event that belong to no profile yet; they join the target.
    pub attach: Vec<Identity>,
    pub conflicts: Vec<Conflict>,
}

/// Plans the resolution of one event.
///
/// `identities` are the event's identities, strongest first
/// ([`IdentityRules::sort`]); `owners[i]` is the candidate the i-th identity
/// belongs to, if any.
///
/// Walking the identities strongest first, each matched profile joins the
/// group if the group, with it, stays within every type's limit (the first
/// one always, unless a stronger new value was claimed before it), and a
/// value that belongs to nobody joins if the group has room for it. Anything else is a conflict and links
/// nothing: the stronger identities decide where the event goes. The
/// group's oldest profile survives and absorbs the rest.
///
/// `apart(a, b)`: whether profiles `a` and `b` are kept apart (a merge of
/// them was undone); such a profile never joins the group (`Unmerged`).
pub fn plan(identities: &[Identity], owners: &[Option<&Candidate>], rules: &IdentityRules, apart: &dyn Fn(&str, &str) -> bool) -> Plan {
    debug_assert_eq!(identities.len(), owners.len());
    let mut group: Vec<(&Candidate, &Identity)> = Vec::new();
    let mut held = Tally::default();
    let mut attach = Vec::new();
    let mut conflicts = Vec::new();
    let conflict = |identity: &Identity, profile_id: String| Conflict { identity: identity.clone(), profile_id, reason: Reason::Limit };
    let unmerged = |identity: &Identity, profile_id: String| Conflict { identity: identity.clone(), profile_id, reason: Reason::Unmerged };

    for (identity, owner) in identities.iter().zip(owners) {
        match owner {
            Some(c) if group.iter().any(|(g, _)| g.id == c.id) => {}
            Some(c) if group.iter().any(|(g, _)| apart(&g.id, &c.id)) => conflicts.push(unmerged(identity, c.id.clone())),
            // A first match, before anything was claimed, is the event's home
            // whatever it holds: limits govern what joins a profile, not the
            // profiles that exist.
            Some(c)
                if (group.is_empty() && held.is_empty())
                    || c.counts.iter().all(|(k, n)| held.get(k).saturating_add(*n) <= rules.limit(k)) =>
            {
                for (k, n) in c.counts {
                    held.add(k, *n);
                }
                group.push((c, identity));
            }
            Some(c) => conflicts.push(conflict(identity, c.id.clone())),
            None if held.get(&identity.kind) < rules.limit(&identity.kind) => {
                held.add(&identity.kind, 1);
                attach.push(identity.clone());
            }
            None => conflicts.push(conflict(identity, group.first().map(|(g, _)| g.id.clone()).unwrap_or_default())),
        }
    }

    let Some(survivor) = group.iter().map(|(c, _)| *c).min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id))) else {
        return Plan { target: Target::New, merges: Vec::new(), attach, conflicts };
    };
    let merges = group
        .iter()
        .filter(|(c, _)| c.id != survivor.id)
        .map(|(c, bridge)| MergeStep { merged: c.id.clone(), bridge: (*bridge).clone() })
        .collect();
    Plan { target: Target::Existing(survivor.id.clone()), merges, attach, conflicts }
}

/// Values per type held by a group being planned: the built-in types in
/// an array (no allocation per event), others in a list.
#[derive(Default)]
struct Tally {
    known: [u32; 7],
    other: Vec<(String, u32)>,
}

impl Tally {
    fn slot(kind: &IdentityType) -> Option<usize> {
        Some(match kind {
            IdentityType::UserId => 0,
            IdentityType::Email => 1,
            IdentityType::Phone => 2,
            IdentityType::LoyaltyCard => 3,
            IdentityType::FacebookId => 4,
            IdentityType::ZaloId => 5,
            IdentityType::AnonymousId => 6,
            IdentityType::Custom(_) => return None,
        })
    }

    fn get(&self, kind: &IdentityType) -> u32 {
        match Tally::slot(kind) {
            Some(i) => self.known[i],
            None => self.other.iter().find(|(k, _)| k == kind.as_str()).map_or(0, |(_, n)| *n),
        }
    }

    fn add(&mut self, kind: &IdentityType, n: u32) {
        match Tally::slot(kind) {
            Some(i) => self.known[i] += n,
            None => match self.other.iter_mut().find(|(k, _)| k == kind.as_str()) {
                Some((_, m)) => *m += n,
                None => self.other.push((kind.as_str().to_string(), n)),
            },
        }
    }

    fn is_empty(&self) -> bool {
        self.known.iter().all(|n| *n == 0) && self.other.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NormalizeOptions;
    use crate::identity_rules::RulesDoc;
    use proptest::prelude::*;

    fn id(kind: &str, v: &str) -> Identity {
        Identity::parse(kind, v, &NormalizeOptions::default()).unwrap()
    }
    /// Counts of one user_id, or of nothing; leaked: tests only.
    fn counts(user: Option<&str>) -> &'static Counts {
        Box::leak(Box::new(user.map(|_| (IdentityType::UserId, 1)).into_iter().collect()))
    }
    fn cand(id: &str, at: i64, user: Option<&str>) -> Candidate<'static> {
        Candidate { id: id.into(), created_at: at, counts: counts(user) }
    }
    fn rules() -> IdentityRules {
        IdentityRules::default()
    }

    #[test]
    fn unknown_identities_create() {
        let ids = [id("email", "a@x.vn"), id("anonymous_id", "anon")];
        let p = plan(&ids, &[None, None], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach, ids.to_vec());
    }

    #[test]
    fn one_match_attaches_the_rest() {
        let a = cand("A", 1, None);
        let ids = [id("phone", "0912345678"), id("zalo_id", "z1")];
        let p = plan(&ids, &[Some(&a), None], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::Existing("A".into()));
        assert!(p.merges.is_empty());
        assert_eq!(p.attach, vec![ids[1].clone()]);
    }

    #[test]
    fn bridging_merges_into_the_oldest() {
        let a = cand("A", 5, None);
        let b = cand("B", 2, Some("u1"));
        let ids = [id("email", "a@x.vn"), id("phone", "0912345678")];
        let p = plan(&ids, &[Some(&a), Some(&b)], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::Existing("B".into()));
        assert_eq!(p.merges, vec![MergeStep { merged: "A".into(), bridge: ids[0].clone() }]);
    }

    #[test]
    fn two_user_ids_never_merge() {
        let a = cand("A", 1, Some("u1"));
        let b = cand("B", 2, Some("u2"));
        let c = cand("C", 3, None);
        // email → B (u2), phone → A (u1), anonymous → C.
        let ids = [id("email", "b@x.vn"), id("phone", "0912345678"), id("anonymous_id", "c")];
        let p = plan(&ids, &[Some(&b), Some(&a), Some(&c)], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::Existing("B".into()), "the strongest identity decides");
        assert_eq!(p.merges, vec![MergeStep { merged: "C".into(), bridge: ids[2].clone() }]);
        assert_eq!(p.conflicts, vec![Conflict { identity: ids[1].clone(), profile_id: "A".into(), reason: Reason::Limit }]);
    }

    #[test]
    fn a_new_user_id_does_not_join_another_users_profile() {
        let a = cand("A", 1, Some("u1"));
        let ids = [id("user_id", "u2"), id("email", "a@x.vn"), id("anonymous_id", "n")];
        let p = plan(&ids, &[None, Some(&a), None], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach, vec![ids[0].clone(), ids[2].clone()]);
        assert_eq!(p.conflicts.len(), 1);
    }

    #[test]
    fn a_profile_at_its_limit_takes_no_more_values_of_that_type() {
        let five: Counts = [(IdentityType::Email, 5)].into();
        let full = Candidate { id: "A".into(), created_at: 1, counts: &five };
        let ids = [id("phone", "0912345678"), id("email", "sixth@x.vn")];
        let p = plan(&ids, &[Some(&full), None], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::Existing("A".into()));
        assert!(p.attach.is_empty());
        assert_eq!(p.conflicts, vec![Conflict { identity: ids[1].clone(), profile_id: "A".into(), reason: Reason::Limit }]);
    }

    #[test]
    fn a_merge_past_a_limit_is_refused_and_the_stronger_match_keeps_the_event() {
        let two: Counts = [(IdentityType::LoyaltyCard, 2)].into();
        let (a, b) = (Candidate { id: "A".into(), created_at: 9, counts: &two }, Candidate { id: "B".into(), created_at: 1, counts: &two });
        let ids = [id("email", "x@x.vn"), id("phone", "0912345678")];
        let p = plan(&ids, &[Some(&a), Some(&b)], &rules(), &|_, _| false);
        assert_eq!(p.target, Target::Existing("A".into()), "four cards would pass the limit of three");
        assert!(p.merges.is_empty());
        assert_eq!(p.conflicts[0].profile_id, "B");
    }

    #[test]
    fn profiles_kept_apart_never_join() {
        let (a, b) = (cand("A", 1, None), cand("B", 2, None));
        let ids = [id("email", "a@x.vn"), id("phone", "0912345678")];
        let p = plan(&ids, &[Some(&a), Some(&b)], &rules(), &|x, y| (x, y) == ("A", "B") || (x, y) == ("B", "A"));
        assert_eq!(p.target, Target::Existing("A".into()));
        assert!(p.merges.is_empty());
        assert_eq!(p.conflicts, vec![Conflict { identity: ids[1].clone(), profile_id: "B".into(), reason: Reason::Unmerged }]);
    }

    #[test]
    fn without_limits_everything_bridged_merges() {
        let open: RulesDoc = serde_json::from_value(serde_json::json!({"types": {}})).unwrap();
        let open = IdentityRules::from_doc(open, &NormalizeOptions::default()).unwrap();
        let a = cand("A", 1, Some("u1"));
        let b = cand("B", 2, Some("u2"));
        let ids = [id("email", "a@x.vn"), id("phone", "0912345678")];
        let p = plan(&ids, &[Some(&a), Some(&b)], &open, &|_, _| false);
        assert_eq!(p.merges.len(), 1);
    }

    proptest! {
        /// Whatever the matches and limits, every identity is accounted for
        /// exactly once, the survivor is the oldest of its group, and the
        /// group with what attaches stays within every limit (a profile may
        /// already exceed one: then nothing more of that type joins it).
        #[test]
        fn invariants(
            owners_ix in proptest::collection::vec(proptest::option::of(0usize..4), 1..8),
            kinds in proptest::collection::vec(0usize..3, 8),
            held in proptest::collection::vec(proptest::collection::vec(0u32..3, 3), 4),
            limits in proptest::collection::vec(1i64..4, 3),
        ) {
            const KINDS: [&str; 3] = ["user_id", "email", "loyalty_card"];
            let doc = serde_json::json!({"types": {
                "user_id": {"limit": limits[0], "priority": 1},
                "email": {"limit": limits[1], "priority": 2},
                "loyalty_card": {"limit": limits[2], "priority": 3}}});
            let rules = IdentityRules::from_doc(serde_json::from_value(doc).unwrap(), &NormalizeOptions::default()).unwrap();
            let counts: Vec<Counts> = held.iter().map(|h| {
                KINDS.iter().zip(h).filter(|(_, n)| **n > 0).map(|(k, n)| (IdentityType::parse(k).unwrap(), *n)).collect()
            }).collect();
            let cands: Vec<Candidate> = counts.iter().enumerate().map(|(i, c)| Candidate {
                id: format!("P{i}"),
                created_at: (i as i64 * 7) % 5,
                counts: c,
            }).collect();
            let mut ids: Vec<Identity> = owners_ix.iter().enumerate().map(|(i, _)| id(KINDS[kinds[i]], &format!("v{i}@x.vn"))).collect();
            let owners: Vec<Option<&Candidate>> = owners_ix.iter().map(|o| o.map(|i| &cands[i])).collect();
            let mut pairs: Vec<(Identity, Option<&Candidate>)> = ids.drain(..).zip(owners).collect();
            pairs.sort_by_key(|(i, _)| rules.priority(&i.kind));
            let (ids, owners): (Vec<Identity>, Vec<Option<&Candidate>>) = pairs.into_iter().unzip();
            let p = plan(&ids, &owners, &rules, &|_, _| false);

            let mut group: Vec<&Candidate> = p.merges.iter().map(|m| cands.iter().find(|c| c.id == m.merged).unwrap()).collect();
            if let Target::Existing(t) = &p.target {
                let t = cands.iter().find(|c| &c.id == t).unwrap();
                prop_assert!(group.iter().all(|g| (t.created_at, &t.id) < (g.created_at, &g.id)));
                group.push(t);
            } else {
                prop_assert!(p.merges.is_empty());
            }
            if group.len() > 1 || !p.attach.is_empty() {
                let mut total = Counts::new();
                for c in &group {
                    for (k, n) in c.counts {
                        *total.entry(k.clone()).or_default() += n;
                    }
                }
                for i in &p.attach {
                    *total.entry(i.kind.clone()).or_default() += 1;
                }
                // Past a limit only where one profile already was, alone in that type.
                let held_alone = |k: &IdentityType, n: u32| group.iter().any(|c| c.counts.get(k).copied().unwrap_or(0) == n);
                for (k, n) in &total {
                    prop_assert!(*n <= rules.limit(k) || held_alone(k, *n), "{k}: {n} > {}", rules.limit(k));
                }
            }
            for (i, o) in ids.iter().zip(&owners) {
                let attached = p.attach.contains(i);
                let conflicted = p.conflicts.iter().any(|c| &c.identity == i);
                match o {
                    None => prop_assert!(attached ^ conflicted),
                    Some(c) => {
                        let in_group = group.iter().any(|g| g.id == c.id);
                        prop_assert!(!attached);
                        prop_assert!(in_group ^ conflicted);
                    }
                }
            }
        }
    }
}
