//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, the MCP
//! authorization profile): a client names itself by an `https` URL and the provider fetches
//! the JSON document there to learn its name and redirect URIs, with no registration step.
//!
//! Invariants and the attacks they prevent (the provider is made to fetch a URL an anonymous
//! caller chose, the classic server-side request forgery):
//! - only `https`, port as given, a path, no credentials, query or fragment; the host must
//!   resolve only to public addresses (no loopback, private, link-local, CGNAT, multicast,
//!   unspecified, documentation or IPv4-mapped private addresses), and the connection is pinned
//!   to the address checked (no DNS rebinding between the check and the fetch); plain `http`
//!   and non-public addresses only for `host:port`s the operator lists for tests
//!   (`USSO_OAUTH_METADATA_INSECURE_HOSTS`);
//! - no redirects followed, 3 s to answer, at most [`MAX_DOCUMENT_BYTES`] read;
//! - the document must name itself (`client_id` = the URL), its redirect URIs pass the same
//!   rules as registered ones, it gets OpenID scopes only and always the consent page, and it
//!   may only be a public client (`none`);
//! - documents are cached for [`CACHE_SECS`] per tenant and URL, at most [`CACHE_ENTRIES`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use usso_shared::{Error, ErrorCode, Result};

use super::clients::{AuthMethod, Client, GrantType};
use super::scopes::IDENTITY_SCOPES;
use crate::identity::fields::valid_redirect_uri;

/// Largest document read.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a fetched document is used.
pub const CACHE_SECS: i64 = 300;
/// Most documents cached.
pub const CACHE_ENTRIES: usize = 1000;

/// The fetcher and its cache (one per process).
pub struct Fetcher {
    insecure_hosts: Vec<String>,
    cache: Mutex<HashMap<(String, String), (Client, i64)>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("insecure_hosts", &self.insecure_hosts)
            .finish_non_exhaustive()
    }
}

/// Whether a client id is a URL (a metadata document) rather than a registered id.
pub fn is_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

fn refused(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidClient, detail)
}

impl Fetcher {
    /// A fetcher allowing plain HTTP and non-public addresses for `insecure_hosts`
    /// (`host:port`, tests only).
    pub fn new(insecure_hosts: Vec<String>) -> Self {
        Self {
            insecure_hosts,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, tenant: &str, url: &str, now: i64) -> Option<Client> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&(tenant.to_owned(), url.to_owned()))
            .filter(|(_, until)| *until > now)
            .map(|(c, _)| c.clone())
    }

    fn remember(&self, tenant: &str, url: &str, client: &Client, now: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(
            (tenant.to_owned(), url.to_owned()),
            (client.clone(), now + CACHE_SECS),
        );
    }

    /// The client a metadata document URL describes (fetched, or from the cache).
    pub async fn client(&self, tenant: &str, url: &str, now: i64) -> Result<Client> {
        if let Some(c) = self.cached(tenant, url, now) {
            return Ok(c);
        }
        let parsed = url::Url::parse(url).map_err(|_| refused("client_id is not a URL"))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| refused("client_id URL has no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let insecure = self.insecure_hosts.contains(&format!("{host}:{port}"));
        if parsed.scheme() != "https" && !(insecure && parsed.scheme() == "http") {
            return Err(refused("a client metadata document is served over https"));
        }
        if !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || parsed.path() == "/"
            || url.len() > 2000
        {
            return Err(refused(
                "client_id URL: a path, no credentials, query or fragment",
            ));
        }
        let addrs: Vec<std::net::SocketAddr> = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        .map_err(|_| refused("client metadata host did not resolve in time"))?
        .map_err(|_| refused("client metadata host does not resolve"))?
        .collect();
        let Some(addr) = addrs.first().copied() else {
            return Err(refused("client metadata host does not resolve"));
        };
        if !insecure && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(refused(
                "client metadata host resolves to a non-public address",
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(3))
            .resolve(&host, addr)
            .build()
            .map_err(|e| Error::internal(format!("http client: {e}")))?;
        let mut res = http
            .get(parsed.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| refused("client metadata document could not be fetched"))?;
        if res.status() != 200 {
            return Err(refused(format!(
                "client metadata document answered {}",
                res.status().as_u16()
            )));
        }
        if res
            .content_length()
            .is_some_and(|n| n as usize > MAX_DOCUMENT_BYTES)
        {
            return Err(refused("client metadata document too large"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|_| refused("client metadata document could not be read"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(refused("client metadata document too large"));
            }
        }
        let doc: Document = serde_json::from_slice(&body)
            .map_err(|_| refused("client metadata document is not valid JSON metadata"))?;
        let client = to_client(tenant, url, doc, now)?;
        self.remember(tenant, url, &client, now);
        Ok(client)
    }
}

fn to_client(tenant: &str, url: &str, doc: Document, now: i64) -> Result<Client> {
    if doc.client_id != url {
        return Err(refused("the document's client_id is not its URL"));
    }
    if doc.redirect_uris.is_empty()
        || doc.redirect_uris.len() > 20
        || doc
            .redirect_uris
            .iter()
            .chain(&doc.post_logout_redirect_uris)
            .any(|u| !valid_redirect_uri(u))
    {
        return Err(refused(
            "the document's redirect_uris are missing or invalid",
        ));
    }
    match doc.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(_) => {
            return Err(refused(
                "a metadata-document client is public (token_endpoint_auth_method none)",
            ))
        }
    }
    let mut grant_types = vec![GrantType::AuthorizationCode];
    if doc
        .grant_types
        .iter()
        .flatten()
        .any(|g| g == "refresh_token")
    {
        grant_types.push(GrantType::RefreshToken);
    }
    let name: String = doc
        .client_name
        .unwrap_or_else(|| url.to_owned())
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect();
    Ok(Client {
        client_id: url.to_owned(),
        tenant_id: tenant.to_owned(),
        name,
        description: None,
        redirect_uris: doc.redirect_uris,
        post_logout_redirect_uris: doc.post_logout_redirect_uris,
        grant_types,
        token_endpoint_auth_method: AuthMethod::None,
        scopes: IDENTITY_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        skip_consent: false,
        secret_hash: None,
        id_token_signed_response_alg: super::clients::IdTokenAlg::EdDSA,
        jwks: Vec::new(),
        is_active: true,
        created_by: Some("client_id_metadata_document".into()),
        created_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn urls_and_addresses_are_refused_before_any_fetch() {
        let f = Fetcher::new(Vec::new());
        for url in [
            "http://example.com/client.json",
            "https://127.0.0.1/client.json",
            "https://localhost:8443/client.json",
            "https://user:pw@example.com/client.json",
            "https://example.com/client.json?x=1",
            "https://example.com/",
            "https://[::1]/client.json",
            "https://10.0.0.1/client.json",
        ] {
            let e = f.client("t", url, 0).await.unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidClient, "{url}");
        }
    }

    #[test]
    fn documents_must_name_themselves_and_stay_public() {
        let url = "https://app.example.com/oauth/client.json";
        let doc = |v: serde_json::Value| serde_json::from_value::<Document>(v).unwrap();
        let ok = to_client(
            "t",
            url,
            doc(serde_json::json!({"client_id": url, "client_name": "App",
                "redirect_uris": ["https://app.example.com/cb"]})),
            0,
        )
        .unwrap();
        assert!(ok.is_public() && !ok.skip_consent);
        assert_eq!(ok.scopes.len(), IDENTITY_SCOPES.len());
        for bad in [
            serde_json::json!({"client_id": "https://other.example/c.json",
                "redirect_uris": ["https://app.example.com/cb"]}),
            serde_json::json!({"client_id": url, "redirect_uris": []}),
            serde_json::json!({"client_id": url, "redirect_uris": ["http://evil.example/cb"]}),
            serde_json::json!({"client_id": url, "redirect_uris": ["https://app.example.com/cb"],
                "token_endpoint_auth_method": "client_secret_basic"}),
        ] {
            assert!(to_client("t", url, doc(bad.clone()), 0).is_err(), "{bad}");
        }
    }
}
