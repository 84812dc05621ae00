//! Identity resolution: given which profiles an event's identities already
//! point at, decide whether to create a profile, attach to one, or merge
//! several — never joining two different values of a protected identity
//! (`user_id`).

use crate::identity::Identity;

/// A live profile that one or more of the event's identities point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    /// Creation time (µs); the oldest profile survives a merge.
    pub created_at: i64,
    /// The profile's `user_id`, if it holds one.
    pub user_id: Option<String>,
}

/// A merge of `merged` into the plan's survivor, bridged by `bridge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeStep {
    pub merged: String,
    pub bridge: Identity,
}

/// An identity of the event that points at a profile which cannot join the
/// event's profile without holding two different user_ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub identity: Identity,
    pub profile_id: String,
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
/// `identities` are the event's identities, highest priority first (as
/// [`crate::NewEvent`] holds them); `owner(i)` tells which candidate the i-th
/// identity belongs to, if any.
///
/// Walking the identities by priority, each matched profile joins the group
/// unless its user_id differs from the group's; the first identity therefore
/// decides where the event goes when profiles conflict. The group's oldest
/// profile survives and absorbs the rest.
pub fn plan(identities: &[Identity], owners: &[Option<&Candidate>]) -> Plan {
    debug_assert_eq!(identities.len(), owners.len());
    let mut group: Vec<(&Candidate, &Identity)> = Vec::new();
    let mut group_user: Option<&str> = None;
    let mut attach = Vec::new();
    let mut conflicts = Vec::new();

    for (identity, owner) in identities.iter().zip(owners) {
        match owner {
            Some(c) => {
                if group.iter().any(|(g, _)| g.id == c.id) {
                    continue;
                }
                let compatible = match (group_user, c.user_id.as_deref()) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                if compatible {
                    group_user = group_user.or(c.user_id.as_deref());
                    group.push((c, identity));
                } else {
                    conflicts.push(Conflict { identity: identity.clone(), profile_id: c.id.clone() });
                }
            }
            None if identity.kind.is_merge_protected() => match group_user {
                Some(u) if u != identity.value => {
                    // The group already has another user_id: this value cannot
                    // join it. Identities are walked by priority, so this
                    // happens only for a second protected value.
                    conflicts.push(Conflict {
                        identity: identity.clone(),
                        profile_id: group.first().map(|(g, _)| g.id.clone()).unwrap_or_default(),
                    });
                }
                _ => {
                    group_user = Some(identity.value.as_str());
                    attach.push(identity.clone());
                }
            },
            None => attach.push(identity.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{IdentityType, NormalizeOptions};
    use proptest::prelude::*;

    fn id(kind: &str, v: &str) -> Identity {
        Identity::parse(kind, v, &NormalizeOptions::default()).unwrap()
    }
    fn cand(id: &str, at: i64, user: Option<&str>) -> Candidate {
        Candidate { id: id.into(), created_at: at, user_id: user.map(str::to_string) }
    }

    #[test]
    fn unknown_identities_create() {
        let ids = [id("email", "a@x.vn"), id("anonymous_id", "anon")];
        let p = plan(&ids, &[None, None]);
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach, ids.to_vec());
    }

    #[test]
    fn one_match_attaches_the_rest() {
        let a = cand("A", 1, None);
        let ids = [id("phone", "0912345678"), id("zalo_id", "z1")];
        let p = plan(&ids, &[Some(&a), None]);
        assert_eq!(p.target, Target::Existing("A".into()));
        assert!(p.merges.is_empty());
        assert_eq!(p.attach, vec![ids[1].clone()]);
    }

    #[test]
    fn bridging_merges_into_the_oldest() {
        let a = cand("A", 5, None);
        let b = cand("B", 2, Some("u1"));
        let ids = [id("email", "a@x.vn"), id("phone", "0912345678")];
        let p = plan(&ids, &[Some(&a), Some(&b)]);
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
        let p = plan(&ids, &[Some(&b), Some(&a), Some(&c)]);
        assert_eq!(p.target, Target::Existing("B".into()), "highest-priority identity decides");
        assert_eq!(p.merges, vec![MergeStep { merged: "C".into(), bridge: ids[2].clone() }]);
        assert_eq!(p.conflicts, vec![Conflict { identity: ids[1].clone(), profile_id: "A".into() }]);
    }

    #[test]
    fn a_new_user_id_does_not_join_another_users_profile() {
        let a = cand("A", 1, Some("u1"));
        let ids = [id("user_id", "u2"), id("email", "a@x.vn"), id("anonymous_id", "n")];
        let p = plan(&ids, &[None, Some(&a), None]);
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach, vec![ids[0].clone(), ids[2].clone()]);
        assert_eq!(p.conflicts.len(), 1);
    }

    #[test]
    fn the_same_user_id_is_compatible() {
        let a = cand("A", 1, Some("u1"));
        let b = cand("B", 2, None);
        let ids = [id("user_id", "u1"), id("email", "b@x.vn")];
        let p = plan(&ids, &[Some(&a), Some(&b)]);
        assert_eq!(p.target, Target::Existing("A".into()));
        assert_eq!(p.merges.len(), 1);
        assert!(p.conflicts.is_empty());
    }

    proptest! {
        /// Whatever the matches, the resulting group never holds two user_ids,
        /// every identity is accounted for exactly once, and the survivor is
        /// the oldest profile of the group.
        #[test]
        fn invariants(
            owners_ix in proptest::collection::vec(proptest::option::of(0usize..4), 1..6),
            users in proptest::collection::vec(proptest::option::of(0u8..3), 4),
            event_user in proptest::option::of(0u8..3),
        ) {
            let cands: Vec<Candidate> = users.iter().enumerate()
                .map(|(i, u)| cand(&format!("P{i}"), (i as i64 * 7) % 5, u.map(|u| format!("u{u}")).as_deref()))
                .collect();
            let mut ids: Vec<Identity> = owners_ix.iter().enumerate().map(|(i, _)| id("loyalty_card", &format!("c{i}"))).collect();
            let mut owners: Vec<Option<&Candidate>> = owners_ix.iter().map(|o| o.map(|i| &cands[i])).collect();
            if let Some(u) = event_user {
                let uid = format!("u{u}");
                let owner = cands.iter().find(|c| c.user_id.as_deref() == Some(uid.as_str()));
                ids.insert(0, id("user_id", &uid));
                owners.insert(0, owner);
            }
            let p = plan(&ids, &owners);
            let mut group: Vec<&Candidate> = p.merges.iter().map(|m| cands.iter().find(|c| c.id == m.merged).unwrap()).collect();
            if let Target::Existing(t) = &p.target {
                let t = cands.iter().find(|c| &c.id == t).unwrap();
                prop_assert!(group.iter().all(|g| (t.created_at, &t.id) < (g.created_at, &g.id)));
                group.push(t);
            } else {
                prop_assert!(p.merges.is_empty());
            }
            let mut users_in_group: Vec<&str> = group.iter().filter_map(|c| c.user_id.as_deref()).collect();
            users_in_group.extend(p.attach.iter().filter(|i| i.kind == IdentityType::UserId).map(|i| i.value.as_str()));
            users_in_group.sort();
            users_in_group.dedup();
            prop_assert!(users_in_group.len() <= 1, "{:?}", users_in_group);
            for (i, o) in ids.iter().zip(&owners) {
                let attached = p.attach.contains(i);
                let conflicted = p.conflicts.iter().any(|c| &c.identity == i);
                match o {
                    None => prop_assert!(attached ^ conflicted),
                    Some(c) => {
                        let in_group = group.iter().any(|g| g.id == c.id);
                        prop_assert!(!attached);
                        prop_assert!(in_group || conflicted);
                    }
                }
            }
        }
    }
}
