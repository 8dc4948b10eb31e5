//! Placeholder: the scope module is being written.
