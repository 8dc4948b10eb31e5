//! Test harness: the origin in process (the default) or as the real binary, real Redis, the
//! Data API stand-in and a real SMTP server, each waited for by a readiness check (never a
//! sleep).

#![allow(dead_code)]

pub mod edge;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use usso_origin::app::AppClock;
use usso_origin::config::{Cli, Config};

pub const SYSTEM_PASSWORD: &str = "system-password-for-tests";

/// An origin under test: in this process by default ([`Server::start`]: the real
/// `app::run::serve` over a temporary data directory, on its own runtime and thread, with an
/// injectable clock), or the real binary as a child process where the process is the point
/// ([`Server::process`]: signals, SIGKILL, file-descriptor limits, its log output).
pub struct Server {
    pub base: String,
    pub port: u16,
    pub data: PathBuf,
    run: Run,
}

enum Run {
    Process {
        child: Child,
        stderr: std::sync::Arc<std::sync::Mutex<String>>,
    },
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<Result<(), String>>>,
        clock: AppClock,
    },
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "usso-{tag}-{}-{}",
        std::process::id(),
        usso_shared::random::hex_id().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_usso-origin"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    c
}

/// With `USSO_TEST_DOCSTORE=dataapi`, every origin these tests start (and every admin command)
/// uses MongoDB through the Data API STAND-IN instead of SQLite: one stand-in per test process,
/// one database per data directory (so a restart on the same directory finds its data). This is
/// how scripts/test.sh runs the whole HTTP suite on the Data API backend too.
pub fn docstore_env(data: &std::path::Path, envs: &[(&str, &str)]) -> Vec<(String, String)> {
    static STANDIN: std::sync::OnceLock<DataApiStandin> = std::sync::OnceLock::new();
    let wanted = std::env::var("USSO_TEST_DOCSTORE").is_ok_and(|v| v == "dataapi");
    if !wanted || envs.iter().any(|(k, _)| k.starts_with("USSO_MONGO_")) {
        return Vec::new();
    }
    let standin = STANDIN.get_or_init(DataApiStandin::start);
    let name: String = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let database = format!("t{}", &name[name.len().saturating_sub(40)..]);
    vec![
        ("USSO_MONGO_DATA_API_URL".into(), standin.url.clone()),
        ("USSO_MONGO_DATA_API_KEY".into(), standin.api_key.clone()),
        ("USSO_MONGO_DATABASE".into(), database),
    ]
}

/// Runs an admin command against a data directory; returns stdout.
pub fn admin(data: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut c = bin();
    c.env("USSO_DATA_DIR", data).args(args);
    for (k, v) in docstore_env(data, envs) {
        c.env(k, v);
    }
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "usso-origin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The origin's settings from environment-style pairs, as the binary would read them, but
/// through its command-line flags (each setting's flag found from its `env` name in the clap
/// definition), so that nothing depends on this process's own environment.
pub fn config_from(envs: &[(String, String)]) -> Config {
    let cmd = Cli::command();
    let settings: Vec<_> = cmd
        .get_arguments()
        .filter(|a| a.get_env().is_some())
        .collect();
    for (k, _) in std::env::vars_os() {
        assert!(
            !settings.iter().any(|a| a.get_env() == Some(k.as_os_str())),
            "{k:?} is set in the test environment: the in-process origin would read it; unset it"
        );
    }
    let mut args = vec!["usso-origin".to_owned()];
    for (k, v) in envs {
        if k == "RUST_LOG" {
            continue;
        }
        let arg = settings
            .iter()
            .find(|a| a.get_env() == Some(std::ffi::OsStr::new(k)))
            .unwrap_or_else(|| panic!("{k} is not a setting of usso-origin"));
        let long = arg.get_long().unwrap();
        match arg.get_action() {
            clap::ArgAction::SetTrue => {
                if matches!(v.as_str(), "1" | "true" | "yes" | "on") {
                    args.push(format!("--{long}"));
                }
            }
            _ => args.push(format!("--{long}={v}")),
        }
    }
    Cli::try_parse_from(&args)
        .unwrap_or_else(|e| panic!("bad settings {args:?}: {e}"))
        .config
}

impl Server {
    /// An in-process origin on the system clock.
    pub fn start(data: &Path, port: u16, envs: &[(&str, &str)]) -> Server {
        Self::start_with(data, port, envs, Some(SYSTEM_PASSWORD))
    }

    /// An in-process origin with or without `SYSTEM_PASSWORD`.
    pub fn start_with(
        data: &Path,
        port: u16,
        envs: &[(&str, &str)],
        system_password: Option<&str>,
    ) -> Server {
        Self::in_process(data, port, envs, system_password, AppClock::System)
    }

    /// An in-process origin whose clock moves only by [`Server::advance`]; it starts `offset`
    /// seconds from now.
    pub fn start_manual_clock(
        data: &Path,
        port: u16,
        envs: &[(&str, &str)],
        offset: i64,
    ) -> Server {
        let now = usso_shared::clock::Clock::now(&usso_shared::clock::SystemClock);
        Self::in_process(
            data,
            port,
            envs,
            Some(SYSTEM_PASSWORD),
            AppClock::manual(now + offset),
        )
    }

    fn in_process(
        data: &Path,
        port: u16,
        envs: &[(&str, &str)],
        system_password: Option<&str>,
        clock: AppClock,
    ) -> Server {
        let mut pairs = vec![
            ("USSO_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            ("USSO_DATA_DIR".to_owned(), data.display().to_string()),
        ];
        if let Some(pw) = system_password {
            pairs.push(("SYSTEM_PASSWORD".into(), pw.into()));
        }
        pairs.extend(docstore_env(data, envs));
        pairs.extend(envs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let cfg = config_from(&pairs);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let server_clock = clock.clone();
        // Its own runtime and thread: the origin keeps serving while a test blocks its own.
        let thread = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let listener = match usso_origin::app::run::bind(&cfg).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.detail().to_owned()));
                        return Err(e.detail().to_owned());
                    }
                };
                let addr = listener.local_addr().map_err(|e| e.to_string())?;
                let _ = ready_tx.send(Ok(addr));
                usso_origin::app::run::serve(cfg, listener, server_clock, async {
                    let _ = stop_rx.await;
                })
                .await
                .map_err(|e| e.detail().to_owned())
            })
        });
        let addr = match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => panic!("the origin cannot listen: {e}"),
            Err(_) => panic!("the origin did not bind: {:?}", thread.join()),
        };
        let base = format!("http://{addr}");
        // `serve` binds before it opens the stores: ready once it answers.
        wait_ready(&base, || thread.is_finished());
        if thread.is_finished() {
            panic!("the origin stopped: {:?}", thread.join());
        }
        Server {
            base,
            port: addr.port(),
            data: data.to_path_buf(),
            run: Run::InProcess {
                stop: Some(stop_tx),
                thread: Some(thread),
                clock,
            },
        }
    }

    /// The real binary as a child process (signals, crashes, limits, its logs).
    pub fn process(data: &Path, port: u16, envs: &[(&str, &str)]) -> Server {
        Self::process_with(data, port, envs, Some(SYSTEM_PASSWORD))
    }

    /// The real binary, with or without `SYSTEM_PASSWORD`.
    pub fn process_with(
        data: &Path,
        port: u16,
        envs: &[(&str, &str)],
        system_password: Option<&str>,
    ) -> Server {
        Self::start_command(bin(), data, port, envs, system_password)
    }

    /// The real binary with a file-descriptor limit of `nofile` (through util-linux's
    /// `prlimit`), as a small server would run.
    pub fn process_with_nofile(
        data: &Path,
        port: u16,
        envs: &[(&str, &str)],
        nofile: u32,
    ) -> Server {
        let mut c = Command::new("prlimit");
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_usso-origin"));
        Self::start_command(c, data, port, envs, Some(SYSTEM_PASSWORD))
    }

    fn start_command(
        mut c: Command,
        data: &Path,
        port: u16,
        envs: &[(&str, &str)],
        system_password: Option<&str>,
    ) -> Server {
        if let Some(pw) = system_password {
            c.env("SYSTEM_PASSWORD", pw);
        }
        c.env("USSO_LISTEN", format!("127.0.0.1:{port}"))
            .env("USSO_DATA_DIR", data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in docstore_env(data, envs) {
            c.env(k, v);
        }
        for (k, v) in envs {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("start usso-origin");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("usso-origin listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("usso-origin did not become ready: {}", log.lock().unwrap());
            }
        };
        let port = base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(port);
        Server {
            base,
            port,
            data: data.to_path_buf(),
            run: Run::Process { child, stderr: log },
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The in-process origin's clock.
    pub fn clock(&self) -> &AppClock {
        match &self.run {
            Run::InProcess { clock, .. } => clock,
            Run::Process { .. } => panic!("a process origin runs on the system clock"),
        }
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, secs: i64) {
        let clock = self.clock();
        assert!(
            matches!(clock, AppClock::Manual(_)),
            "start the origin with Server::start_manual_clock"
        );
        clock.advance(secs);
    }

    /// A process origin's process id.
    pub fn pid(&self) -> u32 {
        match &self.run {
            Run::Process { child, .. } => child.id(),
            Run::InProcess { .. } => panic!("start the origin with Server::process"),
        }
    }

    /// A process origin's child.
    pub fn child(&mut self) -> &mut Child {
        match &mut self.run {
            Run::Process { child, .. } => child,
            Run::InProcess { .. } => panic!("start the origin with Server::process"),
        }
    }

    /// Stops cleanly (SIGTERM for a process; the stop signal in process), and checks that it
    /// exited without an error.
    pub fn stop(mut self) {
        if let Run::Process { child, .. } = &mut self.run {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .unwrap();
            assert!(status.success());
        }
        self.wait_stopped();
    }

    /// Waits for a server already told to stop: it must exit cleanly.
    pub fn stop_after_signal(mut self) {
        self.wait_stopped();
    }

    fn wait_stopped(&mut self) {
        match &mut self.run {
            Run::Process { child, stderr } => {
                let exit = child.wait().unwrap();
                assert!(
                    exit.success(),
                    "usso-origin exited with {exit}: {}",
                    stderr.lock().unwrap()
                );
            }
            Run::InProcess { stop, thread, .. } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let served = thread.join().expect("the origin's thread panicked");
                    assert!(served.is_ok(), "the origin stopped with {served:?}");
                }
            }
        }
    }

    /// What a process origin wrote to stderr.
    pub fn logs(&self) -> String {
        match &self.run {
            Run::Process { stderr, .. } => stderr.lock().unwrap().clone(),
            Run::InProcess { .. } => {
                panic!("start the origin with Server::process to read its logs")
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.run {
            Run::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Run::InProcess { stop, thread, .. } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// Polls `GET /health` until it answers (readiness, not a sleep), or `gave_up` says the server
/// is gone.
fn wait_ready(base: &str, gave_up: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let addr = base.trim_start_matches("http://").to_owned();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::Write as _;
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let req = format!(
                "GET {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n",
                usso_shared::paths::HEALTH
            );
            let mut head = [0u8; 12];
            if s.write_all(req.as_bytes()).is_ok()
                && s.read_exact(&mut head).is_ok()
                && head.starts_with(b"HTTP/1.1 ")
            {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline && !gave_up(),
            "the origin at {base} did not become ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A real `redis-server` (Debian package) on a free port: without persistence, or (with a data
/// directory) with an append-only file fsynced before every reply, so that it can be killed and
/// restarted without losing an acknowledged write.
pub struct RedisServer {
    pub child: Child,
    pub port: u16,
    dir: Option<PathBuf>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::spawn(free_port(), None)
    }

    /// A durable server whose data lives in `dir`.
    pub fn start_durable(dir: &std::path::Path) -> RedisServer {
        Self::spawn(free_port(), Some(dir.to_path_buf()))
    }

    fn spawn(port: u16, dir: Option<PathBuf>) -> RedisServer {
        let mut c = Command::new("redis-server");
        c.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        match &dir {
            Some(d) => c
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(d),
            None => c.args(["--appendonly", "no"]),
        };
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (scripts/test.sh installs Debian's redis-server)",
            );
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            panic!("redis-server did not become ready");
        }
        RedisServer { child, port, dir }
    }

    /// SIGKILL: a crash, not a shutdown.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port (and data directory).
    pub fn restart(&mut self) {
        // The old (dead) process is reaped by its drop.
        *self = Self::spawn(self.port, self.dir.clone());
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The MongoDB Data API STAND-IN (`tests/data_api/standin.py`, Python standard library): MongoDB
/// cannot be installed on these machines, so the Data API backend's tests run against this
/// implementation of the documented request and response formats, and against a real endpoint
/// too when `USSO_TEST_MONGO_DATA_API_URL` is set (see docs/mongodb.md).
pub struct DataApiStandin {
    pub child: Child,
    pub url: String,
    pub api_key: String,
}

impl DataApiStandin {
    pub fn start() -> DataApiStandin {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data_api/standin.py");
        let api_key = format!("standin-key-{}", usso_shared::random::hex_id().unwrap());
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--api-key", &api_key, "--exit-with-parent"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("data-api-standin listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("the Data API stand-in did not become ready");
            }
        };
        DataApiStandin {
            child,
            url,
            api_key,
        }
    }

    /// Environment that makes the origin use it.
    pub fn origin_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("USSO_MONGO_DATA_API_URL", self.url.clone()),
            ("USSO_MONGO_DATA_API_KEY", self.api_key.clone()),
        ]
    }

    /// Asks it to fail, delay or garble the next requests (its test-only fault endpoint).
    pub async fn fault(&self, fault: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__standin/fault", self.url))
            .header("apiKey", &self.api_key)
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "fault injection refused");
    }
}

impl Drop for DataApiStandin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real SMTP server (`tests/smtp/capture.py` on PyPI `aiosmtpd`, in `tests/.venv`) that
/// stores each accepted message as `DIR/<n>.eml` before answering 250; killed on drop.
pub struct SmtpCapture {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpCapture {
    pub fn start(auth: Option<(&str, &str)>) -> SmtpCapture {
        Self::start_on(0, auth)
    }

    /// Starts on a given port (0: any free one).
    pub fn start_on(port: u16, auth: Option<(&str, &str)>) -> SmtpCapture {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join("tests/.venv/bin/python");
        let script = root.join("tests/smtp/capture.py");
        assert!(
            python.exists(),
            "{} is missing: run scripts/install-test-deps.sh (it creates tests/.venv and \
             installs aiosmtpd there)",
            python.display()
        );
        let dir = temp_dir("smtp-capture");
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((user, password)) = auth {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("smtp-capture listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => {
                let port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("bad readiness line address {addr:?}"));
                SmtpCapture { child, port, dir }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let err = stderr_reader.join().unwrap_or_default();
                panic!(
                    "tests/smtp/capture.py did not become ready (is aiosmtpd installed in \
                     tests/.venv? run scripts/install-test-deps.sh):\n{err}"
                );
            }
        }
    }

    /// The raw message n (1-based), which the server wrote before answering 250.
    pub fn message(&self, n: usize) -> String {
        let path = self.dir.join(format!("{n}.eml"));
        String::from_utf8(
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap()
    }

    /// The envelope of message n.
    pub fn envelope(&self, n: usize) -> serde_json::Value {
        let path = self.dir.join(format!("{n}.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "eml")
            })
            .count()
    }

    pub fn settings(&self, auth: Option<(&str, &str)>) -> usso_origin::delivery::SmtpSettings {
        usso_origin::delivery::SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            security: usso_origin::delivery::Security::None,
            username: auth.map(|a| a.0.to_owned()),
            password: auth.map(|a| a.1.to_owned()),
            from: "Acme <no-reply@acme.test>".into(),
            timeout_secs: 10,
        }
    }
}

impl Drop for SmtpCapture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The development mailer's messages to `to`, oldest first, as written to
/// `<data dir>/dev-outbox.jsonl` (none yet: empty).
pub fn dev_messages(data: &Path, to: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("dev-outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["to"] == to)
        .collect()
}

/// The `n`th (1-based) six-digit code the development mailer wrote for `to` (emails carry it in
/// `text`, text messages in `body`), once it is there.
pub async fn nth_dev_code(data: &Path, to: &str, n: usize) -> String {
    eventually_within(
        "the development mailer",
        std::time::Duration::from_secs(30),
        || {
            dev_messages(data, to)
                .iter()
                .filter_map(|m| digits_in(m["text"].as_str().or(m["body"].as_str())?, 6))
                .nth(n - 1)
        },
    )
    .await
}

/// The `kid` in a JWT's header.
pub fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&usso_shared::encoding::b64url_decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// The single-use token of a link in a message's text (`…?token=…`; magic links, and
/// invitations' `<id>.<secret>`).
pub fn token_in(text: &str) -> Option<String> {
    let start = text.find("token=")? + 6;
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect(),
    )
}

/// The first run of exactly `len` digits in `text` (a one-time code).
pub fn digits_in(text: &str, len: usize) -> Option<String> {
    let b = text.as_bytes();
    (0..(b.len() + 1).saturating_sub(len)).find_map(|i| {
        let run = &b[i..i + len];
        let bounded = (i == 0 || !b[i - 1].is_ascii_digit())
            && b.get(i + len).is_none_or(|c| !c.is_ascii_digit());
        (bounded && run.iter().all(u8::is_ascii_digit))
            .then(|| String::from_utf8_lossy(run).into_owned())
    })
}

/// A call's answer: the status and the JSON body (`null` when the body is not JSON).
pub type Reply = (reqwest::StatusCode, serde_json::Value);

/// `POST url` with a JSON body.
pub async fn post(c: &reqwest::Client, url: String, body: &serde_json::Value) -> Reply {
    send(c.post(url).json(body)).await
}

/// `POST url` with a JSON body for a tenant (`x-tenant-id`).
pub async fn post_as(
    c: &reqwest::Client,
    url: String,
    tenant: &str,
    body: &serde_json::Value,
) -> Reply {
    send(c.post(url).header("x-tenant-id", tenant).json(body)).await
}

/// `GET url` for a tenant with a bearer token.
pub async fn get_as(c: &reqwest::Client, url: String, tenant: &str, bearer: &str) -> Reply {
    send(c.get(url).header("x-tenant-id", tenant).bearer_auth(bearer)).await
}

/// A reply's status and `error_code` (empty when it has none).
pub fn code(r: &Reply) -> (u16, String) {
    (
        r.0.as_u16(),
        r.1["error_code"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A token's claims (read, not verified: the server verified it when it issued it).
pub fn claims_of(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&usso_shared::encoding::b64url_decode(part).unwrap()).unwrap()
}

/// Sends a request and reads its [`Reply`].
pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Polls `f` until it gives a value (work done in the background, such as delivery), at most
/// `limit`.
pub async fn eventually_within<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How a test request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// Nothing.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// Another header (`x-api-key`, …).
    Header(&'a str, &'a str),
}

/// A JSON request to `/api/sso/v1<path>` for `tenant`.
pub async fn api(
    c: &reqwest::Client,
    s: &Server,
    method: &str,
    path: &str,
    tenant: &str,
    auth: Auth<'_>,
    body: Option<&serde_json::Value>,
) -> Reply {
    let mut req = c
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            s.url(&format!("/api/sso/v1{path}")),
        )
        .header("x-tenant-id", tenant);
    req = match auth {
        Auth::None => req,
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Header(name, value) => req.header(name, value),
    };
    if let Some(b) = body {
        req = req.json(b);
    }
    send(req).await
}

/// Runs `tests/interop/<script>` with the official SDKs installed in `tests/.venv` and the
/// given arguments, and reads the one JSON line it prints.
pub fn python_interop(script: &str, args: &[&str]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join("tests/.venv/bin/python"))
        .arg(root.join("tests/interop").join(script))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("tests/.venv/bin/python (scripts/install-test-deps.sh installs the SDKs)");
    assert!(
        out.status.success(),
        "{script} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The tenant administrator [`server_with_admin`] creates (role `admin` of `org_default`).
pub const ADMIN_EMAIL: &str = "boss@example.com";
/// Their password.
pub const ADMIN_PASSWORD: &str = "a long password 1";

/// A fresh data directory with [`ADMIN_EMAIL`] made a tenant administrator by the CLI, and the
/// server started on it.
pub fn server_with_admin(tag: &str) -> (PathBuf, Server) {
    let data = temp_dir(tag);
    Server::start(&data, free_port(), &[]).stop();
    admin(
        &data,
        &["user", "create", ADMIN_EMAIL, "--role", "admin"],
        &[("USSO_NEW_PASSWORD", ADMIN_PASSWORD)],
    );
    let s = Server::start(&data, free_port(), &[]);
    (data, s)
}

/// Signs in to `org_default` with a password or registers (`path`): the answer.
pub async fn password_sign_in(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
    who: &str,
    secret: &str,
) -> Reply {
    let body = serde_json::json!({"identifier": who, "secret": secret});
    api(c, s, "POST", path, "org_default", Auth::None, Some(&body)).await
}

/// The `Set-Cookie` line of a response that sets cookie `name` (the whole line, attributes
/// included).
pub fn set_cookie<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.split_once('=').is_some_and(|(n, _)| n == name))
}

/// The `name=value` pair of a `Set-Cookie` line, as a `Cookie` header sends it back.
pub fn cookie_pair(line: &str) -> String {
    line.split(';').next().unwrap_or_default().to_owned()
}

/// The hosted pages' form token and the `usso-csrf=…` cookie it belongs to, read from the page
/// at `url` (a GET) for the tenant of `host` (a host name, or `x-tenant-id:<id>`).
pub async fn form_token(c: &reqwest::Client, url: &str, host: &str) -> (String, String) {
    let rq = match host.strip_prefix("x-tenant-id:") {
        Some(id) => c.get(url).header("x-tenant-id", id),
        None => c.get(url).header("host", host),
    };
    let r = rq.send().await.unwrap();
    let cookie = cookie_pair(
        set_cookie(r.headers(), "usso-csrf").expect("a page sets the form token's cookie"),
    );
    let body = r.text().await.unwrap();
    let token = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the form carries the token")
        .to_owned();
    (cookie, token)
}
