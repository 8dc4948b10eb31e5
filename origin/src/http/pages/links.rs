//! The pages behind the mailed links: the magic link's confirmation, the password reset form
//! and the address confirmation.
//!
//! Invariant: opening a link consumes nothing (mail scanners open links); only the page's
//! button, a form post with the form token, does.

use usso_edge::http::Response;
use usso_shared::paths;

use super::{Field, Form, Frame, Notice, Page};

/// The magic link's confirmation page.
pub fn magic_link(f: &Frame, token: &str, live: bool) -> Response {
    if !live {
        return gone(f);
    }
    Page::new(f, f.t.magic_title)
        .text(f.t.magic_text)
        .form(
            Form::new("magic", paths::MAGIC_LINK, f.t.sign_in)
                .hidden(vec![("token", token.to_owned())]),
        )
        .respond(200)
}

/// The password reset link's page: a form for the new password (`error`: why the last try
/// failed).
pub fn reset_password(
    f: &Frame,
    token: &str,
    live: bool,
    min_length: usize,
    error: Option<&usso_shared::Error>,
) -> Response {
    if !live {
        return gone(f);
    }
    let mut form = Form::new("reset-link", paths::PASSWORD_RESET, f.t.reset_submit)
        .hidden(vec![("token", token.to_owned())])
        .field(
            Field::new("new_password", f.t.new_password, "password", "new-password")
                .hint(format!("{} {min_length}", f.t.password_rule)),
        );
    if let Some(e) = error {
        form = form.failed(f.lang, e);
    }
    Page::new(f, f.t.reset_title)
        .form(form)
        .text(f.t.reset_note)
        .respond(if error.is_some() { 422 } else { 200 })
}

/// The address confirmation link's page: one button.
pub fn verify_link(f: &Frame, token: &str, live: bool) -> Response {
    if !live {
        return gone(f);
    }
    Page::new(f, f.t.step_verify_title)
        .text(f.t.confirm_text)
        .form(
            Form::new("confirm", paths::VERIFY_LINK, f.t.confirm)
                .hidden(vec![("token", token.to_owned())]),
        )
        .respond(200)
}

/// The outcome of a form: a heading and a sentence, a way to sign in.
pub fn outcome(f: &Frame, status: u16, title: &'static str, text: &str) -> Response {
    Page::new(f, title)
        .notice(Notice::ok(text))
        .link(paths::pages::LOGIN, f.t.sign_in)
        .respond(status)
}

/// A used or expired link.
pub fn gone(f: &Frame) -> Response {
    Page::new(f, f.t.link_gone_title)
        .text(f.t.link_gone_text)
        .link(paths::pages::LOGIN, f.t.back_to_sign_in)
        .respond(410)
}
