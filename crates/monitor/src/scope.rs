//! Which services a rule, silence or budget applies to: service-name globs, tags, providers and
//! (for budgets) a category.
//!
//! Within one list any entry may match (`tags = ["prod", "critical"]` is prod *or* critical);
//! across lists every given list must match (`services = ["gh-*"]` with `tags = ["prod"]` is
//! GitHub-named services tagged prod). Globs are `*`, `?`, `[abc]` and `{a,b}`.

use globset::{Glob, GlobMatcher};
use opsdeck_core::Category;
use opsdeck_core::manager::ServiceInfo;
use serde::{Serialize, Serializer};

use crate::config::Fields;

/// The facts about a service that scopes match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRef<'a> {
    /// Service name.
    pub name: &'a str,
    /// Provider id.
    pub provider: &'a str,
    /// Tags.
    pub tags: &'a [String],
    /// The provider's category, when known (budgets by category need it).
    pub category: Option<Category>,
}

impl<'a> ServiceRef<'a> {
    /// From a [`ServiceManager`](opsdeck_core::ServiceManager)'s service info, with the
    /// provider's category (from `ServiceFactory::descriptor(provider)`) when the caller has it.
    pub fn from_info(info: &'a ServiceInfo, category: Option<Category>) -> Self {
        ServiceRef {
            name: &info.name,
            provider: &info.provider,
            tags: &info.tags,
            category,
        }
    }
}

/// A compiled service-name glob that remembers its pattern.
#[derive(Debug, Clone)]
pub struct NameGlob {
    pattern: String,
    matcher: GlobMatcher,
}

impl NameGlob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, String> {
        Glob::new(pattern)
            .map(|g| NameGlob {
                pattern: pattern.to_owned(),
                matcher: g.compile_matcher(),
            })
            .map_err(|e| format!("invalid glob \"{pattern}\": {}", e.kind()))
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `name` matches.
    pub fn is_match(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

impl PartialEq for NameGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Serialize for NameGlob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pattern)
    }
}

/// A set of services. Empty lists do not restrict.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scope {
    /// Service-name globs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<NameGlob>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Provider ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
    /// Provider category (budgets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

impl Scope {
    /// Every service (`services = ["*"]`).
    pub fn all() -> Self {
        Scope {
            services: NameGlob::new("*").into_iter().collect(),
            ..Scope::default()
        }
    }

    /// Whether nothing restricts the scope (no list given at all).
    pub fn is_unrestricted(&self) -> bool {
        self.services.is_empty()
            && self.tags.is_empty()
            && self.providers.is_empty()
            && self.category.is_none()
    }

    /// Whether `svc` is in scope.
    pub fn matches(&self, svc: &ServiceRef<'_>) -> bool {
        (self.services.is_empty() || self.services.iter().any(|g| g.is_match(svc.name)))
            && (self.tags.is_empty() || svc.tags.iter().any(|t| self.tags.contains(t)))
            && (self.providers.is_empty() || self.providers.iter().any(|p| p == svc.provider))
            && self.category.is_none_or(|c| svc.category == Some(c))
    }

    /// Reads `services`, `tags`, `providers` (and `category` when `with_category`) from an entry.
    /// The caller decides whether an empty scope is a problem.
    pub(crate) fn read(f: &mut Fields<'_>, with_category: bool) -> Scope {
        let mut scope = Scope::default();
        let given: Vec<&str> = ["services", "tags", "providers"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        let globs = f.strings("services");
        let no_globs = globs.as_ref().is_some_and(Vec::is_empty);
        if let Some(globs) = globs {
            for g in globs {
                match NameGlob::new(&g) {
                    Ok(g) => scope.services.push(g),
                    Err(e) => f.problem("services", e),
                }
            }
        }
        scope.tags = f.strings("tags").unwrap_or_default();
        scope.providers = f.strings("providers").unwrap_or_default();
        for (field, empty) in [
            ("services", no_globs),
            ("tags", scope.tags.is_empty()),
            ("providers", scope.providers.is_empty()),
        ] {
            // An empty list would not restrict at all, the opposite of what it looks like.
            if empty && given.contains(&field) {
                f.problem(
                    field,
                    "must not be empty (leave it out, or use services = [\"*\"] for all)",
                );
            }
        }
        if with_category && let Some(c) = f.string("category") {
            match parse_category(&c) {
                Some(c) => scope.category = Some(c),
                None => f.problem(
                    "category",
                    format!(
                        "unknown category \"{c}\"; accepted: infrastructure, development, project_management, ai, observability, billing, other"
                    ),
                ),
            }
        }
        scope
    }
}

/// Parses a category's snake_case name.
pub fn parse_category(s: &str) -> Option<Category> {
    [
        Category::Infrastructure,
        Category::Development,
        Category::ProjectManagement,
        Category::Ai,
        Category::Observability,
        Category::Billing,
        Category::Other,
    ]
    .into_iter()
    .find(|c| c.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc<'a>(name: &'a str, provider: &'a str, tags: &'a [String]) -> ServiceRef<'a> {
        ServiceRef {
            name,
            provider,
            tags,
            category: Some(Category::Development),
        }
    }

    #[test]
    fn lists_or_within_and_across() {
        let prod = vec!["prod".to_string()];
        let none: Vec<String> = vec![];
        let scope = Scope {
            services: vec![NameGlob::new("gh-*").unwrap_or_else(|e| panic!("{e}"))],
            tags: prod.clone(),
            ..Scope::default()
        };
        assert!(scope.matches(&svc("gh-main", "github", &prod)));
        assert!(!scope.matches(&svc("gh-main", "github", &none)));
        assert!(!scope.matches(&svc("jira", "jira", &prod)));
        assert!(Scope::all().matches(&svc("anything", "x", &none)));
        let dev = Scope {
            category: Some(Category::Development),
            ..Scope::default()
        };
        assert!(dev.matches(&svc("a", "github", &none)));
        let ai = Scope {
            category: Some(Category::Ai),
            ..Scope::default()
        };
        assert!(!ai.matches(&svc("a", "github", &none)));
        assert!(NameGlob::new("[").is_err());
    }
}
