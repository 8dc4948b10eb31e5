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

/// The password reset link's page: a form for the new password (opening it consumes
/// nothing; submitting it does).
pub fn reset_password(tenant_name: &str, token: &str, live: bool, error: Option<&str>) -> Response {
    if !live {
        return link_gone(tenant_name);
    }
    let brand = escape_html(tenant_name);
    let error = error
        .map(|e| format!("<p role=\"alert\">{}</p>", escape_html(e)))
        .unwrap_or_default();
    html(
        if error.is_empty() { 200 } else { 422 },
        format!(
            "{}<h1>Choose a new password for {brand}</h1>{error}\
             <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <label>New password <input type=\"password\" name=\"new_password\" autocomplete=\"new-password\" required></label>\
             <button type=\"submit\">Set the password</button></form><p>Every session of the account ends when you do.</p></main></body></html>",
            head(&format!("Reset your {brand} password")),
            usso_shared::paths::PASSWORD_RESET,
            escape_html(token)
        ),
    )
}

/// The verification link's page: a button that proves the address (opening it proves
/// nothing: mail scanners open links).
pub fn verify_link(tenant_name: &str, token: &str, live: bool) -> Response {
    if !live {
        return link_gone(tenant_name);
    }
    let brand = escape_html(tenant_name);
    html(
        200,
        format!(
            "{}<h1>Confirm your address for {brand}</h1><p>Press the button to confirm that this address is yours.</p>\
             <form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\">Confirm</button></form></main></body></html>",
            head(&format!("Confirm your address for {brand}")),
            usso_shared::paths::VERIFY_LINK,
            escape_html(token)
        ),
    )
}

/// The outcome of a form: `status`, a title and one sentence.
pub fn outcome(tenant_name: &str, status: u16, title: &str, message: &str) -> Response {
    html(
        status,
        format!(
            "{}<h1>{}</h1><p>{}</p></main></body></html>",
            head(&escape_html(tenant_name)),
            escape_html(title),
            escape_html(message)
        ),
    )
}

fn link_gone(tenant_name: &str) -> Response {
    outcome(
        tenant_name,
        410,
        "This link has expired or was already used",
        "Ask for a new one.",
    )
}

/// The document's start up to `<main>`; `title` is already escaped.
fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head><body><main>"
    )
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
