//! Queuing a message for a request: the step between a sign-in flow and the outbox. The
//! message is rendered with the tenant's templates and written to the outbox before the flow
//! answers, so an accepted request never loses its message (the worker retries delivery).

/// Queues `message` for `t` and wakes the outbox (see [`crate::delivery::outbox::enqueue`] for `deliver`).
pub async fn queue(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    message: &crate::delivery::outbox::Message,
    deliver: bool,
) -> usso_shared::Result<()> {
    crate::delivery::outbox::enqueue(&ctx.docs, &ctx.master, t.id(), message, ctx.now(), deliver)
        .await?;
    ctx.outbox.wake();
    Ok(())
}

/// Queues a one-time code for `to` by `channel` with the tenant's templates.
pub async fn send_code(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    to: &crate::identity::identifier::Identifier,
    channel: crate::delivery::Channel,
    code: &str,
    deliver: bool,
) -> usso_shared::Result<()> {
    let minutes = (t.otp.ttl_secs as u64).div_ceil(60);
    let message = match channel {
        crate::delivery::Channel::Email => crate::delivery::outbox::Message::Email(
            t.templates
                .render_otp_email(&to.value, &t.name, code, minutes),
        ),
        crate::delivery::Channel::Sms => crate::delivery::outbox::Message::Sms(
            t.templates
                .render_otp_sms(&to.value, &t.name, code, minutes),
        ),
    };
    queue(ctx, t, &message, deliver).await
}

/// Queues a code (not for signing in) for `to` by `channel`; by email with its link, if any.
pub async fn send_purpose_code(
    ctx: &crate::app::Ctx,
    t: &crate::tenants::Tenant,
    to: &crate::identity::identifier::Identifier,
    channel: crate::delivery::Channel,
    m: crate::delivery::PurposeCode<'_>,
    deliver: bool,
) -> usso_shared::Result<()> {
    let crate::delivery::PurposeCode { what, code, link } = m;
    let minutes = (t.otp.ttl_secs as u64).div_ceil(60);
    let message = match channel {
        crate::delivery::Channel::Email => crate::delivery::outbox::Message::Email(
            t.templates
                .render_code_email(what, &to.value, &t.name, code, link, minutes),
        ),
        crate::delivery::Channel::Sms => crate::delivery::outbox::Message::Sms(
            t.templates.render_code_sms(what, &to.value, &t.name, code),
        ),
    };
    queue(ctx, t, &message, deliver).await
}
