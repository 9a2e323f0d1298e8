//! Spent marks for the development server: one file per id under a directory (by default
//! `<DATA_DIR>/handoffs/`), created with `create_new` so the file system decides which of two
//! concurrent claims is first. The file holds the unix second after which it may go; each
//! claim sweeps the ones past it.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use async_trait::async_trait;

use super::{CLOCK_MARGIN_SECS, Claim, SpentMarks, check_id};
use crate::{AdapterError, Service};

#[derive(Debug, Clone)]
pub struct EmbeddedSpentMarks {
    dir: PathBuf,
}

impl EmbeddedSpentMarks {
    /// Marks under `dir`, which is created (owner-only) at the first claim: a process that
    /// never signs anyone in leaves nothing on disk.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, AdapterError> {
        Ok(Self { dir: dir.into() })
    }

    fn create_dir(&self) -> Result<(), AdapterError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .map_err(|e| disk_error("create handoff directory", &e))
    }

    /// Removes the marks whose keep-until has passed. Best effort: a mark that cannot be read
    /// or removed now is tried again at the next claim.
    fn sweep(&self, now: i64) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let keep_until = fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok());
            if keep_until.is_some_and(|k| k < now) {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

#[async_trait]
impl SpentMarks for EmbeddedSpentMarks {
    async fn claim(&self, id: &str, expires_at: i64) -> Result<Claim, AdapterError> {
        check_id(id, Service::EmbeddedKeyStore)?;
        self.create_dir()?;
        self.sweep(crate::clock::now_unix());
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(self.dir.join(id)) {
            Ok(mut file) => {
                let keep_until = expires_at.saturating_add(CLOCK_MARGIN_SECS);
                file.write_all(keep_until.to_string().as_bytes())
                    .map_err(|e| disk_error("write handoff mark", &e))?;
                Ok(Claim::First)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Claim::Spent),
            Err(e) => Err(disk_error("create handoff mark", &e)),
        }
    }
}

fn disk_error(what: &str, e: &io::Error) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::EmbeddedKeyStore,
        detail: format!("{what}: {}", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_id_is_spent_once_across_instances_and_expired_marks_go() {
        let dir = tempfile::tempdir().unwrap();
        let a = EmbeddedSpentMarks::open(dir.path().join("handoffs")).unwrap();
        let b = EmbeddedSpentMarks::open(dir.path().join("handoffs")).unwrap();
        let now = crate::clock::now_unix();
        assert_eq!(a.claim("tok1", now + 30).await.unwrap(), Claim::First);
        assert_eq!(b.claim("tok1", now + 30).await.unwrap(), Claim::Spent);
        assert_eq!(
            a.claim("old", now - CLOCK_MARGIN_SECS - 5).await.unwrap(),
            Claim::First
        );
        b.claim("tok2", now + 30).await.unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path().join("handoffs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["tok1", "tok2"]);
        assert!(a.claim("../escape", now).await.is_err());
    }

    /// Many claims of one id at once: exactly one wins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_have_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let marks = std::sync::Arc::new(EmbeddedSpentMarks::open(dir.path()).unwrap());
        let now = crate::clock::now_unix();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let marks = marks.clone();
                tokio::spawn(async move { marks.claim("same", now + 30).await.unwrap() })
            })
            .collect();
        let mut first = 0;
        for t in tasks {
            if t.await.unwrap() == Claim::First {
                first += 1;
            }
        }
        assert_eq!(first, 1);
    }
}
