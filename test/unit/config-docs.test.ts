import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OUTPUTS, renderConfigurationMd, settingDocs, staleOutputs } from '../../config/docs';
import { configSchema, envName } from '../../config/schema';

const ROOT = resolve(__dirname, '../..');

describe('the settings reference generated from the schema', () => {
  it('documents every setting: what it does, what is allowed, its default', () => {
    const docs = settingDocs();
    expect(docs.map((d) => d.name)).toEqual(Object.keys(configSchema.shape).map(envName));
    for (const d of docs) {
      expect(d.doc.length).toBeGreaterThan(10);
      expect(d.allowed).toBeTruthy();
    }
    const byName = Object.fromEntries(docs.map((d) => [d.name, d]));
    expect(byName.TREND_OPEN_PVALUE).toMatchObject({ default: '0.001', group: 'Trend alerts' });
    expect(byName.HOST.default).toBe('127.0.0.1 in local mode, 0.0.0.0 in production mode');
    expect(byName.X_BEARER_TOKEN).toMatchObject({ default: undefined, production: 'required', secret: true });
    expect(byName.X_STREAMS.value).toBe('AirParadis=@AirParadis -is:retweet');
  });

  it('docs/configuration.md and .env.example are what `npm run config:docs` writes today', () => {
    expect(staleOutputs(ROOT)).toEqual([]);
    const md = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    expect(md).toContain('| `TREND_OPEN_PVALUE` | `0.001` |');
    expect(readFileSync(join(ROOT, '.env.example'), 'utf8')).toContain(
      '# X_STREAMS="AirParadis=@AirParadis -is:retweet"',
    );
  });

  it('notices a stale or missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-docs-'));
    mkdirSync(join(dir, 'docs'));
    expect(staleOutputs(dir).sort()).toEqual(Object.keys(OUTPUTS).sort());
    writeFileSync(join(dir, 'docs/configuration.md'), renderConfigurationMd().replace('0.001', '0.01'));
    writeFileSync(join(dir, '.env.example'), OUTPUTS['.env.example']());
    expect(staleOutputs(dir)).toEqual(['docs/configuration.md']);
  });
});
