//! This machine, apart from any one run: what it can do ([`caps`], for `faultline doctor`),
//! what runs left behind on it ([`leftovers`], for `faultline clean`), and running its
//! system tools ([`sys`]).

pub mod caps;
pub mod leftovers;
pub mod sys;
