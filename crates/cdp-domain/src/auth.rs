//! Scopes of API keys and the roles of operators.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "events:write")]
    EventsWrite,
    #[serde(rename = "profiles:read")]
    ProfilesRead,
    #[serde(rename = "profiles:write")]
    ProfilesWrite,
    #[serde(rename = "segments:read")]
    SegmentsRead,
    #[serde(rename = "segments:write")]
    SegmentsWrite,
    #[serde(rename = "loyalty:read")]
    LoyaltyRead,
    #[serde(rename = "loyalty:write")]
    LoyaltyWrite,
    #[serde(rename = "analytics:read")]
    AnalyticsRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::EventsWrite,
        Scope::ProfilesRead,
        Scope::ProfilesWrite,
        Scope::SegmentsRead,
        Scope::SegmentsWrite,
        Scope::LoyaltyRead,
        Scope::LoyaltyWrite,
        Scope::AnalyticsRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::ProfilesRead => "profiles:read",
            Scope::ProfilesWrite => "profiles:write",
            Scope::SegmentsRead => "segments:read",
            Scope::SegmentsWrite => "segments:write",
            Scope::LoyaltyRead => "loyalty:read",
            Scope::LoyaltyWrite => "loyalty:write",
            Scope::AnalyticsRead => "analytics:read",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| format!("unknown scope `{s}`"))
    }
}

/// What a caller may do: the scopes it holds. `admin` implies every scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(Vec<Scope>);

impl Grants {
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        Grants(scopes)
    }
    pub fn allows(&self, needed: Scope) -> bool {
        self.0.contains(&Scope::Admin) || self.0.contains(&needed)
    }
    pub fn scopes(&self) -> &[Scope] {
        &self.0
    }
    /// Space separated, as stored.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
    pub fn from_text(s: &str) -> Result<Self, String> {
        s.split_whitespace().map(str::parse).collect::<Result<Vec<_>, _>>().map(Grants::new)
    }
}

/// Operator roles; each maps to a fixed set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including keys, sources, export and erasure.
    Admin,
    /// Reads profiles and analytics, builds segments; changes no customer data.
    Analyst,
    /// Hotline and social-page agents: read profiles and context, work cases,
    /// record interactions; no export, no erasure, no analytics.
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Agent => "agent",
        }
    }
    pub fn grants(self) -> Grants {
        use Scope::*;
        Grants::new(match self {
            Role::Admin => vec![Admin],
            Role::Analyst => vec![ProfilesRead, SegmentsRead, SegmentsWrite, LoyaltyRead, AnalyticsRead],
            Role::Agent => vec![ProfilesRead, ProfilesWrite, LoyaltyRead, EventsWrite],
        })
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "agent" => Ok(Role::Agent),
            _ => Err(format!("unknown role `{s}`; expected admin, analyst or agent")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_everything() {
        let g = Grants::new(vec![Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| g.allows(*s)));
        let g = Grants::new(vec![Scope::EventsWrite]);
        assert!(g.allows(Scope::EventsWrite));
        assert!(!g.allows(Scope::ProfilesRead));
    }

    #[test]
    fn text_round_trip() {
        let g = Grants::from_text("profiles:read events:write profiles:read").unwrap();
        assert_eq!(g.to_text(), "events:write profiles:read");
        assert!(Grants::from_text("events:write nope").is_err());
        assert!(!Role::Agent.grants().allows(Scope::AnalyticsRead));
    }
}
