//! The seed corpus: every sample body in `tests/fixtures/salla-samples`.

use std::path::{Path, PathBuf};

use serde_json::Value;

pub struct Corpus {
    /// (file name, raw bytes), sorted by name.
    pub samples: Vec<(String, Vec<u8>)>,
    /// The samples that parse as JSON objects, for structural mutations.
    pub objects: Vec<Value>,
}

impl Corpus {
    /// The Salla sample bodies in `tests/fixtures/salla-samples`.
    pub fn default_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/salla-samples")
    }

    pub fn load(dir: &Path) -> std::io::Result<Corpus> {
        let mut samples = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                samples.push((name, std::fs::read(&path)?));
            }
        }
        samples.sort();
        if samples.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no *.json samples in {}", dir.display()),
            ));
        }
        let objects = samples
            .iter()
            .filter_map(|(_, b)| serde_json::from_slice::<Value>(b).ok())
            .filter(Value::is_object)
            .collect();
        Ok(Corpus { samples, objects })
    }

    /// Total bytes over all samples: the number of distinct truncations.
    pub fn total_bytes(&self) -> usize {
        self.samples.iter().map(|(_, b)| b.len()).sum()
    }
}
