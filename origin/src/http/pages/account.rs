//! The account page: profile, identifiers (add, confirm, make primary, remove), password,
//! sessions (end one or all others), sign-out, and the sections later sign-in methods fill.
//!
//! Invariants: every action is a form post with the form token, made by the person signed in
//! with a live session (an API key or another person's token cannot reach it: the caller is
//! the access token's subject, [`rules::PROFILE_MINE_UPDATE`]'s rule). An address becomes
//! primary only once proven, and the account always keeps a proven address when it had one,
//! so a stolen session cannot swap the owner's address for the thief's unproven one.

use askama::Template;
use axum::extract::State;
use usso_edge::http::{Method, Request, Response};
use usso_shared::claims::AccessClaims;
use usso_shared::paths::pages as p;
use usso_shared::{Error, ErrorCode, Result};

use super::{csrf, encode, error_page, see_other, Field, Form, Frame, Notice};
use crate::app::{ClientMeta, Ctx, CtxRef};
use crate::authz::{rules, Principal};
use crate::http::extract::{self, CoreRequest, Out};
use crate::identity::identifier::IdentifierKind;
use crate::identity::{account, manage, profiles};
use crate::sessions::list::{self as sessions, ListQuery};
use crate::tenants::TenantCtx;

/// A button that posts (one action on one row).
pub struct Action {
    /// Where it posts.
    pub action: &'static str,
    /// Its fields.
    pub hidden: Vec<(&'static str, String)>,
    /// Its text.
    pub label: &'static str,
    /// Its accessible name (the text and what it acts on).
    pub aria: String,
    /// `danger` for destructive actions.
    pub class: &'static str,
}

/// A row of the identifiers table.
pub struct IdentifierRow {
    /// Kind, as a word.
    pub kind: &'static str,
    /// The address.
    pub value: String,
    /// Verified, primary.
    pub state: String,
    /// Its buttons.
    pub actions: Vec<Action>,
}

/// A row of the sessions table.
pub struct SessionRow {
    /// A short description of the browser.
    pub device: String,
    /// The address it signed in from.
    pub ip: String,
    /// When it was last used (UTC).
    pub last_used: String,
    /// This browser's own session.
    pub current: bool,
    /// Its end button (none for this browser's own: sign out instead).
    pub end: Option<Action>,
}

/// The account page.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    f: &'a Frame,
    title: &'a str,
    notice: Option<Notice>,
    avatar: Option<String>,
    profile: Form,
    identifiers: Vec<IdentifierRow>,
    identifier_forms: Vec<Form>,
    password: Form,
    sessions: Vec<SessionRow>,
    end_others: Option<Action>,
    later: Vec<(&'static str, &'static str)>,
    sign_out: Action,
    captcha: bool,
    refresh: Option<String>,
}

/// Which form an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Profile,
    Password,
    Add,
    Confirm,
    Other,
}

/// The signed-in person of an account request.
struct Me {
    tc: TenantCtx,
    claims: AccessClaims,
    principal: Principal,
    who: ClientMeta,
    f: Frame,
}

/// The signed-in person, or where the browser must go first: through the resume route when
/// the access cookie expired but the browser signed in here, else to the sign-in page.
async fn me(ctx: &Ctx, req: &Request) -> std::result::Result<Me, Response> {
    let (tc, bare) = super::open(ctx, req, p::ACCOUNT).await?;
    let claims = match extract::caller(ctx, req, &tc, true).await {
        Ok(c) => c,
        Err(_) if req.cookie(super::SIGNED_IN_COOKIE).is_some() && req.method == Method::Get => {
            return Err(super::signin::bounce(&bare, p::ACCOUNT));
        }
        Err(_) => {
            return Err(see_other(
                &format!("{}?redirect={}", p::LOGIN, encode(p::ACCOUNT)),
                Some(&bare),
            ))
        }
    };
    let principal = match Principal::of(claims.clone(), tc.tenant.id())
        .and_then(|pr| rules::PROFILE_MINE_UPDATE.allows(&pr, None).map(|_| pr))
    {
        Ok(pr) => pr,
        Err(e) => return Err(error_page(&bare, e.status(), bare.lang.error(&e))),
    };
    let own = match account::me(ctx, &principal).await {
        Ok(u) => u.locale,
        Err(e) => return Err(error_page(&bare, e.status(), bare.lang.error(&e))),
    };
    let f = Frame::of(ctx, &tc, req, p::ACCOUNT, own.as_deref())
        .map_err(|e| super::error_without_tenant(&e))?;
    if req.method == Method::Post {
        if let Err(e) = csrf::check(ctx, &tc, req) {
            return Err(super::refused(&f, &e));
        }
    }
    Ok(Me {
        tc,
        claims,
        principal,
        who: extract::meta(req),
        f,
    })
}

fn user_id(m: &Me) -> Result<&str> {
    m.principal
        .user_id
        .as_deref()
        .ok_or_else(|| Error::new(ErrorCode::PermissionDenied, "not a person's session"))
}

fn when(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A short name for a browser from its `User-Agent`.
fn device_of(ua: Option<&str>, unknown: &str) -> String {
    let Some(ua) = ua else {
        return unknown.to_owned();
    };
    let browser = [
        "Edg/",
        "OPR/",
        "Firefox/",
        "Chrome/",
        "Safari/",
        "curl/",
        "python-httpx/",
    ]
    .iter()
    .find(|b| ua.contains(*b))
    .map(|b| match *b {
        "Edg/" => "Edge",
        "OPR/" => "Opera",
        "Firefox/" => "Firefox",
        "Chrome/" if ua.contains("HeadlessChrome") => "Headless Chrome",
        "Chrome/" => "Chrome",
        "Safari/" => "Safari",
        "curl/" => "curl",
        _ => "Python",
    });
    let os = ["Windows", "Android", "iPhone", "iPad", "Mac OS X", "Linux"]
        .iter()
        .find(|o| ua.contains(*o))
        .map(|o| if *o == "Mac OS X" { "macOS" } else { o });
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} · {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => o.to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

/// Renders the page (`error`: the form it belongs to and what went wrong).
async fn page(
    ctx: &Ctx,
    m: &Me,
    notice: Option<Notice>,
    error: Option<(Part, &Error)>,
) -> Result<Response> {
    let t = m.f.t;
    let lang = m.f.lang;
    let uid = user_id(m)?;
    let listed = manage::get(ctx, m.tc.tenant.id(), uid).await?;
    let user = &listed.user;
    let err_for = |part: Part, form: Form| match error {
        Some((p, e)) if p == part => form.failed(lang, e),
        _ => form,
    };

    let locale_options = std::iter::once(("", t.no_preference))
        .chain(
            super::i18n::Lang::ALL
                .into_iter()
                .map(|l| (l.code(), l.own_name())),
        )
        .map(|(v, label)| {
            (
                v.to_owned(),
                label.to_owned(),
                user.locale.as_deref().unwrap_or("") == v,
            )
        })
        .collect();
    let mut locale = Field::new("locale", t.own_language, "select", "").optional();
    locale.options = locale_options;
    let profile = err_for(
        Part::Profile,
        Form::new("profile", p::ACCOUNT_PROFILE, t.save)
            .field(
                Field::new("name", t.name, "text", "name")
                    .value(user.name.clone().unwrap_or_default())
                    .optional(),
            )
            .field(
                Field::new("avatar_url", t.avatar_url, "url", "photo")
                    .value(user.avatar_url.clone().unwrap_or_default())
                    .optional(),
            )
            .field(locale),
    );

    let proven = listed.identifiers.iter().filter(|i| i.verified).count();
    let mut identifiers = Vec::new();
    let mut identifier_forms = Vec::new();
    for i in &listed.identifiers {
        let primary = user.primary(i.kind) == Some(i.value.as_str());
        let mut state = vec![if i.verified { t.verified } else { t.unverified }];
        if primary {
            state.push(t.primary);
        }
        let mut actions = Vec::new();
        let id = vec![("identifier_id", i.uid())];
        if i.kind != IdentifierKind::Username && !i.verified {
            actions.push(Action {
                action: p::ACCOUNT_IDENTIFIER_VERIFY,
                hidden: vec![("identifier", i.value.clone()), ("send", "1".into())],
                label: t.send_code_to_verify,
                aria: format!("{} · {}", t.send_code_to_verify, i.value),
                class: "",
            });
            identifier_forms.push(err_for(
                Part::Confirm,
                Form::new("confirm", p::ACCOUNT_IDENTIFIER_VERIFY, t.confirm)
                    .hidden(vec![("identifier", i.value.clone())])
                    .field(
                        Field::new("code", t.code, "text", "one-time-code")
                            .numeric()
                            .hint(i.value.clone()),
                    ),
            ));
        }
        if i.verified && !primary && i.kind != IdentifierKind::Username {
            actions.push(Action {
                action: p::ACCOUNT_IDENTIFIER_PRIMARY,
                hidden: id.clone(),
                label: t.make_primary,
                aria: format!("{} · {}", t.make_primary, i.value),
                class: "",
            });
        }
        let last_proven = i.verified && proven == 1;
        if listed.identifiers.len() > 1 && !last_proven {
            actions.push(Action {
                action: p::ACCOUNT_IDENTIFIER_REMOVE,
                hidden: id,
                label: t.remove,
                aria: format!("{} · {}", t.remove, i.value),
                class: "danger",
            });
        }
        identifiers.push(IdentifierRow {
            kind: match i.kind {
                IdentifierKind::Email => t.kind_email,
                IdentifierKind::Phone => t.kind_phone,
                IdentifierKind::Username => t.kind_username,
            },
            value: i.value.clone(),
            state: state.join(" · "),
            actions,
        });
    }
    // One confirmation form at a time keeps ids unique: the newest unproven address.
    if identifier_forms.len() > 1 {
        identifier_forms.drain(..identifier_forms.len() - 1);
    }
    identifier_forms.push(err_for(
        Part::Add,
        Form::new("add", p::ACCOUNT_IDENTIFIER_ADD, t.add).field(
            Field::new("identifier", t.add_identifier, "text", "email")
                .hint(t.phone_hint)
                .ltr(),
        ),
    ));
    if let Some((Part::Other, e)) = error {
        identifier_forms.last_mut().expect("the add form").error = Some(lang.error(e));
    }

    let mut password = Form::new("password", p::ACCOUNT_PASSWORD, t.change_password);
    if user.password_hash.is_some() {
        password = password.field(Field::new(
            "current_password",
            t.current_password,
            "password",
            "current-password",
        ));
    }
    let password = err_for(
        Part::Password,
        password.field(
            Field::new("new_password", t.new_password, "password", "new-password").hint(format!(
                "{} {}",
                t.password_rule, m.tc.tenant.password_min_length
            )),
        ),
    );

    let list = sessions::list(
        ctx,
        &m.tc.tenant,
        &m.claims,
        ListQuery {
            user_id: None,
            offset: 0,
            limit: 200,
        },
    )
    .await?;
    let live: Vec<_> = list.items.into_iter().filter(|s| s.is_active).collect();
    let others = live.iter().filter(|s| !s.current).count();
    let sessions = live
        .into_iter()
        .map(|s| {
            let device = device_of(s.user_agent.as_deref(), t.unknown_device);
            SessionRow {
                end: (!s.current).then(|| Action {
                    action: p::ACCOUNT_SESSION_END,
                    hidden: vec![("session_id", s.id.clone())],
                    label: t.end_session,
                    aria: format!("{} · {device} · {}", t.end_session, when(s.last_used_at)),
                    class: "danger",
                }),
                device,
                ip: s.ip.unwrap_or_default(),
                last_used: when(s.last_used_at),
                current: s.current,
            }
        })
        .collect();
    let tpl = AccountPage {
        f: &m.f,
        title: t.account_title,
        notice,
        avatar: user.avatar_url.clone(),
        profile,
        identifiers,
        identifier_forms,
        password,
        sessions,
        end_others: (others > 0).then(|| Action {
            action: p::ACCOUNT_SESSIONS_END_OTHERS,
            hidden: Vec::new(),
            label: t.end_others,
            aria: t.end_others.to_owned(),
            class: "danger",
        }),
        later: vec![
            ("passkeys", t.passkeys),
            ("totp", t.authenticator),
            ("linked", t.linked_accounts),
            ("consents", t.consents),
        ],
        sign_out: Action {
            action: p::LOGOUT,
            hidden: Vec::new(),
            label: t.sign_out,
            aria: t.sign_out.to_owned(),
            class: "",
        },
        captcha: false,
        refresh: None,
    };
    let status = error.map_or(200, |(_, e)| e.status());
    Ok(super::render(status, &m.f, &tpl))
}

/// What a `?done=` names (the notice after a successful post and its redirect).
fn done_notice(f: &Frame, done: Option<&str>) -> Option<Notice> {
    let t = f.t;
    Notice::ok(match done? {
        "saved" => t.saved,
        "added" => t.identifier_added,
        "removed" => t.identifier_removed,
        "confirmed" => t.identifier_verified,
        "primary" => t.primary_set,
        "code" => t.code_sent,
        "password" => t.password_changed,
        "sessions" => t.sessions_ended,
        _ => return None,
    })
}

fn out(r: std::result::Result<Response, Response>) -> Out {
    Out(r.unwrap_or_else(|e| e))
}

/// `GET /account`.
pub async fn show(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    out(async {
        let m = me(&ctx, &req).await?;
        let notice = done_notice(&m.f, req.query_param("done").as_deref());
        page(&ctx, &m, notice, None)
            .await
            .map_err(|e| error_page(&m.f, e.status(), m.f.lang.error(&e)))
    }
    .await)
}

/// Runs one account action: on success a 303 back to the page with its notice, else the page
/// again with the error on its form.
async fn act<F>(ctx: &Ctx, req: &Request, part: Part, action: F) -> Out
where
    F: for<'a> FnOnce(
        &'a Ctx,
        &'a Me,
        &'a Request,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<&'static str>> + Send + 'a>,
    >,
{
    out(async {
        let m = me(ctx, req).await?;
        match action(ctx, &m, req).await {
            Ok(done) => Ok(see_other(
                &format!("{}?done={done}", p::ACCOUNT),
                Some(&m.f),
            )),
            Err(e) if e.status() >= 500 => Err(error_page(&m.f, e.status(), m.f.lang.error(&e))),
            Err(e) => page(ctx, &m, None, Some((part, &e)))
                .await
                .map_err(|e| error_page(&m.f, e.status(), m.f.lang.error(&e))),
        }
    }
    .await)
}

fn field(req: &Request, name: &str) -> String {
    req.form_field(name).unwrap_or_default()
}

/// `POST /account/profile`: name, picture, language.
pub async fn profile(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Profile, |ctx, m, req| {
        Box::pin(async move {
            let opt = |name: &str| {
                let v = field(req, name);
                Some(Some(v.trim().to_owned()).filter(|v| !v.is_empty()))
            };
            profiles::update_mine(
                ctx,
                m.tc.tenant.id(),
                user_id(m)?,
                &m.who,
                profiles::ProfileChange {
                    name: opt("name"),
                    avatar_url: opt("avatar_url"),
                    locale: opt("locale"),
                },
            )
            .await?;
            Ok("saved")
        })
    })
    .await
}

/// `POST /account/password`: the current password (when set) and the new one; every other
/// session ends.
pub async fn password(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Password, |ctx, m, req| {
        Box::pin(async move {
            let current = req.form_field("current_password");
            account::change_password(
                ctx,
                &m.tc.tenant,
                &m.principal,
                &m.who,
                current.as_deref(),
                &field(req, "new_password"),
            )
            .await?;
            Ok("password")
        })
    })
    .await
}

/// `POST /account/identifiers/add`: adds an address (unproven) and sends it a code.
pub async fn add_identifier(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Add, |ctx, m, req| {
        Box::pin(async move {
            let uid = user_id(m)?.to_owned();
            let raw = field(req, "identifier");
            let idoc =
                manage::add_identifier(ctx, &m.principal, &m.who, &uid, &raw, None, false).await?;
            if idoc.kind == IdentifierKind::Username {
                return Ok("saved");
            }
            account::request_verification(ctx, &m.tc.tenant, &m.principal, &m.who, &idoc.value)
                .await?;
            Ok("added")
        })
    })
    .await
}

/// `POST /account/identifiers/verify`: with `send`, sends a code to the address; else proves
/// it with `code`.
pub async fn verify_identifier(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Confirm, |ctx, m, req| {
        Box::pin(async move {
            let identifier = field(req, "identifier");
            if req.form_field("send").is_some() {
                account::request_verification(ctx, &m.tc.tenant, &m.principal, &m.who, &identifier)
                    .await?;
                return Ok("code");
            }
            account::verify(
                ctx,
                &m.tc.tenant,
                &m.principal,
                &m.who,
                &identifier,
                &field(req, "code"),
            )
            .await?;
            Ok("confirmed")
        })
    })
    .await
}

/// `POST /account/identifiers/primary`: a proven address becomes the primary of its kind.
pub async fn make_primary(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Other, |ctx, m, req| {
        Box::pin(async move {
            let uid = user_id(m)?.to_owned();
            let id = field(req, "identifier_id");
            let listed = manage::get(ctx, m.tc.tenant.id(), &uid).await?;
            let proven = listed
                .identifiers
                .iter()
                .find(|i| i.uid() == id)
                .is_some_and(|i| i.verified);
            if !proven {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "confirm an address before making it primary",
                ));
            }
            manage::make_primary(ctx, &m.principal, &m.who, &uid, &id).await?;
            Ok("primary")
        })
    })
    .await
}

/// `POST /account/identifiers/remove`: removes an address, never the last proven one.
pub async fn remove_identifier(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Other, |ctx, m, req| {
        Box::pin(async move {
            let uid = user_id(m)?.to_owned();
            let id = field(req, "identifier_id");
            let listed = manage::get(ctx, m.tc.tenant.id(), &uid).await?;
            let proven = listed.identifiers.iter().filter(|i| i.verified).count();
            let target_proven = listed
                .identifiers
                .iter()
                .find(|i| i.uid() == id)
                .is_some_and(|i| i.verified);
            if target_proven && proven == 1 {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "this is the account's only confirmed address; confirm another first",
                ));
            }
            manage::remove_identifier(ctx, &m.principal, &m.who, &uid, &id).await?;
            Ok("removed")
        })
    })
    .await
}

/// `POST /account/sessions/end`: ends one of the person's other sessions.
pub async fn end_session(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Other, |ctx, m, req| {
        Box::pin(async move {
            let id = field(req, "session_id");
            if m.claims.session_id.as_deref() == Some(id.as_str()) {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    "this is the session you are using: sign out instead",
                ));
            }
            sessions::revoke(ctx, &m.tc.tenant, &m.who, &m.claims, &id).await?;
            Ok("sessions")
        })
    })
    .await
}

/// `POST /account/sessions/end-others`: ends every session but this one.
pub async fn end_others(State(ctx): State<CtxRef>, CoreRequest(req): CoreRequest) -> Out {
    act(&ctx, &req, Part::Other, |ctx, m, _req| {
        Box::pin(async move {
            let list = sessions::list(
                ctx,
                &m.tc.tenant,
                &m.claims,
                ListQuery {
                    user_id: None,
                    offset: 0,
                    limit: 200,
                },
            )
            .await?;
            for s in list.items.iter().filter(|s| s.is_active && !s.current) {
                sessions::revoke(ctx, &m.tc.tenant, &m.who, &m.claims, &s.id).await?;
            }
            Ok("sessions")
        })
    })
    .await
}
