//! The delivery channels chosen by configuration: SMTP or the development mailer for email;
//! Twilio, a signed webhook or the development mailer for SMS.

use usso_shared::{Error, Result};

use crate::config::Config;
use crate::delivery::{
    DeliveryError, DevMailer, Email, Mailer, Security, Sms, SmsSender, SmtpMailer, SmtpSettings,
    TwilioSettings, TwilioSms, WebhookSettings, WebhookSms,
};

/// Email channel.
pub enum MailChannel {
    /// A real SMTP relay (`USSO_SMTP_HOST`).
    Smtp(Box<SmtpMailer>),
    /// The development mailer: log + `<data dir>/dev-outbox.jsonl`, nothing sent.
    Dev(DevMailer),
}

impl Mailer for MailChannel {
    async fn send(&self, email: &Email) -> Result<(), DeliveryError> {
        match self {
            MailChannel::Smtp(m) => m.send(email).await,
            MailChannel::Dev(m) => Mailer::send(m, email).await,
        }
    }
}

/// SMS channel.
pub enum SmsChannel {
    /// Twilio's Messages API.
    Twilio(Box<TwilioSms>),
    /// A signed webhook to any gateway.
    Webhook(Box<WebhookSms>),
    /// The development mailer.
    Dev(DevMailer),
}

impl SmsSender for SmsChannel {
    async fn send(&self, sms: &Sms) -> Result<(), DeliveryError> {
        match self {
            SmsChannel::Twilio(s) => s.send(sms).await,
            SmsChannel::Webhook(s) => s.send(sms).await,
            SmsChannel::Dev(s) => SmsSender::send(s, sms).await,
        }
    }
}

/// Builds the channels from the configuration.
pub fn from_config(cfg: &Config) -> Result<(MailChannel, SmsChannel, bool)> {
    let dev_path = cfg.data_dir.join("dev-outbox.jsonl");
    let mut dev = false;
    let mail = match &cfg.smtp_host {
        Some(host) => {
            let security = Security::parse(&cfg.smtp_security).ok_or_else(|| {
                Error::configuration(format!(
                    "USSO_SMTP_SECURITY must be tls, starttls or none, got `{}`",
                    cfg.smtp_security
                ))
            })?;
            let from = cfg
                .smtp_from
                .clone()
                .ok_or_else(|| Error::configuration("USSO_SMTP_HOST needs USSO_SMTP_FROM"))?;
            MailChannel::Smtp(Box::new(SmtpMailer::new(&SmtpSettings {
                host: host.clone(),
                port: cfg.smtp_port,
                security,
                username: cfg.smtp_user.clone(),
                password: cfg.smtp_password.clone(),
                from,
                timeout_secs: 10,
            })?))
        }
        None => {
            dev = true;
            MailChannel::Dev(DevMailer::new(&dev_path))
        }
    };
    let sms = match (&cfg.twilio_account_sid, &cfg.sms_webhook_url) {
        (Some(_), Some(_)) => {
            return Err(Error::configuration(
                "choose one SMS provider: USSO_TWILIO_* or USSO_SMS_WEBHOOK_URL",
            ))
        }
        (Some(sid), None) => SmsChannel::Twilio(Box::new(TwilioSms::new(TwilioSettings {
            base_url: cfg
                .twilio_base_url
                .clone()
                .unwrap_or_else(|| "https://api.twilio.com".into()),
            account_sid: sid.clone(),
            auth_token: cfg.twilio_auth_token.clone().ok_or_else(|| {
                Error::configuration("USSO_TWILIO_ACCOUNT_SID needs USSO_TWILIO_AUTH_TOKEN")
            })?,
            from: cfg.twilio_from.clone().ok_or_else(|| {
                Error::configuration("USSO_TWILIO_ACCOUNT_SID needs USSO_TWILIO_FROM")
            })?,
        })?)),
        (None, Some(url)) => SmsChannel::Webhook(Box::new(WebhookSms::new(&WebhookSettings {
            url: url.clone(),
            secret: cfg.sms_webhook_secret.clone().ok_or_else(|| {
                Error::configuration("USSO_SMS_WEBHOOK_URL needs USSO_SMS_WEBHOOK_SECRET")
            })?,
        })?)),
        (None, None) => {
            dev = true;
            SmsChannel::Dev(DevMailer::new(&dev_path))
        }
    };
    Ok((mail, sms, dev))
}
