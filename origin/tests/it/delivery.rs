//! Delivery against real parts: a real SMTP server (`tests/smtp/capture.py`, aiosmtpd, installed
//! by scripts/install-test-deps.sh) for `SmtpMailer`, and a real local HTTP receiver (axum) for
//! `TwilioSms` and `WebhookSms`. Helper processes are awaited through their readiness line.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{free_port, SmtpCapture as Capture};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use usso_origin::delivery::{
    verify_webhook_signature, Email, Mailer, Security, Sms, SmsSender, SmtpMailer, SmtpSettings,
    Templates, TwilioSettings, TwilioSms, WebhookSettings, WebhookSms, SIGNATURE_HEADER,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A parsed message: unfolded headers and the body.
struct Eml {
    headers: Vec<(String, String)>,
    body: String,
}

impl Eml {
    fn parse(raw: &str) -> Eml {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        Eml {
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    /// The body decoded per its Content-Transfer-Encoding.
    fn decoded(&self) -> String {
        let cte = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        match cte.as_str() {
            "base64" => {
                let compact: String = self.body.split_whitespace().collect();
                String::from_utf8(usso_shared::encoding::b64_decode(&compact).unwrap()).unwrap()
            }
            "quoted-printable" => quoted_printable(&self.body),
            _ => self.body.clone(),
        }
    }

    /// The decoded parts of a multipart message, by content type (`text/plain`, `text/html`).
    fn parts(&self) -> Vec<(String, String)> {
        let ct = self.header("Content-Type");
        let boundary = ct
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .unwrap_or_else(|| panic!("not multipart: {ct}"))
            .trim_matches('"')
            .to_owned();
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        for chunk in self.body.split(&delimiter).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let part = Eml::parse(chunk.trim_start_matches('\n'));
            let ctype = part
                .header("Content-Type")
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_ascii_lowercase();
            parts.push((ctype, part.decoded()));
        }
        parts
    }
}

fn quoted_printable(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn part<'a>(parts: &'a [(String, String)], ctype: &str) -> &'a str {
    parts
        .iter()
        .find(|(t, _)| t == ctype)
        .map(|(_, b)| b.as_str())
        .unwrap_or_else(|| panic!("no {ctype} part"))
}

// ---------------------------------------------------------------------------------------------
// SMTP

const BRAND: &str = "Acme & <Sons>";
const BRAND_HTML: &str = "Acme &amp; &lt;Sons&gt;";

#[tokio::test]
async fn smtp_delivers_otp_and_magic_link_emails() {
    let auth = Some(("relay-user", "relay-password"));
    let capture = Capture::start(auth);
    let mailer = SmtpMailer::new(&capture.settings(auth)).unwrap();

    let otp =
        Templates::default().render_otp_email("Alice <alice@example.test>", BRAND, "493021", 10);
    Mailer::send(&mailer, &otp).await.unwrap();

    let link = "https://login.acme.test/magic?token=abc123&tenant=acme";
    let templates = Templates {
        magic_link_text: Some("Connexion à {{brand}} : {{link}} ({{minutes}} min)".into()),
        ..Templates::default()
    };
    let magic = templates.render_magic_link_email("bob@example.test", BRAND, link, 15);
    Mailer::send(&mailer, &magic).await.unwrap();
    assert_eq!(capture.count(), 2);

    // The one-time code.
    let eml = Eml::parse(&capture.message(1));
    assert_eq!(eml.header("From"), "Acme <no-reply@acme.test>");
    assert_eq!(eml.header("To"), "Alice <alice@example.test>");
    assert_eq!(eml.header("Subject"), "Your Acme & <Sons> sign-in code");
    assert!(eml.header("Message-ID").ends_with("@acme.test>"));
    assert!(eml
        .header("Content-Type")
        .starts_with("multipart/alternative"));
    let parts = eml.parts();
    let text = part(&parts, "text/plain");
    assert!(text.contains("493021"), "{text}");
    assert!(text.contains(BRAND), "{text}");
    assert!(text.contains("expires in 10 minutes"), "{text}");
    let html = part(&parts, "text/html");
    assert!(html.contains(BRAND_HTML), "{html}");
    assert!(html.contains("493021"), "{html}");
    assert!(!html.contains(BRAND), "{html}");
    let envelope = capture.envelope(1);
    assert_eq!(envelope["mail_from"], "no-reply@acme.test");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["alice@example.test"])
    );
    assert_eq!(envelope["authenticated_as"], "relay-user");

    // The magic link, with a non-ASCII custom text part.
    let eml = Eml::parse(&capture.message(2));
    assert_eq!(eml.header("From"), "Acme <no-reply@acme.test>");
    assert_eq!(eml.header("To"), "bob@example.test");
    assert_eq!(eml.header("Subject"), "Sign in to Acme & <Sons>");
    let parts = eml.parts();
    let text = part(&parts, "text/plain");
    assert_eq!(
        text.trim_end(),
        format!("Connexion à {BRAND} : {link} (15 min)")
    );
    let html = part(&parts, "text/html");
    assert!(html.contains(BRAND_HTML), "{html}");
    assert!(
        html.contains("href=\"https://login.acme.test/magic?token=abc123&amp;tenant=acme\""),
        "{html}"
    );
    assert_eq!(
        capture.envelope(2)["rcpt_tos"],
        serde_json::json!(["bob@example.test"])
    );
}

#[tokio::test]
async fn smtp_plain_text_only_message() {
    let capture = Capture::start(None);
    let mailer = SmtpMailer::new(&capture.settings(None)).unwrap();
    let email = Email {
        to: "carol@example.test".into(),
        subject: "Plain".into(),
        text: "Only text, code 111222.\n".into(),
        html: None,
    };
    Mailer::send(&mailer, &email).await.unwrap();
    let eml = Eml::parse(&capture.message(1));
    assert!(eml.header("Content-Type").starts_with("text/plain"));
    assert!(eml.decoded().contains("code 111222."));
    assert_eq!(
        capture.envelope(1)["authenticated_as"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn smtp_failures_are_classified() {
    let auth = Some(("relay-user", "relay-password"));
    let capture = Capture::start(auth);
    let otp = |to: &str| Templates::default().render_otp_email(to, "Acme", "1", 1);

    // 550 for the recipient: permanent.
    let mailer = SmtpMailer::new(&capture.settings(auth)).unwrap();
    let err = Mailer::send(&mailer, &otp("reject-me@example.test"))
        .await
        .unwrap_err();
    assert!(err.permanent, "{err}");
    // 451 for the recipient: transient.
    let err = Mailer::send(&mailer, &otp("tempfail-me@example.test"))
        .await
        .unwrap_err();
    assert!(!err.permanent, "{err}");
    // 535 for a wrong password: permanent (a 5xx reply).
    let wrong = SmtpMailer::new(&capture.settings(Some(("relay-user", "wrong")))).unwrap();
    let err = Mailer::send(&wrong, &otp("dave@example.test"))
        .await
        .unwrap_err();
    assert!(err.permanent, "{err}");
    // 530 without authentication: permanent.
    let anonymous = SmtpMailer::new(&capture.settings(None)).unwrap();
    let err = Mailer::send(&anonymous, &otp("dave@example.test"))
        .await
        .unwrap_err();
    assert!(err.permanent, "{err}");
    assert_eq!(capture.count(), 0);
}

#[tokio::test]
async fn smtp_server_not_listening_is_transient() {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: free_port(),
        security: Security::None,
        username: None,
        password: None,
        from: "Acme <no-reply@acme.test>".into(),
        timeout_secs: 5,
    };
    let mailer = SmtpMailer::new(&settings).unwrap();
    let email = Templates::default().render_otp_email("a@example.test", "Acme", "1", 1);
    let err = Mailer::send(&mailer, &email).await.unwrap_err();
    assert!(!err.permanent, "{err}");
}

#[tokio::test]
async fn smtp_server_that_never_answers_times_out_transiently() {
    // Accepts connections and never sends the greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        username: None,
        password: None,
        from: "Acme <no-reply@acme.test>".into(),
        timeout_secs: 1,
    };
    let mailer = SmtpMailer::new(&settings).unwrap();
    let email = Templates::default().render_otp_email("a@example.test", "Acme", "1", 1);
    let started = std::time::Instant::now();
    let err = Mailer::send(&mailer, &email).await.unwrap_err();
    assert!(!err.permanent, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    held.abort();
}

// ---------------------------------------------------------------------------------------------
// HTTP SMS providers

#[derive(Clone, Debug)]
struct Recorded {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A local HTTP receiver that records every request and answers with a settable status.
#[derive(Clone)]
struct Receiver {
    requests: Arc<Mutex<Vec<Recorded>>>,
    status: Arc<AtomicU16>,
    base: String,
}

async fn record(
    State(rx): State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    rx.requests.lock().unwrap().push(Recorded {
        method,
        uri,
        headers,
        body,
    });
    let status = StatusCode::from_u16(rx.status.load(Ordering::SeqCst)).unwrap();
    let answer = if status.is_success() {
        r#"{"sid":"SM0001","status":"queued"}"#
    } else {
        r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#
    };
    (status, answer)
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rx = Receiver {
            requests: Arc::default(),
            status: Arc::new(AtomicU16::new(201)),
            base: format!("http://{addr}"),
        };
        let app = axum::Router::new().fallback(record).with_state(rx.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        rx
    }

    fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    let query = std::str::from_utf8(body).unwrap();
    reqwest::Url::parse(&format!("http://form.invalid/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn twilio_posts_the_form_with_basic_auth() {
    let receiver = Receiver::start().await;
    let twilio = TwilioSms::new(TwilioSettings {
        base_url: format!("{}/", receiver.base),
        account_sid: "AC0123456789abcdef".into(),
        auth_token: "twilio-auth-token".into(),
        from: "+15550000000".into(),
    })
    .unwrap();
    let sms = Templates::default().render_otp_sms("+15551234567", "Acme & Co", "493021", 10);
    SmsSender::send(&twilio, &sms).await.unwrap();

    let requests = receiver.take();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(
        r.uri.path(),
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    );
    assert_eq!(
        r.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let expected = format!(
        "Basic {}",
        usso_shared::encoding::b64_encode(b"AC0123456789abcdef:twilio-auth-token")
    );
    assert_eq!(r.headers["authorization"], expected.as_str());
    let fields = form(&r.body);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(get("To"), "+15551234567");
    assert_eq!(get("From"), "+15550000000");
    assert_eq!(get("Body"), sms.body);
    assert!(get("Body").contains("493021 is your Acme & Co code"));

    // A 503 is transient, a 429 too, a 400 permanent (with the provider's message kept).
    receiver.answer_with(503);
    let err = SmsSender::send(&twilio, &sms).await.unwrap_err();
    assert!(!err.permanent, "{err}");
    receiver.answer_with(429);
    assert!(!SmsSender::send(&twilio, &sms).await.unwrap_err().permanent);
    receiver.answer_with(400);
    let err = SmsSender::send(&twilio, &sms).await.unwrap_err();
    assert!(err.permanent, "{err}");
    assert!(err.detail.contains("Invalid 'To' Phone Number"), "{err}");
    assert!(!err.detail.contains("twilio-auth-token"));
    assert_eq!(receiver.take().len(), 3);
}

#[tokio::test]
async fn webhook_is_signed_and_classified() {
    let receiver = Receiver::start().await;
    let secret = "webhook-shared-secret-0123456789";
    let hook = WebhookSms::new(&WebhookSettings {
        url: format!("{}/sms/send?gateway=test", receiver.base),
        secret: secret.into(),
    })
    .unwrap();
    let sms = Sms {
        to: "+15551234567".into(),
        body: "493021 is your \"Acme\" code ✓".into(),
    };
    SmsSender::send(&hook, &sms).await.unwrap();

    let requests = receiver.take();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.uri.path(), "/sms/send");
    assert_eq!(r.uri.query(), Some("gateway=test"));
    assert_eq!(r.headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(json["to"], "+15551234567");
    assert_eq!(json["body"], sms.body);
    let timestamp = json["timestamp"].as_u64().unwrap();
    let header = r.headers[SIGNATURE_HEADER].to_str().unwrap();
    assert!(
        header.starts_with(&format!("t={timestamp},v1=")),
        "{header}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(verify_webhook_signature(
        secret.as_bytes(),
        header,
        &r.body,
        now,
        300
    ));
    // The receiver's checks: another secret, a tampered body or an old message fail.
    assert!(!verify_webhook_signature(
        b"another-secret-0123456789",
        header,
        &r.body,
        now,
        300
    ));
    let mut tampered = r.body.to_vec();
    tampered[2] ^= 1;
    assert!(!verify_webhook_signature(
        secret.as_bytes(),
        header,
        &tampered,
        now,
        300
    ));
    assert!(!verify_webhook_signature(
        secret.as_bytes(),
        header,
        &r.body,
        now + 3600,
        300
    ));

    receiver.answer_with(503);
    let err = SmsSender::send(&hook, &sms).await.unwrap_err();
    assert!(!err.permanent, "{err}");
    receiver.answer_with(400);
    let err = SmsSender::send(&hook, &sms).await.unwrap_err();
    assert!(err.permanent, "{err}");
    assert_eq!(receiver.take().len(), 2);
}

#[tokio::test]
async fn http_provider_not_listening_is_transient() {
    let hook = WebhookSms::new(&WebhookSettings {
        url: format!("http://127.0.0.1:{}/sms", free_port()),
        secret: "webhook-shared-secret-0123456789".into(),
    })
    .unwrap();
    let sms = Sms {
        to: "+15551234567".into(),
        body: "x".into(),
    };
    let err = SmsSender::send(&hook, &sms).await.unwrap_err();
    assert!(!err.permanent, "{err}");
    let twilio = TwilioSms::new(TwilioSettings {
        base_url: format!("http://127.0.0.1:{}", free_port()),
        account_sid: "AC1".into(),
        auth_token: "t".into(),
        from: "+15550000000".into(),
    })
    .unwrap();
    assert!(!SmsSender::send(&twilio, &sms).await.unwrap_err().permanent);
}
