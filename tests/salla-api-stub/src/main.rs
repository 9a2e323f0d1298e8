//! `salla-api-stub` for load runs and the dev server:
//! `cargo run -p salla-api-stub -- --port 0 --store 1 --token tok --orders 10000`
//! prints `listening on http://127.0.0.1:PORT` (the value for `SALLA_API_URL`); on SIGINT or
//! stdin EOF it prints a one-line JSON summary and exits.

use std::time::Duration;

use salla_api_stub::{Dataset, RateConfig, SallaApiStub};

const USAGE: &str = "usage: salla-api-stub [--port N] [--store ID] [--token T] [--seed N] \
[--orders N] [--customers N] [--products N] [--rate-limits fast|plus|off] [--latency-ms N] \
[--ignore-stdin]
  --rate-limits M   fast (default: Plus 120 per second), plus (Salla's real 120/min, customers
                    500/10 min) or off";

struct Args {
    port: u16,
    store: String,
    token: String,
    seed: u64,
    orders: usize,
    customers: usize,
    products: usize,
    rate: (RateConfig, RateConfig),
    latency: Duration,
    ignore_stdin: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 0,
        store: "1".into(),
        token: "stub-token".into(),
        seed: 1,
        orders: 100,
        customers: 40,
        products: 20,
        rate: (RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST),
        latency: Duration::ZERO,
        ignore_stdin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => a.port = number(it.next(), &arg)?,
            "--store" => a.store = it.next().ok_or("--store needs an id")?,
            "--token" => a.token = it.next().ok_or("--token needs a value")?,
            "--seed" => a.seed = number(it.next(), &arg)?,
            "--orders" => a.orders = number(it.next(), &arg)?,
            "--customers" => a.customers = number(it.next(), &arg)?,
            "--products" => a.products = number(it.next(), &arg)?,
            "--latency-ms" => a.latency = Duration::from_millis(number(it.next(), &arg)?),
            "--ignore-stdin" => a.ignore_stdin = true,
            "--rate-limits" => {
                a.rate = match it.next().as_deref() {
                    Some("fast") => (RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST),
                    Some("plus") => (RateConfig::PLUS, RateConfig::CUSTOMERS),
                    Some("off") => (RateConfig::OFF, RateConfig::OFF),
                    _ => return Err("--rate-limits: use fast, plus or off".into()),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn number<T: std::str::FromStr>(value: Option<String>, flag: &str) -> Result<T, String> {
    value
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

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
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("salla-api-stub: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let stub = match SallaApiStub::start_on(args.port).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "salla-api-stub: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            std::process::exit(1);
        }
    };
    stub.set_rate_limits(args.rate.0, args.rate.1);
    stub.set_latency(args.latency);
    stub.set_recording(false);
    stub.add_store(
        &args.store,
        &args.token,
        Dataset::new(args.seed, args.orders, args.customers, args.products),
    );
    say(&format!("listening on {}", stub.base_url));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = stdin_closed(args.ignore_stdin) => {}
    }
    let stats = stub.stats();
    let by_status: serde_json::Map<String, serde_json::Value> = stats
        .by_status
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    say(&serde_json::json!({
        "requests": stats.requests,
        "throttled": stats.throttled,
        "by_status": by_status,
    })
    .to_string());
}
