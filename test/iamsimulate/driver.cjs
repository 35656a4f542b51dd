// Reads a JSON array of cases on stdin, runs each through @cloud-copilot/iam-simulate and writes a
// JSON array of {id, decision, error} on stdout. The package is loaded from the directory named by
// IAMSIM_DIR (an `npm install --prefix` directory); it is never vendored here.
'use strict'
const path = require('path')
const { createRequire } = require('module')

async function main() {
  const dir = process.env.IAMSIM_DIR
  if (!dir) throw new Error('IAMSIM_DIR is not set')
  const sim = createRequire(path.join(path.resolve(dir), 'package.json'))('@cloud-copilot/iam-simulate')
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const out = []
  for (const c of cases) {
    const simulation = {
      request: {
        principal: c.principal,
        action: c.action,
        resource: { resource: c.resource, accountId: c.resourceAccount },
        contextVariables: c.context || {}
      },
      identityPolicies: (c.identity || []).map((p, i) => ({ name: 'identity' + i, policy: p })),
      serviceControlPolicies: (c.scps || []).map((level, i) => ({
        orgIdentifier: i === 0 ? 'r-root' : 'ou-level' + i,
        policies: level.map((p, j) => ({ name: 'scp' + i + '-' + j, policy: p }))
      })),
      resourceControlPolicies: [],
      permissionBoundaryPolicies: c.boundary ? [{ name: 'boundary', policy: c.boundary }] : undefined,
      resourcePolicy: c.resourcePolicy || undefined,
      sessionPolicy: c.sessionPolicy || undefined
    }
    try {
      const r = await sim.runSimulation(simulation, {})
      if (r.resultType === 'error') {
        out.push({ id: c.id, error: JSON.stringify(r.errors) })
      } else {
        const ignored = r.resultType === 'single' ? r.result.ignoredContextKeys || [] : []
        out.push({ id: c.id, decision: r.overallResult, ignored })
      }
    } catch (e) {
      out.push({ id: c.id, error: String(e && e.stack ? e.stack : e) })
    }
  }
  process.stdout.write(JSON.stringify(out))
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n')
  process.exit(1)
})
