/**
 * npm run model:publish -- --model <dir> --bucket <b> [--prefix p] [--no-latest]
 * npm run model:publish -- --promote <version> --bucket <b> [--prefix p]      (move latest.json: promote / roll back)
 * npm run model:list    -- --bucket <b> [--prefix p] [--json]
 * npm run model:seal    -- --model <dir>        (re-record the canary and the checksums of a model directory)
 * npm run model:import  -- --model <keras dir> [--out <dir>] [--version v]   (write a converted Keras model's manifest)
 *
 * Common flags: --endpoint <url> (another GCS endpoint; STORAGE_EMULATOR_HOST works too), --access
 * auto|anonymous|adc. Flags not given fall back to the settings (MODEL_BUCKET, MODEL_PREFIX,
 * GCS_ENDPOINT, STORAGE_EMULATOR_HOST, GCS_ACCESS, GCS_TIMEOUT_MS, GCS_MAX_RETRIES), validated as at
 * start-up. Progress goes to stderr; stdout carries the result (a table, or JSON with --json).
 * Publishing loads the model first, as a replica will (manifest, checksums, canary): a model that
 * would be refused is never uploaded. `seal` and `import` need no bucket.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/schema';
import { loadScorer } from '../sentiment/load';
import { gcsSettings, type GcsAccess } from './gcs';
import { ModelBucket, type VersionListing } from './model-bucket';
import { importKeras, reseal } from './seal';

const USAGE = `usage:
  npm run model:publish -- --model <dir> --bucket <bucket> [--prefix <prefix>] [--no-latest]
  npm run model:publish -- --promote <version> --bucket <bucket> [--prefix <prefix>]
  npm run model:list -- --bucket <bucket> [--prefix <prefix>] [--json]
    common: [--endpoint <url>] [--access auto|anonymous|adc]
  npm run model:seal -- --model <dir>
  npm run model:import -- --model <converted keras dir> [--out <dir>] [--version <version>]`;

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      endpoint: { type: 'string' },
      access: { type: 'string' },
      promote: { type: 'string' },
      out: { type: 'string' },
      version: { type: 'string' },
      'no-latest': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || !['publish', 'list', 'seal', 'import'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (command === 'seal' || command === 'import') {
    if (!values.model) throw new UsageError('--model <dir> is required');
    const manifest =
      command === 'seal'
        ? await reseal(values.model)
        : await importKeras(values.model, { out: values.out, version: values.version });
    const dir = command === 'import' && values.out ? values.out : values.model;
    process.stderr.write(
      `${dir}/manifest.json: version ${manifest.version}, ${manifest.files.length} files, ${manifest.canary.length} canary texts recorded\n`,
    );
    process.stdout.write(
      `${JSON.stringify({ sealed: dir, version: manifest.version, kind: manifest.kind, files: manifest.files.map((f) => f.path), canary: manifest.canary.length })}\n`,
    );
    return 0;
  }
  const config = loadConfig({
    ...env,
    ...(values.bucket ? { MODEL_BUCKET: values.bucket } : {}),
    ...(values.prefix ? { MODEL_PREFIX: values.prefix } : {}),
    ...(values.endpoint ? { GCS_ENDPOINT: values.endpoint } : {}),
    ...(values.access ? { GCS_ACCESS: values.access } : {}),
  });
  if (!config.modelBucket) throw new UsageError('--bucket (or MODEL_BUCKET) is required');
  const bucket = new ModelBucket({
    ...gcsSettings({ ...config, modelBucket: config.modelBucket }),
    access: config.gcsAccess as GcsAccess,
  });
  const log = (m: string) => process.stderr.write(`${m}\n`);

  if (command === 'publish') {
    if (values.promote) {
      const moved = await bucket.movePointer(values.promote, undefined);
      log(`${bucket.url('latest.json')} → ${moved.version}${moved.previous ? ` (was ${moved.previous})` : ''}`);
      process.stdout.write(`${JSON.stringify({ promoted: moved.version, previous: moved.previous ?? null })}\n`);
      return 0;
    }
    if (!values.model) throw new UsageError('--model <dir> is required (or --promote <version>)');
    // As a replica will load it: manifest, checksums, canary. A model that would be refused is not uploaded.
    (await loadScorer(values.model)).dispose();
    log(`${values.model}: manifest, checksums and canary check out`);
    const result = await bucket.publish(values.model, { setLatest: !values['no-latest'], log });
    process.stdout.write(
      `${JSON.stringify({
        published: result.version,
        where: bucket.url(`${result.version}/`),
        files: result.files.map((f) => ({ name: f.name, size: f.size, crc32c: f.crc32c })),
        latest: result.pointer ? result.pointer.version : null,
        previous: result.pointer?.previous ?? null,
      })}\n`,
    );
    return 0;
  }

  const versions = await bucket.listVersions();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(versions.map(summary))}\n`);
  } else {
    process.stdout.write(`${formatTable(bucket.url(), versions)}\n`);
  }
  return 0;
}

function summary(v: VersionListing) {
  const m = v.manifest?.metrics as Record<string, Record<string, unknown>> | undefined;
  const val = m?.validation ?? {};
  return {
    version: v.version,
    latest: v.latest,
    created: v.manifest?.created ?? null,
    name: v.manifest?.name ?? null,
    accuracy: typeof val.accuracy === 'number' ? val.accuracy : null,
    macro_f1: typeof val.macro_f1 === 'number' ? val.macro_f1 : null,
    binary_accuracy: typeof val.binary_accuracy === 'number' ? val.binary_accuracy : null,
    files: v.files,
    bytes: v.bytes,
    ...(v.problem ? { problem: v.problem } : {}),
  };
}

export function formatTable(where: string, versions: VersionListing[]): string {
  if (versions.length === 0) return `no versions under ${where}`;
  const rows = versions
    .map(summary)
    .map((s) => [
      `${s.latest ? '* ' : '  '}${s.version}`,
      s.created ? s.created.slice(0, 19).replace('T', ' ') : '-',
      s.accuracy === null ? '-' : s.accuracy.toFixed(4),
      s.macro_f1 === null ? '-' : s.macro_f1.toFixed(4),
      s.binary_accuracy === null ? '-' : s.binary_accuracy.toFixed(4),
      `${(s.bytes / 1e6).toFixed(1)} MB`,
      s.problem ? `INCOMPLETE: ${s.problem}` : '',
    ]);
  const head = ['  version', 'created (UTC)', 'accuracy', 'macro-F1', 'neg/pos acc', 'size', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [`${where} (* = latest.json)`, line(head), ...rows.map(line)].join('\n');
}

class UsageError extends Error {}

if (require.main === module) {
  runCli(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ConfigError || err instanceof UsageError) {
        process.stderr.write(`${err.message}\n${err instanceof UsageError ? USAGE + '\n' : ''}`);
        process.exit(2);
      }
      // Every failure here names the file or object and the reason; a stack trace adds nothing for the operator.
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
