// The container files checked against each other (run by
// scripts/check-containers, which validates each file first): the
// devcontainer's configuration as @devcontainers/cli reads it, the compose
// project as docker-compose merges it, and the Dockerfiles, which must call
// scripts/setup rather than repeat its steps.
//
//   node scripts/containers.mjs <read-configuration output> <merged compose YAML>
// (COURTYARD_CONTAINER_TOOLS: where scripts/setup put the npm tools.)
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const require = createRequire(resolve(process.env.COURTYARD_CONTAINER_TOOLS, 'node_modules') + '/');
const YAML = require('yaml');
const jsonc = require('jsonc-parser');

const root = resolve(process.cwd());
const { configuration: config } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const compose = YAML.parse(readFileSync(process.argv[3], 'utf8'));
const problems = [];
const expect = (ok, problem) => ok || problems.push(problem);

// The CLI reads devcontainer.json leniently; an editor would flag what it
// skips over (a missing comma, say).
const errors = [];
jsonc.parse(readFileSync(resolve(root, '.devcontainer/devcontainer.json'), 'utf8'), errors, { allowTrailingComma: true });
for (const { error, offset } of errors) {
  expect(false, `.devcontainer/devcontainer.json: ${jsonc.printParseErrorCode(error)} at offset ${offset}`);
}

// What scripts/setup installs: a Dockerfile doing it by hand repeats it.
const setupSteps = [/cargo(\s+\+\S+)?\s+install/, /wasm-bindgen/, /npm\s+(ci|install)/, /pip\s+install/];
function callsSetup(path, context) {
  expect(existsSync(path), `${path} is missing`);
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n');
  expect(/RUN\s+scripts\/setup\b/.test(text), `${path} does not run scripts/setup`);
  for (const step of setupSteps) expect(!step.test(text), `${path} repeats a step of scripts/setup (${step})`);
  // What it copies from the build context is there.
  for (const [, sources] of text.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
    const parts = sources.trim().split(/\s+/);
    for (const source of parts.slice(0, -1)) {
      expect(existsSync(resolve(context, source)), `${path} copies ${source}, which is not in its build context`);
    }
  }
}

// The devcontainer: its compose files, service and the services it runs.
for (const file of [config.dockerComposeFile].flat()) {
  expect(existsSync(resolve(root, '.devcontainer', file)), `devcontainer.json names a missing compose file ${file}`);
}
const services = compose.services ?? {};
expect(services[config.service], `devcontainer.json's service "${config.service}" is not in the compose project`);
for (const name of config.runServices ?? []) {
  expect(services[name], `devcontainer.json runs "${name}", which the compose project lacks`);
}
expect(services.db, 'the compose project has no `db` (Postgres) for the devcontainer');
expect(config.postCreateCommand === 'scripts/setup --test', 'the post-create step is not scripts/setup --test');
expect(['none', 'stopCompose'].includes(config.shutdownAction ?? 'stopCompose'), `shutdownAction ${config.shutdownAction} is not none or stopCompose`);
expect((config.forwardPorts ?? []).includes(3000), 'port 3000 (the app) is not forwarded');
const ra = config.customizations?.vscode?.settings ?? {};
expect(ra['rust-analyzer.cargo.features'] === 'all', 'rust-analyzer does not see both feature sets (ssr and hydrate)');

// The dev service: built from a Dockerfile that calls scripts/setup, the
// repository mounted where the editor opens it, Postgres reachable.
const dev = services[config.service] ?? {};
const build = typeof dev.build === 'string' ? { context: dev.build } : dev.build ?? {};
expect(build.context, `the "${config.service}" service is not built from a Dockerfile`);
if (build.context) {
  const dockerfile = resolve(build.context, build.dockerfile ?? 'Dockerfile');
  expect(dockerfile === resolve(root, '.devcontainer/Dockerfile'), `the "${config.service}" service is not built from .devcontainer/Dockerfile`);
  callsSetup(dockerfile, build.context);
}
const mounts = (dev.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
expect(
  mounts.some((m) => m.startsWith(`${root}:${config.workspaceFolder}`)),
  `the repository is not mounted at ${config.workspaceFolder} (mounts: ${mounts.join(', ')})`,
);
expect(String(dev.environment?.DATABASE_URL ?? '').includes('@db:'), `the "${config.service}" service's DATABASE_URL is not the db service`);

// The release image too.
callsSetup(resolve(root, 'Dockerfile'), root);

if (problems.length) {
  for (const problem of problems) console.error(`containers: ${problem}`);
  process.exit(1);
}
console.log(`containers: devcontainer "${config.name}" (service ${config.service}) and the compose project agree`);
