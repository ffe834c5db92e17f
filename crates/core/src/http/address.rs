//! The outbound address policy: opsdeck never connects to link-local or cloud metadata
//! addresses (169.254.0.0/16, fe80::/10, AWS's fd00:ec2::254, and every IPv6 form that embeds an
//! IPv4 link-local address) unless [`HttpSettings::allow_link_local`] says so. A `base_url`
//! pointing there is the classic way to make a server hand over its cloud credentials.
//!
//! The check runs twice: on the URL at validation and client construction (literal addresses in
//! any spelling the URL parser accepts — `169.254.169.254`, `2852039166`, `0xa9fea9fe`,
//! `[::ffff:169.254.169.254]` — and well-known metadata host names), and on every resolved
//! address at connect time ([`FilteringResolver`] for reqwest; [`system_lookup`] with
//! [`filter_resolved`] for SDK transports), so a DNS name that resolves to a metadata address is refused too. Loopback and
//! private ranges stay allowed: self-hosted servers, proxies and tests live there.
//!
//! [`HttpSettings::allow_link_local`]: super::HttpSettings::allow_link_local

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use url::{Host, Url};

use crate::error::Error;
use crate::status::FailureKind;

/// AWS's IPv6 instance metadata address (IMDS on Nitro instances).
const AWS_IMDS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Host names that only ever mean a cloud metadata service (Google Cloud documents both).
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata.goog"];

/// Whether `ip` is a link-local or cloud metadata address opsdeck refuses by default.
pub fn is_link_local_or_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            if v6.is_unicast_link_local() || v6 == AWS_IMDS_V6 {
                return true;
            }
            // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms.
            if let Some(v4) = v6.to_ipv4() {
                return v4.is_link_local();
            }
            // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address.
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return Ipv4Addr::new(a, b, c, d).is_link_local();
            }
            false
        }
    }
}

/// Check a URL's host before anything is sent: a literal link-local or metadata address (in any
/// spelling the URL parser normalises) or a metadata host name is refused unless allowed.
/// The error says why, for a field error or an `invalid_config` report.
pub fn check_url(url: &Url, allow_link_local: bool) -> Result<(), String> {
    if allow_link_local {
        return Ok(());
    }
    let refused = |what: String| {
        Err(format!(
            "{what} is a link-local or cloud metadata address; opsdeck does not connect there, because it would expose this machine's cloud credentials"
        ))
    };
    match url.host() {
        Some(Host::Ipv4(v4)) if is_link_local_or_metadata(IpAddr::V4(v4)) => {
            refused(format!("the host {v4}"))
        }
        Some(Host::Ipv6(v6)) if is_link_local_or_metadata(IpAddr::V6(v6)) => {
            refused(format!("the host [{v6}]"))
        }
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&d.as_str()) {
                return refused(format!("the host {d}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A host name that resolved only to refused addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedAddress {
    /// The name that was resolved.
    pub name: String,
    /// What it resolved to.
    pub addrs: Vec<IpAddr>,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{} resolves only to link-local or cloud metadata addresses ({}), which opsdeck does not connect to",
            self.name,
            addrs.join(", ")
        )
    }
}

impl std::error::Error for BlockedAddress {}

impl BlockedAddress {
    /// The error a check reports: a configuration problem, not something a retry fixes.
    pub fn to_error(&self, provider: &str) -> Error {
        Error::new(FailureKind::InvalidConfig, format!("{provider}: {self}."))
            .with_hint("Point base_url at the vendor's address or at a proxy on a routable address. If reaching such an address is really intended, enable allow_link_local.")
    }
}

/// Keep the allowed addresses of `name`; an error when every address is refused.
pub fn filter_resolved(
    name: &str,
    addrs: Vec<IpAddr>,
    allow_link_local: bool,
) -> Result<Vec<IpAddr>, BlockedAddress> {
    if allow_link_local {
        return Ok(addrs);
    }
    let (refused, allowed): (Vec<IpAddr>, Vec<IpAddr>) = addrs
        .into_iter()
        .partition(|ip| is_link_local_or_metadata(*ip));
    if allowed.is_empty() && !refused.is_empty() {
        tracing::warn!(
            host = name,
            "refused a host that resolves to a link-local or metadata address"
        );
        return Err(BlockedAddress {
            name: name.to_owned(),
            addrs: refused,
        });
    }
    Ok(allowed)
}

/// How a [`FilteringResolver`] looks names up (the system resolver, or a table in tests).
pub type LookupFn = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
        + Send
        + Sync,
>;

/// A reqwest DNS resolver that drops link-local and metadata addresses after resolution.
#[derive(Clone)]
pub struct FilteringResolver {
    allow_link_local: bool,
    lookup: LookupFn,
}

impl fmt::Debug for FilteringResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilteringResolver")
            .field("allow_link_local", &self.allow_link_local)
            .finish_non_exhaustive()
    }
}

/// The system resolver as a [`LookupFn`].
pub fn system_lookup() -> LookupFn {
    Arc::new(|name: String| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    })
}

impl FilteringResolver {
    /// The system resolver, filtered.
    pub fn system(allow_link_local: bool) -> Self {
        Self::with_lookup(allow_link_local, system_lookup())
    }

    /// A custom lookup, filtered (tests stand in a name that resolves to a metadata address).
    pub fn with_lookup(allow_link_local: bool, lookup: LookupFn) -> Self {
        FilteringResolver {
            allow_link_local,
            lookup,
        }
    }
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        let lookup = self.lookup.clone();
        let allow = self.allow_link_local;
        Box::pin(async move {
            let addrs = lookup(name.clone()).await?;
            let allowed = filter_resolved(&name, addrs, allow)?;
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(u: &str) -> bool {
        Url::parse(u).is_ok_and(|u| check_url(&u, false).is_err())
    }

    #[test]
    fn every_spelling_of_the_metadata_address_is_refused() {
        for u in [
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://0251.0376.0251.0376/",
            "http://169.254.1/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "https://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL./",
        ] {
            assert!(refused(u), "{u} was allowed");
        }
    }

    #[test]
    fn loopback_private_and_public_hosts_stay_allowed() {
        for u in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://10.0.0.5/",
            "http://192.168.1.10/api/v3",
            "http://172.16.0.1/",
            "https://api.github.com/",
            "https://ghe.internal.example/api/v3",
            "http://[fd00::1]/",
        ] {
            assert!(!refused(u), "{u} was refused");
        }
        let u = Url::parse("http://169.254.169.254/").unwrap_or_else(|e| panic!("{e}"));
        assert!(check_url(&u, true).is_ok());
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let md: IpAddr = [169, 254, 169, 254].into();
        let lo: IpAddr = [127, 0, 0, 1].into();
        assert!(filter_resolved("x", vec![md], false).is_err());
        assert_eq!(
            filter_resolved("x", vec![md, lo], false).ok(),
            Some(vec![lo])
        );
        assert_eq!(filter_resolved("x", vec![md], true).ok(), Some(vec![md]));
        let err = filter_resolved("meta.example", vec![md], false)
            .err()
            .map(|b| b.to_error("Demo"));
        assert!(err.is_some_and(
            |e| e.kind() == FailureKind::InvalidConfig && e.message().contains("meta.example")
        ));
    }
}
