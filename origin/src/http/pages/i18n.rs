//! The pages' languages: which one a request gets, and every sentence in each.
//!
//! Invariant: a sentence is declared once, with all its translations on the same line of the
//! `catalog!` below, so a language can never lack a string (the build fails instead).
//! Persian is written right to left: [`Lang::dir`] tells the templates.

use usso_edge::http::Request;

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// Persian, right to left.
    Fa,
}

/// The cookie that remembers a language chosen with the switch.
pub const COOKIE: &str = "usso-lang";

impl Lang {
    /// Every language, in the switch's order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fa];

    /// The BCP 47 tag.
    pub const fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fa => "fa",
        }
    }

    /// Text direction.
    pub const fn dir(self) -> &'static str {
        match self {
            Self::En => "ltr",
            Self::Fa => "rtl",
        }
    }

    /// The language's own name (for the switch).
    pub const fn own_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Fa => "فارسی",
        }
    }

    /// The sentences.
    pub fn text(self) -> &'static Text {
        match self {
            Self::En => &EN,
            Self::Fa => &FA,
        }
    }

    /// A tag such as `fa-IR` or `en`; `None` for languages the pages do not speak.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "fa" | "per" | "fas" => Some(Self::Fa),
            _ => None,
        }
    }

    /// The best language of an `Accept-Language` header (highest `q`, first on ties).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// The language of a request: `?lang=`, then the switch's cookie, then the person's own
    /// choice (signed in), then the browser's `Accept-Language`, then the tenant's default.
    /// The second value is true when `?lang=` chose it (the caller remembers it in a cookie).
    pub fn of(req: &Request, own: Option<&str>, tenant_default: Option<&str>) -> (Lang, bool) {
        if let Some(l) = req.query_param("lang").as_deref().and_then(Lang::parse) {
            return (l, true);
        }
        let chosen = req
            .cookie(COOKIE)
            .and_then(Lang::parse)
            .or_else(|| own.and_then(Lang::parse))
            .or_else(|| {
                req.header("accept-language")
                    .and_then(Lang::from_accept_language)
            })
            .or_else(|| tenant_default.and_then(Lang::parse))
            .unwrap_or(Lang::En);
        (chosen, false)
    }

    /// A domain error as a sentence for a person: the English detail (which names the field
    /// and the rule), or the Persian sentence of its code.
    pub fn error(self, e: &usso_shared::Error) -> String {
        use usso_shared::ErrorCode;
        match self {
            Self::En => match e.code() {
                ErrorCode::InvalidCredentials => EN.wrong_credentials.into(),
                ErrorCode::TooManyRequests if e.captcha_passes() => EN.too_many_check.into(),
                ErrorCode::TooManyRequests => EN.too_many.into(),
                ErrorCode::InternalError
                | ErrorCode::ServiceUnavailable
                | ErrorCode::ConfigurationError => e.code().default_message().into(),
                _ => {
                    let d = e.detail();
                    let mut c = d.chars();
                    match c.next() {
                        Some(f) => f.to_uppercase().chain(c).collect(),
                        None => e.code().default_message().into(),
                    }
                }
            },
            Self::Fa => match e.code() {
                ErrorCode::InvalidCredentials => FA.wrong_credentials.into(),
                ErrorCode::TooManyRequests if e.captcha_passes() => FA.too_many_check.into(),
                ErrorCode::TooManyRequests => FA.too_many.into(),
                ErrorCode::ValidationError if e.detail().contains("password") => {
                    FA.password_rejected.into()
                }
                ErrorCode::ValidationError if e.detail().contains("captcha") => {
                    FA.captcha_failed.into()
                }
                c => c.message_fa().into(),
            },
        }
    }
}

/// Declares [`Text`] and its two instances from one list of `name: "English", "Persian";`.
macro_rules! catalog {
    ($($key:ident: $en:literal, $fa:literal;)*) => {
        /// Every sentence of the pages, in one language.
        #[allow(missing_docs)]
        pub struct Text { $(pub $key: &'static str,)* }
        /// English.
        pub static EN: Text = Text { $($key: $en,)* };
        /// Persian.
        pub static FA: Text = Text { $($key: $fa,)* };
    };
}

catalog! {
    language: "Language", "زبان";
    skip_to_content: "Skip to the form", "رفتن به فرم";
    need_help: "Need help? Write to", "کمک لازم دارید؟ بنویسید به";
    required: "required", "الزامی";
    sign_in: "Sign in", "ورود";
    sign_in_title: "Sign in to your account", "ورود به حساب کاربری";
    identifier: "Email, phone or username", "ایمیل، شمارهٔ تلفن یا نام کاربری";
    password: "Password", "رمز عبور";
    forgot_password: "Forgot your password?", "رمز عبور را فراموش کرده‌اید؟";
    other_ways: "Other ways to sign in", "راه‌های دیگر ورود";
    use_code: "Sign in with a one-time code", "ورود با کد یک‌بارمصرف";
    use_link: "Email me a sign-in link", "ارسال پیوند ورود به ایمیل";
    use_password: "Sign in with a password", "ورود با رمز عبور";
    no_account: "No account yet?", "هنوز حساب ندارید؟";
    create_account: "Create an account", "ساخت حساب کاربری";
    have_account: "Already have an account?", "حساب کاربری دارید؟";
    code_title: "Sign in with a code", "ورود با کد";
    code_identifier: "Email or phone number", "ایمیل یا شمارهٔ تلفن";
    phone_hint: "Phone numbers in international form, such as +14155550100", "شمارهٔ تلفن به شکل بین‌المللی، مانند ‎+989121234567";
    send_code: "Send the code", "ارسال کد";
    code_sent: "If this address can receive codes, one is on its way. Enter it below.", "اگر این نشانی بتواند کد دریافت کند، کد در راه است. آن را در زیر وارد کنید.";
    code: "Code", "کد";
    link_title: "Sign in with a link", "ورود با پیوند";
    email: "Email address", "نشانی ایمیل";
    send_link: "Send the link", "ارسال پیوند";
    link_sent: "If this address can sign in, a link is on its way. Open it on this device.", "اگر این نشانی بتواند وارد شود، پیوند در راه است. آن را در همین دستگاه باز کنید.";
    step_mfa_title: "Enter the code we sent", "کدی را که فرستادیم وارد کنید";
    step_mfa_text: "For your security, this site asks for a second step: enter the code we sent to the address on your account.", "برای امنیت شما، این سایت گام دومی می‌خواهد: کدی را که به نشانی حسابتان فرستادیم وارد کنید.";
    step_verify_title: "Confirm your address", "نشانی خود را تأیید کنید";
    step_verify_text: "We sent a code to your address. Enter it to finish signing in.", "کدی به نشانی شما فرستادیم. برای پایان ورود آن را وارد کنید.";
    confirm: "Confirm", "تأیید";
    signup_title: "Create an account", "ساخت حساب کاربری";
    name: "Name", "نام";
    new_password: "New password", "رمز عبور جدید";
    password_rule: "At least this many characters:", "دست‌کم این تعداد نویسه:";
    registration_closed: "This site does not take new accounts.", "این سایت حساب تازه نمی‌پذیرد.";
    forgot_title: "Reset your password", "بازنشانی رمز عبور";
    forgot_text: "Enter your email or phone. If an account holds it, we send a code (and, by email, a link).", "ایمیل یا تلفن خود را وارد کنید. اگر حسابی با آن باشد، کدی (و در ایمیل، پیوندی) می‌فرستیم.";
    send: "Send", "ارسال";
    reset_sent: "If an account holds this identifier, a code is on its way. Enter it with your new password.", "اگر حسابی با این شناسه باشد، کد در راه است. آن را همراه رمز عبور جدید وارد کنید.";
    reset_title: "Choose a new password", "رمز عبور جدید را انتخاب کنید";
    reset_submit: "Set the password", "ثبت رمز عبور";
    reset_done_title: "Your password was changed", "رمز عبور شما تغییر کرد";
    reset_done_text: "Sign in with the new password. Every other session of the account has ended.", "با رمز عبور جدید وارد شوید. همهٔ نشست‌های دیگر حساب پایان یافت.";
    reset_note: "Every session of the account ends when you do.", "با این کار همهٔ نشست‌های حساب پایان می‌یابد.";
    magic_title: "Finish signing in", "پایان ورود";
    magic_text: "Press the button to finish signing in. If you did not ask for this link, close this page.", "برای پایان ورود دکمه را بزنید. اگر این پیوند را نخواسته‌اید، این صفحه را ببندید.";
    confirm_text: "Press the button to confirm that this address is yours.", "برای تأیید اینکه این نشانی از آن شماست دکمه را بزنید.";
    confirmed_title: "Address confirmed", "نشانی تأیید شد";
    confirmed_text: "is confirmed for your account.", "برای حساب شما تأیید شد.";
    link_gone_title: "This link has expired or was already used", "این پیوند منقضی شده یا قبلاً استفاده شده است";
    link_gone_text: "Ask for a new one.", "پیوند تازه‌ای بخواهید.";
    error_title: "Something went wrong", "مشکلی پیش آمد";
    bad_redirect: "The application asked to come back to an address this site does not allow. Nothing was sent to it.", "برنامه خواست به نشانی‌ای برگردد که این سایت اجازه نمی‌دهد. چیزی به آن فرستاده نشد.";
    form_expired: "This form has expired. Go back, reload the page and try again.", "این فرم منقضی شده است. برگردید، صفحه را دوباره بارگذاری کنید و دوباره تلاش کنید.";
    back_to_sign_in: "Back to sign in", "بازگشت به ورود";
    wrong_credentials: "The identifier, password or code is not right.", "شناسه، رمز عبور یا کد درست نیست.";
    too_many: "Too many attempts. Wait a little and try again.", "تلاش‌ها بیش از حد است. کمی صبر کنید و دوباره تلاش کنید.";
    too_many_check: "Too many attempts for this account. Once the browser check below has finished, try again.", "برای این حساب تلاش‌های زیادی شده است. پس از پایان بررسی مرورگر در پایین، دوباره تلاش کنید.";
    password_rejected: "This password cannot be used: choose a longer one that is not common.", "این رمز عبور پذیرفته نیست: رمزی بلندتر و نامتداول برگزینید.";
    captcha_failed: "The browser check did not pass; try again.", "بررسی مرورگر موفق نبود؛ دوباره تلاش کنید.";
    captcha_working: "Checking your browser, one moment…", "در حال بررسی مرورگر، لحظه‌ای صبر کنید…";
    captcha_done: "Browser checked.", "مرورگر بررسی شد.";
    captcha_needs_js: "This form needs JavaScript for a short anti-abuse check.", "این فرم برای بررسی کوتاه ضدسوءاستفاده به جاوااسکریپت نیاز دارد.";
    account_title: "Your account", "حساب کاربری شما";
    profile: "Profile", "نمایه";
    avatar_url: "Picture (an https:// address)", "تصویر (نشانی https://)";
    own_language: "Language of these pages", "زبان این صفحه‌ها";
    no_preference: "As the browser asks", "طبق مرورگر";
    save: "Save", "ذخیره";
    saved: "Saved.", "ذخیره شد.";
    identifiers: "Email addresses and phone numbers", "ایمیل‌ها و شماره‌های تلفن";
    identifier_kind: "Kind", "نوع";
    value: "Address", "نشانی";
    state: "State", "وضعیت";
    actions: "Actions", "کارها";
    verified: "Verified", "تأییدشده";
    unverified: "Not verified", "تأییدنشده";
    primary: "Primary", "اصلی";
    make_primary: "Make primary", "اصلی کن";
    remove: "Remove", "حذف";
    send_code_to_verify: "Send a code", "ارسال کد";
    add_identifier: "Add an email or phone", "افزودن ایمیل یا تلفن";
    add: "Add", "افزودن";
    identifier_added: "Added. We sent a code to confirm it.", "افزوده شد. کدی برای تأیید آن فرستادیم.";
    identifier_removed: "Removed.", "حذف شد.";
    identifier_verified: "Confirmed.", "تأیید شد.";
    primary_set: "Primary address changed.", "نشانی اصلی تغییر کرد.";
    primary_needs_proof: "Confirm an address before making it primary.", "پیش از اصلی کردن، نشانی را تأیید کنید.";
    change_password: "Change your password", "تغییر رمز عبور";
    current_password: "Current password", "رمز عبور فعلی";
    password_changed: "Your password was changed; your other sessions have ended.", "رمز عبور شما تغییر کرد؛ نشست‌های دیگرتان پایان یافت.";
    sessions: "Where you are signed in", "جاهایی که وارد شده‌اید";
    device: "Device", "دستگاه";
    address: "Network address", "نشانی شبکه";
    last_used: "Last used", "آخرین استفاده";
    this_device: "This device", "همین دستگاه";
    end_session: "End", "پایان";
    end_others: "End all other sessions", "پایان همهٔ نشست‌های دیگر";
    sessions_ended: "Sessions ended.", "نشست‌ها پایان یافت.";
    sign_out: "Sign out", "خروج";
    passkeys: "Passkeys", "کلیدهای عبور";
    authenticator: "Authenticator app", "برنامهٔ احراز هویت";
    linked_accounts: "Linked accounts", "حساب‌های پیوندشده";
    consents: "Apps you allowed", "برنامه‌هایی که اجازه داده‌اید";
    consent_title: "Allow access?", "اجازهٔ دسترسی؟";
    consent_intro: "wants to use your account. It asks to:", "می‌خواهد از حساب شما استفاده کند. درخواست دارد که:";
    consent_signed_in_as: "You are signed in as", "شما وارد شده‌اید با";
    consent_allow: "Allow", "اجازه بده";
    consent_deny: "Deny", "رد کن";
    scope_openid: "Know who you are", "بداند شما چه کسی هستید";
    scope_profile: "See your name, picture and language", "نام، تصویر و زبان شما را ببیند";
    scope_email: "See your email address", "نشانی ایمیل شما را ببیند";
    scope_phone: "See your phone number", "شمارهٔ تلفن شما را ببیند";
    scope_offline: "Stay signed in when you are away", "وقتی حضور ندارید هم وارد بماند";
    scope_permission: "Act for you with the permission", "از طرف شما با این مجوز کار کند";
    consent_revoke: "Take back", "پس گرفتن";
    signed_out_title: "You are signed out", "از حساب خارج شدید";
    device_title: "Connect a device", "اتصال یک دستگاه";
    device_text: "Enter the code your device shows.", "کدی را که دستگاه شما نشان می‌دهد وارد کنید.";
    device_code_label: "Device code", "کد دستگاه";
    device_done_title: "Your device is connected", "دستگاه شما متصل شد";
    device_done_text: "You can go back to your device now.", "اکنون می‌توانید به دستگاه خود برگردید.";
    device_denied_title: "Access declined", "دسترسی رد شد";
    device_denied_text: "The device was not given access. You can close this page.", "به دستگاه دسترسی داده نشد. می‌توانید این صفحه را ببندید.";
    not_yet: "Not available on this site yet.", "هنوز در این سایت در دسترس نیست.";
    unknown_device: "Unknown device", "دستگاه ناشناخته";
    kind_email: "Email", "ایمیل";
    kind_phone: "Phone", "تلفن";
    kind_username: "Username", "نام کاربری";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_highest_quality_we_speak() {
        assert_eq!(
            Lang::from_accept_language("de-DE,fa-IR;q=0.9,en;q=0.8"),
            Some(Lang::Fa)
        );
        assert_eq!(
            Lang::from_accept_language("fa;q=0.5, en-GB;q=0.7"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("de, fr;q=0.9"), None);
        assert_eq!(
            Lang::from_accept_language("fa;q=0, en;q=0.1"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn the_query_wins_then_the_cookie_then_the_person_then_the_browser_then_the_tenant() {
        use usso_edge::http::Method;
        let base = Request::new(Method::Get, "/login").with_header("accept-language", "fa");
        assert_eq!(Lang::of(&base, None, Some("en")), (Lang::Fa, false));
        assert_eq!(Lang::of(&base, Some("en"), None), (Lang::En, false));
        let cookie = base.clone().with_header("cookie", "usso-lang=en");
        assert_eq!(Lang::of(&cookie, Some("fa"), None), (Lang::En, false));
        let mut query = cookie.clone();
        query.query = Some("lang=fa".into());
        assert_eq!(Lang::of(&query, None, None), (Lang::Fa, true));
        let bare = Request::new(Method::Get, "/login");
        assert_eq!(Lang::of(&bare, None, Some("fa")), (Lang::Fa, false));
        assert_eq!(Lang::of(&bare, None, None), (Lang::En, false));
    }

    #[test]
    fn persian_is_right_to_left_and_every_sentence_is_translated() {
        assert_eq!(Lang::Fa.dir(), "rtl");
        assert_ne!(FA.sign_in, EN.sign_in);
        assert_ne!(FA.account_title, EN.account_title);
    }
}
