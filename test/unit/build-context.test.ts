/**
 * The image builds from a context without test/ (.dockerignore): nothing the production build compiles may
 * import a test helper. Dev tools that do (the chaos harness, the loop demo, the benches) run with tsx and are
 * left out of tsconfig.build.json.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '../..');

test('the production build compiles nothing from test/ or docs/, which the Docker build context leaves out', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[a-z]+$/.test(l)); // the plain directory names
  expect(ignored).toEqual(expect.arrayContaining(['test', 'docs']));
  const files = execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--listFilesOnly'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f && !f.includes('/node_modules/'))
    .map((f) => relative(ROOT, f));
  expect(files).toContain('src/main.ts');
  expect(files.filter((f) => ignored.includes(f.split('/')[0]))).toEqual([]);
});
