//! The local development key store: a JSON file per store under `<dir>/stores/`, secrets
//! encrypted with XChaCha20-Poly1305 under a key generated on first use at `<dir>/master.key`.
//!
//! **This is a development store.** The master key sits next to the data it protects, so it
//! guards against a stray `cat` or an accidental commit of the data directory, not against
//! anyone who can read the directory. Production uses [`super::dynamo::DynamoKeyStore`] (KMS).
//!
//! Each secret's ciphertext is bound (as AEAD associated data) to its store ID and its
//! name, so a ciphertext copied into another store's file, or into another field, fails to
//! decrypt instead of handing one merchant's key to another store.
//!
//! Writes follow the trait's version rule under a process-wide mutex and land by an atomic
//! rename of a temporary file, so a crash never leaves a half-written record. Two *processes*
//! writing the same data directory are not coordinated: run one dev server per directory.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::{KeyStore, KlaviyoConnection, Lifecycle, MAX_STORE_ID_LEN, SallaTokens, StoreRecord};
use crate::{AdapterError, Secret, Service};

const MASTER_KEY_FILE: &str = "master.key";
const STORES_DIR: &str = "stores";
const FORMAT: u32 = 1;

/// Serialises every write in this process, across all instances opened on any directory:
/// the version check and the rename must not interleave.
static WRITE_LOCK: Mutex<()> = Mutex::new(());
static DEV_WARNING: Once = Once::new();

/// See the module docs: a development-only, file-backed [`KeyStore`].
#[derive(Clone)]
pub struct EmbeddedKeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    stores_dir: PathBuf,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for EmbeddedKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKeyStore")
            .field("stores_dir", &self.inner.stores_dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedKeyStore {
    /// Opens (creating if needed) the data directory and its master key.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, AdapterError> {
        let dir = dir.into();
        let stores_dir = dir.join(STORES_DIR);
        create_private_dir(&dir).map_err(|e| disk_error("create data directory", &e))?;
        create_private_dir(&stores_dir).map_err(|e| disk_error("create stores directory", &e))?;
        let key = load_or_create_master_key(&dir.join(MASTER_KEY_FILE))?;
        DEV_WARNING.call_once(|| {
            tracing::warn!(
                event = "embedded_key_store_opened",
                data_dir = %dir.display(),
                "using the embedded development key store: its master key lives beside the data; use KEY_STORE=dynamodb in production"
            );
        });
        Ok(Self {
            inner: Arc::new(Inner {
                stores_dir,
                cipher: XChaCha20Poly1305::new(&key.into()),
            }),
        })
    }

    /// Where the store files are, for the scan.
    pub(crate) fn stores_dir(&self) -> &Path {
        &self.inner.stores_dir
    }

    /// Runs blocking file work off the async runtime's worker threads.
    async fn blocking<T, F>(&self, work: F) -> Result<T, AdapterError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, AdapterError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|_| AdapterError::Unavailable {
                service: Service::EmbeddedKeyStore,
                detail: "file task failed".into(),
            })?
    }
}

#[async_trait]
impl KeyStore for EmbeddedKeyStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        validate_store_id(store_id)?;
        let store_id = store_id.to_string();
        self.blocking(move |inner| inner.read(&store_id)).await
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        validate_store_id(&record.store_id)?;
        let record = record.clone();
        self.blocking(move |inner| {
            let _guard = WRITE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            let current = inner.stored_version(&record.store_id)?;
            if current != record.version {
                return Err(AdapterError::Conflict {
                    store_id: record.store_id.clone(),
                });
            }
            let version = current + 1;
            inner.write(&record, version)?;
            Ok(version)
        })
        .await
    }

    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        validate_store_id(store_id)?;
        let store_id = store_id.to_string();
        self.blocking(move |inner| {
            let _guard = WRITE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            match fs::remove_file(inner.path(&store_id)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(disk_error("delete store file", &e)),
            }
        })
        .await
    }
}

/// Store IDs become file names, so only a safe alphabet is accepted (no `/`, `..`, NUL).
fn validate_store_id(store_id: &str) -> Result<(), AdapterError> {
    let ok = !store_id.is_empty()
        && store_id.len() <= MAX_STORE_ID_LEN
        && store_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AdapterError::Rejected {
            service: Service::EmbeddedKeyStore,
            status: 400,
            code: "invalid_store_id".into(),
            detail: format!(
                "store id must be 1 to {MAX_STORE_ID_LEN} ASCII letters, digits, '-' or '_'"
            ),
        })
    }
}

/// The on-disk shape. Plain metadata is readable (handy when debugging locally); secrets
/// are [`Sealed`].
#[derive(Serialize, Deserialize)]
struct StoreFile {
    format: u32,
    store_id: String,
    version: u64,
    klaviyo: Option<KlaviyoFile>,
    salla: Option<SallaFile>,
    #[serde(default)]
    lifecycle: LifecycleFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history: Option<crate::history::HistoryProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cod: Option<mapping::CodSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crm: Option<mapping::crm::CrmSettings>,
    loyalty: Option<mapping::points::PointsRules>,
}

/// [`Lifecycle`]'s times, unix seconds.
#[derive(Serialize, Deserialize, Default)]
struct LifecycleFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorized_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settings_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uninstalled_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct KlaviyoFile {
    private_key: Sealed,
    account_name: Option<String>,
    account_id: Option<String>,
    validated_at: i64,
    needs_reconnect: bool,
}

#[derive(Serialize, Deserialize)]
struct SallaFile {
    access_token: Sealed,
    refresh_token: Sealed,
    expires_at: i64,
    scope: Option<String>,
    refresh_lease_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_blocked_at: Option<i64>,
}

/// One encrypted secret: base64 nonce and ciphertext (with tag).
#[derive(Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
}

/// The associated data binding a ciphertext to its store and field.
fn aad(store_id: &str, secret: &str) -> Vec<u8> {
    // The NUL separator keeps ("ab", "c") and ("a", "bc") distinct; neither part may hold NUL.
    format!("{store_id}\0{secret}").into_bytes()
}

impl Inner {
    fn path(&self, store_id: &str) -> PathBuf {
        self.stores_dir.join(format!("{store_id}.json"))
    }

    fn load(&self, store_id: &str) -> Result<Option<StoreFile>, AdapterError> {
        let bytes = match fs::read(self.path(store_id)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(disk_error("read store file", &e)),
        };
        // An unreadable file is treated like a failed decryption: the secrets in it cannot
        // be trusted or recovered, and retrying will not help.
        let file: StoreFile =
            serde_json::from_slice(&bytes).map_err(|_| decrypt_error(store_id))?;
        if file.format != FORMAT || file.store_id != store_id {
            return Err(decrypt_error(store_id));
        }
        Ok(Some(file))
    }

    /// The stored file, unless it is an expired deletion marker (which reads as absent).
    fn load_live(&self, store_id: &str) -> Result<Option<StoreFile>, AdapterError> {
        let now = crate::clock::now_unix();
        Ok(self
            .load(store_id)?
            .filter(|f| f.ttl.is_none_or(|ttl| ttl > now)))
    }

    /// 0 when absent or an expired marker: a first put may replace the marker.
    fn stored_version(&self, store_id: &str) -> Result<u64, AdapterError> {
        Ok(self.load_live(store_id)?.map_or(0, |f| f.version))
    }

    fn read(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        let Some(file) = self.load_live(store_id)? else {
            return Ok(None);
        };
        let klaviyo = match file.klaviyo {
            None => None,
            Some(k) => Some(KlaviyoConnection {
                private_key: self.open_secret(store_id, "klaviyo_private_key", &k.private_key)?,
                account_name: k.account_name,
                account_id: k.account_id,
                validated_at: k.validated_at,
                needs_reconnect: k.needs_reconnect,
            }),
        };
        let salla = match file.salla {
            None => None,
            Some(s) => Some(SallaTokens {
                access_token: self.open_secret(store_id, "salla_access_token", &s.access_token)?,
                refresh_token: self.open_secret(
                    store_id,
                    "salla_refresh_token",
                    &s.refresh_token,
                )?,
                expires_at: s.expires_at,
                scope: s.scope,
                refresh_lease_until: s.refresh_lease_until,
                refresh_blocked_at: s.refresh_blocked_at,
            }),
        };
        Ok(Some(StoreRecord {
            store_id: file.store_id,
            klaviyo,
            salla,
            version: file.version,
            lifecycle: Lifecycle {
                authorized_at: file.lifecycle.authorized_at,
                settings_at: file.lifecycle.settings_at,
                uninstalled_at: file.lifecycle.uninstalled_at,
            },
            ttl: file.ttl,
            history: file.history,
            cod: file.cod,
            crm: file.crm,
            loyalty: file.loyalty,
        }))
    }

    fn write(&self, record: &StoreRecord, version: u64) -> Result<(), AdapterError> {
        let id = record.store_id.as_str();
        let file = StoreFile {
            format: FORMAT,
            store_id: id.to_string(),
            version,
            klaviyo: match &record.klaviyo {
                None => None,
                Some(k) => Some(KlaviyoFile {
                    private_key: self.seal(id, "klaviyo_private_key", &k.private_key)?,
                    account_name: k.account_name.clone(),
                    account_id: k.account_id.clone(),
                    validated_at: k.validated_at,
                    needs_reconnect: k.needs_reconnect,
                }),
            },
            salla: match &record.salla {
                None => None,
                Some(s) => Some(SallaFile {
                    access_token: self.seal(id, "salla_access_token", &s.access_token)?,
                    refresh_token: self.seal(id, "salla_refresh_token", &s.refresh_token)?,
                    expires_at: s.expires_at,
                    scope: s.scope.clone(),
                    refresh_lease_until: s.refresh_lease_until,
                    refresh_blocked_at: s.refresh_blocked_at,
                }),
            },
            lifecycle: LifecycleFile {
                authorized_at: record.lifecycle.authorized_at,
                settings_at: record.lifecycle.settings_at,
                uninstalled_at: record.lifecycle.uninstalled_at,
            },
            ttl: record.ttl,
            history: record.history.clone(),
            cod: record.cod.clone(),
            crm: record.crm.clone(),
            loyalty: record.loyalty.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|_| AdapterError::Unavailable {
            service: Service::EmbeddedKeyStore,
            detail: "could not serialise the record".into(),
        })?;
        let path = self.path(id);
        let tmp = self.stores_dir.join(format!(".{id}.json.tmp"));
        write_private_file(&tmp, &bytes).map_err(|e| disk_error("write store file", &e))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            disk_error("replace store file", &e)
        })
    }

    fn seal(&self, store_id: &str, secret: &str, value: &Secret) -> Result<Sealed, AdapterError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.expose().as_bytes(),
                    aad: &aad(store_id, secret),
                },
            )
            .map_err(|_| AdapterError::Unavailable {
                service: Service::EmbeddedKeyStore,
                detail: "encryption failed".into(),
            })?;
        Ok(Sealed {
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    fn open_secret(
        &self,
        store_id: &str,
        secret: &str,
        sealed: &Sealed,
    ) -> Result<Secret, AdapterError> {
        let fail = || decrypt_error(store_id);
        let nonce = BASE64.decode(&sealed.nonce).map_err(|_| fail())?;
        if nonce.len() != 24 {
            return Err(fail());
        }
        let ciphertext = BASE64.decode(&sealed.ciphertext).map_err(|_| fail())?;
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad(store_id, secret),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| fail())
    }
}

fn decrypt_error(store_id: &str) -> AdapterError {
    AdapterError::Decrypt {
        store_id: store_id.to_string(),
    }
}

/// I/O failures name the operation and the error kind only (never file contents).
fn disk_error(what: &str, e: &io::Error) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::EmbeddedKeyStore,
        detail: format!("{what}: {}", e.kind()),
    }
}

fn load_or_create_master_key(path: &Path) -> Result<[u8; 32], AdapterError> {
    let bad_key = || {
        AdapterError::Config(format!(
            "{} must hold exactly 32 bytes; delete it only if the stored secrets may be lost",
            path.display()
        ))
    };
    match fs::read(path) {
        Ok(bytes) => return bytes.try_into().map_err(|_| bad_key()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(disk_error("read master key", &e)),
    }
    let key: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
    // create_new: if another process created the key between our read and now, use theirs
    // instead of overwriting it (which would make its records undecryptable).
    match create_new_private(path) {
        Ok(mut f) => {
            f.write_all(&key)
                .and_then(|()| f.sync_all())
                .map_err(|e| disk_error("write master key", &e))?;
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let bytes = fs::read(path).map_err(|e| disk_error("read master key", &e))?;
            bytes.try_into().map_err(|_| bad_key())
        }
        Err(e) => Err(disk_error("create master key", &e)),
    }
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

fn create_new_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_id_alphabet_and_length() {
        for ok in ["123456", "store-1_a", &"a".repeat(64)] {
            assert!(validate_store_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "a.b",
            "a b",
            "ä",
            "a\0b",
            &"a".repeat(65),
        ] {
            assert!(validate_store_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn aad_separates_store_and_field() {
        assert_ne!(aad("ab", "c"), aad("a", "bc"));
    }
}
