//! Users and their identifiers. An identifier document keyed by the canonical identifier
//! (`email:a@example.com`) is written first: it is the uniqueness gate, so two concurrent
//! registrations of one identifier cannot both succeed on any backend.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use usso_shared::claims::Grant;
use usso_shared::{encoding, random, Error, ErrorCode, Result};

use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::store::docs::{Cond, Doc, DocumentStore, Query, Sort};

pub use crate::store::collections::{IDENTIFIERS, USERS};

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// UUID v4.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Canonical email.
    #[serde(default)]
    pub email: Option<String>,
    /// E.164 phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Canonical username.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// A picture of the user (an `https` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// The language the person chose for the pages (`en`, `fa`); none: as the browser asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Argon2id PHC string; `None` for passwordless accounts.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Role slugs.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Direct scope grants.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Disabled users cannot log in or refresh.
    pub is_active: bool,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Last successful login.
    #[serde(default)]
    pub last_login_at: Option<i64>,
    /// When an administrator deleted the account (soft delete: it can no longer sign in, is
    /// not listed, and its identifiers are released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// Workspaces the user belongs to.
    #[serde(default)]
    pub workspace_ids: Vec<String>,
    /// The user's roles in each workspace.
    #[serde(default)]
    pub workspace_roles: std::collections::BTreeMap<String, Vec<String>>,
    /// Every slug of `workspace_roles`, once (derived; kept so that the holders of a role are
    /// found by one query). Written only through [`User::join_workspace`] and its siblings.
    #[serde(default)]
    pub workspace_role_slugs: Vec<String>,
}

/// The stored field listing every workspace role a user holds ([`User::workspace_role_slugs`]).
pub const WORKSPACE_ROLE_SLUGS: &str = "workspace_role_slugs";

/// An identifier document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifierDoc {
    /// The user it belongs to.
    pub user_id: String,
    /// Kind.
    pub kind: IdentifierKind,
    /// Canonical value.
    pub value: String,
    /// Whether ownership was proven (OTP, magic link).
    pub verified: bool,
    /// When it was proven (records written before this field read their creation time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
}

impl IdentifierDoc {
    /// The identifier.
    pub fn identifier(&self) -> Identifier {
        Identifier {
            kind: self.kind,
            value: self.value.clone(),
        }
    }

    /// A stable public id that does not reveal the address: the first 128 bits of the
    /// SHA-256 of its document key, hex.
    pub fn uid(&self) -> String {
        identifier_uid(&self.identifier())
    }

    /// When it was proven.
    pub fn proven_at(&self) -> Option<i64> {
        self.verified
            .then(|| self.verified_at.unwrap_or(self.created_at))
    }
}

/// [`IdentifierDoc::uid`] of an identifier.
pub fn identifier_uid(ident: &Identifier) -> String {
    use sha2::Digest;
    encoding::hex_encode(&sha2::Sha256::digest(ident.key().as_bytes())[..16])
}

/// A random UUID v4.
pub fn new_uuid() -> Result<String> {
    let mut b = random::bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = encoding::hex_encode(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

impl User {
    /// A new active user with one identifier.
    pub fn new(
        tenant_id: &str,
        ident: &Identifier,
        password_hash: Option<String>,
        now: i64,
    ) -> Result<Self> {
        let mut u = Self {
            id: new_uuid()?,
            tenant_id: tenant_id.into(),
            email: None,
            phone: None,
            username: None,
            name: None,
            avatar_url: None,
            locale: None,
            password_hash,
            roles: Vec::new(),
            scopes: Vec::new(),
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            deleted_at: None,
            workspace_ids: Vec::new(),
            workspace_roles: Default::default(),
            workspace_role_slugs: Vec::new(),
        };
        u.set_identifier(ident);
        Ok(u)
    }

    /// Whether an administrator deleted it.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The primary identifier of `kind`, if any.
    pub fn primary(&self, kind: IdentifierKind) -> Option<&str> {
        match kind {
            IdentifierKind::Email => self.email.as_deref(),
            IdentifierKind::Phone => self.phone.as_deref(),
            IdentifierKind::Username => self.username.as_deref(),
        }
    }

    /// Makes `ident` the primary identifier of its kind; `None` clears that kind.
    pub fn set_primary(&mut self, kind: IdentifierKind, value: Option<String>) {
        match kind {
            IdentifierKind::Email => self.email = value,
            IdentifierKind::Phone => self.phone = value,
            IdentifierKind::Username => self.username = value,
        }
    }

    fn set_identifier(&mut self, ident: &Identifier) {
        let v = Some(ident.value.clone());
        match ident.kind {
            IdentifierKind::Email => self.email = v,
            IdentifierKind::Phone => self.phone = v,
            IdentifierKind::Username => self.username = v,
        }
    }

    /// `sub` of the user's tokens.
    pub fn subject(&self) -> String {
        format!("user:{}", self.id)
    }

    /// The public view (never the password hash).
    pub fn public(&self) -> Value {
        json!({
            "id": self.id,
            "sub": self.subject(),
            "tenant_id": self.tenant_id,
            "email": self.email,
            "phone": self.phone,
            "username": self.username,
            "name": self.name,
            "roles": self.roles,
            "scopes": self.scopes,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
        })
    }

    /// Makes the user a member of `workspace` with `roles` (replacing the roles they had there).
    pub fn join_workspace(&mut self, workspace: &str, roles: Vec<String>) {
        if !self.workspace_ids.iter().any(|w| w == workspace) {
            self.workspace_ids.push(workspace.to_owned());
        }
        self.workspace_roles.insert(workspace.to_owned(), roles);
        self.derive_workspace_role_slugs();
    }

    /// Ends the user's membership of `workspace`; whether they were a member.
    pub fn leave_workspace(&mut self, workspace: &str) -> bool {
        let was = self.workspace_ids.iter().any(|w| w == workspace);
        self.workspace_ids.retain(|w| w != workspace);
        self.workspace_roles.remove(workspace);
        self.derive_workspace_role_slugs();
        was
    }

    /// Takes the role `slug` away in every workspace.
    pub fn remove_workspace_role(&mut self, slug: &str) {
        for roles in self.workspace_roles.values_mut() {
            roles.retain(|r| r != slug);
        }
        self.derive_workspace_role_slugs();
    }

    /// Whether the user belongs to `workspace`.
    pub fn is_member_of(&self, workspace: &str) -> bool {
        self.workspace_ids.iter().any(|w| w == workspace)
    }

    /// The user's roles in `workspace`.
    pub fn roles_in(&self, workspace: &str) -> &[String] {
        self.workspace_roles
            .get(workspace)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn derive_workspace_role_slugs(&mut self) {
        let all: std::collections::BTreeSet<&String> =
            self.workspace_roles.values().flatten().collect();
        self.workspace_role_slugs = all.into_iter().cloned().collect();
    }

    /// What a session of this user grants, given the methods used to authenticate, the
    /// context class they reach ([`crate::authn::Authenticated::acr`]) and the scopes of the
    /// user's active roles ([`crate::identity::roles::scopes_of`]): those plus the direct
    /// grants, each once.
    pub fn grant(&self, amr: Vec<String>, acr: &str, role_scopes: Vec<String>) -> Grant {
        let mut scopes = self.scopes.clone();
        for s in role_scopes {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        Grant {
            sub: self.subject(),
            user_id: Some(self.id.clone()),
            workspace_id: None,
            roles: self.roles.clone(),
            scopes,
            amr,
            acr: Some(acr.into()),
            email: self.email.clone(),
            phone: self.phone.clone(),
            username: self.username.clone(),
            user_name: self.name.clone(),
            client_id: None,
            scope: None,
            cnf_jkt: None,
            resource: None,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(doc: Doc, what: &str) -> Result<T> {
    serde_json::from_value(doc.body)
        .map_err(|e| Error::internal(format!("corrupt {what} `{}`: {e}", doc.id)))
}

fn encode<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(e.to_string()))
}

/// The user an identifier belongs to, with the document version (two store reads either way).
pub async fn find_by_identifier<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    ident: &Identifier,
) -> Result<Option<(User, i64)>> {
    Ok(find_for_sign_in(docs, tenant, ident)
        .await?
        .map(|f| (f.user, f.version)))
}

/// A user found by one of their identifiers, for signing in.
#[derive(Debug, Clone)]
pub struct Found {
    /// The account.
    pub user: User,
    /// Its document version.
    pub version: i64,
    /// Whether that identifier is proven.
    pub verified: bool,
}

/// Like [`find_by_identifier`], with whether the identifier is proven (same two reads).
pub async fn find_for_sign_in<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    ident: &Identifier,
) -> Result<Option<Found>> {
    let Some(idoc) = docs.get(IDENTIFIERS, tenant, &ident.key()).await? else {
        // The same second read as for a known identifier, so the time taken does not tell.
        let _ = docs.get(USERS, tenant, "-").await?;
        return Ok(None);
    };
    let idoc: IdentifierDoc = decode(idoc, "identifier")?;
    Ok(get(docs, tenant, &idoc.user_id)
        .await?
        .filter(|(user, _)| !user.is_deleted())
        .map(|(user, version)| Found {
            user,
            version,
            verified: idoc.verified,
        }))
}

/// Marks an identifier of `user_id` as proven (compare-and-set). Whether it was unproven
/// before; `false` also when it does not belong to `user_id`.
pub async fn mark_verified<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    ident: &Identifier,
    user_id: &str,
    now: i64,
) -> Result<bool> {
    for _ in 0..3 {
        let Some(doc) = docs.get(IDENTIFIERS, tenant, &ident.key()).await? else {
            return Ok(false);
        };
        let version = doc.version;
        let mut idoc: IdentifierDoc = decode(doc, "identifier")?;
        if idoc.user_id != user_id || idoc.verified {
            return Ok(false);
        }
        idoc.verified = true;
        idoc.verified_at = Some(now);
        match docs
            .replace(IDENTIFIERS, tenant, &ident.key(), encode(&idoc)?, version)
            .await
        {
            Ok(_) => return Ok(true),
            Err(e) if e.code() == ErrorCode::Conflict => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::new(
        ErrorCode::Conflict,
        "the identifier is being changed concurrently; try again",
    ))
}

/// A user by id, with the document version.
pub async fn get<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    id: &str,
) -> Result<Option<(User, i64)>> {
    match docs.get(USERS, tenant, id).await? {
        Some(d) => {
            let v = d.version;
            Ok(Some((decode(d, "user")?, v)))
        }
        None => Ok(None),
    }
}

/// Creates a user. The user document is written first (invisible: nothing points at it yet),
/// then the identifier document, the uniqueness gate. So a crash between the two writes leaves at
/// worst an unreachable user document, never an identifier that points at nobody and blocks its
/// address forever. An identifier whose user does not exist (left by an older version, or by an
/// erase cut short) is taken over with a compare-and-set, so such an address registers again.
pub async fn create<D: DocumentStore>(
    docs: &D,
    user: &User,
    ident: &Identifier,
    verified: bool,
) -> Result<()> {
    let idoc = encode(&IdentifierDoc {
        user_id: user.id.clone(),
        kind: ident.kind,
        value: ident.value.clone(),
        verified,
        verified_at: verified.then_some(user.created_at),
        created_at: user.created_at,
    })?;
    let tenant = user.tenant_id.as_str();
    docs.insert(USERS, tenant, &user.id, encode(user)?).await?;
    let gate = gate(docs, tenant, &ident.key(), idoc).await;
    if gate.is_err() {
        // Nothing points at it; a failure here leaves only an unreachable document.
        let _ = docs.delete(USERS, tenant, &user.id).await;
    }
    gate
}

/// Writes the identifier document `key` (the uniqueness gate): `conflict` when a live user
/// holds it; an orphan (its user gone or deleted) is taken over.
pub async fn gate<D: DocumentStore>(docs: &D, tenant: &str, key: &str, idoc: Value) -> Result<()> {
    match docs.insert(IDENTIFIERS, tenant, key, idoc.clone()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == ErrorCode::Conflict => {
            match take_over_orphan(docs, tenant, key, idoc).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(Error::new(
                    ErrorCode::Conflict,
                    "this identifier is already registered",
                )),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The JSON of an identifier document.
pub fn encode_identifier(idoc: &IdentifierDoc) -> Result<Value> {
    encode(idoc)
}

/// Replaces the identifier document `key` with `idoc` if the user it names does not exist
/// (compare-and-set on its version, so two repairs cannot both win). Whether it was taken.
async fn take_over_orphan<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    key: &str,
    idoc: Value,
) -> Result<bool> {
    let Some(existing) = docs.get(IDENTIFIERS, tenant, key).await? else {
        // Released meanwhile: try the gate once more.
        return match docs.insert(IDENTIFIERS, tenant, key, idoc).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == ErrorCode::Conflict => Ok(false),
            Err(e) => Err(e),
        };
    };
    let owner = existing.body["user_id"].as_str().unwrap_or("-").to_owned();
    // A soft-deleted owner released its identifiers; one left pointing at it (a deletion cut
    // short) is free too.
    if get(docs, tenant, &owner)
        .await?
        .is_some_and(|(u, _)| !u.is_deleted())
    {
        return Ok(false);
    }
    tracing::warn!(
        identifier = key,
        "repairing an identifier whose user does not exist"
    );
    match docs
        .replace(IDENTIFIERS, tenant, key, idoc, existing.version)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.code() == ErrorCode::Conflict => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes a changed user if nobody changed it since `version`.
pub async fn update<D: DocumentStore>(docs: &D, user: &User, version: i64) -> Result<i64> {
    Ok(docs
        .replace(USERS, &user.tenant_id, &user.id, encode(user)?, version)
        .await?
        .version)
}

/// Applies `change` to the user `id` with a compare-and-set, re-reading and retrying when
/// another writer got there first; the changed user and its new version. `not_found` for a
/// missing or deleted user.
pub async fn modify<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    id: &str,
    mut change: impl FnMut(&mut User) -> Result<()>,
    now: i64,
) -> Result<(User, i64)> {
    for _ in 0..5 {
        let (mut user, version) = get(docs, tenant, id)
            .await?
            .filter(|(u, _)| !u.is_deleted())
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "user not found"))?;
        change(&mut user)?;
        user.updated_at = now;
        match update(docs, &user, version).await {
            Ok(v) => return Ok((user, v)),
            Err(e) if e.code() == ErrorCode::Conflict => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::new(
        ErrorCode::Conflict,
        "the user is being changed concurrently; try again",
    ))
}

/// Every identifier document of a user (at most 100), oldest first.
pub async fn identifiers_of<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    user_id: &str,
) -> Result<Vec<IdentifierDoc>> {
    let page = docs
        .query(
            IDENTIFIERS,
            tenant,
            &Query {
                conds: vec![Cond::Eq("user_id".into(), Value::String(user_id.into()))],
                sort: Sort::By {
                    field: "created_at".into(),
                    descending: false,
                },
                offset: 0,
                limit: 100,
            },
        )
        .await?;
    page.items
        .into_iter()
        .map(|d| decode(d, "identifier"))
        .collect()
}

/// Deletes a user's account document (identifiers are separate documents); whether it existed.
pub async fn delete<D: DocumentStore>(docs: &D, user: &User) -> Result<bool> {
    docs.delete(USERS, &user.tenant_id, &user.id).await
}

/// Whether an active account holds `ident`, with the same store reads whatever the answer (the
/// identifier document, then a user document), so the time taken does not tell.
pub async fn holds_active<D: DocumentStore>(
    docs: &D,
    tenant: &str,
    ident: &Identifier,
) -> Result<bool> {
    let idoc = docs.get(IDENTIFIERS, tenant, &ident.key()).await?;
    let user_id = idoc
        .as_ref()
        .and_then(|d| d.body["user_id"].as_str())
        .unwrap_or("-")
        .to_owned();
    let user = docs.get(USERS, tenant, &user_id).await?;
    Ok(idoc.is_some() && user.is_some_and(|u| u.body["is_active"] == Value::Bool(true)))
}
