//! Start-up: the data directory, the master key, the embedded stores, the default tenant, the
//! system administrator, and publishing every tenant to the hot store.

use std::io::Write as _;
use std::path::Path;

use usso_shared::seal::SecretKey;
use usso_shared::{Error, Result};

use crate::authn::hasher::{Hasher, Verdict};
use crate::config::Config;
use crate::identity::identifier::{Identifier, IdentifierKind};
use crate::identity::users::{self, User};
use crate::store::docs::DocumentStore;
use crate::store::hot::{Hot, SqliteHot};
use crate::store::{Docs, Stores};
use crate::tenants::{self, Tenant, DEFAULT_TENANT};

/// Username of the system administrator.
pub const SYSTEM_USER: &str = "system";

/// Opens the data directory (creating it), the master key, the document store and the
/// configured hot store (embedded by default, Redis or Upstash REST).
pub async fn open(cfg: &Config) -> Result<Stores> {
    crate::store::private_fs::dir(&cfg.data_dir).map_err(|e| {
        Error::configuration(format!(
            "cannot create USSO_DATA_DIR {}: {e}",
            cfg.data_dir.display()
        ))
    })?;
    let master = master_key(cfg)?;
    Ok(Stores {
        docs: doc_store(cfg).await?,
        hot: hot_store(cfg).await?,
        edge_key: usso_shared::keys::edge_key(&master, cfg.edge_key_generation),
        master,
    })
}

async fn doc_store(cfg: &Config) -> Result<Docs> {
    let Some(url) = &cfg.mongo_url else {
        return Ok(Docs::Sqlite(crate::store::docs::SqliteDocs::open(
            &cfg.data_dir.join("usso.db"),
        )?));
    };
    use usso_shared::data_api::{Auth, DataApi, Target};
    let auth = match (&cfg.mongo_api_key, &cfg.mongo_user, &cfg.mongo_password) {
        (Some(key), None, None) => Auth::ApiKey(key.clone()),
        (None, Some(user), Some(password)) => Auth::Basic {
            user: user.clone(),
            password: password.clone(),
        },
        _ => unreachable!("checked by Config::validate"),
    };
    let transport = usso_shared::transport::ReqwestTransport::new(std::time::Duration::from_secs(
        cfg.mongo_timeout_secs,
    ))?;
    let api = DataApi::new(
        Target {
            base_url: url.clone(),
            data_source: cfg.mongo_data_source.clone(),
            database: cfg.mongo_database.clone(),
        },
        auth,
        transport,
    );
    let docs = crate::store::mongo::MongoDocs::new(api);
    // Fail at start-up, not at the first login, when the URL or the credentials are wrong.
    docs.ping().await.map_err(|e| {
        Error::configuration(format!(
            "USSO_MONGO_DATA_API_URL does not answer as a Data API: {}",
            e.detail()
        ))
    })?;
    Ok(Docs::Mongo(docs))
}

async fn hot_store(cfg: &Config) -> Result<Hot> {
    use usso_edge::upstash_store::RedisHotStore;
    if let Some(url) = &cfg.redis_url {
        let conn = crate::store::redis::NativeRedis::connect(url).await?;
        return Ok(Hot::Redis(RedisHotStore::new(conn)));
    }
    if let (Some(url), Some(token)) = (&cfg.upstash_url, &cfg.upstash_token) {
        let transport =
            usso_shared::transport::ReqwestTransport::new(std::time::Duration::from_secs(5))?;
        let client = usso_shared::upstash::Upstash::new(url, token, transport);
        let store = RedisHotStore::new(client);
        // Fail at start-up, not at the first login, when the URL or token is wrong.
        usso_edge::HotStore::get_many(&store, &["usso:ping".to_owned()])
            .await
            .map_err(|e| {
                Error::configuration(format!(
                    "UPSTASH_REDIS_REST_URL does not answer: {}",
                    e.detail()
                ))
            })?;
        return Ok(Hot::Upstash(store));
    }
    Ok(Hot::Sqlite(SqliteHot::open(&cfg.data_dir.join("hot.db"))?))
}

fn master_key(cfg: &Config) -> Result<SecretKey> {
    if let Some(text) = &cfg.master_key {
        return SecretKey::parse(text.trim()).map_err(|_| {
            Error::configuration("USSO_MASTER_KEY must be 32 bytes in base64url (43 characters)")
        });
    }
    let path = cfg.data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::parse(text.trim()).map_err(|_| {
            Error::configuration(format!("{} is not a valid master key", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate()?;
            write_private(&path, &key.to_base64url())?;
            tracing::warn!(path = %path.display(), "generated a new master key; back it up (or set USSO_MASTER_KEY)");
            Ok(key)
        }
        Err(e) => Err(Error::configuration(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::configuration(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::configuration(format!("cannot write {}: {e}", path.display())))
}

/// Creates `org_default` on first start and keeps its issuer in line with `USSO_ISSUER`.
pub async fn default_tenant(
    stores: &Stores,
    cfg: &Config,
    issuer: &str,
    now: i64,
) -> Result<Tenant> {
    match tenants::load(&stores.docs, DEFAULT_TENANT).await? {
        Some(mut t) => {
            if cfg.issuer.is_some() && t.tokens.issuer != issuer {
                let doc = stores
                    .docs
                    .get(crate::store::docs::TENANTS, DEFAULT_TENANT, DEFAULT_TENANT)
                    .await?
                    .ok_or_else(|| Error::internal("default tenant vanished"))?;
                t.tokens.issuer = issuer.to_owned();
                let body = serde_json::to_value(&t).map_err(|e| Error::internal(e.to_string()))?;
                stores
                    .docs
                    .replace(
                        crate::store::docs::TENANTS,
                        DEFAULT_TENANT,
                        DEFAULT_TENANT,
                        body,
                        doc.version,
                    )
                    .await?;
            }
            Ok(t)
        }
        None => {
            let mut t = Tenant::new(
                DEFAULT_TENANT,
                "Default",
                issuer,
                cfg.access_token_expire,
                cfg.refresh_token_expire,
                now,
            );
            t.tokens.domains = vec!["localhost".into(), "127.0.0.1".into()];
            tenants::create(&stores.docs, &stores.master, &t, now).await?;
            crate::identity::roles::seed(&stores.docs, t.id(), now).await?;
            tracing::info!(tenant = DEFAULT_TENANT, "created the default tenant");
            Ok(t)
        }
    }
}

/// Ensures the system administrator exists; returns a generated password to show once.
pub async fn system_user(
    stores: &Stores,
    hasher: &Hasher,
    cfg: &Config,
    now: i64,
) -> Result<Option<String>> {
    let ident = Identifier {
        kind: IdentifierKind::Username,
        value: SYSTEM_USER.into(),
    };
    match users::find_by_identifier(&stores.docs, DEFAULT_TENANT, &ident).await? {
        Some((mut user, version)) => {
            if let Some(pw) = &cfg.system_password {
                let current = hasher.verify(pw, user.password_hash.as_deref()).await?;
                if !matches!(
                    current,
                    Verdict::Valid {
                        needs_rehash: false
                    }
                ) {
                    user.password_hash = Some(hasher.hash(pw).await?);
                    user.updated_at = now;
                    users::update(&stores.docs, &user, version).await?;
                    tracing::warn!("system administrator password reset from SYSTEM_PASSWORD");
                }
            }
            Ok(None)
        }
        None => {
            let (password, generated) = match &cfg.system_password {
                Some(pw) => (pw.clone(), false),
                None => (usso_shared::random::token_id()?, true),
            };
            let mut user = User::new(
                DEFAULT_TENANT,
                &ident,
                Some(hasher.hash(&password).await?),
                now,
            )?;
            user.roles = vec!["superadmin".into()];
            user.scopes = vec!["superadmin:*".into()];
            user.name = Some("System administrator".into());
            users::create(&stores.docs, &user, &ident, true).await?;
            Ok(generated.then_some(password))
        }
    }
}

/// Publishes every tenant to the hot store.
pub async fn publish_all(stores: &Stores, now: i64) -> Result<()> {
    for id in stores.docs.tenants().await? {
        if let Some(t) = tenants::load(&stores.docs, &id).await? {
            tenants::publish(stores, &t, now).await?;
        }
    }
    Ok(())
}
