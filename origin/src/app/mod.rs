//! The composition root: the registry every request handler reads ([`legacy::App`]), start-up
//! ([`run`]), first-start provisioning ([`bootstrap`]).

pub mod bootstrap;
pub mod legacy;
pub mod run;
