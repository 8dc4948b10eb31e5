//! The injected clock. Everything in the origin reads the time through it, so a test can move
//! time (expiries, grace windows, rate-limit windows) instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use usso_shared::clock::{Clock, SystemClock};

/// The origin's clock: the system clock in production, a manual one in tests.
#[derive(Debug, Clone, Default)]
pub enum AppClock {
    /// The wall clock.
    #[default]
    System,
    /// A clock that only moves when told to (tests).
    Manual(Arc<AtomicI64>),
}

impl AppClock {
    /// A manual clock starting at `now`.
    pub fn manual(now: i64) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(now)))
    }

    /// Moves a manual clock forward by `secs` (no effect on the system clock).
    pub fn advance(&self, secs: i64) {
        if let Self::Manual(t) = self {
            t.fetch_add(secs, Ordering::SeqCst);
        }
    }
}

impl Clock for AppClock {
    fn now(&self) -> i64 {
        match self {
            Self::System => SystemClock.now(),
            Self::Manual(t) => t.load(Ordering::SeqCst),
        }
    }
}
