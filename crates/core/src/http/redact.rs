//! Keeping secrets out of text we repeat: [`Redactor`] removes every value opsdeck sent as a
//! credential (configured secrets, and values learned at run time such as credentials an SDK
//! resolved or a signed `Authorization` header), and [`mask_keys`] removes key-looking words
//! vendors echo back in masked form.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};

/// Values learned at run time that are remembered at most (oldest forgotten first). Signatures
/// change with every request; only the recent ones can appear in the answer being scrubbed.
const MAX_LEARNED: usize = 64;

/// Shorter values would redact ordinary words; they are not real credentials.
const MIN_SECRET_LEN: usize = 6;

#[derive(Default)]
struct Secrets {
    configured: Vec<SecretString>,
    learned: VecDeque<SecretString>,
}

/// Removes known secret values from text before it is shown, stored or logged. Clones share
/// one list, so a value learned through one clone is scrubbed by all.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Secrets>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secrets.read().unwrap_or_else(|p| p.into_inner());
        write!(
            f,
            "Redactor({} secrets, {} learned)",
            s.configured.len(),
            s.learned.len()
        )
    }
}

impl Redactor {
    /// A redactor for these secrets.
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        Redactor {
            secrets: Arc::new(RwLock::new(Secrets {
                configured: secrets.into_iter().collect(),
                learned: VecDeque::new(),
            })),
        }
    }

    /// Remember a value sent at run time (a resolved credential, a signed header) so that it is
    /// scrubbed too. Values shorter than 6 characters and values already known are ignored.
    pub fn learn(&self, value: &str) {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let mut s = self.secrets.write().unwrap_or_else(|p| p.into_inner());
        let known = s
            .configured
            .iter()
            .chain(s.learned.iter())
            .any(|k| k.expose_secret() == value);
        if known {
            return;
        }
        if s.learned.len() == MAX_LEARNED {
            s.learned.pop_front();
        }
        s.learned.push_back(SecretString::from(value.to_owned()));
    }

    /// `text` with every secret replaced by `[REDACTED]`.
    pub fn scrub(&self, text: &str) -> String {
        let s = self.secrets.read().unwrap_or_else(|p| p.into_inner());
        let mut out = text.to_owned();
        // Longest first, so a secret that contains another is removed whole.
        let mut all: Vec<&str> = s
            .configured
            .iter()
            .chain(s.learned.iter())
            .map(|k| k.expose_secret().trim())
            .filter(|k| k.len() >= MIN_SECRET_LEN)
            .collect();
        all.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for secret in all {
            if out.contains(secret) {
                out = out.replace(secret, "[REDACTED]");
            }
        }
        out
    }
}

/// Replace key-looking words that start with one of `prefixes` (e.g. `sk_`, `sk-`) with `[key]`.
/// Vendors echo masked keys in error messages ("Invalid API Key provided: sk_test_****…Aso0");
/// even a masked key's tail does not belong in reports or logs, and the [`Redactor`] only knows
/// whole secrets.
pub fn mask_keys(text: &str, prefixes: &[&str]) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '…');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let at_word_start = out.chars().last().is_none_or(|p| !is_key_char(p));
        if at_word_start && prefixes.iter().any(|p| rest.starts_with(p)) {
            let len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
            out.push_str("[key]");
            rest = &rest[len..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// `s` cut to at most `max` bytes on a character boundary, with an ellipsis when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_masked_keys_are_masked_whole() {
        assert_eq!(
            mask_keys(
                "Invalid API Key provided: sk_test_****…Aso0.",
                &["sk_", "rk_"]
            ),
            "Invalid API Key provided: [key]."
        );
        assert_eq!(mask_keys("task-sk_1 stays", &["sk_"]), "task-sk_1 stays");
    }

    #[test]
    fn redactor_scrubs_configured_and_learned_secrets() {
        let r = Redactor::new([SecretString::from("sk-verysecret")]);
        assert_eq!(r.scrub("bad key sk-verysecret!"), "bad key [REDACTED]!");
        let shared = r.clone();
        shared.learn("AKIALEARNEDKEY01");
        shared.learn("abc");
        assert_eq!(r.scrub("id AKIALEARNEDKEY01 abc"), "id [REDACTED] abc");
    }

    #[test]
    fn learned_values_are_bounded() {
        let r = Redactor::default();
        for i in 0..200 {
            r.learn(&format!("signature-{i:04}"));
        }
        assert_eq!(r.scrub("signature-0199"), "[REDACTED]");
        assert_eq!(r.scrub("signature-0000"), "signature-0000");
    }

    #[test]
    fn the_longest_secret_is_removed_whole() {
        let r = Redactor::new([
            SecretString::from("secret"),
            SecretString::from("Basic c2VjcmV0LWxvbmc="),
        ]);
        assert_eq!(r.scrub("got Basic c2VjcmV0LWxvbmc="), "got [REDACTED]");
    }
}
