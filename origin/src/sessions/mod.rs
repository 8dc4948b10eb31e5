//! Sessions: starting one from a proof of identity, listing and revoking them.
