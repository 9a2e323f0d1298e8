//! Command line of the load tool.

use std::path::PathBuf;

pub const USAGE: &str = "usage: load [options]
  --stores N           stores connected before the run (default 50)
  --rate N             webhooks per second, open loop (default 200)
  --duration S         seconds of load (default 60)
  --stub-latency-ms N  latency the Klaviyo stub adds to every answer (default 20)
  --key-store K        embedded (default) or dynamodb (needs MOTO_URL)
  --url URL            drive an already running intake (e.g. a deployed function URL) instead
                       of spawning the dev server; its Klaviyo is whatever it is configured with
  --secret S           webhook secret (default: SALLA_WEBHOOK_SECRET or a generated one)
  --bin-dir DIR        where dev-server and klaviyo-stub are (default: this binary's folder)
  --json FILE          also write the JSON summary to FILE
  --seed N             variation seed (default 1)
  --flood-validate N   also send N unsigned requests/s to the dev server's Validation URL for
                       the whole run (tokened: unknown stores, an installed store, malformed
                       bodies; a wrong token; the plain URL; default 0 = off; not with --url)
flash sale (one store; the stub enforces Klaviyo's rate limits; Salla's redeliveries simulated):
  --flash-sale         run the flash-sale scenario instead of the fixed-rate load
  --orders-per-minute N  orders per minute (default 1000)
  --sale-secs S        length of the sale (default 300)
  --redelivery-secs S  Salla's time between tries (default 300)
  --salla-timeout-secs S  how long Salla waits for an answer (default 30)";

#[derive(Debug, Clone)]
pub struct Args {
    pub stores: usize,
    pub rate: u32,
    pub duration_secs: u64,
    pub stub_latency_ms: u64,
    pub key_store: KeyStoreMode,
    pub url: Option<String>,
    pub secret: String,
    pub bin_dir: PathBuf,
    pub json: Option<PathBuf>,
    pub seed: u64,
    pub flood_validate: u32,
    pub flash_sale: bool,
    pub orders_per_minute: u32,
    pub sale_secs: u64,
    pub redelivery_secs: u64,
    pub salla_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStoreMode {
    Embedded,
    DynamoDb,
}

impl KeyStoreMode {
    pub fn name(self) -> &'static str {
        match self {
            KeyStoreMode::Embedded => "embedded",
            KeyStoreMode::DynamoDb => "dynamodb",
        }
    }
}

pub fn parse() -> Result<Args, String> {
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/release"));
    let mut args = Args {
        stores: 50,
        rate: 200,
        duration_secs: 60,
        stub_latency_ms: 20,
        key_store: KeyStoreMode::Embedded,
        url: None,
        secret: std::env::var("SALLA_WEBHOOK_SECRET")
            .unwrap_or_else(|_| format!("load-secret-{:016x}", rand::random::<u64>())),
        bin_dir,
        json: None,
        seed: 1,
        flood_validate: 0,
        flash_sale: false,
        orders_per_minute: 1000,
        sale_secs: 300,
        redelivery_secs: 300,
        salla_timeout_secs: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--stores" => args.stores = number(&value()?, "--stores")?,
            "--rate" => args.rate = number(&value()?, "--rate")?,
            "--duration" => args.duration_secs = number(&value()?, "--duration")?,
            "--stub-latency-ms" => args.stub_latency_ms = number(&value()?, "--stub-latency-ms")?,
            "--key-store" => {
                args.key_store = match value()?.as_str() {
                    "embedded" => KeyStoreMode::Embedded,
                    "dynamodb" => KeyStoreMode::DynamoDb,
                    _ => return Err("--key-store is embedded or dynamodb".into()),
                }
            }
            "--url" => args.url = Some(value()?),
            "--secret" => args.secret = value()?,
            "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "--seed" => args.seed = number(&value()?, "--seed")?,
            "--flood-validate" => args.flood_validate = number(&value()?, "--flood-validate")?,
            "--flash-sale" => args.flash_sale = true,
            "--orders-per-minute" => {
                args.orders_per_minute = number(&value()?, "--orders-per-minute")?
            }
            "--sale-secs" => args.sale_secs = number(&value()?, "--sale-secs")?,
            "--redelivery-secs" => args.redelivery_secs = number(&value()?, "--redelivery-secs")?,
            "--salla-timeout-secs" => {
                args.salla_timeout_secs = number(&value()?, "--salla-timeout-secs")?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.flash_sale {
        if args.url.is_some() || args.flood_validate > 0 {
            return Err(
                "--flash-sale spawns its own stub and dev server (no --url, no flood)".into(),
            );
        }
        if args.orders_per_minute == 0 || args.sale_secs == 0 || args.salla_timeout_secs == 0 {
            return Err(
                "--orders-per-minute, --sale-secs and --salla-timeout-secs must be above zero"
                    .into(),
            );
        }
        if u64::from(args.orders_per_minute) * args.sale_secs > 60 * 200_000 {
            return Err("a flash sale is capped at 200,000 orders".into());
        }
    }
    if args.stores == 0 || args.rate == 0 || args.duration_secs == 0 {
        return Err("--stores, --rate and --duration must be above zero".into());
    }
    // Bounded by construction: at most rate × duration webhooks, capped here.
    if u64::from(args.rate) * args.duration_secs > 2_000_000 {
        return Err("rate × duration is capped at 2,000,000 webhooks".into());
    }
    if args.flood_validate > 0 && args.url.is_some() {
        return Err("--flood-validate drives the spawned dev server only (loopback)".into());
    }
    if u64::from(args.flood_validate) * args.duration_secs > 200_000 {
        return Err("flood rate × duration is capped at 200,000 requests".into());
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(v: &str, flag: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag} needs a number"))
}
