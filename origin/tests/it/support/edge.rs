//! The edge deployments in their real runtimes: the Workers build in `workerd` (npm
//! `@cloudflare/workerd-linux-64`, the runtime `wrangler dev` runs) and the Spin component under
//! `wasmtime serve` (WASI HTTP). Both are built here from the workspace (incremental, so cheap
//! when nothing changed); a missing tool fails the test with a message, it never skips it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{free_port, temp_dir};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin").join(name)
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start ({e}); run scripts/test.sh first"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Held while something reads or rewrites `edge/workers/build` (workerd copies it, `wrangler
/// dev` rebuilds it).
pub static WORKER_BUILD_DIR: Mutex<()> = Mutex::new(());

/// Builds the Workers adapter with `worker-build --profile worker --no-opt` (once per test process)
/// and returns its output directory (`edge/workers/build`, entry module `index.js`).
pub fn build_worker() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = root().join("edge/workers");
            let worker_build = cargo_bin("worker-build");
            assert!(
                worker_build.exists(),
                "worker-build is not installed: run scripts/test.sh"
            );
            run(
                Command::new(worker_build)
                    .current_dir(&dir)
                    .args(["--profile", "worker", "--no-opt"])
                    .env("WASM_BINDGEN_BIN", cargo_bin("wasm-bindgen")),
                "worker-build",
            );
            dir.join("build")
        })
        .clone()
}

/// Builds the Spin component for `wasm32-wasip2` (once per test process) and returns the
/// `.wasm` file.
pub fn build_spin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            run(
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .current_dir(root())
                    .args([
                        "build",
                        "-p",
                        "usso-edge-spin",
                        "--target",
                        "wasm32-wasip2",
                        "--profile",
                        "spin",
                    ]),
                "cargo build -p usso-edge-spin",
            );
            target_dir().join("wasm32-wasip2/spin/usso_edge_spin.wasm")
        })
        .clone()
}

/// A running edge runtime process.
pub struct EdgeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
    _dir: Option<PathBuf>,
}

impl EdgeProcess {
    fn spawn(mut cmd: Command, port: u16, what: &str, dir: Option<PathBuf>) -> EdgeProcess {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({e}); run scripts/test.sh first"));
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        let mut process = EdgeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        process.wait_ready(what);
        process
    }

    /// Polls until the runtime answers HTTP (any status) on its port.
    fn wait_ready(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = self.base.trim_start_matches("http://").to_owned();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{what} exited ({status}):\n{}", self.log());
            }
            if http_answers(&addr) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{what} did not answer within 60 s:\n{}", self.log());
    }

    /// Everything the runtime printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Whether an HTTP GET to `addr` gets a status line back.
fn http_answers(addr: &str) -> bool {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /readiness-probe HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.1 ")
}

fn capnp_string(s: &str) -> String {
    format!("{s:?}")
}

/// Runs the Workers build in `workerd serve` with `vars` as text bindings (secrets are text
/// bindings too) and outbound network to loopback allowed.
pub fn workerd(vars: &[(&str, &str)]) -> EdgeProcess {
    workerd_with(vars, true)
}

/// [`workerd`], with or without the `nodejs_compat` flag (without it the Worker checks Ed25519
/// with WebCrypto instead of `node:crypto`).
pub fn workerd_with(vars: &[(&str, &str)], nodejs_compat: bool) -> EdgeProcess {
    let build = build_worker();
    let bin = root().join("tests/node_modules/@cloudflare/workerd-linux-64/bin/workerd");
    assert!(bin.exists(), "npm workerd is missing: run scripts/test.sh");
    let port = free_port();
    let dir = temp_dir("workerd");
    let _build_dir = WORKER_BUILD_DIR.lock().unwrap_or_else(|e| e.into_inner());
    // capnp `embed` paths are relative to the config file: copy the modules next to it.
    let mut names: Vec<String> = std::fs::read_dir(&build)
        .unwrap()
        .map_while(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".js") || n.ends_with(".wasm"))
        .collect();
    // The entry module comes first.
    names.sort_by_key(|n| (n != "index.js", n.clone()));
    assert!(
        names.first().is_some_and(|n| n == "index.js"),
        "no index.js in {}",
        build.display()
    );
    let mut modules = Vec::new();
    for name in names {
        std::fs::copy(build.join(&name), dir.join(&name)).unwrap();
        let kind = if name.ends_with(".wasm") {
            "wasm"
        } else {
            "esModule"
        };
        modules.push(format!(
            "(name = {}, {kind} = embed {})",
            capnp_string(&name),
            capnp_string(&name)
        ));
    }
    let bindings: Vec<String> = vars
        .iter()
        .map(|(k, v)| format!("(name = {}, text = {})", capnp_string(k), capnp_string(v)))
        .collect();
    let config = format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edge),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
);
const edge :Workerd.Worker = (
  modules = [{modules}],
  compatibilityDate = "2026-04-01",
  compatibilityFlags = [{flags}],
  bindings = [{bindings}],
  globalOutbound = "net",
);
"#,
        modules = modules.join(", "),
        bindings = bindings.join(", "),
        flags = if nodejs_compat {
            "\"nodejs_compat\""
        } else {
            ""
        },
    );
    drop(_build_dir);
    let file = dir.join("edge.capnp");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("serve").arg(&file);
    EdgeProcess::spawn(cmd, port, "workerd", Some(dir))
}

/// The `spin.toml` component: its `source` and `environment`.
pub fn spin_manifest() -> (PathBuf, Vec<(String, String)>) {
    let text = std::fs::read_to_string(root().join("spin.toml")).expect("spin.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("spin.toml parses");
    let component = &manifest["component"]["usso-edge"];
    let source = root().join(component["source"].as_str().expect("component source"));
    let env = component
        .get("environment")
        .and_then(|e| e.as_table())
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    (source, env)
}

/// Runs the Spin component under `wasmtime serve` as `spin.toml` describes it (its `source`,
/// its `environment`), with `vars` set on top (as `spin up -e` would).
pub fn wasmtime_serve(vars: &[(&str, &str)]) -> EdgeProcess {
    let built = build_spin();
    let (source, mut env) = spin_manifest();
    assert_eq!(
        std::fs::canonicalize(&source).ok(),
        std::fs::canonicalize(&built).ok(),
        "spin.toml's source must be the component cargo builds"
    );
    for (k, v) in vars {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    let bin = root().join("tests/.venv/bin/wasmtime");
    assert!(bin.exists(), "wasmtime is missing: run scripts/test.sh");
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "-S", "cli", "--addr", &format!("127.0.0.1:{port}")]);
    for (k, v) in &env {
        cmd.args(["--env", &format!("{k}={v}")]);
    }
    cmd.arg(source);
    EdgeProcess::spawn(cmd, port, "wasmtime serve", None)
}

/// `wrangler dev` (npm `wrangler`) running `wrangler.toml` as a user would: it runs the
/// `[build]` command, then serves the Worker in workerd.
pub struct WranglerDev {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
}

impl WranglerDev {
    /// Starts `wrangler dev` with `vars` passed as `--var NAME:VALUE`; waits for "Ready on".
    pub fn start(vars: &[(&str, &str)]) -> WranglerDev {
        use std::os::unix::process::CommandExt;
        build_worker();
        let _build_dir = WORKER_BUILD_DIR.lock().unwrap_or_else(|e| e.into_inner());
        let bin = root().join("tests/node_modules/.bin/wrangler");
        assert!(bin.exists(), "npm wrangler is missing: run scripts/test.sh");
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.current_dir(root())
            .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .arg("--show-interactive-dev-session=false");
        for (k, v) in vars {
            cmd.args(["--var", &format!("{k}:{v}")]);
        }
        let mut child = cmd
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_HIDE_BANNER", "true")
            .env("USSO_WORKER_BUILD_FLAGS", "--no-opt")
            .env("WASM_BINDGEN_BIN", cargo_bin("wasm-bindgen"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: wrangler is a tree (node, esbuild, workerd).
            .process_group(0)
            .spawn()
            .expect("start wrangler dev");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("Ready on") {
                        let _ = tx.send(());
                    }
                    log.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        let dev = WranglerDev {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        if rx.recv_timeout(Duration::from_secs(300)).is_err() {
            panic!(
                "wrangler dev did not become ready:\n{}",
                dev.log.lock().unwrap()
            );
        }
        dev
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for WranglerDev {
    fn drop(&mut self) {
        // The whole group at once, and a bounded wait: never hang the test run.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
