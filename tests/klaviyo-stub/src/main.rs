//! `klaviyo-stub` for load runs:
//! `cargo run -p klaviyo-stub -- --port 0 --latency-ms 20 --accept-any-key`
//! prints `listening on http://127.0.0.1:PORT`; on SIGINT, SIGTERM or stdin EOF it prints a
//! one-line JSON summary and exits (status 1 if any violation was seen).
//! `--rate-limits klaviyo` (or `KLAVIYO_STUB_RATE_LIMITS=klaviyo`) enforces Klaviyo's
//! per-account limits; `--landings FILE` writes when each distinct event first landed.

use std::path::PathBuf;
use std::time::Duration;

use klaviyo_stub::{KlaviyoStub, RateLimitMode};

const USAGE: &str = "usage: klaviyo-stub [--port N] [--latency-ms N] [--accept-any-key] \
[--record] [--ignore-stdin] [--rate-limits off|klaviyo] [--landings FILE]
  --port N          port on 127.0.0.1 (0 = ephemeral, the default)
  --latency-ms N    added to every answer
  --accept-any-key  every `pk_…` key is valid
  --record          keep the full request log (default: counters only, flat memory)
  --ignore-stdin    do not stop at stdin EOF (for `&` in scripts; stop with SIGINT/SIGTERM)
  --rate-limits M   off (default) or klaviyo: each account's burst (1 s) and steady (1 min)
                    limits per endpoint from the spec (events 350/s, 3500/m), 429 + Retry-After;
                    default from KLAVIYO_STUB_RATE_LIMITS
  --landings FILE   at exit, write one JSON line per distinct event: metric, unique_id,
                    first_unix_ms (first accepted), duplicates (copies dropped after it)";

struct Args {
    port: u16,
    latency: Duration,
    accept_any_key: bool,
    record: bool,
    ignore_stdin: bool,
    rate_limits: RateLimitMode,
    landings: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        latency: Duration::ZERO,
        accept_any_key: false,
        record: false,
        ignore_stdin: false,
        rate_limits: match std::env::var("KLAVIYO_STUB_RATE_LIMITS") {
            Ok(v) => RateLimitMode::parse(&v)
                .ok_or_else(|| format!("KLAVIYO_STUB_RATE_LIMITS={v}: use off or klaviyo"))?,
            Err(_) => RateLimitMode::Off,
        },
        landings: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => args.port = number(it.next(), "--port")?,
            "--latency-ms" => {
                args.latency = Duration::from_millis(number(it.next(), "--latency-ms")?)
            }
            "--accept-any-key" => args.accept_any_key = true,
            "--record" => args.record = true,
            "--ignore-stdin" => args.ignore_stdin = true,
            "--rate-limits" => {
                let v = it.next().unwrap_or_default();
                args.rate_limits = RateLimitMode::parse(&v)
                    .ok_or_else(|| format!("--rate-limits {v}: use off or klaviyo"))?;
            }
            "--landings" => {
                args.landings = Some(PathBuf::from(it.next().ok_or("--landings needs a file")?))
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(value: Option<String>, flag: &str) -> Result<T, String> {
    value
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

/// Resolves when stdin reaches EOF (or fails); never, if `ignore`. A plain thread does the
/// blocking read, so no extra tokio features are needed.
async fn stdin_closed(ignore: bool) {
    if ignore {
        return std::future::pending().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(std::io::Read::read(&mut stdin, &mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let _ = rx.await;
    eprintln!("klaviyo-stub: stdin closed, shutting down (use --ignore-stdin to keep running)");
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}

/// Prints a line to stdout; a closed stdout (e.g. `| head -1`) must not crash the stub.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

fn write_landings(stub: &KlaviyoStub, path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (metric, unique_id, l) in stub.landings() {
        let line = serde_json::json!({
            "metric": metric,
            "unique_id": unique_id,
            "first_unix_ms": l.first_unix_ms,
            "duplicates": l.duplicates,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("klaviyo-stub: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let stub = match KlaviyoStub::start_on(args.port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "klaviyo-stub: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            std::process::exit(1);
        }
    };
    stub.set_latency(args.latency);
    stub.set_accept_any_key(args.accept_any_key);
    stub.set_recording(args.record);
    stub.set_rate_limits(args.rate_limits);
    stub.set_track_landings(args.landings.is_some());
    say(&format!("listening on {}", stub.base_url));

    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
        _ = stdin_closed(args.ignore_stdin) => {}
    }

    let stats = stub.stats();
    let violations = stub.violations();
    let summary = serde_json::json!({
        "requests": stats.requests,
        "violations": stats.violations,
        "distinct_events": stats.distinct_events,
        "events_accepted": stats.events_accepted,
        "duplicate_events": stats.duplicate_events,
        "by_status": stats.by_status,
        "rate_limits": format!("{:?}", args.rate_limits).to_ascii_lowercase(),
        "throttled": stats.throttled,
        "throttled_by": stats.throttled_by,
        "last_new_event_unix_ms": stats.last_new_event_unix_ms,
        "first_violations": violations.iter().take(5).collect::<Vec<_>>(),
    });
    if let Some(path) = &args.landings
        && let Err(e) = write_landings(&stub, path)
    {
        eprintln!("klaviyo-stub: {}: {e}", path.display());
    }
    say(&summary.to_string());
    drop(stub);
    std::process::exit(i32::from(stats.violations > 0));
}
