//! Argon2id password hashing on a bounded pool.
//!
//! * [`PasswordParams`]: the Argon2id cost (memory, iterations, parallelism), validated against
//!   the OWASP minimum (19 MiB, t=2, p=1).
//! * [`PasswordPolicy`]: the length (and optional composition) rules a caller applies to a *new*
//!   password. Length counts Unicode characters, not bytes.
//! * [`Hasher`]: hashes and verifies on `workers` dedicated threads (each reusing one Argon2
//!   memory buffer, so memory stays ≈ workers × m), at most `workers` at once and at
//!   most `queue` waiting beyond that. When both are full it answers at once with
//!   `too_many_requests` and an estimated `Retry-After`; it never queues without limit.
//!
//! Unknown accounts get a dummy verification ([`Hasher::verify`] with `None`) so that the answer
//! time does not reveal whether an account exists.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{Error as PhcError, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use usso_shared::{Error, ErrorCode, Result};

/// Longest password accepted, in bytes (UTF-8). Longer input is refused with
/// `validation_error` before any hashing, so long passwords cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Default minimum password length, in characters (Unicode scalar values), of
/// [`PasswordPolicy::default`]. The policy is applied by the caller when a password is set; it
/// is never applied at login.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Upper bound of the `Retry-After` estimate returned when the pool is saturated, in seconds.
pub const MAX_RETRY_AFTER_SECS: u64 = 60;

/// Length of the random salt of new hashes, in bytes.
const SALT_BYTES: usize = 16;

/// Output length of new hashes, in bytes (argon2's default).
const OUTPUT_BYTES: usize = Params::DEFAULT_OUTPUT_LEN;

/// Salt of the dummy hash used for unknown accounts. The dummy is never a valid credential (its
/// verdict is always [`Verdict::Invalid`]), so a fixed, public salt costs nothing.
const DUMMY_SALT: &[u8] = b"usso-dummy-salt!";

/// Password of the dummy hash.
const DUMMY_PASSWORD: &[u8] = b"usso dummy password, never a credential";

/// A stored hash may cost at most this many times the current parameters (or the floors below,
/// whichever is larger) before it is refused as malformed: a guard against a damaged or
/// tampered store pinning the workers or exhausting memory.
const STORED_COST_FACTOR: u64 = 8;
/// Floor of the stored-hash memory limit, in KiB (256 MiB).
const STORED_MAX_MEMORY_FLOOR_KIB: u64 = 256 * 1024;
/// Floor of the stored-hash iterations limit.
const STORED_MAX_ITERATIONS_FLOOR: u64 = 16;
/// Floor of the stored-hash parallelism limit.
const STORED_MAX_PARALLELISM_FLOOR: u64 = 16;

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// Argon2id cost parameters.
///
/// The fields are public so configuration can fill them in; call [`PasswordParams::validate`]
/// (or build through [`PasswordParams::new`]) before using values that came from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordParams {
    /// Memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Number of passes (`t`).
    pub iterations: u32,
    /// Degree of parallelism, i.e. lanes (`p`).
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// The OWASP minimum: 19456 KiB (19 MiB), t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: Self::OWASP_MIN_MEMORY_KIB,
            iterations: Self::OWASP_MIN_ITERATIONS,
            parallelism: Self::OWASP_MIN_PARALLELISM,
        }
    }
}

impl PasswordParams {
    /// OWASP minimum memory cost, in KiB (19 MiB).
    pub const OWASP_MIN_MEMORY_KIB: u32 = 19_456;
    /// OWASP minimum number of iterations at that memory cost.
    pub const OWASP_MIN_ITERATIONS: u32 = 2;
    /// OWASP minimum parallelism.
    pub const OWASP_MIN_PARALLELISM: u32 = 1;

    /// Validated parameters: `configuration_error` when any value is below the OWASP minimum
    /// (see [`PasswordParams::validate`]).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self> {
        let p = Self {
            memory_kib,
            iterations,
            parallelism,
        };
        p.validate()?;
        Ok(p)
    }

    /// **Test only — never use in production.** Very cheap parameters (64 KiB, t=1, p=1) that
    /// make hashing take microseconds. They skip validation: [`PasswordParams::validate`]
    /// rejects them.
    pub const fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    /// Checks the OWASP minimum (memory ≥ 19456 KiB, iterations ≥ 2, parallelism ≥ 1) and
    /// Argon2's own limits (parallelism ≤ 2²⁴−1, memory ≥ 8 KiB × parallelism). Any failure is
    /// `configuration_error`.
    pub fn validate(&self) -> Result<()> {
        if self.memory_kib < Self::OWASP_MIN_MEMORY_KIB {
            return Err(Error::configuration(format!(
                "Argon2 memory cost must be at least {} KiB (OWASP minimum), got {}",
                Self::OWASP_MIN_MEMORY_KIB,
                self.memory_kib
            )));
        }
        if self.iterations < Self::OWASP_MIN_ITERATIONS {
            return Err(Error::configuration(format!(
                "Argon2 iterations must be at least {} (OWASP minimum), got {}",
                Self::OWASP_MIN_ITERATIONS,
                self.iterations
            )));
        }
        if self.parallelism < Self::OWASP_MIN_PARALLELISM {
            return Err(Error::configuration(format!(
                "Argon2 parallelism must be at least {}, got {}",
                Self::OWASP_MIN_PARALLELISM,
                self.parallelism
            )));
        }
        self.argon2_params().map(|_| ())
    }

    /// The argon2 crate's parameters (checks only Argon2's own limits, not OWASP's).
    fn argon2_params(&self) -> Result<Params> {
        // Checked first: argon2 computes `8 × parallelism` in u32, which overflows (and panics
        // with overflow checks) for values above its own limit.
        if self.parallelism > Params::MAX_P_COST {
            return Err(Error::configuration(format!(
                "Argon2 parallelism must be at most {}, got {}",
                Params::MAX_P_COST,
                self.parallelism
            )));
        }
        Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(OUTPUT_BYTES),
        )
        .map_err(|e| {
            Error::configuration(format!(
                "invalid Argon2 parameters m={} t={} p={}: {e}",
                self.memory_kib, self.iterations, self.parallelism
            ))
        })
    }
}

fn check_length(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!("password must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------------------------

/// Rules for a new password, applied by the caller when a password is set (registration,
/// change, reset), never at login.
///
/// The default follows NIST SP 800-63B: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes, and no composition rules (both `require_*` flags are false).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordPolicy {
    /// Minimum length in characters (Unicode scalar values, not bytes).
    pub min_length: usize,
    /// Maximum length in bytes; values above [`MAX_PASSWORD_BYTES`] are treated as
    /// [`MAX_PASSWORD_BYTES`], since the [`Hasher`] refuses longer input anyway.
    pub max_bytes: usize,
    /// Require at least one digit (any Unicode numeric character).
    pub require_digit: bool,
    /// Require at least one letter (any Unicode alphabetic character).
    pub require_letter: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: MIN_PASSWORD_CHARS,
            max_bytes: MAX_PASSWORD_BYTES,
            require_digit: false,
            require_letter: false,
        }
    }
}

impl PasswordPolicy {
    /// [`PasswordPolicy::check`] for a request field: the error names `field`.
    pub fn check_field(&self, field: &str, password: &str) -> Result<()> {
        self.check(password).map_err(|e| {
            Error::new(
                ErrorCode::ValidationError,
                format!("{field}: {}", e.detail()),
            )
        })
    }

    /// `Ok` when `password` satisfies the policy, else `validation_error` naming the rule.
    pub fn check(&self, password: &str) -> Result<()> {
        let max_bytes = self.max_bytes.min(MAX_PASSWORD_BYTES);
        if password.len() > max_bytes {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("password must be at most {max_bytes} bytes"),
            ));
        }
        if password.chars().count() < self.min_length {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!(
                    "password must be at least {} characters long",
                    self.min_length
                ),
            ));
        }
        if self.require_letter && !password.chars().any(char::is_alphabetic) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "password must contain at least one letter",
            ));
        }
        if self.require_digit && !password.chars().any(char::is_numeric) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "password must contain at least one digit",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Hasher
// ---------------------------------------------------------------------------------------------

/// The outcome of [`Hasher::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The password matches.
    Valid {
        /// The stored hash uses another algorithm, version, output length or cost than the
        /// current parameters: hash the password again and store the new hash.
        needs_rehash: bool,
    },
    /// The password does not match, the account is unknown, or the stored hash is unusable.
    Invalid,
}

/// Argon2id hashing and verification on a bounded pool. Cheap to clone (an `Arc` inside); all
/// clones share the pool.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: PasswordParams,
    /// The argon2 parameters, or why `params` are unusable.
    argon: Result<Params>,
    workers: usize,
    queue: usize,
    /// One permit per worker.
    slots: Arc<Semaphore>,
    /// Jobs admitted and not finished (running + waiting); never above `workers + queue`.
    admitted: AtomicUsize,
    /// Moving average of one Argon2 computation, in nanoseconds (0 = not measured yet).
    avg_nanos: AtomicU64,
    /// Argon2 computations done for callers (hashes, verifications, dummy verifications).
    runs: AtomicU64,
    /// The dummy PHC hash for unknown accounts, computed once with the current parameters.
    dummy: OnceLock<Option<String>>,
    /// The dedicated worker threads' job queue (see [`WorkerPool`]).
    pool: WorkerPool,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// `workers` dedicated OS threads that run every Argon2 computation. A fixed set of threads
/// (rather than tokio's elastic blocking pool) keeps memory bounded: each Argon2 run allocates
/// `m` KiB, and the allocator keeps that memory cached per thread, so the number of threads that
/// ever hash bounds the memory the pool holds (≈ workers × m). The threads end when the last
/// [`Hasher`] clone is dropped.
struct WorkerPool {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl WorkerPool {
    fn new(workers: usize) -> Self {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = {
                        let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
                        guard.recv()
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => break,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// Runs `f` on a worker thread and waits for its result.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| Error::internal("password hashing pool is closed"))?;
        rx.await
            .map_err(|_| Error::internal("password worker failed"))
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.inner.params)
            .field("workers", &self.inner.workers)
            .field("queue", &self.inner.queue)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Hasher {
    /// A pool running at most `workers` Argon2 computations at once (0 is treated as 1) with at
    /// most `queue` more waiting for a worker.
    ///
    /// `params` are not validated here (so [`PasswordParams::insecure_for_tests`] works); call
    /// [`PasswordParams::validate`] first for configured values. Parameters Argon2 itself cannot
    /// use make [`Hasher::hash`] and [`Hasher::verify`] fail with `configuration_error`.
    ///
    /// The dummy hash for unknown accounts is computed on a worker right away, so the first
    /// unknown-account login costs no more than others.
    pub fn new(params: PasswordParams, workers: usize, queue: usize) -> Self {
        let workers = workers.clamp(1, Semaphore::MAX_PERMITS);
        let inner = Arc::new(Inner {
            params,
            argon: params.argon2_params(),
            workers,
            queue,
            slots: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            avg_nanos: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            dummy: OnceLock::new(),
            pool: WorkerPool::new(workers),
        });
        if inner.argon.is_ok() {
            let warm = Arc::clone(&inner);
            let _ = inner.pool.jobs.send(Box::new(move || {
                let _ = warm.dummy_hash();
            }));
        }
        Self { inner }
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.inner.params
    }

    /// Jobs currently running or waiting for a worker.
    pub fn in_flight(&self) -> usize {
        self.inner.admitted.load(Ordering::Acquire)
    }

    /// Number of Argon2 computations done so far for callers of [`Hasher::hash`] and
    /// [`Hasher::verify`] (including dummy verifications; excluding the one-time computation of
    /// the dummy hash). Useful for metrics and tests.
    pub fn argon2_runs(&self) -> u64 {
        self.inner.runs.load(Ordering::Relaxed)
    }

    /// Hashes `password` with Argon2id, the current parameters and a random 16-byte salt;
    /// returns the PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
    ///
    /// Errors: `validation_error` above [`MAX_PASSWORD_BYTES`]; `too_many_requests` (with
    /// `Retry-After`) when all workers are busy and the queue is full; `configuration_error` for
    /// unusable parameters; `internal_error` when randomness or the worker fails.
    pub async fn hash(&self, password: &str) -> Result<String> {
        check_length(password)?;
        let params = self.inner.argon.clone()?;
        let salt = usso_shared::random::bytes::<SALT_BYTES>()?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| Error::internal(format!("cannot encode salt: {e}")))?;
        let secret = Secret::new(password);
        self.run(move |inner| {
            inner
                .timed(|| phc_hash(&params, secret.bytes(), &salt))
                .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
        })
        .await?
    }

    /// Verifies `password` against the stored PHC hash `phc`, in constant time.
    ///
    /// * `phc` is `None` (unknown account, or an account without a password): a dummy
    ///   verification with the current parameters runs anyway, so the time taken does not tell
    ///   whether the account exists; the verdict is [`Verdict::Invalid`].
    /// * A malformed or unsupported stored hash is logged (`warn`) and gives
    ///   [`Verdict::Invalid`] after the same dummy work.
    /// * A match gives [`Verdict::Valid`], with `needs_rehash` when the stored hash's algorithm,
    ///   version, output length or `m`/`t`/`p` differ from the current parameters.
    ///
    /// Errors: as for [`Hasher::hash`] (`validation_error`, `too_many_requests`,
    /// `configuration_error`, `internal_error`), never for a wrong password.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<Verdict> {
        check_length(password)?;
        // Fail the same way for known and unknown accounts when the parameters are unusable.
        if let Err(e) = &self.inner.argon {
            return Err(e.clone());
        }
        let secret = Secret::new(password);
        let phc = phc.map(str::to_owned);
        self.run(move |inner| match phc {
            None => {
                inner.dummy_verify(secret.bytes());
                Verdict::Invalid
            }
            Some(phc) => inner.verify_stored(secret.bytes(), &phc),
        })
        .await
    }

    /// Runs `job` on the blocking pool under the admission and concurrency limits.
    async fn run<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> T + Send + 'static,
    {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::internal("password hashing needs a tokio runtime"))?;
        let admission = Admission::try_new(&self.inner)?;
        let permit: OwnedSemaphorePermit = Arc::clone(&self.inner.slots)
            .acquire_owned()
            .await
            .map_err(|_| Error::internal("password hashing pool is closed"))?;
        let _ = rt;
        let inner = Arc::clone(&self.inner);
        // The permit and the admission travel with the job: they are released when the work is
        // done, even if the caller stops waiting, so the limits always hold.
        self.inner
            .pool
            .run(move || {
                let out = job(&inner);
                drop(permit);
                drop(admission);
                out
            })
            .await
    }
}

impl Inner {
    /// Runs one Argon2 computation for a caller: counts it and feeds the moving average.
    fn timed<R>(&self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let out = f();
        self.record(start.elapsed());
        self.runs.fetch_add(1, Ordering::Relaxed);
        out
    }

    fn record(&self, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        // Exponential moving average with weight 1/8; the first sample is taken as is.
        let _ = self
            .avg_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |avg| {
                Some(if avg == 0 {
                    sample
                } else {
                    avg - avg / 8 + sample / 8
                })
            });
    }

    /// Seconds until a worker is likely free: average time × jobs ahead ÷ workers, in
    /// `1..=MAX_RETRY_AFTER_SECS`. Before anything was measured the estimate is 1 s.
    fn retry_after(&self) -> u64 {
        let avg = u128::from(self.avg_nanos.load(Ordering::Relaxed));
        let ahead = self.admitted.load(Ordering::Relaxed) as u128 + 1;
        let workers = self.workers.max(1) as u128;
        let nanos = avg.saturating_mul(ahead) / workers;
        let secs = nanos.div_ceil(1_000_000_000);
        u64::try_from(secs)
            .unwrap_or(MAX_RETRY_AFTER_SECS)
            .clamp(1, MAX_RETRY_AFTER_SECS)
    }

    /// The dummy PHC hash (computed on first use; `None` if Argon2 failed, which valid
    /// parameters never do).
    fn dummy_hash(&self) -> Option<&str> {
        self.dummy
            .get_or_init(|| {
                let params = self.argon.clone().ok()?;
                let salt = SaltString::encode_b64(DUMMY_SALT).ok()?;
                match phc_hash(&params, DUMMY_PASSWORD, &salt) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot compute the dummy password hash");
                        None
                    }
                }
            })
            .as_deref()
    }

    /// One Argon2 verification whose result is ignored: the same cost as a real one.
    fn dummy_verify(&self, password: &[u8]) {
        let parsed = self.dummy_hash().and_then(|d| PasswordHash::new(d).ok());
        match parsed {
            Some(hash) => {
                if let Ok(params) = self.argon.clone() {
                    let keep = params.block_count();
                    let _ = self.timed(|| phc_verify(&hash, &params, password, keep));
                }
            }
            None => {
                // No dummy hash: hash the password instead, same cost.
                if let Ok(params) = self.argon.clone() {
                    let keep = params.block_count();
                    let mut out = [0u8; OUTPUT_BYTES];
                    let _ = self.timed(|| {
                        compute(
                            Algorithm::Argon2id,
                            Version::V0x13,
                            params,
                            password,
                            DUMMY_SALT,
                            &mut out,
                            keep,
                        )
                    });
                }
            }
        }
    }

    fn verify_stored(&self, password: &[u8], phc: &str) -> Verdict {
        let hash = match PasswordHash::new(phc) {
            Ok(h) => h,
            Err(e) => return self.unusable(password, &format!("unparsable: {e}")),
        };
        // Checked before argon2 parses the parameters: it computes `8 × p` in u32, which
        // overflows (and panics with overflow checks) for p above its own limit.
        let huge_p = hash.params.iter().any(|(name, value)| {
            name.as_str() == "p" && value.decimal().is_ok_and(|p| p > Params::MAX_P_COST)
        });
        if huge_p {
            return self.unusable(password, "parallelism above Argon2's limit");
        }
        let stored = match Params::try_from(&hash) {
            Ok(p) => p,
            Err(e) => return self.unusable(password, &format!("bad parameters: {e}")),
        };
        if let Some(why) = self.too_costly(&stored) {
            return self.unusable(password, why);
        }
        let keep = self.argon.as_ref().map_or(0, Params::block_count);
        match self.timed(|| phc_verify(&hash, &stored, password, keep)) {
            Ok(()) => Verdict::Valid {
                needs_rehash: self.needs_rehash(&hash, &stored),
            },
            Err(PhcError::Password) => Verdict::Invalid,
            Err(e) => {
                tracing::warn!(error = %e, "stored password hash is unusable");
                Verdict::Invalid
            }
        }
    }

    /// Logs an unusable stored hash and does the dummy work so the timing stays uniform.
    fn unusable(&self, password: &[u8], why: &str) -> Verdict {
        tracing::warn!(reason = why, "stored password hash is malformed");
        self.dummy_verify(password);
        Verdict::Invalid
    }

    fn too_costly(&self, stored: &Params) -> Option<&'static str> {
        let cur = &self.params;
        let limit = |current: u32, floor: u64| (u64::from(current) * STORED_COST_FACTOR).max(floor);
        if u64::from(stored.m_cost()) > limit(cur.memory_kib, STORED_MAX_MEMORY_FLOOR_KIB) {
            return Some("memory cost above the safety limit");
        }
        if u64::from(stored.t_cost()) > limit(cur.iterations, STORED_MAX_ITERATIONS_FLOOR) {
            return Some("iterations above the safety limit");
        }
        if u64::from(stored.p_cost()) > limit(cur.parallelism, STORED_MAX_PARALLELISM_FLOOR) {
            return Some("parallelism above the safety limit");
        }
        None
    }

    fn needs_rehash(&self, hash: &PasswordHash<'_>, stored: &Params) -> bool {
        let cur = &self.params;
        hash.algorithm != Algorithm::Argon2id.ident()
            || hash.version != Some(Version::V0x13.into())
            || stored.m_cost() != cur.memory_kib
            || stored.t_cost() != cur.iterations
            || stored.p_cost() != cur.parallelism
            || hash.hash.map(|o| o.len()) != Some(OUTPUT_BYTES)
    }
}

/// A slot in the pool (running or waiting); released on drop.
struct Admission(Arc<Inner>);

impl Admission {
    fn try_new(inner: &Arc<Inner>) -> Result<Self> {
        let limit = inner.workers.saturating_add(inner.queue);
        inner
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map_err(|_| Error::too_many_requests(inner.retry_after()))?;
        Ok(Self(Arc::clone(inner)))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A copy of the password for the worker thread, overwritten when dropped (best effort: safe
/// Rust cannot guarantee the compiler keeps the wipe, `black_box` discourages removing it).
struct Secret(Vec<u8>);

impl Secret {
    fn new(password: &str) -> Self {
        Self(password.as_bytes().to_vec())
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

thread_local! {
    /// This worker thread's Argon2 memory, reused by every computation on the thread. Without
    /// it each run allocates `m` KiB afresh, and glibc's adaptive mmap threshold keeps those
    /// freed blocks cached per arena, so a server's memory grew by `m` KiB per login.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Computes a raw Argon2 hash into `out` with this thread's reusable memory; memory grown for
/// an unusually costly stored hash is released again down to `keep_blocks`.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    keep_blocks: usize,
) -> argon2::Result<()> {
    let needed = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() < needed {
            blocks.resize(needed, argon2::Block::default());
        }
        let result =
            argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..needed]);
        if blocks.len() > keep_blocks.max(1) {
            blocks.truncate(keep_blocks.max(1));
            blocks.shrink_to_fit();
        }
        result
    })
}

/// A PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` made with the reusable memory.
fn phc_hash(
    params: &Params,
    password: &[u8],
    salt: &SaltString,
) -> std::result::Result<String, PhcError> {
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let mut out = [0u8; OUTPUT_BYTES];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password,
        salt_bytes,
        &mut out,
        params.block_count(),
    )?;
    let mut ps = argon2::password_hash::ParamsString::new();
    ps.add_decimal("m", params.m_cost())?;
    ps.add_decimal("t", params.t_cost())?;
    ps.add_decimal("p", params.p_cost())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ps,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// Verifies `password` against a parsed PHC hash (any Argon2 variant and version) with the
/// reusable memory; the comparison of outputs is constant-time (`Output`'s equality).
fn phc_verify(
    hash: &PasswordHash<'_>,
    stored: &Params,
    password: &[u8],
    keep_blocks: usize,
) -> std::result::Result<(), PhcError> {
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = Version::try_from(hash.version.unwrap_or(Version::V0x13.into()))?;
    let expected = hash.hash.ok_or(PhcError::Password)?;
    let salt = hash.salt.ok_or(PhcError::SaltInvalid(
        argon2::password_hash::errors::InvalidValue::Malformed,
    ))?;
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let mut out = vec![0u8; expected.len()];
    compute(
        algorithm,
        version,
        stored.clone(),
        password,
        salt_bytes,
        &mut out,
        keep_blocks,
    )?;
    if argon2::password_hash::Output::new(&out)? == expected {
        Ok(())
    } else {
        Err(PhcError::Password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    fn fast() -> Hasher {
        Hasher::new(PasswordParams::insecure_for_tests(), 2, 8)
    }

    #[test]
    fn defaults_are_owasp_minimum() {
        let p = PasswordParams::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19_456, 2, 1));
        assert!(p.validate().is_ok());
        assert!(PasswordParams::new(65_536, 3, 4).is_ok());
    }

    #[test]
    fn params_below_minimum_are_configuration_errors() {
        for (m, t, p) in [(19_455, 2, 1), (19_456, 1, 1), (19_456, 2, 0), (0, 0, 0)] {
            let e = PasswordParams::new(m, t, p).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ConfigurationError, "{m} {t} {p}");
        }
        // Argon2's own limits: memory must cover 8 KiB per lane, lanes ≤ 2^24-1.
        let e = PasswordParams::new(19_456, 2, 4_000).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ConfigurationError);
        let e = PasswordParams::new(u32::MAX, 2, u32::MAX).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ConfigurationError);
        // Must not reach argon2's `8 × p` overflow.
        for p in [0x100_0000, 0x2000_0000, u32::MAX] {
            let e = PasswordParams::new(u32::MAX, 2, p).unwrap_err();
            assert_eq!(e.code(), ErrorCode::ConfigurationError);
            let h = Hasher::new(
                PasswordParams {
                    memory_kib: u32::MAX,
                    iterations: 1,
                    parallelism: p,
                },
                1,
                1,
            );
            assert!(h.inner.argon.is_err());
        }
        let insecure = PasswordParams::insecure_for_tests();
        assert_eq!(
            insecure.validate().unwrap_err().code(),
            ErrorCode::ConfigurationError
        );
    }

    #[test]
    fn policy_counts_characters_not_bytes() {
        let p = PasswordPolicy::default();
        assert_eq!(p.min_length, 8);
        assert_eq!(p.max_bytes, MAX_PASSWORD_BYTES);
        assert!(!p.require_digit && !p.require_letter);
        assert!(p.check("abcdefgh").is_ok());
        assert!(p.check("        ").is_ok(), "spaces are allowed");
        // 7 characters but 14+ bytes: too short.
        let e = p.check("رمزعبور").unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
        assert!(
            e.detail().contains("at least 8 characters"),
            "{}",
            e.detail()
        );
        assert!(p.check("رمزعبورم").is_ok());
        assert!(p.check("🔑🔑🔑🔑🔑🔑🔑🔑").is_ok());
        assert!(p.check("").is_err());
    }

    #[test]
    fn policy_limits_and_composition() {
        let p = PasswordPolicy::default();
        assert!(p.check(&"a".repeat(MAX_PASSWORD_BYTES)).is_ok());
        let e = p.check(&"a".repeat(MAX_PASSWORD_BYTES + 1)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
        assert!(e.detail().contains("1024 bytes"));
        // A larger configured maximum is capped at MAX_PASSWORD_BYTES.
        let loose = PasswordPolicy {
            max_bytes: 1 << 20,
            ..PasswordPolicy::default()
        };
        assert!(loose.check(&"a".repeat(MAX_PASSWORD_BYTES + 1)).is_err());

        let strict = PasswordPolicy {
            min_length: 10,
            require_digit: true,
            require_letter: true,
            ..PasswordPolicy::default()
        };
        assert!(strict
            .check("abcdefghij")
            .unwrap_err()
            .detail()
            .contains("digit"));
        assert!(strict
            .check("0123456789")
            .unwrap_err()
            .detail()
            .contains("letter"));
        assert!(strict.check("abcde12345").is_ok());
        assert!(
            strict.check("گذرواژه۱۲۳").is_ok(),
            "unicode letters and digits count"
        );
        assert!(strict.check("abc123").unwrap_err().detail().contains("10"));
    }

    #[tokio::test]
    async fn hash_verify_round_trip() {
        let h = fast();
        let phc = h.hash("correct horse battery staple").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert_eq!(phc.split('$').count(), 6);
        let v = h
            .verify("correct horse battery staple", Some(&phc))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verdict::Valid {
                needs_rehash: false
            }
        );
        // Salts are random.
        assert_ne!(phc, h.hash("correct horse battery staple").await.unwrap());
    }

    #[tokio::test]
    async fn default_params_produce_owasp_hash() {
        let h = Hasher::new(PasswordParams::default(), 1, 1);
        let phc = h.hash("pw").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            h.verify("pw", Some(&phc)).await.unwrap(),
            Verdict::Valid {
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn wrong_password_is_invalid() {
        let h = fast();
        let phc = h.hash("secret-1").await.unwrap();
        assert_eq!(
            h.verify("secret-2", Some(&phc)).await.unwrap(),
            Verdict::Invalid
        );
        assert_eq!(h.verify("", Some(&phc)).await.unwrap(), Verdict::Invalid);
        assert_eq!(
            h.verify("Secret-1", Some(&phc)).await.unwrap(),
            Verdict::Invalid
        );
    }

    #[tokio::test]
    async fn unicode_password() {
        let h = fast();
        let pw = "пароль-密码-كلمة-🔐";
        let phc = h.hash(pw).await.unwrap();
        assert_eq!(
            h.verify(pw, Some(&phc)).await.unwrap(),
            Verdict::Valid {
                needs_rehash: false
            }
        );
        // Same text, other normalisation: a different byte string, so no match (no NFC here).
        let decomposed = "e\u{301}";
        let phc = h.hash("\u{e9}").await.unwrap();
        assert_eq!(
            h.verify(decomposed, Some(&phc)).await.unwrap(),
            Verdict::Invalid
        );
    }

    #[tokio::test]
    async fn too_long_password_is_rejected_before_hashing() {
        let h = fast();
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        let e = h.hash(&long).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
        let e = h.verify(&long, None).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
        assert_eq!(h.argon2_runs(), 0);
        // Exactly the limit is fine; multi-byte characters count in bytes.
        assert!(h.hash(&"x".repeat(MAX_PASSWORD_BYTES)).await.is_ok());
        let e = h.hash(&"é".repeat(513)).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError);
    }

    #[tokio::test]
    async fn needs_rehash_when_params_change() {
        let old = Hasher::new(PasswordParams::insecure_for_tests(), 1, 4);
        let phc = old.hash("pw").await.unwrap();
        for params in [
            PasswordParams {
                memory_kib: 128,
                ..PasswordParams::insecure_for_tests()
            },
            PasswordParams {
                iterations: 2,
                ..PasswordParams::insecure_for_tests()
            },
            PasswordParams {
                parallelism: 2,
                ..PasswordParams::insecure_for_tests()
            },
        ] {
            let new = Hasher::new(params, 1, 4);
            assert_eq!(
                new.verify("pw", Some(&phc)).await.unwrap(),
                Verdict::Valid { needs_rehash: true },
                "{params:?}"
            );
            assert_eq!(
                new.verify("nope", Some(&phc)).await.unwrap(),
                Verdict::Invalid
            );
            let fresh = new.hash("pw").await.unwrap();
            assert_eq!(
                new.verify("pw", Some(&fresh)).await.unwrap(),
                Verdict::Valid {
                    needs_rehash: false
                }
            );
        }
    }

    #[tokio::test]
    async fn needs_rehash_for_other_algorithm() {
        let params = PasswordParams::insecure_for_tests();
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            params.argon2_params().unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2i.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(phc.starts_with("$argon2i$"));
        let h = Hasher::new(params, 1, 1);
        assert_eq!(
            h.verify("pw", Some(&phc)).await.unwrap(),
            Verdict::Valid { needs_rehash: true }
        );
        let old_version = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x10,
            params.argon2_params().unwrap(),
        );
        let phc = old_version.hash_password(b"pw", &salt).unwrap().to_string();
        assert_eq!(
            h.verify("pw", Some(&phc)).await.unwrap(),
            Verdict::Valid { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_invalid() {
        let h = fast();
        let good = h.hash("pw").await.unwrap();
        let cases = [
            String::new(),
            "not a hash".into(),
            "$argon2id$".into(),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".into(),
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$".into(),
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            // Absurd cost (4 TiB): refused, never allocated.
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            "$argon2id$v=19$m=64,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            "$argon2id$v=19$m=64,t=1,p=4294967295$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            "$argon2id$v=19$m=64,t=1,p=536870912$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            "$argon2id$v=19$m=64,t=1,p=16777216$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            "$argon2id$v=19$m=64,t=1,p=1,p=536870912$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g"
                .into(),
            "$argon2id$v=19$m=64,t=1,p=99999999999$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
            good.replace("$argon2id$", "$argon2xx$"),
            good[..good.len() - 10].to_owned(),
            format!("{good}$extra"),
            "$".repeat(10_000),
            "é".repeat(50_000),
        ];
        for phc in &cases {
            assert_eq!(
                h.verify("pw", Some(phc)).await.unwrap(),
                Verdict::Invalid,
                "{}",
                phc.chars().take(80).collect::<String>()
            );
        }
    }

    #[tokio::test]
    async fn dummy_verify_runs_argon2_and_is_invalid() {
        let h = Hasher::new(PasswordParams::default(), 2, 4);
        let phc = h.hash("pw").await.unwrap();

        // The hook: each call runs exactly one Argon2 computation, known account or not.
        let before = h.argon2_runs();
        assert_eq!(h.verify("pw", None).await.unwrap(), Verdict::Invalid);
        assert_eq!(h.argon2_runs(), before + 1);
        assert_eq!(
            h.verify("pw", Some(&phc)).await.unwrap(),
            Verdict::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(h.argon2_runs(), before + 2);
        assert_eq!(
            h.verify("x", Some("garbage")).await.unwrap(),
            Verdict::Invalid
        );
        assert_eq!(h.argon2_runs(), before + 3);

        // The dummy hash uses the current parameters.
        let dummy = h.inner.dummy_hash().unwrap().to_owned();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{dummy}"
        );
        // Even its own password is refused.
        let dummy_pw = std::str::from_utf8(DUMMY_PASSWORD).unwrap();
        assert_eq!(h.verify(dummy_pw, None).await.unwrap(), Verdict::Invalid);

        // Coarse timing sanity check (the counter above is the real assertion).
        let t = Instant::now();
        for _ in 0..3 {
            h.verify("wrong", Some(&phc)).await.unwrap();
        }
        let real = t.elapsed();
        let t = Instant::now();
        for _ in 0..3 {
            h.verify("wrong", None).await.unwrap();
        }
        let dummy_time = t.elapsed();
        assert!(
            dummy_time * 4 >= real,
            "dummy {dummy_time:?} vs real {real:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saturation_answers_too_many_requests() {
        // Slow enough (~tens of ms per hash) that 8 simultaneous calls overlap.
        let slow = PasswordParams {
            memory_kib: 32 * 1024,
            iterations: 3,
            parallelism: 1,
        };
        let h = Hasher::new(slow, 1, 0);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..8 {
            let h = h.clone();
            set.spawn(async move { h.hash(&format!("password-{i}")).await });
        }
        let (mut ok, mut limited) = (0, 0);
        while let Some(res) = set.join_next().await {
            match res.unwrap() {
                Ok(phc) => {
                    assert!(phc.starts_with("$argon2id$"));
                    ok += 1;
                }
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::TooManyRequests);
                    assert_eq!(e.status(), 429);
                    assert!(e.retry_after().unwrap() >= 1);
                    limited += 1;
                }
            }
        }
        assert!(ok >= 1, "at least one hash ran");
        assert!(limited >= 1, "at least one call was refused");
        // Every slot was given back.
        assert_eq!(h.in_flight(), 0);
        assert!(h.hash("again").await.is_ok());
        assert_eq!(h.in_flight(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_bounds_waiting_and_cancellation_frees_slots() {
        let slow = PasswordParams {
            memory_kib: 32 * 1024,
            iterations: 4,
            parallelism: 1,
        };
        let h = Hasher::new(slow, 1, 1);
        // One runs, one waits: both admitted.
        let a = tokio::spawn({
            let h = h.clone();
            async move { h.hash("a").await }
        });
        let b = tokio::spawn({
            let h = h.clone();
            async move { h.hash("b").await }
        });
        // Wait until both are admitted.
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.in_flight() < 2 && Instant::now() < deadline && !a.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if h.in_flight() == 2 {
            let e = h.hash("c").await.unwrap_err();
            assert_eq!(e.code(), ErrorCode::TooManyRequests);
        }
        // Cancelling the waiting caller releases its slot.
        b.abort();
        let _ = b.await;
        assert!(a.await.unwrap().is_ok());
        let deadline = Instant::now() + Duration::from_secs(10);
        while h.in_flight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(h.in_flight(), 0);
    }

    #[test]
    fn retry_after_estimate() {
        let h = Hasher::new(PasswordParams::insecure_for_tests(), 2, 0);
        // Nothing measured: 1 s.
        assert_eq!(h.inner.retry_after(), 1);
        h.inner.record(Duration::from_millis(1500));
        h.inner.admitted.store(4, Ordering::Relaxed);
        // 1.5 s × 5 ahead / 2 workers = 3.75 s → 4.
        assert_eq!(h.inner.retry_after(), 4);
        h.inner.record(Duration::from_secs(10_000));
        assert_eq!(h.inner.retry_after(), MAX_RETRY_AFTER_SECS);
        h.inner.admitted.store(0, Ordering::Relaxed);
    }

    #[test]
    fn zero_workers_means_one() {
        let h = Hasher::new(PasswordParams::insecure_for_tests(), 0, 0);
        assert_eq!(h.inner.workers, 1);
        assert!(format!("{h:?}").contains("workers: 1"));
    }

    #[tokio::test]
    async fn unusable_params_fail_cleanly() {
        let h = Hasher::new(
            PasswordParams {
                memory_kib: 1,
                iterations: 0,
                parallelism: 0,
            },
            1,
            1,
        );
        assert_eq!(
            h.hash("pw").await.unwrap_err().code(),
            ErrorCode::ConfigurationError
        );
        assert_eq!(
            h.verify("pw", None).await.unwrap_err().code(),
            ErrorCode::ConfigurationError
        );
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let h = Hasher::new(PasswordParams::insecure_for_tests(), 1, 1);
        // A minimal executor that is not tokio.
        let fut = h.hash("pw");
        let res = block_on_without_tokio(fut);
        assert_eq!(res.unwrap_err().code(), ErrorCode::InternalError);
    }

    fn block_on_without_tokio<F: std::future::Future>(fut: F) -> F::Output {
        use std::task::{Context, Poll, Wake, Waker};
        struct Noop;
        impl Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
