//! Time as a capability: every time-dependent rule takes a [`Clock`], so tests can fix the time
//! and runtimes without `std::time` (Cloudflare Workers) can plug in their own source.

/// A source of the current time in whole seconds since the Unix epoch.
pub trait Clock {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;

    /// A wait of about `ms` milliseconds on the runtime's own timer, for runtimes where one
    /// request cannot wake another's task (Workers, WASI HTTP 0.3): the edge core's requests
    /// waiting for another's key-set load poll with it. `None` (the default): the core wakes
    /// waiting requests from the one they wait for.
    fn pause(
        &self,
        _ms: u32,
    ) -> Option<impl core::future::Future<Output = ()> + crate::transport::MaybeSend> {
        None::<core::future::Ready<()>>
    }
}

/// The system clock. Not available on `wasm32-unknown-unknown`, where `std::time` panics;
/// the Workers adapter supplies a clock based on `Date.now()` instead.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// A clock that always answers the same time (tests, and request-scoped snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> i64 {
        (**self).now()
    }
    fn pause(
        &self,
        ms: u32,
    ) -> Option<impl core::future::Future<Output = ()> + crate::transport::MaybeSend> {
        (**self).pause(ms)
    }
}
