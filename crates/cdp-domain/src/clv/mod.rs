//! Predictive customer value: BG/NBD (Fader, Hardie & Lee 2005) for the
//! number of future purchases and P(alive), Gamma-Gamma (Fader, Hardie & Lee
//! 2005, "RFM and CLV") for the value of a purchase, and discounted CLV.
//!
//! Every function returns finite numbers for any finite, valid input: the
//! likelihoods are written in log space, the hypergeometric function is
//! evaluated by a transformation that keeps its series convergent, and the
//! optimiser works on log-parameters.

pub mod bgnbd;
pub mod gamma_gamma;
pub mod optimize;
pub mod simulate;
pub mod special;

pub use bgnbd::{BgNbd, Customer};
pub use gamma_gamma::{GammaGamma, Spender};
