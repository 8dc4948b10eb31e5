// The hosted pages in a real browser: Debian's Chromium, driven headless by puppeteer-core
// (pointed at /usr/bin/chromium; nothing downloads a browser), against the real origin, with
// one-time codes and links read from the real SMTP server's capture directory. Run by
// origin/tests/it/pages.rs, which starts the origin and the SMTP server and sets:
//
//   ACME        http://acme.localhost:PORT   (tenant `acme`: brand, activation by identifier,
//                                             captcha on magic links, app.localhost allowed)
//   SECURE      http://secure.localhost:PORT (tenant `secure`: two factors required)
//   DEFAULT     http://localhost:PORT        (tenant `org_default`)
//   APP_PORT    a free port for the application the sign-in returns to
//   MAIL_DIR    the SMTP capture directory (<n>.eml + <n>.json)
//   SHOTS_DIR   where screenshots go
//   MFA_USER    an account of `secure` (password MFA_PASSWORD)
//
// Every check throws on failure (the process exits 1 with the reason); on success it prints one
// JSON line: the pages checked with axe-core and the screenshots taken.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const ACME = env("ACME");
const SECURE = env("SECURE");
const DEFAULT = env("DEFAULT");
const APP_PORT = Number(env("APP_PORT"));
const MAIL_DIR = env("MAIL_DIR");
const SHOTS_DIR = env("SHOTS_DIR");
const MFA_USER = env("MFA_USER");
const MFA_PASSWORD = env("MFA_PASSWORD");
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const report = { axe: {}, screenshots: [], csp_violations: [], steps: [] };
const step = (s) => report.steps.push(s);

// ---- mail ---------------------------------------------------------------------------------

const seen = new Set();
/** The next message to `to` that the SMTP server stored, decoded from quoted-printable. */
async function nextMail(to, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const f of fs.readdirSync(MAIL_DIR).filter((f) => f.endsWith(".json")).sort((a, b) => parseInt(a) - parseInt(b))) {
      if (seen.has(f)) continue;
      const meta = JSON.parse(fs.readFileSync(path.join(MAIL_DIR, f), "utf8"));
      const eml = path.join(MAIL_DIR, f.replace(".json", ".eml"));
      if (!meta.rcpt_tos.includes(to) || !fs.existsSync(eml)) continue;
      seen.add(f);
      return fs.readFileSync(eml, "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "=");
    }
    await new Promise((r) => setTimeout(r, 50)); // polling the directory for a condition
  }
  throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
}
const codeIn = (mail) => {
  const m = mail.match(/\b(\d{6})\b/);
  assert.ok(m, `no code in the mail:\n${mail.slice(0, 500)}`);
  return m[1];
};
const linkIn = (mail, pathPart) => {
  const m = mail.match(new RegExp(`https?://[^\\s"<>]*${pathPart.replace(/[/]/g, "\\/")}\\?token=[A-Za-z0-9_.-]+`));
  assert.ok(m, `no ${pathPart} link in the mail`);
  return m[0];
};

// ---- the browser --------------------------------------------------------------------------

const browser = await puppeteer.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

async function newPage(ctx) {
  const page = await (ctx ?? browser).newPage();
  await page.setViewport({ width: 960, height: 800 });
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) report.csp_violations.push(m.text());
  });
  return page;
}

async function shot(page, name) {
  // The document's full height in a viewport screenshot (full-page captures shift right-to-left
  // pages).
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewport({ width: 960, height: Math.min(Math.max(height, 600), 3000) });
  const file = path.join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  await page.setViewport({ width: 960, height: 800 });
  report.screenshots.push(`${name}.png`);
}

/** axe-core on the current page: no serious or critical violation. */
async function axe(page, name) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `axe-core on ${name}`,
  );
  report.axe[name] = { violations: result.violations.length, serious_or_critical: bad.length };
}

async function submit(page, formId) {
  await Promise.all([page.waitForNavigation(), page.click(`#${formId} button[type=submit]`)]);
}
async function fill(page, selector, value) {
  await page.$eval(selector, (e) => (e.value = ""));
  await page.type(selector, value);
}
const h1 = (page) => page.$eval("h1", (e) => e.textContent.trim());
const text = (page) => page.evaluate(() => document.body.innerText);

// The application the sign-in returns to.
const app = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><title>App</title><h1>App home</h1><p>${req.url}</p></html>`);
});
await new Promise((r) => app.listen(APP_PORT, "127.0.0.1", r));
const APP = `http://app.localhost:${APP_PORT}`;

try {
  // ---- sign-up → code from the mail → account page ------------------------------------------
  const ana = "ana@example.com";
  const first = await browser.createBrowserContext();
  let page = await newPage(first);
  await page.goto(`${ACME}/signup`);
  assert.equal(await h1(page), "Create an account");
  await shot(page, "signup-acme");
  await axe(page, "signup");
  await fill(page, "#signup-name", "Ana Lima");
  await fill(page, "#signup-identifier", ana);
  await fill(page, "#signup-password", "short");
  await submit(page, "signup");
  // The password is refused, on its field, and the other values stay.
  assert.equal(await page.$eval("#signup-password", (e) => e.getAttribute("aria-invalid")), "true");
  assert.match(await page.$eval("#signup-password-error", (e) => e.textContent), /password/i);
  assert.equal(await page.$eval("#signup-identifier", (e) => e.value), ana);
  await axe(page, "signup-error");
  await fill(page, "#signup-password", "a long password 1");
  await submit(page, "signup");
  assert.equal(await h1(page), "Confirm your address");
  await shot(page, "step-verify");
  await axe(page, "step");
  await fill(page, "#step-code", codeIn(await nextMail(ana)));
  await submit(page, "step");
  assert.equal(new URL(page.url()).pathname, "/account");
  assert.equal(await h1(page), "Your account");
  assert.match(await text(page), /ana@example\.com\s+Verified · Primary/);
  step("sign-up, address proven by the mailed code, account page");

  // ---- a second browser signs in; the first ends its session ----------------------------
  const second = await browser.createBrowserContext();
  const other = await newPage(second);
  await other.goto(`${ACME}/login`);
  await fill(other, "#login-identifier", ana);
  await fill(other, "#login-password", "a long password 1");
  await submit(other, "login");
  assert.equal(new URL(other.url()).pathname, "/account");
  await page.reload();
  const ends = await page.$$("form[action='/account/sessions/end'] button");
  assert.equal(ends.length, 1, "one other session listed with an End button");
  assert.match(await text(page), /This device/);
  await shot(page, "account");
  await axe(page, "account");
  await Promise.all([page.waitForNavigation(), ends[0].click()]);
  assert.match(await text(page), /Sessions ended\./);
  assert.equal((await page.$$("form[action='/account/sessions/end'] button")).length, 0);
  // The ended browser is sent to sign in again.
  await other.goto(`${ACME}/account`);
  await other.waitForFunction(() => location.pathname === "/login", { timeout: 10000 });
  assert.equal(new URL(other.url()).searchParams.get("redirect"), "/account");
  step("a second session ended from the account page; that browser must sign in again");

  // ---- profile in Persian, right to left ------------------------------------------------
  await fill(page, "#profile-name", "آنا لیما");
  await page.select("#profile-locale", "fa");
  await submit(page, "profile");
  assert.equal(await page.$eval("html", (e) => e.getAttribute("dir")), "rtl");
  assert.equal(await page.$eval("html", (e) => e.getAttribute("lang")), "fa");
  assert.equal(await h1(page), "حساب کاربری شما");
  assert.equal(await page.$eval("#profile-name", (e) => e.value), "آنا لیما");
  await shot(page, "account-fa");
  await axe(page, "account-fa");
  step("profile saved; the person's language (Persian) lays the page out right to left");

  // ---- add an address, confirm it by code, make it primary, remove the old one ----------
  const ana2 = "ana.lima@example.com";
  await fill(page, "#add-identifier", ana2);
  await submit(page, "add");
  await fill(page, "#confirm-code", codeIn(await nextMail(ana2)));
  await submit(page, "confirm");
  const primary = await page.$(`form[action='/account/identifiers/primary'] button[aria-label$='${ana2}']`);
  assert.ok(primary, "the confirmed address can be made primary");
  await Promise.all([page.waitForNavigation(), primary.click()]);
  const remove = await page.$(`form[action='/account/identifiers/remove'] button[aria-label$='${ana}']`);
  await Promise.all([page.waitForNavigation(), remove.click()]);
  const rows = await page.$$eval("section[aria-labelledby=s-ids] tbody tr", (r) => r.map((x) => x.innerText));
  assert.equal(rows.length, 1);
  assert.match(rows[0], /ana\.lima@example\.com/);
  step("an address added, confirmed by code, made primary; the old one removed");

  // ---- sign out -----------------------------------------------------------------------
  await Promise.all([page.waitForNavigation(), page.click("form[action$='/auth/sign-out'] button")]);
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.goto(`${ACME}/account`);
  assert.equal(new URL(page.url()).pathname, "/login");
  step("signed out: the account page asks to sign in");

  // ---- password reset end to end --------------------------------------------------------
  await page.goto(`${ACME}/password/forgot?lang=en`);
  await axe(page, "forgot");
  await fill(page, "#forgot-identifier", ana2);
  await submit(page, "forgot");
  const resetMail = await nextMail(ana2);
  await axe(page, "reset");
  await fill(page, "#reset-code", codeIn(resetMail));
  await fill(page, "#reset-new_password", "another long password 2");
  await submit(page, "reset");
  assert.equal(await h1(page), "Your password was changed");
  await page.goto(`${ACME}/login`);
  await fill(page, "#login-identifier", ana2);
  await fill(page, "#login-password", "a long password 1");
  await submit(page, "login");
  assert.equal(await page.$eval("#login-password", (e) => e.getAttribute("aria-invalid")), "true");
  await axe(page, "login-error");
  await fill(page, "#login-password", "another long password 2");
  await submit(page, "login");
  assert.equal(new URL(page.url()).pathname, "/account");
  step("password reset by mailed code; the old password fails, the new one signs in");

  // ---- return to the application (allowed redirect) and a refused one -------------------
  await page.goto(`${ACME}/login?redirect=${encodeURIComponent(APP + "/welcome")}`);
  assert.equal(page.url(), `${APP}/welcome`, "a signed-in browser goes straight back");
  const fresh = await newPage(await browser.createBrowserContext());
  await fresh.goto(`${ACME}/login?redirect=${encodeURIComponent(APP + "/welcome")}`);
  await fill(fresh, "#login-identifier", ana2);
  await fill(fresh, "#login-password", "another long password 2");
  await submit(fresh, "login");
  assert.equal(fresh.url(), `${APP}/welcome`);
  const cookies = await fresh.browserContext().cookies(ACME);
  assert.ok(cookies.some((c) => c.name === "usso-access-token" && c.httpOnly), "signed in with cookies");
  const bad = await fresh.goto(`${ACME}/login?redirect=${encodeURIComponent("https://evil.example/")}`);
  assert.equal(bad.status(), 400);
  assert.equal(await fresh.$("form#login"), null);
  assert.match(await text(fresh), /does not allow/);
  await shot(fresh, "error-bad-redirect");
  await axe(fresh, "error");
  step("sign-in returns to an allowed application URL; a foreign redirect is refused on the error page");

  // ---- magic link, with the captcha solved by the page's own script ---------------------
  const link = await newPage(await browser.createBrowserContext());
  await link.goto(`${ACME}/login/link`);
  await link.waitForFunction(
    () => !document.querySelector("#link button[type=submit]").disabled && document.querySelector("input[name=altcha]").value !== "",
    { timeout: 60000 },
  );
  await shot(link, "magic-link-request");
  await axe(link, "magic-link-request");
  await fill(link, "#link-email", ana2);
  await submit(link, "link");
  assert.match(await text(link), /a link is on its way/);
  const url = linkIn(await nextMail(ana2), "/api/sso/v1/auth/magic-link");
  await link.goto(url);
  assert.equal(await h1(link), "Finish signing in");
  await axe(link, "magic-link-confirm");
  await submit(link, "magic");
  assert.equal(new URL(link.url()).pathname, "/account");
  await link.goto(url);
  assert.equal(await h1(link), "This link has expired or was already used");
  step("magic link: captcha solved by captcha.js, link mailed, confirmed by its button, single use");

  // ---- a one-time code sign-in ---------------------------------------------------------
  const code = await newPage(await browser.createBrowserContext());
  await code.goto(`${ACME}/login/code`);
  await axe(code, "code-request");
  await fill(code, "#code-request-identifier", ana2);
  await submit(code, "code-request");
  await fill(code, "#code-code", "000000");
  await submit(code, "code");
  assert.equal(await code.$eval("#code-code", (e) => e.getAttribute("aria-invalid")), "true");
  await fill(code, "#code-code", codeIn(await nextMail(ana2)));
  await submit(code, "code");
  assert.equal(new URL(code.url()).pathname, "/account");
  step("one-time code: a wrong code is refused on its field, the mailed one signs in");

  // ---- two factors ---------------------------------------------------------------------
  const mfa = await newPage(await browser.createBrowserContext());
  await mfa.goto(`${SECURE}/login`);
  await fill(mfa, "#login-identifier", MFA_USER);
  await fill(mfa, "#login-password", MFA_PASSWORD);
  await submit(mfa, "login");
  assert.equal(await h1(mfa), "Enter the code we sent");
  await shot(mfa, "step-mfa");
  await axe(mfa, "step-mfa");
  await fill(mfa, "#step-code", codeIn(await nextMail(MFA_USER)));
  await submit(mfa, "step");
  assert.equal(new URL(mfa.url()).pathname, "/account");
  step("two factors: password, then the mailed code");

  // ---- keyboard only, Persian, the default tenant ---------------------------------------
  const kb = await newPage(await browser.createBrowserContext());
  await kb.goto(`${DEFAULT}/login?lang=fa`);
  assert.equal(await kb.$eval("html", (e) => e.getAttribute("dir")), "rtl");
  assert.equal(await h1(kb), "ورود به حساب کاربری");
  await shot(kb, "login-fa");
  await axe(kb, "login-fa");
  await kb.goto(`${DEFAULT}/login?lang=en`);
  await shot(kb, "login");
  await axe(kb, "login");
  const order = [];
  for (let i = 0; i < 5; i++) {
    await kb.keyboard.press("Tab");
    order.push(await kb.evaluate(() => document.activeElement.id || document.activeElement.getAttribute("href") || document.activeElement.tagName));
  }
  assert.deepEqual(order.slice(0, 5), ["#main", "/login?lang=fa", "login-identifier", "login-password", "BUTTON"], "focus order");
  // Back to the identifier field by keyboard, then type and submit with Enter.
  await kb.keyboard.down("Shift");
  await kb.keyboard.press("Tab");
  await kb.keyboard.press("Tab");
  await kb.keyboard.up("Shift");
  await kb.keyboard.type("nobody@example.com");
  await kb.keyboard.press("Tab");
  await kb.keyboard.type("not the password");
  await Promise.all([kb.waitForNavigation(), kb.keyboard.press("Enter")]);
  assert.equal(await kb.$eval("#login-password", (e) => e.getAttribute("aria-invalid")), "true");
  assert.equal(
    await kb.$eval("#login-password", (e) => e.getAttribute("aria-describedby")),
    "login-password-error",
    "the error is tied to its field",
  );
  await kb.goto(`${DEFAULT}/login?lang=fa`);
  await fill(kb, "#login-identifier", "nobody@example.com");
  await fill(kb, "#login-password", "not the password");
  await submit(kb, "login");
  assert.equal(await kb.$eval("#login-password-error", (e) => e.textContent.trim()), "شناسه، رمز عبور یا کد درست نیست.");
  step("keyboard only: focus order skip link → language → identifier → password → button; errors tied to fields, in Persian too");

  // ---- an account under guessing: the sign-in page adds its browser check -----------------
  // 21 guesses from 21 addresses (the origin trusts one proxy hop here) spend the account's
  // per-identifier limit of 20; the owner's next sign-in is refused until the page's captcha
  // has run, then gets in.
  const guesses = [];
  for (let i = 1; i <= 21; i++) {
    const r = await fetch(`${DEFAULT}/api/sso/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-tenant-id": "acme", "x-forwarded-for": `10.77.0.${i}` },
      body: JSON.stringify({ identifier: ana2, secret: "a guess" }),
    });
    guesses.push(r.status);
  }
  assert.deepEqual(guesses, [...Array(20).fill(401), 429], "guesses");
  const owner = await newPage(await browser.createBrowserContext());
  await owner.goto(`${ACME}/login`);
  assert.equal(await owner.$("input[name=altcha]"), null, "no browser check before one is needed");
  await fill(owner, "#login-identifier", ana2);
  await fill(owner, "#login-password", "another long password 2");
  await submit(owner, "login");
  assert.match(await text(owner), /browser check below/);
  await owner.waitForFunction(
    () => !document.querySelector("#login button[type=submit]").disabled && document.querySelector("input[name=altcha]").value !== "",
    { timeout: 60000 },
  );
  await shot(owner, "login-browser-check");
  await axe(owner, "login-browser-check");
  await fill(owner, "#login-password", "another long password 2");
  await submit(owner, "login");
  assert.equal(new URL(owner.url()).pathname, "/account");
  step("an account guessed at from many addresses: the sign-in page adds its browser check, and the owner gets in");

  assert.deepEqual(report.csp_violations, [], "no Content-Security-Policy violation on any page");
} catch (e) {
  // What each open page showed, to tell why.
  for (const ctx of browser.browserContexts()) {
    for (const p of await ctx.pages()) {
      const body = await p.evaluate(() => document.body?.innerText ?? "").catch(() => "");
      console.error(`--- ${p.url()}\n${body.slice(0, 800)}`);
    }
  }
  throw e;
} finally {
  await browser.close();
  app.close();
}
console.log(JSON.stringify(report));
