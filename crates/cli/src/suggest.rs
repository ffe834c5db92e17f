//! "Did you mean …?": closest matches for provider ids and service names the user typed, and
//! the wording of "unknown provider" / "unknown service" errors that use them.

/// Provider ids opsdeck ships (one Cargo feature each, named like the id). A build may leave
/// some out; naming one of those gets "rebuild with the feature" instead of "unknown".
const SHIPPED_PROVIDERS: &[&str] = &[
    "aws",
    "azure_openai",
    "claude",
    "datadog",
    "gemini",
    "github",
    "jira",
    "openai",
    "railway",
    "stripe",
    "vercel",
];

/// The candidate closest to `given`, if it is close enough to be a likely typo.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&given, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Why `id` is not a provider of this build, and what to type instead.
pub fn unknown_provider(id: &str, known: &[&str]) -> String {
    if SHIPPED_PROVIDERS.contains(&id) {
        return format!(
            "the \"{id}\" provider is not compiled into this build; rebuild opsdeck with the Cargo \
             feature \"{id}\" (the default features include every provider). Providers in this \
             build: {}",
            list_or_none(known)
        );
    }
    match closest(id, known.iter().copied()) {
        Some(s) => format!(
            "unknown provider \"{id}\"; did you mean \"{s}\"? Known providers: {}",
            list_or_none(known)
        ),
        None => format!(
            "unknown provider \"{id}\"; known providers: {}",
            list_or_none(known)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_name() {
        assert_eq!(closest("stripee", ["github", "stripe"]), Some("stripe"));
        assert_eq!(closest("GitHub", ["github", "stripe"]), Some("github"));
        assert_eq!(closest("gh-mian", ["gh-main", "jira"]), Some("gh-main"));
        assert_eq!(closest("zzz", ["github", "stripe"]), None);
    }

    #[test]
    fn a_shipped_provider_left_out_of_the_build_names_the_feature() {
        let m = unknown_provider("stripe", &["github"]);
        assert!(m.contains("not compiled into this build"), "{m}");
        assert!(m.contains("Cargo feature \"stripe\""), "{m}");
        let m = unknown_provider("stripee", &["github", "stripe"]);
        assert!(m.contains("did you mean \"stripe\"?"), "{m}");
    }
}
