//! Secret encryption at rest: the 256-bit key, where it comes from, and the per-field AEAD.
//!
//! Every secret field is sealed on its own with XChaCha20-Poly1305 under a fresh random 24-byte
//! nonce. The associated data binds the ciphertext to its service and field name, so a row's
//! ciphertext pasted into another row or field fails to open instead of leaking into the wrong
//! place. The 192-bit nonce makes random nonces safe for any realistic number of writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};

const NONCE_LEN: usize = 24;
/// The plaintext sealed into `meta.key_check`; opening it proves the key is the right one.
const KEY_CHECK_PLAINTEXT: &[u8] = b"opsdeck key check v1";
const KEY_CHECK_AAD: &[u8] = b"opsdeck:key-check";

/// The 32-byte key plus where it came from (for error messages).
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
    source_name: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id())
            .field("source", &self.source_name)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Parses a key given as 64 hex characters or as standard base64 of 32 bytes.
    pub fn parse(text: &str, source_name: &str) -> Result<Self> {
        let text = text.trim();
        let invalid = |reason: &str| StoreError::InvalidKey {
            source_name: source_name.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| invalid("not valid hex"))?
        } else if !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_hexdigit())
            && text.len() != 44
        {
            return Err(invalid(&format!(
                "it is {} hex characters; expected 64 (32 bytes, e.g. `openssl rand -hex 32`)",
                text.len()
            )));
        } else {
            B64.decode(text).map_err(|_| {
                invalid("expected 64 hex characters or base64 of 32 bytes (e.g. `openssl rand -hex 32`)")
            })?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|v: Vec<u8>| {
            invalid(&format!(
                "the key must be 32 bytes, this one is {} bytes",
                v.len()
            ))
        })?;
        Ok(Self {
            bytes,
            source_name: source_name.to_owned(),
        })
    }

    /// A fresh random key.
    pub fn generate(source_name: &str) -> Result<Self> {
        let bytes = os_random().map_err(|e| StoreError::InvalidKey {
            source_name: source_name.to_owned(),
            reason: format!("the OS random generator failed: {e}"),
        })?;
        Ok(Self {
            bytes,
            source_name: source_name.to_owned(),
        })
    }

    /// The key as 64 hex characters, for writing a key file or printing a rotated key once.
    pub fn to_hex(&self) -> SecretString {
        SecretString::from(hex::encode(self.bytes))
    }

    /// A short public fingerprint: lets an error say *which* key was expected without
    /// revealing anything about it.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"opsdeck-key-id");
        h.update(self.bytes);
        hex::encode(&h.finalize()[..8])
    }

    /// Where the key came from (`OPSDECK_SECRET_KEY` or a file path).
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Loads the key: `env_value` (from `OPSDECK_SECRET_KEY`) wins; otherwise the key file.
    /// `Ok(None)` when there is no key file yet (the caller decides whether creating one is
    /// right: only for a database that holds no secrets yet).
    pub fn load(env_value: Option<&str>, key_file: &Path) -> Result<Option<Self>> {
        if let Some(v) = env_value {
            return Self::parse(v, "OPSDECK_SECRET_KEY").map(Some);
        }
        let source = key_file.display().to_string();
        match std::fs::read_to_string(key_file) {
            Ok(text) => {
                // A key others can read is fixed (with a warning) or refused: it decrypts every
                // stored secret.
                if !crate::files::tighten(key_file, 0o600, "secret key file") {
                    return Err(StoreError::InsecureKeyFile {
                        path: key_file.to_owned(),
                    });
                }
                Self::parse(&text, &source).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(
                "cannot read the secret key file",
                key_file,
                e,
            )),
        }
    }

    /// Creates the key file with a fresh key (mode 0600).
    pub fn create_file(key_file: &Path) -> Result<Self> {
        let key = Self::generate(&key_file.display().to_string())?;
        write_key_file(key_file, &key)?;
        tracing::info!(path = %key_file.display(), key_id = %key.id(), "created a new secret key file");
        Ok(key)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.bytes))
    }

    /// Seals one secret field; the result is base64(nonce || ciphertext || tag).
    pub(crate) fn seal(
        &self,
        service: &str,
        field: &str,
        plaintext: &SecretString,
    ) -> Result<String> {
        self.seal_bytes(
            &field_aad(service, field),
            plaintext.expose_secret().as_bytes(),
        )
        .map_err(|()| StoreError::Decrypt {
            service: service.to_owned(),
            field: field.to_owned(),
        })
    }

    /// Opens one secret field sealed by [`SecretKey::seal`].
    pub(crate) fn open(&self, service: &str, field: &str, sealed: &str) -> Result<SecretString> {
        let err = || StoreError::Decrypt {
            service: service.to_owned(),
            field: field.to_owned(),
        };
        let plain = self
            .open_bytes(&field_aad(service, field), sealed)
            .map_err(|()| err())?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| err())
    }

    pub(crate) fn key_check(&self) -> Result<String> {
        self.seal_bytes(KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT)
            .map_err(|()| StoreError::corrupt("key check", "encryption failed"))
    }

    pub(crate) fn verify_key_check(&self, sealed: &str) -> bool {
        self.open_bytes(KEY_CHECK_AAD, sealed)
            .is_ok_and(|p| p == KEY_CHECK_PLAINTEXT)
    }

    fn seal_bytes(&self, aad: &[u8], msg: &[u8]) -> Result<String, ()> {
        let nonce = XNonce::generate();
        let ct = self
            .cipher()
            .encrypt(&nonce, Payload { msg, aad })
            .map_err(|_| ())?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        Ok(B64.encode(out))
    }

    fn open_bytes(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>, ()> {
        let raw = B64.decode(sealed).map_err(|_| ())?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(());
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| ())?;
        self.cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| ())
    }
}

/// 32 bytes straight from the OS generator: keys and tokens must not depend on a userspace
/// generator's seeding.
fn os_random() -> std::result::Result<[u8; 32], rand::rand_core::OsError> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes)?;
    Ok(bytes)
}

fn field_aad(service: &str, field: &str) -> Vec<u8> {
    format!("opsdeck:v1:{service}:{field}").into_bytes()
}

/// Writes a key file that only the owner can read. `create_new` refuses to overwrite an
/// existing key, which would make every stored secret unreadable.
pub fn write_key_file(path: &Path, key: &SecretKey) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| StoreError::io("cannot create the secret key file", path, e))?;
    f.write_all(key.to_hex().expose_secret().as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io("cannot write the secret key file", path, e))
}

/// The path of the key file inside a data directory.
pub fn key_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secret.key")
}

/// Where a key rotation writes the new key before the database commit.
pub fn pending_key_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secret.key.new")
}

/// sha256 of an API token, hex encoded. Tokens are 256-bit random strings, so a fast hash is
/// enough: there is nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random API token: `odk_` + 43 base64url characters (256 bits).
pub fn generate_token() -> Result<SecretString> {
    let bytes = os_random().map_err(|e| StoreError::corrupt("random generator", e))?;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(SecretString::from(format!("odk_{body}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let key = SecretKey::generate("test").unwrap();
        let s = key
            .seal("svc", "token", &SecretString::from("hunter2"))
            .unwrap();
        assert!(!s.contains("hunter2"));
        assert_eq!(
            key.open("svc", "token", &s).unwrap().expose_secret(),
            "hunter2"
        );
        assert!(key.open("other", "token", &s).is_err());
        assert!(key.open("svc", "password", &s).is_err());
        let other = SecretKey::generate("test").unwrap();
        assert!(other.open("svc", "token", &s).is_err());
    }

    #[test]
    fn parse_accepts_hex_and_base64_and_rejects_short() {
        let hexkey = "11".repeat(32);
        let a = SecretKey::parse(&hexkey, "env").unwrap();
        let b = SecretKey::parse(&B64.encode([0x11u8; 32]), "env").unwrap();
        assert_eq!(a.id(), b.id());
        let err = SecretKey::parse("abcd", "OPSDECK_SECRET_KEY")
            .unwrap_err()
            .to_string();
        assert!(err.contains("OPSDECK_SECRET_KEY"), "{err}");
    }

    #[test]
    fn key_check_detects_wrong_key() {
        let a = SecretKey::generate("a").unwrap();
        let b = SecretKey::generate("b").unwrap();
        let check = a.key_check().unwrap();
        assert!(a.verify_key_check(&check));
        assert!(!b.verify_key_check(&check));
    }
}
