//! The processes a run drives: the Klaviyo stub and the dev server, both on 127.0.0.1, both
//! started and stopped by this tool (by their own PIDs).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Stub {
    pub child: Child,
    pub base_url: String,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Stub {
    /// `klaviyo-stub --port 0 --latency-ms L --accept-any-key`; stops at stdin EOF.
    pub fn spawn(bin_dir: &Path, latency_ms: u64) -> Result<Stub, String> {
        Stub::spawn_with(bin_dir, latency_ms, &[])
    }

    /// [`Stub::spawn`] with more of the stub's flags (`--rate-limits klaviyo`, …).
    pub fn spawn_with(bin_dir: &Path, latency_ms: u64, extra: &[&str]) -> Result<Stub, String> {
        let bin = bin_dir.join("klaviyo-stub");
        let mut child = Command::new(&bin)
            .args([
                "--port",
                "0",
                "--latency-ms",
                &latency_ms.to_string(),
                "--accept-any-key",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (run infra/scripts/load.sh, which builds it)",
                    bin.display()
                )
            })?;
        let stdout = child.stdout.take().ok_or("stub stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "the stub did not say where it listens".to_string())?;
        let base_url = first
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected stub output: {first}"))?
            .trim()
            .to_string();
        let stdin = child.stdin.take();
        Ok(Stub {
            child,
            base_url,
            stdin,
            lines,
        })
    }

    /// Closes the stub's stdin and reads the JSON summary it prints on the way out.
    pub fn finish(mut self) -> Result<Value, String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut summary = None;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&line) {
                        summary = Some(v);
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if summary.is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        summary.ok_or_else(|| "the stub printed no summary".to_string())
    }
}

pub struct DevServer {
    pub child: Child,
    pub base_url: String,
    pub log_path: PathBuf,
}

impl DevServer {
    pub fn spawn(
        bin_dir: &Path,
        port: u16,
        env: &[(String, String)],
        log_path: PathBuf,
    ) -> Result<DevServer, String> {
        let bin = bin_dir.join("dev-server");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&bin);
        cmd.env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {}: {e} (run infra/scripts/load.sh, which builds it)",
                bin.display()
            )
        })?;
        Ok(DevServer {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log_path,
        })
    }

    /// Peak resident set (VmHWM) so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmHWM:")
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
