//! `load`: drives the webhook intake with signed Salla webhooks at a fixed open-loop rate and
//! reports throughput, latency (and latency added over the Klaviyo stub), errors, events lost,
//! the dev server's peak RSS and its start-up time to the first answered webhook.
//!
//!     infra/scripts/load.sh                                   # 50 stores × 200/s × 60 s
//!     target/release/load --rate 500 --duration 10 --stub-latency-ms 0
//!     MOTO_URL=http://127.0.0.1:5000 target/release/load --key-store dynamodb --duration 20
//!     target/release/load --stores 20 --rate 100 --duration 30 --flood-validate 300
//!     infra/scripts/flash-sale.sh                             # 1,000 orders/min × 5 min
//!
//! Everything listens on 127.0.0.1; the tool stops the processes it started, by PID.

mod args;
mod bodies;
mod drive;
mod flash;
mod flood;
mod moto;
mod procs;
mod report;
mod sale;
mod sale_report;
mod salla;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use args::{Args, KeyStoreMode};
use procs::{DevServer, Stub};
use report::Run;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args::parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("load: {e}");
            }
            eprintln!("{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = if args.flash_sale {
        flash::run(args).await
    } else {
        run(args).await
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::from(2)
        }
    }
}

/// Anything listening on the discard port is unlikely; Salla API calls (cart enrichment
/// without tokens never happens here) must never leave the machine.
const NOWHERE: &str = "http://127.0.0.1:9";

async fn run(args: Args) -> Result<bool, String> {
    let templates = bodies::load_templates(&bodies::samples_dir())?;
    let count = (u64::from(args.rate) * args.duration_secs) as usize;
    eprintln!(
        "load: preparing {count} signed webhooks over {} stores from {} samples",
        args.stores,
        templates.len()
    );
    let (webhooks, expected) =
        bodies::prepare(&templates, args.stores, count, &args.secret, args.seed);
    let webhooks = Arc::new(webhooks);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .map_err(|e| e.to_string())?;
    let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    // The spawned dev server's session secret, fresh each run: the flood derives the
    // Validation URL's token from it.
    let session_secret = format!("load-session-secret-{:032x}", rand::random::<u128>());

    let mut stub = None;
    let mut server = None;
    let mut moto_setup = None;
    let mut start_to_first = None;
    let base_url = match &args.url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let s = Stub::spawn(&args.bin_dir, args.stub_latency_ms)?;
            let mut env: Vec<(String, String)> = vec![
                ("KLAVIYO_API_URL".into(), s.base_url.clone()),
                ("SALLA_WEBHOOK_SECRET".into(), args.secret.clone()),
                ("SESSION_SECRET".into(), session_secret.clone()),
                ("SALLA_API_URL".into(), NOWHERE.into()),
                ("SALLA_ACCOUNTS_URL".into(), NOWHERE.into()),
                ("KEY_STORE".into(), args.key_store.name().into()),
                (
                    "DATA_DIR".into(),
                    tmp.path().join("data").display().to_string(),
                ),
            ];
            stub = Some(s);
            if args.key_store == KeyStoreMode::DynamoDb {
                let url = std::env::var("MOTO_URL").map_err(
                    |_| "--key-store dynamodb needs MOTO_URL (infra/scripts/moto.sh start)",
                )?;
                let m = moto::setup(&client, &url).await?;
                for (k, v) in [
                    ("TABLE_NAME", m.table.as_str()),
                    ("KMS_KEY_ID", m.kms_key_id.as_str()),
                    ("AWS_ENDPOINT_URL", m.url.as_str()),
                    ("AWS_REGION", "us-east-1"),
                    ("AWS_ACCESS_KEY_ID", "test"),
                    ("AWS_SECRET_ACCESS_KEY", "test"),
                    ("AWS_EC2_METADATA_DISABLED", "true"),
                ] {
                    env.push((k.into(), v.into()));
                }
                moto_setup = Some(m);
            }
            let port = procs::free_port()?;
            let started = Instant::now();
            let s = DevServer::spawn(&args.bin_dir, port, &env, tmp.path().join("dev-server.log"))?;
            let url = s.base_url.clone();
            server = Some(s);
            start_to_first = Some(first_answer(&client, &url, &args.secret, started).await?);
            url
        }
    };
    let intake = format!("{base_url}/webhook");

    let connect_started = Instant::now();
    connect_stores(&client, &intake, &args).await?;
    let connect_time = connect_started.elapsed();
    // The flood's installed store is not one the webhooks go to, so their enrichment and
    // expected events stay as planned.
    let installed_store = bodies::store_id(args.stores);
    if args.flood_validate > 0 {
        install_store(&client, &intake, &installed_store, &args.secret).await?;
    }

    if let Some(m) = &moto_setup {
        moto::start_recording(&client, &m.url).await?;
    }
    eprintln!(
        "load: {count} webhooks at {}/s for {} s (stub latency {} ms)",
        args.rate, args.duration_secs, args.stub_latency_ms
    );
    let flooding = (args.flood_validate > 0).then(|| {
        // Its own client, so the flood does not share the webhooks' connection pool.
        let flood_client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()
            .unwrap_or_default();
        tokio::spawn(flood::flood(
            flood_client,
            flood::Urls::new(
                &format!("{base_url}/onboarding/validate"),
                &key_onboarding::validation_url_token(session_secret.as_bytes()),
            ),
            installed_store.clone(),
            args.flood_validate,
            Duration::from_secs(args.duration_secs),
        ))
    });
    let driven = drive::drive(client.clone(), intake, webhooks.clone(), args.rate).await;
    let flooded = match flooding {
        Some(task) => Some(task.await.map_err(|e| format!("validate flood: {e}"))?),
        None => None,
    };

    let aws_calls = match &moto_setup {
        Some(m) => Some(moto::stop_and_count(&client, &m.url).await),
        None => None,
    };
    let peak_rss_kib = server.as_ref().and_then(DevServer::peak_rss_kib);
    let server_log = server
        .as_ref()
        .and_then(|s| std::fs::read_to_string(&s.log_path).ok());
    if let Some(s) = server {
        s.stop();
    }
    let stub_summary = match stub {
        Some(s) => Some(s.finish()?),
        None => None,
    };

    let run = Run {
        args: &args,
        webhooks: &webhooks,
        expected: &expected,
        driven: &driven,
        stub: stub_summary.as_ref(),
        peak_rss_kib,
        start_to_first,
        connect_time,
        aws_calls,
        server_log: server_log.as_deref(),
        flood: flooded
            .as_ref()
            .map(|f| flood::summary(f, args.flood_validate)),
    };
    let (summary, ok) = run.summary();
    eprint!("{}", report::table(&summary));
    println!("{summary}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{summary:#}\n"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ok)
}

/// Polls with a signed webhook (for a store with no key: answered 200 without Klaviyo) until
/// the freshly spawned server answers; returns the time since `started`.
async fn first_answer(
    client: &reqwest::Client,
    base_url: &str,
    secret: &str,
    started: Instant,
) -> Result<Duration, String> {
    let body = br#"{"event":"customer.login","merchant":1,"data":{"id":1}}"#;
    let signature = adapters::salla::signature::sign(secret.as_bytes(), body);
    let url = format!("{base_url}/webhook");
    let deadline = started + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok((200, _)) = drive::post_signed(client, &url, body, &signature).await {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err("the dev server did not answer a webhook within 15 s".into())
}

/// Installs `store` the way Salla does: a signed `app.store.authorize` with its tokens.
async fn install_store(
    client: &reqwest::Client,
    intake: &str,
    store: &str,
    secret: &str,
) -> Result<(), String> {
    let body = bodies::authorize_body(store);
    let signature = adapters::salla::signature::sign(secret.as_bytes(), &body);
    let (status, text) = drive::post_signed(client, intake, &body, &signature).await?;
    if status != 200 || !text.contains("salla_tokens_stored") {
        return Err(format!(
            "installing store {store} failed: HTTP {status} {text}"
        ));
    }
    Ok(())
}

/// Connects every store the way Salla does: a signed `app.settings.updated` with the key.
async fn connect_stores(client: &reqwest::Client, intake: &str, args: &Args) -> Result<(), String> {
    for i in 0..args.stores {
        let body = bodies::settings_body(&bodies::store_id(i), &bodies::klaviyo_key(i));
        let signature = adapters::salla::signature::sign(args.secret.as_bytes(), &body);
        let (status, text) = drive::post_signed(client, intake, &body, &signature).await?;
        if status != 200 || !text.contains("klaviyo_key_stored") {
            return Err(format!("connecting store {i} failed: HTTP {status} {text}"));
        }
    }
    Ok(())
}
