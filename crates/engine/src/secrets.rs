//! Credentials at rest: AES-256-GCM with a master key from `PONTE_MASTER_KEY` or a
//! key file generated in the data directory at first start.

use crate::EngineError;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use ponte_store::Store;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A 32-byte master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses a key given as base64 (or 64 hex characters).
    pub fn parse(s: &str) -> Result<Self, EngineError> {
        let s = s.trim();
        let bytes = hex::decode(s)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or_else(|| {
                EngineError::Invalid("master key must be 32 bytes, base64 or hex".into())
            })?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| EngineError::Invalid("master key must be 32 bytes".into()))?;
        Ok(Self(arr))
    }

    /// Reads the key file, creating it (mode 0600) with a random key if absent.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Self::parse(&text)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()));
        }
        let key: [u8; 32] = rand::random();
        write_private(path, &base64::engine::general_purpose::STANDARD.encode(key))?;
        Ok(Self(key))
    }
}

impl MasterKey {
    /// A 32-byte key for another purpose (SHA-256 of a domain tag and the key), so that
    /// e.g. console sessions are signed with a key of their own, the same on every
    /// instance that shares this master key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"ponte derived key v1\0");
        h.update(purpose.as_bytes());
        h.update(b"\0");
        h.update(self.0);
        h.finalize().into()
    }

    /// A value derived from the key that identifies it without revealing it (SHA-256 of
    /// a domain tag and the key, hex): stored in the database the first time a key is
    /// used, so that an instance with another key stops at start.
    pub fn check_value(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"ponte master key check v1\0");
        h.update(self.0);
        hex::encode(h.finalize())
    }
}

/// Refuses a master key that is not the one this database's credentials are stored
/// with. The first key used records its check value; a database from before the check
/// existed is verified by opening its channels' credentials first.
pub async fn verify_master_key(store: &dyn Store, key: &MasterKey) -> Result<(), EngineError> {
    let mine = key.check_value();
    match store.key_check().await? {
        Some(stored) if stored == mine => return Ok(()),
        Some(_) => return Err(EngineError::KeyMismatch),
        None => {}
    }
    let cipher = Cipher::new(key);
    for tenant in store.tenants().await? {
        let stored = store.channels(tenant).await?;
        if let Some(ch) = stored.iter().find(|c| !c.credentials.is_empty()) {
            // Under another key every channel fails alike: one is enough.
            if cipher
                .open(&ch.credentials, ch.id.to_string().as_bytes())
                .is_err()
            {
                return Err(EngineError::KeyMismatch);
            }
        }
    }
    // Two instances starting at once on a new database: the first key wins.
    if store.claim_key_check(&mine).await? == mine {
        Ok(())
    } else {
        Err(EngineError::KeyMismatch)
    }
}

/// Writes a file readable only by its owner.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Seals and opens credentials. The channel id is bound as associated data, so a
/// sealed blob cannot be moved to another channel.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl Cipher {
    /// A cipher over the master key.
    pub fn new(key: &MasterKey) -> Self {
        Self {
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0)),
        }
    }

    /// Encrypts: 12-byte random nonce followed by the ciphertext.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, EngineError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        let ct = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| EngineError::Crypto)?;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`Cipher::seal`] produced.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, EngineError> {
        if sealed.len() < 12 {
            return Err(EngineError::Crypto);
        }
        let (nonce, ct) = sealed.split_at(12);
        self.aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| EngineError::Crypto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = MasterKey([7; 32]);
        let c = Cipher::new(&key);
        let sealed = c.seal(b"secret", b"ch1").unwrap_or_default();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(c.open(&sealed, b"ch1").unwrap_or_default(), b"secret");
        assert!(c.open(&sealed, b"ch2").is_err(), "bound to its channel");
        assert!(Cipher::new(&MasterKey([8; 32]))
            .open(&sealed, b"ch1")
            .is_err());
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("master.key");
        let a = MasterKey::load_or_create(&p).unwrap_or_else(|e| panic!("{e}"));
        let b = MasterKey::load_or_create(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
