//! Day records for the development server: one JSON file per store and day under a directory
//! (by default `<DATA_DIR>/health/`), read, added to and rewritten under a process lock (the
//! dev server is one process). Days older than [`super::KEEP_DAYS`] are removed as new ones
//! are written.

use std::fs;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{DayStats, HealthStore, KEEP_DAYS};
use crate::{AdapterError, Service};

#[derive(Debug)]
pub struct EmbeddedHealth {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// The file's shape: `counts` keyed `"HH|metric"` (JSON keys are strings).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct DayFile {
    counts: std::collections::BTreeMap<String, u64>,
    failures: std::collections::BTreeMap<String, u64>,
    failure_last: std::collections::BTreeMap<String, i64>,
    last_ok: Option<i64>,
}

impl From<&DayStats> for DayFile {
    fn from(s: &DayStats) -> Self {
        DayFile {
            counts: s
                .counts
                .iter()
                .map(|((h, m), n)| (format!("{h:02}|{m}"), *n))
                .collect(),
            failures: s.failures.clone(),
            failure_last: s.failure_last.clone(),
            last_ok: s.last_ok,
        }
    }
}

impl From<DayFile> for DayStats {
    fn from(f: DayFile) -> Self {
        DayStats {
            counts: f
                .counts
                .into_iter()
                .filter_map(|(k, n)| {
                    let (h, m) = k.split_once('|')?;
                    Some(((h.parse().ok().filter(|h| *h < 24)?, m.to_owned()), n))
                })
                .collect(),
            failures: f.failures,
            failure_last: f.failure_last,
            last_ok: f.last_ok,
        }
    }
}

impl EmbeddedHealth {
    /// Records under `dir`, created (owner-only) at the first write.
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock: Mutex::new(()),
        }
    }

    fn path(&self, store_id: &str, day: i64) -> Option<PathBuf> {
        // Store ids are decimal; anything else never becomes a path.
        (!store_id.is_empty() && store_id.bytes().all(|b| b.is_ascii_digit()))
            .then(|| self.dir.join(format!("{store_id}-{day}.json")))
    }

    fn read(&self, store_id: &str, day: i64) -> DayStats {
        self.path(store_id, day)
            .and_then(|p| fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<DayFile>(&b).ok())
            .map(DayStats::from)
            .unwrap_or_default()
    }

    fn sweep(&self, today: i64) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let day = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.rsplit_once('-'))
                .and_then(|(_, d)| d.parse::<i64>().ok());
            if day.is_some_and(|d| d < today - KEEP_DAYS) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn disk(what: &str, e: &std::io::Error) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::EmbeddedKeyStore,
        detail: format!("{what}: {}", e.kind()),
    }
}

#[async_trait]
impl HealthStore for EmbeddedHealth {
    async fn add(&self, store_id: &str, day: i64, stats: &DayStats) -> Result<(), AdapterError> {
        let Some(path) = self.path(store_id, day) else {
            return Ok(());
        };
        let _guard = self.lock.lock().await;
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .map_err(|e| disk("create health directory", &e))?;
        let mut held = self.read(store_id, day);
        held.merge(stats);
        let bytes = serde_json::to_vec(&DayFile::from(&held)).unwrap_or_default();
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, bytes).map_err(|e| disk("write health record", &e))?;
        fs::rename(&tmp, &path).map_err(|e| disk("replace health record", &e))?;
        self.sweep(day);
        Ok(())
    }

    async fn day(&self, store_id: &str, day: i64) -> Result<DayStats, AdapterError> {
        Ok(self.read(store_id, day))
    }
}
