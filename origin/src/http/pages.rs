//! Server-rendered pages. Every page is sent with a strict Content-Security-Policy (no script,
//! forms only to this origin, never framed) and `no-referrer`, so a token in the URL does not
//! leak to other sites.

use usso_edge::http::Response;

use crate::delivery::escape_html;

/// The magic link's confirmation page: opening it signs nothing in and consumes nothing (mail
/// scanners open links); its button POSTs.
pub fn magic_link(tenant_name: &str, token: &str, live: bool) -> Response {
    let brand = escape_html(tenant_name);
    let body = if live {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Sign in to {brand}</title></head>\
             <body><main><h1>Sign in to {brand}</h1><p>Press the button to finish signing in. If you did not ask for this link, close this page.</p>\
             <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Sign in</button></form></main></body></html>",
            usso_shared::paths::MAGIC_LINK,
            escape_html(token)
        )
    } else {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{brand}</title></head>\
             <body><main><h1>This link has expired or was already used</h1><p>Ask for a new one.</p></main></body></html>"
        )
    };
    html(if live { 200 } else { 410 }, body)
}

/// An HTML response with the page security headers.
pub fn html(status: u16, body: String) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            ("referrer-policy".into(), "no-referrer".into()),
            (
                "content-security-policy".into(),
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'".into(),
            ),
        ],
        body: body.into_bytes(),
    }
}
