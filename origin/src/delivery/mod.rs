//! Delivery of one-time codes and magic links.
//!
//! - [`Email`] and [`Sms`] are the messages; [`Templates`] renders them per tenant.
//! - [`Mailer`] and [`SmsSender`] are the capabilities the flows are written against; a failure is
//!   a [`DeliveryError`] that says whether retrying can help.
//! - Implementations: [`SmtpMailer`] (any SMTP relay: implicit TLS, STARTTLS or plain),
//!   [`DevMailer`] (the default when no provider is configured: logs and appends to a file,
//!   sends nothing), [`TwilioSms`] and [`WebhookSms`] (a signed JSON webhook for any other SMS
//!   gateway; receivers check it with [`verify_webhook_signature`]).

pub mod channels;
pub mod outbox;
pub mod send;

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use usso_shared::{Error, ErrorCode, Result};

/// How a message reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Email.
    Email,
    /// SMS.
    Sms,
}

impl Channel {
    /// The wire name (`email`, `sms`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// Timeout of every HTTP call to an SMS provider (connect and whole exchange).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Default SMTP timeout in seconds.
pub const DEFAULT_SMTP_TIMEOUT_SECS: u64 = 10;

/// The header carrying a [`WebhookSms`] signature.
pub const SIGNATURE_HEADER: &str = "X-USSO-Signature";

/// How much of a provider's error answer is kept in a [`DeliveryError`] detail.
const MAX_ERROR_BODY: usize = 300;

// ---------------------------------------------------------------------------------------------
// Messages

/// An email to send: plain text, and optionally an HTML alternative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// The recipient's address (`user@example.com` or `Name <user@example.com>`).
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body, sent as the `multipart/alternative` partner of `text`.
    pub html: Option<String>,
}

/// A text message to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sms {
    /// The recipient's phone number (E.164, `+15551234567`).
    pub to: String,
    /// The text.
    pub body: String,
}

// ---------------------------------------------------------------------------------------------
// Templates

const DEFAULT_OTP_SUBJECT: &str = "Your {{brand}} sign-in code";
const DEFAULT_OTP_TEXT: &str = "Your {{brand}} sign-in code is:\n\n\
    {{code}}\n\n\
    It expires in {{minutes}} minutes.\n\n\
    If you did not ask for this code, you can ignore this message.\n";
const DEFAULT_OTP_HTML: &str = "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n\
    <p>Your {{brand}} sign-in code is:</p>\n\
    <p style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">{{code}}</p>\n\
    <p>It expires in {{minutes}} minutes.</p>\n\
    <p>If you did not ask for this code, you can ignore this message.</p>\n\
    </body></html>\n";
const DEFAULT_MAGIC_LINK_SUBJECT: &str = "Sign in to {{brand}}";
const DEFAULT_MAGIC_LINK_TEXT: &str = "Use this link to sign in to {{brand}}:\n\n\
    {{link}}\n\n\
    The link expires in {{minutes}} minutes and works once.\n\n\
    If you did not ask to sign in, you can ignore this message.\n";
const DEFAULT_MAGIC_LINK_HTML: &str =
    "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n\
    <p><a href=\"{{link}}\">Sign in to {{brand}}</a></p>\n\
    <p>Or copy this address into your browser:<br>{{link}}</p>\n\
    <p>The link expires in {{minutes}} minutes and works once.</p>\n\
    <p>If you did not ask to sign in, you can ignore this message.</p>\n\
    </body></html>\n";
/// What a one-time code other than a sign-in code is for: each has its own wording, so that a
/// reset code is never mistaken for a sign-in code (or the reverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMessage {
    /// Choosing a new password.
    PasswordReset,
    /// Proving an address added to an account.
    Verification,
}

/// A code for a purpose other than signing in, and the single-use link doing the same (sent
/// by email only).
#[derive(Debug, Clone, Copy)]
pub struct PurposeCode<'a> {
    /// What it is for.
    pub what: CodeMessage,
    /// The one-time code.
    pub code: &'a str,
    /// The link's URL, if there is one.
    pub link: Option<&'a str>,
}

impl CodeMessage {
    fn subject(self) -> &'static str {
        match self {
            Self::PasswordReset => "Reset your {{brand}} password",
            Self::Verification => "Confirm your address for {{brand}}",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::PasswordReset => {
                "Your {{brand}} password reset code is: {{code}}\n\n\
                It expires in {{minutes}} minutes and works once.\n\n\
                If you did not ask to reset your password, ignore this message: your \
                password stays as it is.\n"
            }
            Self::Verification => {
                "Your {{brand}} confirmation code is: {{code}}\n\n\
                It expires in {{minutes}} minutes.\n\n\
                If you did not add this address to an account, you can ignore this message.\n"
            }
        }
    }

    fn link_text(self) -> &'static str {
        match self {
            Self::PasswordReset => {
                "\nOr open this link to choose a new password (it works once):\n\n{{link}}\n"
            }
            Self::Verification => {
                "\nOr open this link to confirm the address (it works once):\n\n{{link}}\n"
            }
        }
    }

    fn sms(self) -> &'static str {
        match self {
            Self::PasswordReset => "{{brand}} password reset code: {{code}}",
            Self::Verification => "{{brand}} confirmation code: {{code}}",
        }
    }
}

const INVITATION_SUBJECT: &str = "You are invited to {{workspace}} on {{brand}}";
const INVITATION_TEXT: &str = "You are invited to join {{workspace}} on {{brand}}.\n\n\
    Sign in (or sign up) with this email address, then accept here:\n\n\
    {{link}}\n\n\
    The invitation expires in {{days}} days and works once.\n\n\
    If you did not expect this, you can ignore this message.\n";
const INVITATION_HTML: &str = "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n\
    <p>You are invited to join <b>{{workspace}}</b> on {{brand}}.</p>\n\
    <p>Sign in (or sign up) with this email address, then <a href=\"{{link}}\">accept the \
    invitation</a>.</p>\n\
    <p>Or copy this address into your browser:<br>{{link}}</p>\n\
    <p>The invitation expires in {{days}} days and works once.</p>\n\
    </body></html>\n";
const DEFAULT_OTP_SMS: &str =
    "{{code}} is your {{brand}} code. It expires in {{minutes}} minutes. \
    If you did not ask for it, ignore this message.";

/// Longest accepted template, in bytes.
const MAX_TEMPLATE_LEN: usize = 16 * 1024;
/// Longest accepted SMS template, in characters (Twilio's limit for one message body).
const MAX_SMS_TEMPLATE_CHARS: usize = 1600;

/// A tenant's message templates. Every field is optional: `None` means the built-in default.
///
/// Placeholders: `{{brand}}`, `{{code}}` (OTP only), `{{link}}` (magic link only) and
/// `{{minutes}}` (the validity). In HTML templates every substituted value is HTML-escaped; in
/// subjects, text and SMS it is inserted as is. Unknown placeholders are left untouched, and a
/// substituted value is never expanded again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Templates {
    /// Subject of the one-time-code email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_subject: Option<String>,
    /// Plain-text body of the one-time-code email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_text: Option<String>,
    /// HTML body of the one-time-code email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_html: Option<String>,
    /// Subject of the magic-link email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magic_link_subject: Option<String>,
    /// Plain-text body of the magic-link email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magic_link_text: Option<String>,
    /// HTML body of the magic-link email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magic_link_html: Option<String>,
    /// Text of the one-time-code SMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp_sms: Option<String>,
}

impl Templates {
    /// Checks a tenant's overrides: bounded sizes, and every body names what it delivers
    /// (`{{code}}` in OTP texts, `{{link}}` in magic-link texts). Answers `validation_error`.
    pub fn validate(&self) -> Result<()> {
        let checks: [(&str, &Option<String>, Option<&str>); 7] = [
            ("otp_subject", &self.otp_subject, None),
            ("otp_text", &self.otp_text, Some("{{code}}")),
            ("otp_html", &self.otp_html, Some("{{code}}")),
            ("magic_link_subject", &self.magic_link_subject, None),
            ("magic_link_text", &self.magic_link_text, Some("{{link}}")),
            ("magic_link_html", &self.magic_link_html, Some("{{link}}")),
            ("otp_sms", &self.otp_sms, Some("{{code}}")),
        ];
        for (name, value, required) in checks {
            let Some(value) = value else { continue };
            if value.trim().is_empty() {
                return Err(invalid(format!("template {name} is empty")));
            }
            if value.len() > MAX_TEMPLATE_LEN {
                return Err(invalid(format!(
                    "template {name} is longer than {MAX_TEMPLATE_LEN} bytes"
                )));
            }
            if let Some(placeholder) = required {
                if !value.contains(placeholder) {
                    return Err(invalid(format!(
                        "template {name} must contain {placeholder}"
                    )));
                }
            }
        }
        if let Some(sms) = &self.otp_sms {
            if sms.chars().count() > MAX_SMS_TEMPLATE_CHARS {
                return Err(invalid(format!(
                    "template otp_sms is longer than {MAX_SMS_TEMPLATE_CHARS} characters"
                )));
            }
        }
        Ok(())
    }

    /// The one-time-code email to `to`: `code` is valid for `minutes`.
    pub fn render_otp_email(&self, to: &str, brand: &str, code: &str, minutes: u64) -> Email {
        let minutes = minutes.to_string();
        let vars = [
            ("brand", brand),
            ("code", code),
            ("minutes", minutes.as_str()),
        ];
        Email {
            to: to.to_owned(),
            subject: render_subject(pick(&self.otp_subject, DEFAULT_OTP_SUBJECT), &vars),
            text: render(pick(&self.otp_text, DEFAULT_OTP_TEXT), &vars, false),
            html: Some(render(pick(&self.otp_html, DEFAULT_OTP_HTML), &vars, true)),
        }
    }

    /// The magic-link email to `to`: `link` signs in once within `minutes`.
    pub fn render_magic_link_email(
        &self,
        to: &str,
        brand: &str,
        link: &str,
        minutes: u64,
    ) -> Email {
        let minutes = minutes.to_string();
        let vars = [
            ("brand", brand),
            ("link", link),
            ("minutes", minutes.as_str()),
        ];
        Email {
            to: to.to_owned(),
            subject: render_subject(
                pick(&self.magic_link_subject, DEFAULT_MAGIC_LINK_SUBJECT),
                &vars,
            ),
            text: render(
                pick(&self.magic_link_text, DEFAULT_MAGIC_LINK_TEXT),
                &vars,
                false,
            ),
            html: Some(render(
                pick(&self.magic_link_html, DEFAULT_MAGIC_LINK_HTML),
                &vars,
                true,
            )),
        }
    }

    /// A code for `what` to `to` by email (fixed wording; not a tenant template), and the
    /// single-use link that does the same, when there is one.
    pub fn render_code_email(
        &self,
        what: CodeMessage,
        to: &str,
        brand: &str,
        code: &str,
        link: Option<&str>,
        minutes: u64,
    ) -> Email {
        let minutes = minutes.to_string();
        let vars = [
            ("brand", brand),
            ("code", code),
            ("minutes", minutes.as_str()),
            ("link", link.unwrap_or_default()),
        ];
        let mut text = render(what.text(), &vars, false);
        if link.is_some() {
            text.push_str(&render(what.link_text(), &vars, false));
        }
        Email {
            to: to.to_owned(),
            subject: render_subject(what.subject(), &vars),
            html: Some(format!(
                "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<pre>{}</pre>\n</body></html>\n",
                escape_html(&text)
            )),
            text,
        }
    }

    /// A code for `what` to `to` by text message.
    pub fn render_code_sms(&self, what: CodeMessage, to: &str, brand: &str, code: &str) -> Sms {
        Sms {
            to: to.to_owned(),
            body: render(what.sms(), &[("brand", brand), ("code", code)], false),
        }
    }

    /// The invitation to `workspace` sent to `to`: `link` accepts it once within `days`.
    pub fn render_invitation_email(
        &self,
        to: &str,
        brand: &str,
        workspace: &str,
        link: &str,
        days: u64,
    ) -> Email {
        let days = days.to_string();
        let vars = [
            ("brand", brand),
            ("workspace", workspace),
            ("link", link),
            ("days", days.as_str()),
        ];
        Email {
            to: to.to_owned(),
            subject: render_subject(INVITATION_SUBJECT, &vars),
            text: render(INVITATION_TEXT, &vars, false),
            html: Some(render(INVITATION_HTML, &vars, true)),
        }
    }

    /// The one-time-code SMS to `to`: `code` is valid for `minutes`.
    pub fn render_otp_sms(&self, to: &str, brand: &str, code: &str, minutes: u64) -> Sms {
        let minutes = minutes.to_string();
        let vars = [
            ("brand", brand),
            ("code", code),
            ("minutes", minutes.as_str()),
        ];
        Sms {
            to: to.to_owned(),
            body: render(pick(&self.otp_sms, DEFAULT_OTP_SMS), &vars, false),
        }
    }
}

fn invalid(detail: String) -> Error {
    Error::new(ErrorCode::ValidationError, detail)
}

fn pick<'a>(custom: &'a Option<String>, default: &'a str) -> &'a str {
    custom.as_deref().unwrap_or(default)
}

/// Substitutes `{{name}}` placeholders in one pass (values are never re-expanded).
fn render(template: &str, vars: &[(&str, &str)], html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match vars.iter().find(|(k, _)| *k == name) {
            Some((_, value)) if html => escape_html_into(&mut out, value),
            Some((_, value)) => out.push_str(value),
            None => {
                // Not a placeholder: keep the braces and look for one further on.
                out.push_str("{{");
                rest = after;
                continue;
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A subject is one header line: control characters (line breaks included) become spaces.
fn render_subject(template: &str, vars: &[(&str, &str)]) -> String {
    let rendered = render(template, vars, false);
    let line: String = rendered
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.trim().to_owned()
}

/// `value` with `& < > " '` escaped for HTML text and attribute values.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_html_into(&mut out, value);
    out
}

fn escape_html_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Capabilities

/// Why a message was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryError {
    /// Retrying will not help: a bad address, an SMTP 5xx reply, an HTTP 4xx from a provider.
    /// Otherwise the failure is transient (connection refused, timeout, SMTP 4xx, HTTP 5xx/429).
    pub permanent: bool,
    /// What happened, for logs (never a secret).
    pub detail: String,
}

impl DeliveryError {
    /// A failure that retrying will not cure.
    pub fn permanent(detail: impl Into<String>) -> Self {
        Self {
            permanent: true,
            detail: detail.into(),
        }
    }

    /// A failure that may pass on a later try.
    pub fn transient(detail: impl Into<String>) -> Self {
        Self {
            permanent: false,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.permanent {
            "permanent"
        } else {
            "transient"
        };
        write!(f, "{kind} delivery failure: {}", self.detail)
    }
}

impl std::error::Error for DeliveryError {}

/// Sends emails.
pub trait Mailer: Send + Sync + 'static {
    /// Sends one email; `Ok` once the provider accepted it.
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Sends text messages.
pub trait SmsSender: Send + Sync + 'static {
    /// Sends one text message; `Ok` once the provider accepted it.
    fn send(&self, sms: &Sms) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

impl<T: Mailer> Mailer for Arc<T> {
    fn send(&self, email: &Email) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        T::send(self, email)
    }
}

impl<T: SmsSender> SmsSender for Arc<T> {
    fn send(&self, sms: &Sms) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        T::send(self, sms)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// SMTP

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    #[default]
    StartTls,
    /// No encryption at all: only for a relay on the same host or network.
    None,
}

impl Security {
    /// Reads `tls`, `starttls` or `none`.
    pub fn parse(text: &str) -> Option<Security> {
        match text {
            "tls" => Some(Security::Tls),
            "starttls" => Some(Security::StartTls),
            "none" => Some(Security::None),
            _ => None,
        }
    }
}

/// Where and how to submit mail.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpSettings {
    /// The relay's host name (also the name its certificate is checked against).
    pub host: String,
    /// The relay's port (465 for `tls`, 587 for `starttls`, 25 for `none`, as a rule).
    pub port: u16,
    /// `tls`, `starttls` (the default) or `none`.
    #[serde(default)]
    pub security: Security,
    /// User for AUTH PLAIN/LOGIN; without it no authentication is attempted.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for AUTH (never printed by `Debug`).
    #[serde(default)]
    pub password: Option<String>,
    /// The sender mailbox, like `Acme <no-reply@acme.test>`.
    pub from: String,
    /// Timeout of each step of the SMTP exchange, in seconds (default 10).
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
}

fn default_smtp_timeout() -> u64 {
    DEFAULT_SMTP_TIMEOUT_SECS
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// Sends email through an SMTP relay (lettre, tokio, rustls with the webpki roots).
///
/// Each message opens its own connection. Every step of the exchange is bounded by the
/// settings' timeout, and the whole exchange by three times that.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    total_timeout: Duration,
    endpoint: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the mailer; answers `configuration_error` for an unusable host or sender.
    pub fn new(settings: &SmtpSettings) -> Result<SmtpMailer> {
        let config = |detail: String| Error::configuration(detail);
        let host = settings.host.trim();
        if host.is_empty() {
            return Err(config("SMTP host is empty".into()));
        }
        if settings.port == 0 {
            return Err(config("SMTP port is 0".into()));
        }
        let from: Mailbox = settings.from.parse().map_err(|e| {
            config(format!(
                "SMTP sender {:?} is not a mailbox: {e}",
                settings.from
            ))
        })?;
        let step = Duration::from_secs(settings.timeout_secs.clamp(1, 300));
        let builder = match settings.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| config(format!("SMTP TLS setup for {host}: {e}")))?,
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| config(format!("SMTP STARTTLS setup for {host}: {e}")))?,
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder.port(settings.port).timeout(Some(step));
        if let Some(user) = &settings.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                settings.password.clone().unwrap_or_default(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            total_timeout: step * 3,
            endpoint: format!("{host}:{}", settings.port),
        })
    }

    fn message(&self, email: &Email) -> Result<Message, DeliveryError> {
        let to: Mailbox = email.to.parse().map_err(|e| {
            DeliveryError::permanent(format!("invalid recipient address {:?}: {e}", email.to))
        })?;
        let id = usso_shared::random::hex_id()
            .map_err(|e| DeliveryError::transient(format!("message id: {e}")))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())));
        let built = match &email.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(email.text.clone()),
        };
        built.map_err(|e| DeliveryError::permanent(format!("unusable message: {e}")))
    }
}

/// Maps a lettre SMTP error: 5xx replies are permanent, everything else (4xx, connection, TLS,
/// timeout, garbled replies) transient.
fn smtp_error(endpoint: &str, e: &lettre::transport::smtp::Error) -> DeliveryError {
    let detail = format!("SMTP {endpoint}: {e}");
    if e.is_permanent() {
        DeliveryError::permanent(detail)
    } else {
        DeliveryError::transient(detail)
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), DeliveryError> {
        let message = self.message(email)?;
        match tokio::time::timeout(self.total_timeout, self.transport.send(message)).await {
            Err(_) => Err(DeliveryError::transient(format!(
                "SMTP {}: no answer within {} s",
                self.endpoint,
                self.total_timeout.as_secs()
            ))),
            Ok(Err(e)) => Err(smtp_error(&self.endpoint, &e)),
            Ok(Ok(_)) => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Development mailer

/// The embedded default when no provider is configured: sends NOTHING. Each message is logged
/// (`warn`, target `delivery`, marked `DEVELOPMENT MAILER: NOT SENT`) and appended to `path` as
/// one JSON line `{"kind":"email"|"sms","to",…,"at":<unix seconds>,"dev_mailer":"not sent"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevMailer {
    /// The JSON-lines file (its parent directories are created as needed).
    pub path: PathBuf,
}

impl DevMailer {
    /// A development mailer writing to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Logs and records an email.
    pub fn record_email(&self, email: &Email) -> Result<(), DeliveryError> {
        tracing::warn!(
            target: "delivery",
            to = %email.to,
            subject = %email.subject,
            text = %email.text,
            file = %self.path.display(),
            "DEVELOPMENT MAILER: NOT SENT (email; configure an SMTP relay to deliver)"
        );
        self.append(serde_json::json!({
            "kind": "email",
            "to": email.to,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
            "at": unix_now(),
            "dev_mailer": "not sent",
        }))
    }

    /// Logs and records a text message.
    pub fn record_sms(&self, sms: &Sms) -> Result<(), DeliveryError> {
        tracing::warn!(
            target: "delivery",
            to = %sms.to,
            body = %sms.body,
            file = %self.path.display(),
            "DEVELOPMENT MAILER: NOT SENT (sms; configure an SMS provider to deliver)"
        );
        self.append(serde_json::json!({
            "kind": "sms",
            "to": sms.to,
            "body": sms.body,
            "at": unix_now(),
            "dev_mailer": "not sent",
        }))
    }

    fn append(&self, value: serde_json::Value) -> Result<(), DeliveryError> {
        let fail = |e: std::io::Error| {
            DeliveryError::transient(format!(
                "development mailer cannot write {}: {e}",
                self.path.display()
            ))
        };
        if let Some(parent) = self.path.parent() {
            if !parent.as_os_str().is_empty() {
                crate::store::private_fs::dir(parent).map_err(fail)?;
            }
        }
        let mut line = value.to_string();
        line.push('\n');
        // One write of the whole line in append mode: concurrent records do not interleave.
        let mut file = crate::store::private_fs::append(&self.path).map_err(fail)?;
        file.write_all(line.as_bytes()).map_err(fail)
    }
}

impl Mailer for DevMailer {
    async fn send(&self, email: &Email) -> Result<(), DeliveryError> {
        self.record_email(email)
    }
}

impl SmsSender for DevMailer {
    async fn send(&self, sms: &Sms) -> Result<(), DeliveryError> {
        self.record_sms(sms)
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP SMS providers

fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("usso-origin/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::configuration(format!("HTTP client: {e}")))
}

fn parse_http_url(what: &str, url: &str) -> Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        Error::new(
            ErrorCode::ConfigurationError,
            format!("{what} URL is invalid: {e}"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::new(
            ErrorCode::ConfigurationError,
            format!("{what} URL must be http(s) with a host"),
        ));
    }
    Ok(parsed)
}

/// A failed request: a request that could not even be built is permanent, anything on the way
/// (connect, timeout, reset) transient. URLs are left out of the detail (they may hold tokens).
fn request_error(provider: &str, e: reqwest::Error) -> DeliveryError {
    let permanent = e.is_builder();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let detail = format!("{provider}: {kind}: {}", e.without_url());
    DeliveryError { permanent, detail }
}

/// Success for 2xx; 408, 429 and 5xx are transient; any other status is permanent.
async fn answer(provider: &str, mut response: reqwest::Response) -> Result<(), DeliveryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = Vec::new();
    while body.len() < 4096 {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let snippet: String = String::from_utf8_lossy(&body)
        .chars()
        .take(MAX_ERROR_BODY)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let transient = status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT;
    Err(DeliveryError {
        permanent: !transient,
        detail: format!("{provider} answered {status}: {}", snippet.trim()),
    })
}

fn check_recipient(to: &str) -> Result<(), DeliveryError> {
    let to = to.trim();
    if to.is_empty() || to.len() > 64 || to.chars().any(char::is_control) {
        return Err(DeliveryError::permanent(format!(
            "invalid phone number {to:?}"
        )));
    }
    Ok(())
}

fn default_twilio_base() -> String {
    "https://api.twilio.com".to_owned()
}

/// Twilio's Programmable Messaging account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwilioSettings {
    /// API base (default `https://api.twilio.com`; tests point it at a local receiver).
    #[serde(default = "default_twilio_base")]
    pub base_url: String,
    /// Account SID (`AC…`).
    pub account_sid: String,
    /// Auth token (never printed by `Debug`).
    pub auth_token: String,
    /// Sender: a Twilio phone number in E.164 or an alphanumeric sender id.
    pub from: String,
}

impl fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

/// Sends SMS through Twilio: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form fields
/// `To`, `From`, `Body`, HTTP Basic auth `sid:token`, 10 s timeout.
#[derive(Clone, Debug)]
pub struct TwilioSms {
    settings: TwilioSettings,
    endpoint: reqwest::Url,
    client: reqwest::Client,
}

impl TwilioSms {
    /// Checks the settings (`configuration_error`) and builds the sender.
    pub fn new(settings: TwilioSettings) -> Result<TwilioSms> {
        let sid = settings.account_sid.trim();
        if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                "Twilio account SID must be non-empty and alphanumeric",
            ));
        }
        if settings.auth_token.is_empty() || settings.from.trim().is_empty() {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                "Twilio auth token and sender are required",
            ));
        }
        let base = settings.base_url.trim().trim_end_matches('/');
        let endpoint = parse_http_url(
            "Twilio",
            &format!("{base}/2010-04-01/Accounts/{sid}/Messages.json"),
        )?;
        Ok(TwilioSms {
            endpoint,
            client: http_client()?,
            settings,
        })
    }
}

impl SmsSender for TwilioSms {
    async fn send(&self, sms: &Sms) -> Result<(), DeliveryError> {
        check_recipient(&sms.to)?;
        let form = [
            ("To", sms.to.trim()),
            ("From", self.settings.from.trim()),
            ("Body", sms.body.as_str()),
        ];
        let response = self
            .client
            .post(self.endpoint.clone())
            .basic_auth(
                self.settings.account_sid.trim(),
                Some(&self.settings.auth_token),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| request_error("Twilio", e))?;
        answer("Twilio", response).await
    }
}

/// A generic SMS gateway reached by a signed webhook.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// Where to `POST` each message.
    pub url: String,
    /// The shared HMAC secret (at least 16 bytes; never printed by `Debug`).
    pub secret: String,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Sends SMS to any gateway through a signed webhook: `POST url` with the JSON body
/// `{"to","body","timestamp"}` and the header
/// `X-USSO-Signature: t=<unix seconds>,v1=<lower-hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
/// Receivers check it with [`verify_webhook_signature`].
#[derive(Clone)]
pub struct WebhookSms {
    url: reqwest::Url,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl fmt::Debug for WebhookSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSms")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

/// Shortest accepted webhook secret, in bytes.
const MIN_WEBHOOK_SECRET: usize = 16;

impl WebhookSms {
    /// Checks the settings (`configuration_error`) and builds the sender.
    pub fn new(settings: &WebhookSettings) -> Result<WebhookSms> {
        if settings.secret.len() < MIN_WEBHOOK_SECRET {
            return Err(Error::new(
                ErrorCode::ConfigurationError,
                format!("webhook secret must be at least {MIN_WEBHOOK_SECRET} bytes"),
            ));
        }
        Ok(WebhookSms {
            url: parse_http_url("SMS webhook", &settings.url)?,
            secret: settings.secret.as_bytes().to_vec(),
            client: http_client()?,
        })
    }
}

impl SmsSender for WebhookSms {
    async fn send(&self, sms: &Sms) -> Result<(), DeliveryError> {
        check_recipient(&sms.to)?;
        let timestamp = unix_now();
        let body = serde_json::json!({
            "to": sms.to.trim(),
            "body": sms.body,
            "timestamp": timestamp,
        })
        .to_string();
        let signature = sign_webhook(&self.secret, timestamp, body.as_bytes());
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| request_error("SMS webhook", e))?;
        answer("SMS webhook", response).await
    }
}

fn webhook_mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().into())
}

/// The `X-USSO-Signature` value for `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<lower-hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign_webhook(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mac = webhook_mac(secret, &t, body).unwrap_or([0; 32]);
    format!("t={t},v1={}", usso_shared::encoding::hex_encode(&mac))
}

/// Checks an `X-USSO-Signature` header against the raw `body`: some `v1` must be the
/// HMAC-SHA256 of `"<t>.<body>"` under `secret` (compared in constant time), and `t` must lie
/// within `tolerance_secs` of `now` (unix seconds). Malformed headers are rejected.
pub fn verify_webhook_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance_secs: u64,
) -> bool {
    let mut timestamp: Option<&str> = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            if timestamp.is_some() {
                return false;
            }
            timestamp = Some(t);
        } else if let Some(v1) = part.strip_prefix("v1=") {
            candidates.push(v1);
        }
    }
    let Some(t) = timestamp else { return false };
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(sent_at) = t.parse::<u64>() else {
        return false;
    };
    if sent_at.abs_diff(now) > tolerance_secs || candidates.is_empty() || candidates.len() > 8 {
        return false;
    }
    let Some(expected) = webhook_mac(secret, t, body) else {
        return false;
    };
    let mut matched = subtle::Choice::from(0u8);
    for candidate in candidates {
        if let Some(given) = usso_shared::encoding::hex_decode::<32>(candidate) {
            matched |= given.ct_eq(&expected);
        }
    }
    matched.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_otp_email_names_brand_code_and_expiry() {
        let email = Templates::default().render_otp_email("a@b.test", "Acme", "123456", 10);
        assert_eq!(email.to, "a@b.test");
        assert_eq!(email.subject, "Your Acme sign-in code");
        assert!(email.text.contains("123456"));
        assert!(email.text.contains("Acme"));
        assert!(email.text.contains("expires in 10 minutes"));
        assert!(email.text.contains("ignore this message"));
        let html = email.html.unwrap();
        assert!(html.contains("123456") && html.contains("10 minutes"));
    }

    #[test]
    fn html_values_are_escaped_text_values_are_not() {
        let brand = "Tom & <Jerry> \"Co\" 'Ltd'";
        let email = Templates::default().render_otp_email("a@b.test", brand, "<b>1</b>", 5);
        assert!(email.text.contains(brand));
        assert!(email.text.contains("<b>1</b>"));
        let html = email.html.unwrap();
        assert!(html.contains("Tom &amp; &lt;Jerry&gt; &quot;Co&quot; &#39;Ltd&#39;"));
        assert!(html.contains("&lt;b&gt;1&lt;/b&gt;"));
        assert!(!html.contains("<Jerry>"));

        let link = "https://acme.test/magic?t=a&u=\"x\"";
        let email = Templates::default().render_magic_link_email("a@b.test", brand, link, 15);
        assert_eq!(email.subject, format!("Sign in to {brand}"));
        assert!(email.text.contains(link));
        let html = email.html.unwrap();
        assert!(html.contains("href=\"https://acme.test/magic?t=a&amp;u=&quot;x&quot;\""));
        assert!(!html.contains(link));
    }

    #[test]
    fn custom_templates_unknown_placeholders_and_no_reexpansion() {
        let t = Templates {
            otp_sms: Some("{{brand}}: {{ code }} ({{minutes}}m) {{unknown}} {{open".into()),
            otp_subject: Some("Code\r\nBcc: x@y.test {{brand}}".into()),
            ..Templates::default()
        };
        let sms = t.render_otp_sms("+15550001111", "{{code}}", "42", 3);
        assert_eq!(sms.to, "+15550001111");
        assert_eq!(sms.body, "{{code}}: 42 (3m) {{unknown}} {{open");
        let email = t.render_otp_email("a@b.test", "Acme", "42", 3);
        assert_eq!(email.subject, "Code  Bcc: x@y.test Acme");
        let nested = Templates {
            otp_sms: Some("{{ {{code}} }} {{minutes}}}}".into()),
            ..Templates::default()
        };
        assert_eq!(nested.render_otp_sms("+1", "B", "7", 2).body, "{{ 7 }} 2}}");
        // Defaults still apply to the fields not overridden.
        assert!(email.text.contains("42"));
    }

    #[test]
    fn default_sms_is_short() {
        let sms = Templates::default().render_otp_sms("+15550001111", "Acme", "123456", 10);
        assert!(sms.body.starts_with("123456 is your Acme code"));
        assert!(sms.body.chars().count() <= 160, "{}", sms.body.len());
    }

    #[test]
    fn templates_serde_and_validation() {
        let t: Templates = serde_json::from_str(r#"{"otp_sms":"{{code}}"}"#).unwrap();
        assert_eq!(t.otp_sms.as_deref(), Some("{{code}}"));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"otp_sms":"{{code}}"}"#
        );
        assert!(t.validate().is_ok());
        assert!(serde_json::from_str::<Templates>(r#"{"otp_smss":"x"}"#).is_err());
        let bad = Templates {
            magic_link_text: Some("no link here".into()),
            ..Templates::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().code(),
            ErrorCode::ValidationError
        );
        let long = Templates {
            otp_text: Some(format!("{{{{code}}}}{}", "x".repeat(MAX_TEMPLATE_LEN))),
            ..Templates::default()
        };
        assert!(long.validate().is_err());
        assert!(Templates::default().validate().is_ok());
    }

    #[test]
    fn signature_round_trip_and_rejections() {
        let secret = b"0123456789abcdef-secret";
        let body = br#"{"to":"+15550001111","body":"hi","timestamp":1700000000}"#;
        let header = sign_webhook(secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert!(verify_webhook_signature(
            secret,
            &header,
            body,
            1_700_000_010,
            300
        ));
        // Spaces after commas and extra unknown fields are tolerated; a second v1 may match.
        let v1 = header.split("v1=").nth(1).unwrap();
        let rotated = format!("t=1700000000, v0=zz, v1={}, v1={v1}", "00".repeat(32));
        assert!(verify_webhook_signature(
            secret,
            &rotated,
            body,
            1_700_000_000,
            300
        ));
        // Tampered body, wrong secret, stale or future timestamp, altered t.
        assert!(!verify_webhook_signature(
            secret,
            &header,
            b"{}",
            1_700_000_000,
            300
        ));
        assert!(!verify_webhook_signature(
            b"another-secret-16b",
            &header,
            body,
            1_700_000_000,
            300
        ));
        assert!(!verify_webhook_signature(
            secret,
            &header,
            body,
            1_700_000_301,
            300
        ));
        assert!(!verify_webhook_signature(
            secret,
            &header,
            body,
            1_699_999_699,
            300
        ));
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert!(!verify_webhook_signature(
            secret,
            &moved,
            body,
            1_700_000_000,
            300
        ));
        // Malformed headers never verify nor panic.
        for h in [
            "",
            "t=",
            "v1=abc",
            "t=abc,v1=00",
            "t=+1700000000,v1=00",
            "t=1700000000",
            "t=1700000000,v1=",
            "t=1700000000,t=1700000000,v1=00",
            "t=99999999999999999999999,v1=00",
            ",,,,",
            "t=1700000000,v1=\u{e9}\u{e9}",
        ] {
            assert!(
                !verify_webhook_signature(secret, h, body, 1_700_000_000, 300),
                "{h}"
            );
        }
    }

    #[test]
    fn dev_mailer_appends_json_lines() {
        let dir = crate::store::temp_dir("devmailer");
        let mailer = DevMailer::new(dir.join("nested/outbox.jsonl"));
        let email = Templates::default().render_otp_email("a@b.test", "Acme", "654321", 10);
        let sms = Templates::default().render_otp_sms("+15550001111", "Acme", "654321", 10);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            Mailer::send(&mailer, &email).await.unwrap();
            SmsSender::send(&mailer, &sms).await.unwrap();
        });
        let content = std::fs::read_to_string(&mailer.path).unwrap();
        let lines: Vec<serde_json::Value> = content
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["kind"], "email");
        assert_eq!(lines[0]["to"], "a@b.test");
        assert_eq!(lines[0]["subject"], "Your Acme sign-in code");
        assert!(lines[0]["text"].as_str().unwrap().contains("654321"));
        assert_eq!(lines[0]["dev_mailer"], "not sent");
        assert!(lines[0]["at"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(lines[1]["kind"], "sms");
        assert_eq!(lines[1]["to"], "+15550001111");
        assert!(lines[1]["body"].as_str().unwrap().contains("654321"));
        assert_eq!(lines[1]["dev_mailer"], "not sent");
        std::fs::remove_dir_all(&dir).unwrap();

        // An unwritable path is a transient error, not a panic.
        let blocked = DevMailer::new("/proc/usso-no-such-dir/outbox.jsonl");
        let err = blocked.record_sms(&sms).unwrap_err();
        assert!(!err.permanent);
    }

    #[test]
    fn settings_debug_hides_secrets_and_serde_names() {
        let s: SmtpSettings = serde_json::from_str(
            r#"{"host":"smtp.acme.test","port":465,"security":"tls","username":"u",
                "password":"hunter2-secret","from":"Acme <no-reply@acme.test>"}"#,
        )
        .unwrap();
        assert_eq!(s.security, Security::Tls);
        assert_eq!(s.timeout_secs, DEFAULT_SMTP_TIMEOUT_SECS);
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>") && debug.contains("smtp.acme.test"));
        for (security, name) in [
            (Security::Tls, "\"tls\""),
            (Security::StartTls, "\"starttls\""),
            (Security::None, "\"none\""),
        ] {
            assert_eq!(serde_json::to_string(&security).unwrap(), name);
        }
        let twilio = TwilioSettings {
            base_url: default_twilio_base(),
            account_sid: "AC123".into(),
            auth_token: "twilio-token-secret".into(),
            from: "+15550000000".into(),
        };
        assert!(!format!("{twilio:?}").contains("twilio-token-secret"));
        let hook = WebhookSettings {
            url: "https://gw.test/sms".into(),
            secret: "webhook-secret-value".into(),
        };
        assert!(!format!("{hook:?}").contains("webhook-secret-value"));
        let sender = WebhookSms::new(&hook).unwrap();
        assert!(!format!("{sender:?}").contains("webhook-secret-value"));
        let mailer = SmtpMailer::new(&s).unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"));
    }

    #[test]
    fn constructors_reject_unusable_settings() {
        let base = SmtpSettings {
            host: "127.0.0.1".into(),
            port: 2525,
            security: Security::None,
            username: None,
            password: None,
            from: "Acme <no-reply@acme.test>".into(),
            timeout_secs: 5,
        };
        assert!(SmtpMailer::new(&base).is_ok());
        for bad in [
            SmtpSettings {
                from: "not a mailbox".into(),
                ..base.clone()
            },
            SmtpSettings {
                host: " ".into(),
                ..base.clone()
            },
            SmtpSettings {
                port: 0,
                ..base.clone()
            },
        ] {
            let err = SmtpMailer::new(&bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ConfigurationError);
        }
        let twilio = TwilioSettings {
            base_url: "http://127.0.0.1:9".into(),
            account_sid: "AC../x".into(),
            auth_token: "t".into(),
            from: "+1555".into(),
        };
        assert!(TwilioSms::new(twilio.clone()).is_err());
        assert!(TwilioSms::new(TwilioSettings {
            base_url: "ftp://x".into(),
            account_sid: "AC1".into(),
            ..twilio.clone()
        })
        .is_err());
        assert!(TwilioSms::new(TwilioSettings {
            account_sid: "AC1".into(),
            ..twilio
        })
        .is_ok());
        assert!(WebhookSms::new(&WebhookSettings {
            url: "https://gw.test/sms".into(),
            secret: "short".into(),
        })
        .is_err());
        assert!(WebhookSms::new(&WebhookSettings {
            url: "not a url".into(),
            secret: "long-enough-secret-value".into(),
        })
        .is_err());
    }

    #[test]
    fn bad_recipients_are_permanent_without_network() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mailer = SmtpMailer::new(&SmtpSettings {
            host: "127.0.0.1".into(),
            port: 9,
            security: Security::None,
            username: None,
            password: None,
            from: "Acme <no-reply@acme.test>".into(),
            timeout_secs: 1,
        })
        .unwrap();
        let mut email = Templates::default().render_otp_email("nobody", "Acme", "1", 1);
        let err = rt.block_on(Mailer::send(&mailer, &email)).unwrap_err();
        assert!(err.permanent, "{err}");
        email.to = "a@b.test\r\nBcc: c@d.test".into();
        assert!(
            rt.block_on(Mailer::send(&mailer, &email))
                .unwrap_err()
                .permanent
        );
        let hook = WebhookSms::new(&WebhookSettings {
            url: "http://127.0.0.1:9/sms".into(),
            secret: "long-enough-secret-value".into(),
        })
        .unwrap();
        let sms = Sms {
            to: " ".into(),
            body: "x".into(),
        };
        assert!(
            rt.block_on(SmsSender::send(&hook, &sms))
                .unwrap_err()
                .permanent
        );
    }
}
