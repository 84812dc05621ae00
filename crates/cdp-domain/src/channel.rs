use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A touchpoint through which a customer reaches the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Store,
    Web,
    App,
    Hotline,
    Social,
    Email,
    Other,
}

impl Channel {
    pub const ALL: [Channel; 7] =
        [Channel::Store, Channel::Web, Channel::App, Channel::Hotline, Channel::Social, Channel::Email, Channel::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Store => "store",
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Hotline => "hotline",
            Channel::Social => "social",
            Channel::Email => "email",
            Channel::Other => "other",
        }
    }

    /// A stable bit for the set of channels a profile has been seen on.
    pub fn bit(self) -> i64 {
        1 << (self as i64)
    }

    /// The channels whose bits are set, in declaration order.
    pub fn from_bits(bits: i64) -> Vec<Channel> {
        Channel::ALL.into_iter().filter(|c| bits & c.bit() != 0).collect()
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel `{0}`; expected one of store, web, app, hotline, social, email, other")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownChannel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bits() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), c);
            assert_eq!(Channel::from_bits(c.bit()), vec![c]);
        }
        let bits = Channel::Store.bit() | Channel::Hotline.bit();
        assert_eq!(Channel::from_bits(bits), vec![Channel::Store, Channel::Hotline]);
        assert!("fax".parse::<Channel>().is_err());
    }
}
