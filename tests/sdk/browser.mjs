// A web page on another origin loads Segment's analytics.js (@segment/analytics-next, from npm)
// with cdnURL pointed at cdp, in headless Chromium, and sends page, identify and track; then the
// profile is read back through cdp's API.
//   CDP_URL, ADMIN_KEY, WRITE_KEY, SDK_DIR, CHROMIUM (the browser binary), RUN (a unique suffix)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.SDK_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const umd = fs.readFileSync(path.join(path.dirname(require.resolve('@segment/analytics-next/package.json')), 'dist/umd/index.js'));
const { CDP_URL, ADMIN_KEY, WRITE_KEY, CHROMIUM, RUN } = process.env;
const userId = `web-${RUN}`;

const pageHtml = `<!doctype html><meta charset="utf-8"><title>Cửa hàng trực tuyến</title>
<script src="/analytics.js"></script>
<script>
(async () => {
  try {
    const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({ writeKey: ${JSON.stringify(WRITE_KEY)}, cdnURL: ${JSON.stringify(CDP_URL)} });
    await analytics.page('Trang chủ', { path: '/' });
    await analytics.identify(${JSON.stringify(userId)}, { email: 'Lan.Tran.${RUN}@Example.vn', first_name: 'Lan', city: 'Hà Nội' });
    await analytics.track('Order Completed', { order_id: 'W-${RUN}', revenue: 350000, currency: 'VND',
      products: [{ product_id: 'SUA-1L', name: 'Sữa tươi 1L', category: 'sua-tuoi', price: 35000, quantity: 10 }] });
    window.result = 'sent';
  } catch (e) { window.result = 'error: ' + e; }
})();
</script>`;

// The page is served from another origin than cdp's: every call to cdp is cross-origin.
const site = http.createServer((req, res) => {
  if (req.url === '/analytics.js') { res.writeHead(200, { 'Content-Type': 'application/javascript' }); res.end(umd); return; }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }); res.end(pageHtml);
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
const siteUrl = `http://127.0.0.1:${site.address().port}/`;

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const requests = [];
const failures = [];
try {
  const page = await browser.newPage();
  page.on('request', (r) => { if (r.url().startsWith(CDP_URL)) requests.push(`${r.method()} ${r.url().slice(CDP_URL.length)}`); });
  page.on('response', (r) => { if (r.url().startsWith(CDP_URL) && r.status() >= 400) failures.push(`${r.status()} ${r.url()}`); });
  page.on('requestfailed', (r) => failures.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  page.on('console', (m) => { if (m.type() === 'error') failures.push(`console: ${m.text()}`); });
  await page.goto(siteUrl);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30000 });
  const result = await page.evaluate(() => window.result);
  if (result !== 'sent') throw new Error(`the page says ${result}`);
} finally {
  await browser.close();
  site.close();
}
console.log(`the browser called: ${[...new Set(requests)].join(', ')}`);
if (failures.length) throw new Error(`failed requests: ${failures.join('; ')}`);
for (const want of ['GET /v1/projects/', 'POST /v1/p', 'POST /v1/i', 'POST /v1/t']) {
  if (!requests.some((r) => r.startsWith(want))) throw new Error(`no ${want}… request`);
}

// Each call was committed before cdp answered it; read the person back.
const api = async (p) => {
  const r = await fetch(CDP_URL + p, { headers: { 'X-Api-Key': ADMIN_KEY } });
  if (r.status !== 200) throw new Error(`${p}: ${r.status} ${await r.text()}`);
  return r.json();
};
const profile = await api(`/api/v1/profiles/lookup?type=user_id&value=${userId}`);
const types = profile.identities.map((i) => i.type).sort();
const check = (ok, what) => { if (!ok) throw new Error(`${what}: ${JSON.stringify(profile)}`); };
check(types.includes('anonymous_id') && types.includes('email') && types.includes('user_id'), 'the anonymous visit, the e-mail and the user id are one profile');
check(profile.identities.some((i) => i.type === 'email' && i.value === `lan.tran.${RUN}@example.vn`), 'the e-mail is normalised');
check(profile.traits.first_name === 'Lan' && profile.traits.city === 'Hà Nội', 'traits from identify');
check(profile.channels.includes('web') && profile.event_count === 3, 'three events on the web channel');
const value = await api(`/api/v1/profiles/${profile.id}/value`);
if (value.orders_count !== 1 || value.revenue_total !== 350000) throw new Error(`the order: ${JSON.stringify(value)}`);
console.log(`browser SDK OK: profile ${profile.id} with ${types.join(', ')}; 1 order of 350000`);
