//! Resource indicators (RFC 8707): which resource server a token is for. A `resource` naming
//! the tenant's own audience or issuer is the default (the tenant's APIs, the audience the SDKs
//! and the edge check); one of the tenant's registered `oauth.resources` (an MCP server, an API
//! behind the edge) becomes the token's `aud`; anything else is `invalid_target`, so no client
//! obtains a token another resource server would accept.

use usso_shared::{Error, ErrorCode, Result};

use crate::tenants::TenantCtx;

/// The audience `resource` asks for: `None` for the tenant's own, `Some(uri)` for a registered
/// resource server.
pub fn resolve(tc: &TenantCtx, resource: Option<&str>) -> Result<Option<String>> {
    let Some(r) = resource.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let cfg = &tc.state.config;
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if cfg.audience.as_deref() == Some(r) || same(r, &cfg.issuer) {
        return Ok(None);
    }
    match tc.tenant.oauth.resources.iter().find(|x| same(x, r)) {
        Some(x) => Ok(Some(x.clone())),
        None => Err(Error::new(
            ErrorCode::InvalidTarget,
            "resource: not a resource server of this tenant",
        )),
    }
}
