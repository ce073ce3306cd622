// The learner's whole flow in the edge's web page, in Debian's Chromium (headless), driven by
// playwright-core: register, open a problem (statement typeset), submit a wrong and a right
// solution and watch each verdict arrive, see the feedback and the past submissions, comment.
// A screenshot is kept of each step.
//
// Usage: node flow.mjs BASE_URL SCREENSHOT_DIR   (CHROMIUM: the browser, default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node flow.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const examples = new URL("../../examples/", import.meta.url).pathname;
const wrong = readFileSync(join(examples, "problems/aplusb/submissions/wrong_answer/minus.py"), "utf8");
const right = readFileSync(join(examples, "problems/aplusb/submissions/accepted/aplusb.py"), "utf8");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let step = 0;
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const errors = [];
page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
page.on("response", (r) => { if (r.status() >= 500 || (r.status() === 404 && !r.url().includes("/api/"))) errors.push(`${r.status()} ${r.url()}`); });
const shot = async (name) => page.screenshot({ path: join(shots, `${String(++step).padStart(2, "0")}-${name}.png`), fullPage: true });
const expect = (condition, what) => { if (!condition) throw new Error(`expected: ${what}`); };

try {
  await page.goto(base);
  await page.getByRole("heading", { name: "Problems" }).waitFor();
  await shot("home");

  const name = `learner${Date.now() % 100000}`;
  const register = page.locator("#register-form");
  await register.getByLabel("Username").fill(name);
  await register.getByLabel("E-mail").fill(`${name}@example.org`);
  await register.getByLabel("Password").fill("correct horse battery");
  await register.getByRole("button", { name: "Register" }).click();
  await page.getByTestId("whoami").filter({ hasText: name }).waitFor();
  await shot("registered");

  await page.getByRole("link", { name: "A plus B" }).click();
  await page.getByRole("heading", { name: "A plus B", level: 2 }).waitFor();
  await page.locator("#statement .katex").first().waitFor();
  expect(await page.locator("#samples pre").count() >= 2, "the samples are shown");
  await shot("problem");

  await page.getByLabel("Language").selectOption("python3");
  await page.getByLabel("Source").fill(wrong);
  // Try it on the samples first: nothing is graded, the output is shown beside the expected one.
  await page.getByRole("button", { name: "Run on the samples" }).click();
  await page.getByTestId("run-verdict").filter({ hasText: "wrong answer" }).waitFor({ timeout: 60000 });
  expect(await page.locator("#run-result pre").count() >= 2, "the run's output and the expected output are shown");
  await shot("run-on-samples");

  await page.getByRole("button", { name: "Submit" }).click();
  await page.getByTestId("verdict").filter({ hasText: "wrong answer" }).waitFor({ timeout: 60000 });
  expect(await page.locator("#verdict table tbody tr").count() >= 1, "the failing test is listed");
  // The first failing sample says why: its input, the expected output and the first differing line.
  await page.getByTestId("feedback").filter({ hasText: "first difference on line 1" }).waitFor();
  await shot("wrong-answer");

  await page.getByLabel("Source").fill(right);
  await page.getByRole("button", { name: "Submit" }).click();
  await page.getByTestId("verdict").filter({ hasText: "accepted" }).waitFor({ timeout: 60000 });
  await shot("accepted");
  await page.locator("#mine tbody tr").nth(1).waitFor();
  expect(await page.locator("#mine tbody tr").count() === 2, "both submissions are listed");

  await page.getByLabel("Your comment").fill("Watch out for negative numbers.");
  await page.getByRole("button", { name: "Post comment" }).click();
  await page.locator("#comments li").filter({ hasText: "negative numbers" }).waitFor();
  await shot("commented");

  expect(errors.length === 0, `no errors in the page: ${errors.join("; ")}`);
  console.log(`web flow passed; ${step} screenshots in ${shots}`);
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(e);
  console.error(errors.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
