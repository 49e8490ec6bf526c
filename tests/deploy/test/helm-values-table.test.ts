// The chart README's values table is generated from values.yaml (helm/values-table.mjs): it matches
// the file, the generator notices drift and undocumented values, and values.yaml, the schema and the
// table name the same keys.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { helm } from './support/helm.js';
import { chartDir, repoRoot } from './support/repo.js';

const generator = join(repoRoot, 'helm/values-table.mjs');

function runGenerator(...args: string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [generator, ...args], { encoding: 'utf8' });
  return { status: result.status, out: result.stdout + result.stderr };
}

function chartCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chart-copy-'));
  cpSync(chartDir, dir, { recursive: true });
  return dir;
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  $ref?: string;
  definitions?: Record<string, Schema>;
}

describe('helm chart: the values table', () => {
  it("README's table matches values.yaml and its comments", () => {
    const { status, out } = runGenerator('--check');
    expect(out).toContain('the values table matches values.yaml');
    expect(status).toBe(0);
  });

  it('a changed default or comment makes --check fail until the table is regenerated', () => {
    const dir = chartCopy();
    const values = join(dir, 'values.yaml');
    writeFileSync(
      values,
      readFileSync(values, 'utf8')
        .replace('terminationGracePeriodSeconds: 45', 'terminationGracePeriodSeconds: 50')
        .replace('# -- LOG_LEVEL of every app', '# -- The LOG_LEVEL of every app'),
    );
    const drift = runGenerator('--check', '--chart', dir);
    expect(drift.status).toBe(1);
    expect(drift.out).toContain('the values table differs from values.yaml');

    expect(runGenerator('--chart', dir).out).toContain('table written');
    expect(runGenerator('--check', '--chart', dir).status).toBe(0);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/\| `terminationGracePeriodSeconds` +\| int +\| `50` +\|/);
    expect(readme).toContain('The LOG_LEVEL of every app');
    // Only the table changed.
    const outside = (text: string) =>
      text.replace(/<!-- values-table:start -->[\s\S]*<!-- values-table:end -->/, '');
    expect(outside(readme)).toBe(outside(readFileSync(join(chartDir, 'README.md'), 'utf8')));
  });

  it('refuses a value without a `# --` comment', () => {
    const dir = chartCopy();
    const values = join(dir, 'values.yaml');
    writeFileSync(
      values,
      readFileSync(values, 'utf8').replace('    port: 8000\n', '    port: 8000\n    secretKnob: 3\n'),
    );
    const result = runGenerator('--check', '--chart', dir);
    expect(result.status).toBe(2);
    expect(result.out).toContain('no "# --" comment for apps.cartaForwardauth.secretKnob');
  });

  it('documents every key the schema allows, and the schema allows every key of values.yaml', () => {
    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as Schema;
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const resolve = (s: Schema): Schema =>
      s.$ref ? resolve(schema.definitions![s.$ref.replace('#/definitions/', '')]!) : s;
    const table = readFileSync(join(chartDir, 'README.md'), 'utf8');
    const isRow = (path: string) => table.includes(`| \`${path}\``);
    const schemaPaths: string[] = [];
    const walkSchema = (s: Schema, path: string, value: unknown, underRow: boolean) => {
      const node = resolve(s);
      // A map the user fills freely (env, annotations, securityContext) has no fixed keys to list.
      if (!node.properties) return;
      for (const [key, child] of Object.entries(node.properties)) {
        const childPath = path ? `${path}.${key}` : key;
        schemaPaths.push(childPath);
        const childValue = (value as Record<string, unknown> | undefined)?.[key];
        // Each schema key is in values.yaml with a row of its own, or lies under a documented row
        // (`probes` explains liveness/readiness/startup; `podSecurityContext` its children).
        const covered = underRow || isRow(childPath);
        // An object with keys of its own is documented through them.
        if (!resolve(child).properties)
          expect({ path: childPath, covered }).toEqual({ path: childPath, covered: true });
        if (!underRow)
          expect({ path: childPath, inValues: childValue !== undefined }).toEqual({
            path: childPath,
            inValues: true,
          });
        walkSchema(child, childPath, childValue, covered);
      }
    };
    walkSchema(schema, '', values, false);
    expect(schemaPaths.length).toBeGreaterThan(150);
    // helm lint runs values.yaml through the schema (additionalProperties: false everywhere).
    expect(() => execFileSync(helm, ['lint', chartDir, '--strict'], { encoding: 'utf8' })).not.toThrow();
  });
});
