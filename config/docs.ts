/**
 * Writes the settings reference (docs/configuration.md) and .env.example from the schema, so neither can
 * drift from what Sentinel reads. `npm run config:docs` rewrites both; `npm run config:docs -- --check`
 * (run by the tests too) fails when either is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { configSchema, envName, isSecretKey, SETTING_PREFIXES, type SettingMeta } from './schema';

export interface SettingDoc {
  name: string;
  group: string;
  doc: string;
  allowed: string;
  /** The default as a person reads it; undefined when the setting has none (unset means off). */
  default?: string;
  /** The default as the variable's value; undefined without a fixed default. */
  value?: string;
  production?: string;
  secret: boolean;
}

/** Every setting, in schema order, with what the schema knows of it. */
export function settingDocs(): SettingDoc[] {
  return Object.entries(configSchema.shape).map(([key, field]) => {
    const outer = (field.meta() ?? {}) as SettingMeta;
    let inner: z.ZodType = field;
    let fallback: unknown;
    if (inner instanceof z.ZodDefault) {
      fallback = inner.def.defaultValue;
      inner = inner.unwrap() as z.ZodType;
    } else if (inner instanceof z.ZodOptional) {
      inner = inner.unwrap() as z.ZodType;
    }
    const allowed = (inner.meta() as SettingMeta | undefined)?.allowed;
    if (!outer.doc || !outer.group || !allowed) throw new Error(`config/schema.ts: ${key} is not documented`);
    const value = fallback === undefined ? undefined : String(fallback);
    return {
      name: envName(key),
      group: outer.group,
      doc: outer.doc,
      allowed,
      default: outer.shownDefault ?? value,
      value,
      production: outer.production,
      secret: isSecretKey(key),
    };
  });
}

const GENERATED = 'Generated from `config/schema.ts` by `npm run config:docs`; do not edit by hand.';

/** A table cell: no pipes or line breaks. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderConfigurationMd(settings = settingDocs()): string {
  const out: string[] = [
    '# Configuration',
    '',
    `<!-- ${GENERATED} -->`,
    '',
    'Sentinel reads every setting from an environment variable, once, at start-up (`config/schema.ts`). An',
    'unset or blank variable takes the default. A bad value stops start-up with a message naming the setting,',
    "what was given (never for secrets) and what is allowed. A variable that looks like one of Sentinel's",
    `(prefixes ${SETTING_PREFIXES.map((p) => `\`${p}\``).join(', ')}) but is not a setting stops start-up`,
    'too, with the nearest real name: `unknown setting TREND_OPEN_P_VALUE — did you mean TREND_OPEN_PVALUE?`.',
    'Secrets are never logged. `.env.example` lists the same settings, ready to copy.',
    '',
    '## Modes',
    '',
    '- **Local mode** (the default: `NODE_ENV` unset or `development`): SQLite in `data/`, the HTTP API on',
    '  127.0.0.1, and without an X token or a replay file the bundled sample of real tweets is replayed so',
    '  that an alert shows within a minute.',
    '- **Production mode** (`NODE_ENV=production`, or `K_SERVICE` set, as Cloud Run does): the HTTP API on',
    '  0.0.0.0, and Sentinel refuses to start without a real mention source (`X_BEARER_TOKEN`), PostgreSQL',
    '  (`DATABASE_URL`) and at least one chat sink (Slack with `SLACK_ALERT_CHANNELS`, or Teams), naming each',
    '  missing setting. The column *production* below says what it asks of each setting.',
    '',
  ];
  const groups = [...new Set(settings.map((s) => s.group))];
  out.push('## Settings', '', groups.map((g) => `- [${g}](#${anchor(g)})`).join('\n'), '');
  for (const group of groups) {
    out.push(
      `### ${group}`,
      '',
      '| setting | default | allowed | production | what it does |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const s of settings.filter((x) => x.group === group)) {
      const dflt = s.default === undefined ? '(unset)' : s.value === undefined ? s.default : `\`${s.default}\``;
      const allowed = s.secret ? `${s.allowed} (secret)` : s.allowed;
      out.push(`| \`${s.name}\` | ${cell(dflt)} | ${cell(allowed)} | ${cell(s.production ?? '')} | ${cell(s.doc)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

export function renderEnvExample(settings = settingDocs()): string {
  const out: string[] = [
    `# Sentinel's settings. ${GENERATED}`,
    '# Every line is commented out: uncomment what you set. Secrets belong in a secret store in production',
    '# (docs/deploy.md), never in a committed file. Load this file with `node --env-file=.env dist/src/main.js`.',
    '# What each setting does, and the modes: docs/configuration.md.',
    '',
  ];
  for (const group of [...new Set(settings.map((s) => s.group))]) {
    out.push(`## ${group}`, '');
    for (const s of settings.filter((x) => x.group === group)) {
      const need = s.production ? ` Production mode: ${s.production}.` : '';
      out.push(`# ${s.doc}${need}`, `# Allowed: ${s.allowed}.`);
      const value = s.value === undefined ? '' : /\s/.test(s.value) ? JSON.stringify(s.value) : s.value;
      out.push(`# ${s.name}=${value}`);
      out.push('');
    }
  }
  return out.join('\n');
}

const ROOT = join(__dirname, '..');
export const OUTPUTS = {
  'docs/configuration.md': renderConfigurationMd,
  '.env.example': renderEnvExample,
} as const;

/** The generated files that differ from what is on disk (none: up to date). */
export function staleOutputs(root = ROOT): string[] {
  return Object.entries(OUTPUTS)
    .filter(([file, render]) => {
      try {
        return readFileSync(join(root, file), 'utf8') !== render();
      } catch {
        return true;
      }
    })
    .map(([file]) => file);
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const stale = staleOutputs();
    if (stale.length > 0) {
      process.stderr.write(`stale: ${stale.join(', ')} (run npm run config:docs)\n`);
      process.exit(1);
    }
    process.stdout.write('docs/configuration.md and .env.example are up to date\n');
  } else {
    for (const [file, render] of Object.entries(OUTPUTS)) {
      writeFileSync(join(ROOT, file), render());
      process.stdout.write(`wrote ${file}\n`);
    }
  }
}
