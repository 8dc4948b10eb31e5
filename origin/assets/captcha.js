// Solves the tenant's proof-of-work challenge (ALTCHA-compatible: find n with
// SHA-256(salt + n) = challenge) for every form marked data-captcha, then lets it be sent.
// No third-party code; the page's Content-Security-Policy allows only this file.
"use strict";
(function () {
  function hex(buf) {
    return Array.from(new Uint8Array(buf), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  async function solve(c) {
    var enc = new TextEncoder();
    for (var n = 0; n <= c.maxnumber; n++) {
      var h = hex(await crypto.subtle.digest("SHA-256", enc.encode(c.salt + n)));
      if (h === c.challenge) return n;
    }
    throw new Error("no solution");
  }
  async function prepare(form) {
    var button = form.querySelector("button[type=submit]");
    var status = form.querySelector(".captcha");
    var field = form.querySelector("input[name=altcha]");
    button.disabled = true;
    status.textContent = status.dataset.working;
    var res = await fetch(form.dataset.captcha, { credentials: "same-origin", cache: "no-store" });
    var c = await res.json();
    var number = await solve(c);
    field.value = btoa(JSON.stringify({
      algorithm: c.algorithm, challenge: c.challenge, number: number, salt: c.salt, signature: c.signature
    }));
    status.textContent = status.dataset.done;
    button.disabled = false;
  }
  document.querySelectorAll("form[data-captcha]").forEach(function (form) {
    prepare(form).catch(function () {
      var status = form.querySelector(".captcha");
      if (status) status.textContent = "";
      form.querySelector("button[type=submit]").disabled = false;
    });
  });
})();
