// Drives Segment's real Node library (@segment/analytics-node) against a running cdp.
// Env: CDP_URL, WRITE_KEY, ADMIN_KEY, RUN, NODE_PATH-like SDK_DIR (where the package is installed).
// Sends identify + track + page + alias for two users, flushes, reads the profiles back through
// /api/v1/profiles/lookup, then resends the same messageIds and checks nothing doubled.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import path from 'node:path'

const { CDP_URL, WRITE_KEY, ADMIN_KEY, RUN, SDK_DIR } = process.env
const require = createRequire(path.join(SDK_DIR, 'package.json'))
const { Analytics } = require('@segment/analytics-node')

const people = [
  ['node-u1', 'chi.node@example.vn', '0912 200 001', '+84912200001'],
  ['node-u2', 'dung.node@example.vn', '84912200002', '+84912200002'],
]

async function lookup(type, value) {
  const q = new URLSearchParams({ type, value })
  const r = await fetch(`${CDP_URL}/api/v1/profiles/lookup?${q}`, { headers: { 'X-Api-Key': ADMIN_KEY } })
  assert.equal(r.status, 200, `lookup ${type}`)
  return r.json()
}

async function timeline(id) {
  const r = await fetch(`${CDP_URL}/api/v1/profiles/${id}/events?limit=100`, { headers: { 'X-Api-Key': ADMIN_KEY } })
  return (await r.json()).items
}

async function sendAll() {
  const errors = []
  const analytics = new Analytics({ writeKey: WRITE_KEY, host: CDP_URL, flushAt: 5, maxRetries: 2 })
  analytics.on('error', (e) => errors.push(e))
  people.forEach(([u, email, phone], n) => {
    const userId = `${RUN}-${u}`
    const anonymousId = `${RUN}-node-anon-${n}`
    analytics.page({ anonymousId, name: 'Sữa chua', properties: { url: 'https://shop.example.vn/sua-chua' }, messageId: `${RUN}-node-page-${n}` })
    analytics.identify({ userId, traits: { email, phone, name: `Khách ${n}` }, messageId: `${RUN}-node-identify-${n}` })
    analytics.track({ userId, event: 'Order Completed', properties: { order_id: `${RUN}-N-${n}`, revenue: 120000 + n }, messageId: `${RUN}-node-track-${n}` })
    analytics.alias({ userId, previousId: anonymousId, messageId: `${RUN}-node-alias-${n}` })
  })
  await analytics.closeAndFlush({ timeout: 20000 })
  assert.deepEqual(errors, [], 'the SDK reported no delivery error')
}

async function check() {
  for (const [n, [u, email, , phone]] of people.entries()) {
    const userId = `${RUN}-${u}`
    const p = await lookup('user_id', userId)
    const ids = new Set(p.identities.map((i) => `${i.type}=${i.value}`))
    for (const want of [`user_id=${userId}`, `anonymous_id=${RUN}-node-anon-${n}`, `email=${email}`, `phone=${phone}`]) {
      assert.ok(ids.has(want), `${want} in ${[...ids]}`)
    }
    assert.equal(p.traits.name, `Khách ${n}`)
    assert.equal((await lookup('phone', phone)).id, p.id)
    const events = await timeline(p.id)
    assert.deepEqual(events.map((e) => e.type).sort(), ['alias', 'identify', 'page', 'track'])
    assert.equal(p.event_count, 4)
    const order = events.find((e) => e.type === 'track')
    assert.equal(order.properties.revenue, 120000 + n)
    assert.equal(order.context.library.name, '@segment/analytics-node')
  }
}

await sendAll()
await check()
await sendAll() // a forced resend of the same messageIds
await check()
console.log('@segment/analytics-node: 2 passed, 0 failed')
