// The developer portal in a real browser (Debian's chromium driven by playwright-core): sign up,
// sign in, create an app, get a key, try it through the gateway, see the call in usage, revoke
// the key and see try-it get 401; a form posted without its CSRF token is refused; a wrong
// password gets the generic message. Screenshots of the main pages go to OUT_DIR.
// Run by tests/portal_browser.rs with PORTAL_URL, API (name/version), OUT_DIR and CHROMIUM set.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const portal = process.env.PORTAL_URL;
const api = process.env.API;
const out = process.env.OUT_DIR;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!portal || !api || !out) throw new Error("PORTAL_URL, API and OUT_DIR are required");
mkdirSync(out, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error("failed: " + what);
  console.log("ok - " + what);
}

const profile = mkdtempSync(join(tmpdir(), "gatehouse-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1200, height: 900 },
  timeout: 30000,
});
context.setDefaultTimeout(15000);
const page = context.pages()[0] || (await context.newPage());
// Try-it answers either as a new page (no script) or in place (the docs script posts it with
// fetch): either way #try-status ends up holding the status code.
async function tryIt() {
  await page.click("#try-form button[type=submit]");
  const status = page.locator("#try-status", { hasText: /^\s*\d{3}\s*$/ });
  await status.waitFor();
  return (await status.textContent()).trim();
}
const shot = (name) => page.screenshot({ path: join(out, name + ".png"), fullPage: true });
const email = `dev${Date.now()}@example.com`;
const password = "browser-password-1";

try {
  // Catalog, and keyboard use: the first Tab lands on the skip link, which is visible.
  await page.goto(portal + "/");
  check(await page.locator("#catalog").isVisible(), "catalog lists the APIs");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.className === "skip"), "first Tab focuses the skip link");
  check(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle !== "none"), "focus is visible");
  await shot("catalog");

  // Sign up, then a wrong password: the generic message.
  await page.goto(portal + "/signup");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await Promise.all([page.waitForNavigation(), page.click("form.stack button[type=submit]")]);
  await shot("signup-done");
  // Signing in by keyboard alone: Tab to the email field, type, Tab, type, Enter.
  await page.goto(portal + "/login");
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement.id)) !== "email"; i++) {
    await page.keyboard.press("Tab");
  }
  check((await page.evaluate(() => document.activeElement.id)) === "email", "the email field is reached by Tab");
  await page.keyboard.type(email);
  await page.keyboard.press("Tab");
  await page.keyboard.type("not-the-password");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  check((await page.textContent("#form-message")).trim() === "The email or password is wrong.", "wrong password: generic message");
  await shot("login-wrong");

  // Sign in for real: the apps page.
  await page.fill("#email", email);
  await page.fill("#password", password);
  await Promise.all([page.waitForNavigation(), page.click("form.stack button[type=submit]")]);
  check(new URL(page.url()).pathname === "/apps", "signed in, on /apps");
  const session = (await context.cookies()).find((c) => c.name === "gh_session");
  check(session && session.httpOnly && session.sameSite === "Lax", "session cookie is HttpOnly and SameSite=Lax");

  // A form posted without its CSRF token (as another site would) is refused.
  const [forged] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate(() => {
      const f = document.createElement("form");
      f.method = "post";
      f.action = "/apps";
      const n = document.createElement("input");
      n.name = "name";
      n.value = "forged";
      f.appendChild(n);
      document.body.appendChild(f);
      f.submit();
    }),
  ]);
  check(forged.status() === 403, "a form without its CSRF token gets 403");
  await page.goto(portal + "/apps");
  check(!(await page.content()).includes("forged"), "the forged app was not created");

  // Create an app and get a key.
  await page.fill("#app-name", "Browser app");
  await Promise.all([page.waitForNavigation(), page.click("#new-app button")]);
  await Promise.all([page.waitForNavigation(), page.click("#issue-key button")]);
  const key = (await page.textContent("#new-key")).trim();
  check(key.startsWith("gh_"), "a key is shown once");
  await shot("app-with-key");

  // The API page fills the key in (this tab, right after issue) and try-it goes through.
  await page.goto(`${portal}/apis/${api}`);
  const headers = await page.inputValue("#try-form textarea[name=headers]");
  check(headers.includes(key) && !headers.includes("YOUR_API_KEY"), "the placeholder holds the new key");
  await shot("api-docs");
  check((await tryIt()) === "200", "try-it with the key: 200 through the gateway");
  await shot("try-ok");

  // Usage shows that call (analytics are flushed in the background: reload until it does).
  let calls = 0;
  for (let i = 0; i < 50 && calls < 1; i++) {
    await page.goto(portal + "/usage");
    const t = await page.locator(".calls-total").first().textContent().catch(() => "0");
    calls = parseInt(t || "0", 10);
    if (calls < 1) await page.waitForTimeout(200);
  }
  check(calls >= 1, "usage shows the call");
  check(await page.locator("svg.chart title").first().count() === 1, "the chart has a title");
  await shot("usage");

  // Revoke the key: the browser forgets it, and try-it with it gets 401.
  await page.goto(portal + "/apps");
  await Promise.all([page.waitForNavigation(), page.click("#apps a")]);
  await Promise.all([page.waitForNavigation(), page.click("#keys button.danger")]);
  check((await page.content()).includes("revoked"), "the key is revoked");
  await page.goto(`${portal}/apis/${api}`);
  const after = await page.inputValue("#try-form textarea[name=headers]");
  check(after.includes("YOUR_API_KEY"), "the revoked key was forgotten");
  await page.fill("#try-form textarea[name=headers]", after.replace("YOUR_API_KEY", key));
  check((await tryIt()) === "401", "try-it with the revoked key: 401");
  await shot("try-revoked");

  // A phone: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  for (const path of ["/", "/apps", "/usage", `/apis/${api}`]) {
    await page.goto(portal + path);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(fits, `${path} fits a 375px screen`);
  }
  await page.goto(portal + "/");
  await shot("catalog-phone");
  console.log("BROWSER TEST PASSED");
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
