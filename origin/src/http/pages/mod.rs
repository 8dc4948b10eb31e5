//! The hosted pages: sign-in (password, code, magic link, second step, captcha), sign-up,
//! password reset, address confirmation, the account page and an error page, per tenant, in
//! English and Persian (right to left), from templates compiled into the binary
//! (`origin/templates`, [askama]: escaped by default). Handlers stay thin: they call the same
//! domain functions as the JSON routes, so limits, captcha and answers are the same.
//!
//! Invariants and the attacks they prevent:
//! - Every page is sent with a strict Content-Security-Policy ([`CSP`]): scripts and styles
//!   only from this origin, never inline, so injected markup cannot run; `frame-ancestors
//!   'none'` (clickjacking); `form-action` limited to this origin and the tenant's allowed
//!   redirect origins; `Referrer-Policy: same-origin`, so a link token in the URL never
//!   leaves this site (`no-referrer` would also make browsers send `Origin: null` on the
//!   pages' own form posts, which the same-site check rightly refuses).
//! - Every form post passes [`csrf::check`] (same-site headers and a signed token).
//! - Where the browser goes after signing in ([`Target`]) is a path of this site or a URL the
//!   tenant allows ([`crate::authn::magic_link::redirect_allowed`]); anything else is refused
//!   with the error page, never followed (open redirect).
//! - No secret is put in a URL except the single-use link tokens the mails carry.
//!
//! [askama]: https://askama.rs

pub mod account;
pub mod assets;
pub mod csrf;
pub mod i18n;
pub mod links;
pub mod signin;

use askama::Template;
use usso_edge::http::{Request, Response};
use usso_shared::paths::pages as p;
use usso_shared::{Error, ErrorCode, Result};

use crate::app::Ctx;
use crate::tenants::{Tenant, TenantCtx};
use i18n::{Lang, Text};

/// The pages' Content-Security-Policy (`form-action` is completed per tenant).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A cookie marking a browser that signed in through the pages: where it is present and the
/// access cookie is not (expired), a page first tries to resume the session
/// ([`usso_shared::paths::RESUME`]) instead of asking to sign in again.
pub const SIGNED_IN_COOKIE: &str = "usso-signed-in";

/// What every page shows around its content.
pub struct Frame {
    /// The language.
    pub lang: Lang,
    /// Its sentences.
    pub t: &'static Text,
    /// The tenant's display name.
    pub brand_name: String,
    /// Its logo.
    pub logo_url: Option<String>,
    /// Its support address.
    pub support_email: Option<String>,
    /// Changes when the tenant's colours change (the style sheet's cache key).
    pub brand_version: String,
    /// The form token.
    pub csrf: String,
    /// Links to this page in the other languages.
    pub switch: Vec<Switch>,
    /// `Set-Cookie` values to send with the page.
    pub cookies: Vec<String>,
    /// Origins the tenant may send a browser back to (for `form-action`).
    pub redirect_origins: Vec<String>,
}

/// A link of the language switch.
pub struct Switch {
    /// Where it goes.
    pub href: String,
    /// The language's tag.
    pub code: &'static str,
    /// The language's own name.
    pub label: &'static str,
}

impl Frame {
    /// The frame of a page at `here` (a GET path with its query, for the language switch),
    /// with the signed-in person's own language choice when known.
    pub fn of(
        ctx: &Ctx,
        tc: &TenantCtx,
        req: &Request,
        here: &str,
        own: Option<&str>,
    ) -> Result<Frame> {
        let t = &tc.tenant;
        let b = &t.branding;
        let (lang, chosen) = Lang::of(req, own, b.default_language.as_deref());
        let (csrf, csrf_cookie) = csrf::issue(ctx, tc, req)?;
        let mut cookies: Vec<String> = csrf_cookie.into_iter().collect();
        if chosen {
            cookies.push(usso_edge::issue::cookie(
                &tc.state.config,
                i18n::COOKIE,
                lang.code(),
                "/",
                86_400 * 365,
                "Lax",
            ));
        }
        let sep = if here.contains('?') { '&' } else { '?' };
        let switch = Lang::ALL
            .into_iter()
            .filter(|l| *l != lang)
            .map(|l| Switch {
                href: format!("{here}{sep}lang={}", l.code()),
                code: l.code(),
                label: l.own_name(),
            })
            .collect();
        Ok(Frame {
            lang,
            t: lang.text(),
            brand_name: t.name.clone(),
            logo_url: b.logo_url.clone(),
            support_email: b.support_email.clone(),
            brand_version: assets::brand_version(b),
            csrf,
            switch,
            cookies,
            redirect_origins: t
                .allowed_redirects
                .iter()
                .filter_map(|r| origin_of(r))
                .collect(),
        })
    }

    /// The frame of a page shown before the tenant is known (English, no brand).
    fn bare() -> Frame {
        Frame {
            lang: Lang::En,
            t: Lang::En.text(),
            brand_name: String::from("USSO"),
            logo_url: None,
            support_email: None,
            brand_version: String::new(),
            csrf: String::new(),
            switch: Vec::new(),
            cookies: Vec::new(),
            redirect_origins: Vec::new(),
        }
    }
}

/// `scheme://authority` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// Percent-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the browser goes after signing in: a path of this site (not under the API), or a URL
/// the tenant allows. The default is the account page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    /// Checks the `redirect` a client asked for; `None` when it may not be followed.
    pub fn parse(raw: Option<&str>, t: &Tenant) -> Option<Target> {
        let raw = match raw.map(str::trim) {
            None | Some("") => return Some(Target(p::ACCOUNT.into())),
            Some(r) => r,
        };
        crate::authn::magic_link::target_allowed(raw, &t.allowed_redirects)
            .then(|| Target(raw.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is an OAuth authorization request of this site.
    pub fn is_authorize(&self) -> bool {
        crate::authn::magic_link::is_authorize_request(&self.0)
    }

    /// Whether it is an authorization request that wants a sign-in after a given time
    /// (`login_after`): the sign-in page then shows its form even to a signed-in browser.
    pub fn forces_sign_in(&self) -> bool {
        self.is_authorize()
            && (self.0.contains("?login_after=") || self.0.contains("&login_after="))
    }

    /// Whether it is the default (nothing to carry between pages).
    pub fn is_default(&self) -> bool {
        self.0 == p::ACCOUNT
    }

    /// `?redirect=…` to carry it to another page (empty for the default).
    pub fn query(&self) -> String {
        if self.is_default() {
            String::new()
        } else {
            format!("?redirect={}", encode(&self.0))
        }
    }

    /// The hidden form field carrying it.
    pub fn hidden(&self) -> Vec<(&'static str, String)> {
        if self.is_default() {
            Vec::new()
        } else {
            vec![("redirect", self.0.clone())]
        }
    }
}

/// A notice at the top of a page (a success, or an alert).
pub struct Notice {
    /// The sentence.
    pub text: String,
    /// An error (`role=alert`) rather than a status.
    pub alert: bool,
}

impl Notice {
    /// A success.
    pub fn ok(text: impl Into<String>) -> Option<Notice> {
        Some(Notice {
            text: text.into(),
            alert: false,
        })
    }
    /// An error.
    pub fn alert(text: impl Into<String>) -> Option<Notice> {
        Some(Notice {
            text: text.into(),
            alert: true,
        })
    }
}

/// A link below the forms.
pub struct Link {
    /// Where.
    pub href: String,
    /// Its text.
    pub label: &'static str,
}

/// A form field.
pub struct Field {
    /// The name posted.
    pub name: &'static str,
    /// Its label.
    pub label: &'static str,
    /// `text`, `email`, `password`, `tel`, `url`, or `select`.
    pub kind: &'static str,
    /// The `autocomplete` token.
    pub autocomplete: &'static str,
    /// `inputmode` (empty for none).
    pub inputmode: &'static str,
    /// The value shown (never a secret).
    pub value: String,
    /// Required.
    pub required: bool,
    /// An explanation under the label.
    pub hint: Option<String>,
    /// What is wrong with it.
    pub error: Option<String>,
    /// Choices of a `select`: value, label, selected.
    pub options: Vec<(String, String, bool)>,
    /// `dir` of the value (`ltr` for addresses and codes in a right-to-left page), or empty.
    pub dir: &'static str,
}

impl Field {
    /// A required field.
    pub fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        autocomplete: &'static str,
    ) -> Field {
        Field {
            name,
            label,
            kind,
            autocomplete,
            inputmode: "",
            value: String::new(),
            required: true,
            hint: None,
            error: None,
            options: Vec::new(),
            dir: if matches!(kind, "email" | "tel" | "url") {
                "ltr"
            } else {
                ""
            },
        }
    }
    /// With a value.
    pub fn value(mut self, v: impl Into<String>) -> Field {
        self.value = v.into();
        self
    }
    /// With a hint.
    pub fn hint(mut self, h: impl Into<String>) -> Field {
        self.hint = Some(h.into());
        self
    }
    /// Optional.
    pub fn optional(mut self) -> Field {
        self.required = false;
        self
    }
    /// Digits only (codes).
    pub fn numeric(mut self) -> Field {
        self.inputmode = "numeric";
        self.dir = "ltr";
        self
    }
    /// Left to right whatever the page's direction (addresses, identifiers).
    pub fn ltr(mut self) -> Field {
        self.dir = "ltr";
        self
    }
    /// The ids that describe it (`aria-describedby`), inside form `form`.
    pub fn describedby(&self, form: &str) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{form}-{}-hint", self.name));
        }
        if self.error.is_some() {
            ids.push(format!("{form}-{}-error", self.name));
        }
        ids.join(" ")
    }
}

/// A form.
pub struct Form {
    /// Its id (unique on the page; the fields' ids start with it).
    pub id: &'static str,
    /// Where it posts.
    pub action: &'static str,
    /// Hidden fields (besides the form token).
    pub hidden: Vec<(&'static str, String)>,
    /// The fields.
    pub fields: Vec<Field>,
    /// The button.
    pub submit: &'static str,
    /// Needs a solved proof-of-work challenge (the page's script solves it).
    pub captcha: bool,
    /// What is wrong with the whole form.
    pub error: Option<String>,
    /// `secondary` or `danger` for a lesser or destructive button; empty otherwise.
    pub class: &'static str,
}

impl Form {
    /// A form with a primary button.
    pub fn new(id: &'static str, action: &'static str, submit: &'static str) -> Form {
        Form {
            id,
            action,
            hidden: Vec::new(),
            fields: Vec::new(),
            submit,
            captcha: false,
            error: None,
            class: "",
        }
    }
    /// With a field.
    pub fn field(mut self, f: Field) -> Form {
        self.fields.push(f);
        self
    }
    /// With hidden fields.
    pub fn hidden(mut self, h: Vec<(&'static str, String)>) -> Form {
        self.hidden.extend(h);
        self
    }
    /// Guarded by a captcha.
    pub fn captcha(mut self, on: bool) -> Form {
        self.captcha = on;
        self
    }
    /// The error of a failed post: on the field it concerns, else on the form.
    pub fn failed(mut self, lang: Lang, e: &Error) -> Form {
        let text = lang.error(e);
        let detail = e.detail();
        let field = self
            .fields
            .iter()
            .position(|f| detail.starts_with(f.name) || detail.contains(&format!("`{}`", f.name)))
            .or_else(|| match e.code() {
                ErrorCode::InvalidCredentials => self
                    .fields
                    .iter()
                    .position(|f| matches!(f.name, "password" | "code")),
                _ => None,
            });
        match field {
            Some(i) => self.fields[i].error = Some(text),
            None => self.error = Some(text),
        }
        self
    }
}

/// A page of forms: the sign-in and recovery pages, the outcome and error pages.
#[derive(Template)]
#[template(path = "page.html")]
pub struct Page<'a> {
    /// Around it.
    pub f: &'a Frame,
    /// The heading.
    pub title: &'a str,
    /// Paragraphs under it.
    pub intro: Vec<String>,
    /// A notice.
    pub notice: Option<Notice>,
    /// The forms.
    pub forms: Vec<Form>,
    /// Links below.
    pub links: Vec<Link>,
    /// Whether a form needs the captcha script.
    pub captcha: bool,
    /// `http-equiv=refresh` target (the resume bounce), if any.
    pub refresh: Option<String>,
}

impl<'a> Page<'a> {
    /// A page with a heading.
    pub fn new(f: &'a Frame, title: &'a str) -> Page<'a> {
        Page {
            f,
            title,
            intro: Vec::new(),
            notice: None,
            forms: Vec::new(),
            links: Vec::new(),
            captcha: false,
            refresh: None,
        }
    }
    /// With a paragraph.
    pub fn text(mut self, p: impl Into<String>) -> Self {
        self.intro.push(p.into());
        self
    }
    /// With a notice.
    pub fn notice(mut self, n: Option<Notice>) -> Self {
        self.notice = n;
        self
    }
    /// With a form.
    pub fn form(mut self, form: Form) -> Self {
        self.captcha |= form.captcha;
        self.forms.push(form);
        self
    }
    /// With a link.
    pub fn link(mut self, href: impl Into<String>, label: &'static str) -> Self {
        self.links.push(Link {
            href: href.into(),
            label,
        });
        self
    }
    /// The response.
    pub fn respond(&self, status: u16) -> Response {
        render(status, self.f, self)
    }
}

/// A rendered template as a page response with the security headers and the frame's cookies.
pub fn render<T: Template>(status: u16, f: &Frame, tpl: &T) -> Response {
    let (status, body) = match tpl.render() {
        Ok(b) => (status, b),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            (
                500,
                String::from(
                    "<!doctype html><title>Error</title><p>An internal error occurred.</p>",
                ),
            )
        }
    };
    let mut form_action = String::from("form-action 'self'");
    for o in &f.redirect_origins {
        form_action.push(' ');
        form_action.push_str(o);
    }
    let mut res = html(status, body, &form_action);
    for c in &f.cookies {
        res = res.with_header("set-cookie", c.clone());
    }
    res
}

/// An HTML response with the page security headers.
pub fn html(status: u16, body: String, form_action: &str) -> Response {
    Response {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            ("referrer-policy".into(), "same-origin".into()),
            ("x-content-type-options".into(), "nosniff".into()),
            ("x-frame-options".into(), "DENY".into()),
            ("cross-origin-opener-policy".into(), "same-origin".into()),
            (
                "content-security-policy".into(),
                format!("{CSP}; {form_action}"),
            ),
        ],
        body: body.into_bytes(),
    }
}

/// The error page: a heading, one sentence, a way back.
pub fn error_page(f: &Frame, status: u16, text: String) -> Response {
    Page::new(f, f.t.error_title)
        .notice(Notice::alert(text))
        .link(p::LOGIN, f.t.back_to_sign_in)
        .respond(status)
}

/// The answer to a form post refused by [`csrf::check`].
pub fn refused(f: &Frame, e: &Error) -> Response {
    tracing::info!(target: "pages", reason = %e, "form post refused");
    error_page(f, 403, f.t.form_expired.into())
}

/// The error page for a request whose tenant could not be read (English, unbranded).
pub fn error_without_tenant(e: &Error) -> Response {
    let f = Frame::bare();
    error_page(&f, e.status(), Lang::En.error(e))
}

/// A 303 to `location` with the frame's cookies.
pub fn see_other(location: &str, f: Option<&Frame>) -> Response {
    let mut res = Response {
        status: 303,
        headers: vec![
            ("location".into(), location.to_owned()),
            ("cache-control".into(), "no-store".into()),
        ],
        body: Vec::new(),
    };
    for c in f.map(|f| f.cookies.as_slice()).unwrap_or_default() {
        res = res.with_header("set-cookie", c.clone());
    }
    res
}

/// The `Set-Cookie` of [`SIGNED_IN_COOKIE`] (`clear`: removing it).
pub fn signed_in_cookie(tc: &TenantCtx, clear: bool) -> String {
    let cfg = &tc.state.config;
    let age = if clear {
        0
    } else {
        cfg.rotation
            .absolute_lifetime_secs
            .max(cfg.refresh_ttl_secs)
    };
    usso_edge::issue::cookie(
        cfg,
        SIGNED_IN_COOKIE,
        if clear { "" } else { "1" },
        "/",
        age,
        "Lax",
    )
}

/// Whether a form that checks a credential shows the browser check: the tenant asks for it, or
/// the last attempt was refused by the per-identifier limit, which a solved captcha passes (so
/// guesses from elsewhere cannot keep the owner out through the pages either).
pub fn captcha_for_login(t: &Tenant, error: Option<&usso_shared::Error>) -> bool {
    captcha_on(t, crate::authn::limits::CaptchaRoute::Login)
        || error.is_some_and(usso_shared::Error::captcha_passes)
}

/// Whether a tenant guards `route` with a captcha.
pub fn captcha_on(t: &Tenant, route: crate::authn::limits::CaptchaRoute) -> bool {
    t.captcha.iter().any(|r| r == route.as_str())
}

/// The page's request context: the tenant and the frame, or the error page to answer.
pub async fn open(
    ctx: &Ctx,
    req: &Request,
    here: &str,
) -> std::result::Result<(TenantCtx, Frame), Response> {
    let tc = crate::http::extract::tenant(ctx, req)
        .await
        .map_err(|e| error_without_tenant(&e))?;
    let f = Frame::of(ctx, &tc, req, here, None).map_err(|e| error_without_tenant(&e))?;
    Ok((tc, f))
}
