// build-images.sh's choices, without building (DRY_RUN=1): the chart's appVersion as the default
// tag, one image per app (and `dev` for the demo tooling image), docker buildx when it and a Docker
// engine answer, else podman. tests/images builds every image through it for real.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './support/repo.js';

const apps = readdirSync(join(repoRoot, 'apps')).sort();
const appVersion = String(
  (parse(readFileSync(join(repoRoot, 'helm/auth-sidecars/Chart.yaml'), 'utf8')) as { appVersion: string })
    .appVersion,
);

let fakeBin: string;
beforeAll(() => {
  fakeBin = mkdtempSync(join(tmpdir(), 'build-images-'));
  // Found by `command -v`; a dry run never calls it.
  writeFileSync(join(fakeBin, 'podman'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(fakeBin, 'podman'), 0o755);
});
afterAll(() => rmSync(fakeBin, { recursive: true, force: true }));

/** A `docker` on the PATH ahead of any real one: its buildx and engine answer, or not. */
function fakeDocker(answers: boolean): void {
  writeFileSync(join(fakeBin, 'docker'), `#!/bin/sh\nexit ${answers ? 0 : 1}\n`);
  chmodSync(join(fakeBin, 'docker'), 0o755);
}

function dryRun(env: Record<string, string>) {
  const r = spawnSync('bash', [join(repoRoot, 'build-images.sh')], {
    cwd: tmpdir(),
    env: { PATH: `${fakeBin}:${process.env.PATH}`, HOME: process.env.HOME ?? '/', DRY_RUN: '1', ...env },
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('build-images.sh', () => {
  it("builds every app, tagged with the Helm chart's appVersion, under ghcr.io/auth-sidecars by default", () => {
    fakeDocker(true);
    expect(dryRun({})).toEqual({
      code: 0,
      out: apps
        .map(
          (a) => `would build ghcr.io/auth-sidecars/${a}:${appVersion} from apps/${a}/Dockerfile with buildx`,
        )
        .join('\n'),
    });
  });

  it('falls back to podman when docker buildx or a Docker engine does not answer', () => {
    fakeDocker(false);
    const { code, out } = dryRun({ APPS: 'token-server' });
    expect({ code, out }).toEqual({
      code: 0,
      out: `would build ghcr.io/auth-sidecars/token-server:${appVersion} from apps/token-server/Dockerfile with podman`,
    });
  });

  it('takes REGISTRY, TAG and APPS (with `dev` for dev/Dockerfile), and refuses an unknown app', () => {
    fakeDocker(false);
    expect(
      dryRun({ REGISTRY: 'auth-sidecars', TAG: 'local', APPS: 'dev openai-proxy', BUILDER: 'podman' }),
    ).toEqual({
      code: 0,
      out: [
        'would build auth-sidecars/dev:local from dev/Dockerfile with podman',
        'would build auth-sidecars/openai-proxy:local from apps/openai-proxy/Dockerfile with podman',
      ].join('\n'),
    });
    const bad = dryRun({ APPS: 'nope' });
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('no apps/nope/Dockerfile');
  });
});
