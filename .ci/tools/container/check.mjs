// Lints the Dockerfile (parsed with dockerfile-ast) and validates compose.yaml against the vendored
// Compose Specification schema (ajv). Prints "container files: N passed, M failed".
import { readFileSync } from 'node:fs'
import { DockerfileParser } from 'dockerfile-ast'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { createRequire } from 'node:module'

const root = process.argv[2] ?? '.'
let passed = 0
let failed = 0
const check = (ok, what) => { if (ok) passed++; else { failed++; console.log(`not ok: ${what}`) } }

const dockerfile = DockerfileParser.parse(readFileSync(`${root}/Dockerfile`, 'utf8'))
const froms = dockerfile.getFROMs()
check(froms.length >= 2, 'multi-stage (two FROM at least)')
const final = froms.at(-1)
check(/^node:\d*[02468]-[\w-]*slim$/.test(`${final.getImageName()}:${final.getImageTag()}`), `runtime image is a Node LTS slim image (${final.getImageName()}:${final.getImageTag()})`)
const instructions = dockerfile.getInstructions()
const afterFinal = instructions.filter((i) => i.getRange().start.line > final.getRange().start.line)
const user = afterFinal.filter((i) => i.getKeyword() === 'USER').at(-1)
check(user !== undefined && !['root', '0'].includes(user.getArgumentsContent()), 'runtime stage runs as a non-root USER')
const health = dockerfile.getHEALTHCHECKs()
check(health.length === 1 && /\/health/.test(health[0].getArgumentsContent()), 'HEALTHCHECK on /health')
const runs = instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent())
check(runs.some((r) => /pnpm --filter compliance-server deploy --legacy --prod \/out/.test(r)), 'pnpm deploy --legacy --prod of the server only')
check(!afterFinal.some((i) => i.getKeyword() === 'RUN' && /pnpm install|npm install/.test(i.getArgumentsContent())), 'no install in the runtime stage (no dev dependencies)')
check(afterFinal.some((i) => i.getKeyword() === 'COPY' && i.getFlags().some((f) => f.getName() === 'from' && f.getValue() === 'build') && /^\/out /.test(i.getArgumentsContent())), 'runtime copies only the deployed folder')
check(afterFinal.some((i) => i.getKeyword() === 'VOLUME'), 'a VOLUME for the only writable path (read-only root file system)')
const entry = dockerfile.getENTRYPOINTs()[0]?.getArgumentsContent() ?? ''
check(/"node", "\/app\/dist\/main\.js"/.test(entry), 'ENTRYPOINT is node /app/dist/main.js')
for (const d of dockerfile.getDirectives?.() ?? []) check(d.getName() === 'syntax', `directive ${d.getName()}`)
// Every instruction keyword is one Docker knows (dockerfile-ast keeps unknown ones as plain instructions).
const KNOWN = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'])
check(instructions.every((i) => KNOWN.has(i.getKeyword())), 'only known instructions')

const schema = JSON.parse(readFileSync(new URL('./compose-spec.json', import.meta.url), 'utf8'))
const ajv = new Ajv({ allErrors: true, strict: false })
// The schema names draft-07 by its https URL; ajv knows the same meta-schema under the http one.
ajv.addMetaSchema({ ...createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json'), $id: 'https://json-schema.org/draft-07/schema' })
const validate = ajv.compile(schema)
const compose = parse(readFileSync(`${root}/compose.yaml`, 'utf8'), { merge: true })
const valid = validate(compose)
check(valid, `compose.yaml is valid against the Compose Specification schema ${JSON.stringify(validate.errors ?? [])}`)
const services = compose.services ?? {}
check(['redis', 'postgres', 'proxy', 'app1', 'app2', 'app3'].every((s) => s in services), 'redis, postgres, a proxy and three instances')
check(['app1', 'app2', 'app3'].every((s) => services[s].read_only === true && services[s].environment?.REDIS_URL !== undefined), 'instances read-only and sharing Redis')

console.log(`container files: ${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1

// `--print-healthcheck`: the HEALTHCHECK's exec form as JSON, for .ci/container.sh to run it as Docker would.
if (process.argv.includes('--print-healthcheck')) {
  const args = health[0].getArgumentsContent().replace(/^[\s\S]*?CMD\s+/, '')
  console.log(JSON.stringify(JSON.parse(args)))
}
