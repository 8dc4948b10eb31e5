//! The pages' static files, compiled into the binary, and each tenant's colours as a style
//! sheet (the Content-Security-Policy allows no inline style).
//!
//! Invariant: a colour reaches CSS only as a checked `#rrggbb` ([`crate::tenants::Branding`]);
//! text colours are chosen so that text keeps a WCAG contrast of at least 4.5:1 whatever the
//! tenant picks.

use axum::extract::{Path, State};
use usso_edge::http::Response;

use crate::app::CtxRef;
use crate::http::extract::{self, CoreRequest, Out};
use crate::tenants::Branding;

const CSS: &str = include_str!("../../../assets/usso.css");
const CAPTCHA_JS: &str = include_str!("../../../assets/captcha.js");

const DEFAULT_PRIMARY: &str = "#1d4ed8";
const DEFAULT_BACKGROUND: &str = "#f3f4f6";
const SURFACE: &str = "#ffffff";
const TEXT: &str = "#1a1a1a";

fn asset(body: &str, content_type: &str) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("cache-control".into(), "public, max-age=3600".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

/// `GET /assets/{file}`: the style sheet, the captcha script, the tenant's colours.
pub async fn serve(
    State(ctx): State<CtxRef>,
    Path(file): Path<String>,
    CoreRequest(req): CoreRequest,
) -> Out {
    Out(match file.as_str() {
        "usso.css" => asset(CSS, "text/css; charset=utf-8"),
        "captcha.js" => asset(CAPTCHA_JS, "text/javascript; charset=utf-8"),
        "brand.css" => match extract::tenant(&ctx, &req).await {
            Ok(tc) => asset(&brand_css(&tc.tenant.branding), "text/css; charset=utf-8"),
            Err(e) => Response::error(&e),
        },
        _ => Response::error(&usso_shared::Error::new(
            usso_shared::ErrorCode::NotFound,
            "no such asset",
        )),
    })
}

/// A short digest of the colours (the style sheet's cache key in the pages' links).
pub fn brand_version(b: &Branding) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{:?}{:?}", b.primary_color, b.background_color));
    d[..4].iter().map(|x| format!("{x:02x}")).collect()
}

fn rgb(hex: &str) -> [f64; 3] {
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0) as f64 / 255.0;
    [c(1), c(3), c(5)]
}

fn luminance(hex: &str) -> f64 {
    let lin = |c: f64| {
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb(hex);
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// The WCAG contrast ratio of two `#rrggbb` colours.
pub fn contrast(a: &str, b: &str) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// Black or white, whichever reads better on `bg`.
fn text_on(bg: &str) -> &'static str {
    if contrast(bg, "#000000") >= contrast(bg, "#ffffff") {
        "#000000"
    } else {
        "#ffffff"
    }
}

/// The tenant's colours as CSS custom properties.
pub fn brand_css(b: &Branding) -> String {
    let primary = b.primary_color.as_deref().unwrap_or(DEFAULT_PRIMARY);
    let bg = b.background_color.as_deref().unwrap_or(DEFAULT_BACKGROUND);
    // Links sit on the white surface: the brand colour if it reads there, else the default.
    let link = if contrast(primary, SURFACE) >= 4.5 {
        primary
    } else {
        DEFAULT_PRIMARY
    };
    format!(
        ":root{{--primary:{primary};--on-primary:{};--bg:{bg};--on-bg:{};--surface:{SURFACE};--text:{TEXT};--muted:#4b5563;--link:{link};--focus:{link};--border:#6b7280;--line:#e5e7eb;--error:#b91c1c;--error-bg:#fef2f2;--ok:#047857;--ok-bg:#ecfdf5}}\n",
        text_on(primary),
        text_on(bg),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_its_contrast_on_any_brand_colour() {
        for c in [
            "#ffffff", "#000000", "#ffcc00", "#1d4ed8", "#777777", "#00ff00", "#7c3aed",
        ] {
            assert!(contrast(c, text_on(c)) >= 4.5, "{c}");
            let b = Branding {
                primary_color: Some(c.into()),
                background_color: Some(c.into()),
                ..Default::default()
            };
            let css = brand_css(&b);
            let link = css
                .split("--link:")
                .nth(1)
                .unwrap()
                .split(';')
                .next()
                .unwrap();
            assert!(contrast(link, SURFACE) >= 4.5, "{c} → link {link}");
        }
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 0.01);
    }
}
