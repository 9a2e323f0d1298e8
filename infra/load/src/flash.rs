//! `load --flash-sale`: one store's sale against a Klaviyo stub that enforces Klaviyo's
//! per-account rate limits, delivered the way Salla delivers (see `salla.rs`), then what
//! reached Klaviyo, by which delivery, and how long the intake took.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::procs::{DevServer, Stub};
use crate::salla::{self, Contract};
use crate::{bodies, sale, sale_report};

pub async fn run(args: Args) -> Result<bool, String> {
    let templates = bodies::load_templates(&bodies::samples_dir())?;
    let sale_len = Duration::from_secs(args.sale_secs);
    let sale = sale::build(
        &templates,
        args.orders_per_minute,
        sale_len,
        &args.secret,
        args.seed,
    )?;
    eprintln!(
        "load: flash sale: {} orders in {} s → {} webhooks, {} Klaviyo events planned",
        sale.orders,
        args.sale_secs,
        sale.webhooks.len(),
        sale.events()
    );
    let tmp = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let landings_path = tmp.path().join("landings.jsonl");
    let landings_arg = landings_path.display().to_string();
    let stub = Stub::spawn_with(
        &args.bin_dir,
        args.stub_latency_ms,
        &["--rate-limits", "klaviyo", "--landings", &landings_arg],
    )?;
    let env: Vec<(String, String)> = vec![
        ("KLAVIYO_API_URL".into(), stub.base_url.clone()),
        ("SALLA_WEBHOOK_SECRET".into(), args.secret.clone()),
        ("SALLA_API_URL".into(), crate::NOWHERE.into()),
        ("SALLA_ACCOUNTS_URL".into(), crate::NOWHERE.into()),
        ("KEY_STORE".into(), "embedded".into()),
        (
            "DATA_DIR".into(),
            tmp.path().join("data").display().to_string(),
        ),
    ];
    // Connections stay open across a webhook's long waits; the pool must hold them all.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .build()
        .map_err(|e| e.to_string())?;
    let port = crate::procs::free_port()?;
    let started = Instant::now();
    let server = DevServer::spawn(&args.bin_dir, port, &env, tmp.path().join("dev-server.log"))?;
    crate::first_answer(&client, &server.base_url, &args.secret, started).await?;
    let intake = format!("{}/webhook", server.base_url);
    let one_store = Args {
        stores: 1,
        ..args.clone()
    };
    crate::connect_stores(&client, &intake, &one_store).await?;

    let contract = Contract {
        timeout: Duration::from_secs(args.salla_timeout_secs),
        interval: Duration::from_secs(args.redelivery_secs),
        ..Contract::default()
    };
    eprintln!(
        "load: sale runs {} s; redeliveries {} × every {} s; stub latency {} ms; rate limits: Klaviyo's",
        args.sale_secs, contract.redeliveries, args.redelivery_secs, args.stub_latency_ms
    );
    let webhooks = Arc::new(sale.webhooks);
    let run_started = Instant::now();
    let delivered = salla::deliver_all(
        client,
        intake,
        Arc::clone(&webhooks),
        contract,
        move |done, total| {
            eprintln!(
                "load: {:>5} s: {done}/{total} webhooks settled",
                run_started.elapsed().as_secs()
            )
        },
    )
    .await;

    let peak_rss_kib = server.peak_rss_kib();
    let server_log = std::fs::read_to_string(&server.log_path).ok();
    server.stop();
    let stub_summary = stub.finish()?;
    let landings = std::fs::read_to_string(&landings_path)
        .map_err(|e| format!("the stub's landings file: {e}"))?;

    let report = sale_report::Report {
        args: &args,
        store: &sale.store,
        orders: sale.orders,
        colliding_events: sale.colliding_events,
        webhooks: &webhooks,
        delivered: &delivered,
        stub: &stub_summary,
        landings: &landings,
        server_log: server_log.as_deref(),
        peak_rss_kib,
    };
    let (summary, ok) = report.summary();
    eprint!("{}", sale_report::table(&summary));
    println!("{summary}");
    if let Some(path) = &args.json {
        std::fs::write(path, format!("{summary:#}\n"))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ok)
}
