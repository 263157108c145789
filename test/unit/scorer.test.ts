import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadScorer } from '../../src/sentiment/load';
import type { BiLstmScorer } from '../../src/sentiment/bilstm-scorer';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { CANARY_SET, CANARY_TOLERANCE } from '../../src/registry/canary';
import { describeFiles, readManifest } from '../../src/registry/manifest';
import { readLabelledCsv } from '../../src/train/dataset';
import { evaluatePredictions } from '../../src/train/metrics';

const MODEL = join(__dirname, '../../models/sentinel-bilstm');
const FIXTURE = join(__dirname, '../fixtures/airline_val_sample.csv');
const TRAIN = join(__dirname, '../fixtures/airline_train.csv');
const SHARED = join(__dirname, '../../../shared/data');

let scorer: BiLstmScorer;
let generic: BiLstmScorer;
const tmp = mkdtempSync(join(tmpdir(), 'sentinel-scorer-'));

beforeAll(async () => {
  scorer = await loadScorer(MODEL);
  generic = await loadScorer(MODEL, { generic: true });
});
afterAll(() => {
  scorer.dispose();
  generic.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the shipped model', () => {
  it('uses the fused forward pass and reports its version and backend', () => {
    expect(scorer.path).toBe('fused');
    expect(generic.path).toBe('generic');
    expect(scorer.info.version).toMatch(/\S/);
    expect(['tensorflow', 'wasm', 'cpu']).toContain(scorer.info.backend);
  });

  it('keeps its accuracy on held-out labelled tweets', async () => {
    const rows = readLabelledCsv(FIXTURE);
    const predictions = await scorer.score(rows.map((r) => r.text));
    const probs = predictions.map((p) => [p.probabilities.negative, p.probabilities.neutral, p.probabilities.positive]);
    const m = evaluatePredictions(
      rows.map((r) => r.label),
      predictions.map((p) => p.label),
      probs,
    );
    // The full validation split gives ~0.8; a model that lost its weights or its vocabulary scores ≤ 0.63.
    expect(m.accuracy).toBeGreaterThan(0.74);
    expect(m.macro_f1).toBeGreaterThan(0.68);
    expect(m.binary_accuracy).toBeGreaterThan(0.88);
  });

  it('gives the same probabilities on the fused and the generic (model.predict) path', async () => {
    const texts = readLabelledCsv(FIXTURE)
      .slice(0, 40)
      .map((r) => r.text);
    const [a, b] = await Promise.all([scorer.score(texts), generic.score(texts)]);
    a.forEach((p, i) => {
      expect(p.label).toBe(b[i].label);
      for (const l of ['negative', 'neutral', 'positive'] as const) {
        expect(p.probabilities[l]).toBeCloseTo(b[i].probabilities[l], 4);
      }
    });
  });

  it('scores a text the same alone or batched with longer texts (padding is masked)', async () => {
    const short = '@AirParadis thanks!';
    const [alone] = await scorer.score([short]);
    const [batched] = await scorer.score([
      short,
      'my flight was cancelled and then delayed again and nobody at the desk could tell us anything at all, terrible',
    ]);
    expect(batched.probabilities.positive).toBeCloseTo(alone.probabilities.positive, 5);
  });

  it('answers concurrent calls each with its own result', async () => {
    const texts = [
      'worst airline ever, lost my bag',
      'thank you so much, great crew',
      'what time does the flight leave',
    ];
    const singles = await Promise.all(texts.map((t) => scorer.score([t])));
    const together = await scorer.score(texts);
    singles.forEach(([p], i) => expect(together[i]).toEqual(p));
    expect(together.map((p) => p.label)).toEqual(['negative', 'positive', 'neutral']);
  });

  it('explains a prediction with the words that drove it', async () => {
    const e = await scorer.explain('@AirParadis my flight is cancelled again, terrible service');
    expect(e.label).toBe('negative');
    expect(e.words.length).toBeGreaterThan(0);
    const words = e.words.map((w) => w.word);
    expect(words.some((w) => ['cancelled', 'terrible'].includes(w))).toBe(true);
    expect(e.words[0].weight).toBeGreaterThan(0);
    expect(words).not.toContain('<user>');
  });

  it('scores empty and unknown-word texts without failing', async () => {
    const [empty, unknown] = await scorer.score(['', 'zzqx vvbn']);
    expect(empty.confidence).toBeGreaterThan(0);
    expect(unknown.confidence).toBeGreaterThan(0);
  });
});

describe('texts with nothing the model can read', () => {
  // Each of these scores the model's prior (neutral ~0.35): no opinion, which must not pass for one.
  const cases: Array<[string, string, string]> = [
    ['empty', '', 'the text is empty'],
    ['spaces and newlines', '  \n\t ', 'the text is empty'],
    ['zero-width characters only', '\u200b\u200c\u200d\ufeff\u2060', 'empty after removing invisible characters'],
    ['NUL', '\u0000', 'empty after removing invisible characters'],
    ['NULs and controls', '\u0000\u0001\u001b\u007f', 'empty after removing invisible characters'],
    ['a lone high surrogate', '\ud800', 'empty after removing invisible characters'],
    ['lone surrogates, reversed pair', '\udc00\ud83d', 'empty after removing invisible characters'],
    ['the braille blank U+2800', '\u2800\u2800\u2800', 'empty after removing invisible characters'],
    ['the Hangul filler U+3164', '\u3164', 'empty after removing invisible characters'],
    ['1,000 @', '@'.repeat(1000), 'only punctuation'],
    ['only punctuation', '!!! ... ??? ,;:', 'only punctuation'],
    ['only symbols', '→→ ++ ~~', 'only symbols'],
    ['only a mention', '@AirParadis', 'only mentions'],
    ['only mentions', '@AirParadis @united @JetBlue', 'only mentions'],
    ['only a link', 'https://t.co/LM3opxkxch', 'only links'],
    ['mentions and links', '@AirParadis https://t.co/LM3opxkxch @united', 'only mentions and links'],
    ['a mention and shouting punctuation', '@AirParadis!!!', 'only mentions and punctuation'],
    ['only numbers', '12:30 $45 3', 'only numbers'],
    ['invisible characters around a mention', '\u200b@AirParadis\u2800', 'only mentions'],
    ['words the model does not know', 'zzqx vvbn', 'no words the model knows'],
    ['another language', 'merci beaucoup', 'no words the model knows'],
    ['an emoji the model does not know', '🦄', 'no words or emoji the model knows'],
  ];
  it.each(cases)('%s', (_name, text, reason) => {
    expect(scorer.unreadable(text)).toBe(reason);
    expect(generic.unreadable(text)).toBe(reason);
  });

  it('reads anything with one real token: a word it knows, an emoticon, an emoji, a hashtag', () => {
    for (const text of [
      'thanks',
      '@AirParadis late',
      '@AirParadis 😡',
      '❤️',
      ':)',
      '<3',
      '#fail',
      'SOOOO',
      '\u200bthanks\u200b',
      '\u0000\u0000delayed',
      '@AirParadis https://t.co/x ok',
    ]) {
      expect([text, scorer.unreadable(text)]).toEqual([text, null]);
    }
  });

  it('reads every real tweet of the validation sample (0 of 599 unreadable)', () => {
    const rows = readLabelledCsv(FIXTURE);
    expect(rows).toHaveLength(599);
    expect(rows.filter((r) => scorer.unreadable(r.text) !== null)).toEqual([]);
  });

  it('the slot asks the serving scorer, and falls back to the model-free check while none serves', () => {
    const slot = new ScorerSlot();
    expect(slot.unreadable('@AirParadis')).toBe('only mentions');
    expect(slot.unreadable('zzqx')).toBeNull(); // a word, even unknown: only a model can say it does not know it
    slot.set(scorer);
    expect(slot.unreadable('zzqx')).toBe('no words the model knows');
    expect(slot.unreadable('thanks')).toBeNull();
  });
});

describe('the canary set', () => {
  const csvTexts = (path: string) => new Set(readLabelledCsv(path).map((r) => r.text));

  it('is twelve texts of the training split, four per label, none from validation', () => {
    expect(CANARY_SET).toHaveLength(12);
    for (const label of ['negative', 'neutral', 'positive'])
      expect(CANARY_SET.filter((c) => c.label === label)).toHaveLength(4);
    const train = readLabelledCsv(TRAIN);
    for (const c of CANARY_SET) expect(train).toContainEqual({ text: c.text, label: c.label });
    const val = csvTexts(FIXTURE);
    if (existsSync(join(SHARED, 'airline_val.csv')))
      for (const t of csvTexts(join(SHARED, 'airline_val.csv'))) val.add(t);
    expect(CANARY_SET.filter((c) => val.has(c.text))).toEqual([]);
  });

  it('is shipped in the manifest, scored by the shipped model (fused and generic paths within the tolerance)', async () => {
    const manifest = readManifest(MODEL);
    expect(manifest.canary.map((c) => [c.text, c.label])).toEqual(CANARY_SET.map((c) => [c.text, c.label]));
    const texts = manifest.canary.map((c) => c.text);
    for (const s of [scorer, generic]) {
      const got = await s.score(texts);
      manifest.canary.forEach((c, i) => {
        for (const l of ['negative', 'neutral', 'positive'] as const)
          expect(Math.abs(got[i].probabilities[l] - c.probabilities[l])).toBeLessThanOrEqual(CANARY_TOLERANCE);
      });
    }
  });

  it('passes on the pure-JS cpu backend too (another process: the backend is chosen once per process)', async () => {
    const script = `require('./src/sentiment/load').loadScorer(${JSON.stringify(MODEL)}, { backend: 'cpu' })
      .then((s) => { process.stdout.write(s.info.backend); s.dispose(); })`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: join(__dirname, '../..'),
      timeout: 120_000,
    });
    expect(stdout).toBe('cpu');
  }, 150_000);
});

describe('a model directory that is not right is refused with the reason', () => {
  function copyModel(name: string): string {
    const dir = join(tmp, name);
    cpSync(MODEL, dir, { recursive: true });
    return dir;
  }

  it('missing directory', async () => {
    await expect(loadScorer(join(tmp, 'nope'))).rejects.toThrow(/does not exist/);
  });

  it('no manifest: no load, and the error names the manifest and the directory', async () => {
    const dir = copyModel('nomanifest');
    rmSync(join(dir, 'manifest.json'));
    await expect(loadScorer(dir)).rejects.toThrow(`manifest.json missing in ${dir}: `);
  });

  /** Rewrites the manifest after `edit` (and re-hashes the files, as someone who can write the directory could). */
  function rewriteManifest(dir: string, edit: (m: Record<string, unknown>) => void, rehash = false): void {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    if (rehash)
      manifest.files = describeFiles(
        dir,
        manifest.files.map((f: { path: string }) => f.path),
      );
    edit(manifest);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  }

  it('changed weights re-hashed into the manifest: the canary refuses them', async () => {
    const dir = copyModel('tampered');
    const weights = readFileSync(join(dir, 'weights.bin'));
    // The output layer's bias is the last 3 floats: push every text towards "negative".
    weights.writeFloatLE(weights.readFloatLE(weights.length - 12) + 1.5, weights.length - 12);
    writeFileSync(join(dir, 'weights.bin'), weights);
    rewriteManifest(dir, () => undefined, true);
    await expect(loadScorer(dir)).rejects.toThrow(
      /^canary mismatch: .*tampered: \d+ of 12 canary texts are not scored as recorded in manifest\.json \(worst: .*P\(\w+\) [\d.]+ now, [\d.]+ recorded; tolerance 0\.001\)/,
    );
  });

  it('a canary whose recorded probabilities were changed, and a manifest without a canary', async () => {
    const dir = copyModel('canary-edited');
    rewriteManifest(dir, (m) => {
      const c = (m.canary as Array<{ probabilities: Record<string, number> }>)[3];
      c.probabilities = { negative: 0.9, neutral: 0.05, positive: 0.05 };
    });
    await expect(loadScorer(dir)).rejects.toThrow(/^canary mismatch: .*1 of 12 canary texts/);
    rewriteManifest(dir, (m) => delete m.canary);
    await expect(loadScorer(dir)).rejects.toThrow(/invalid manifest \(canary: /);
  });

  it('a file name that leaves the directory, in the manifest or in model.json, is refused before anything is read', async () => {
    const dir = copyModel('traversal');
    for (const bad of ['../../etc/passwd', 'a/b', '..', '%2e%2e', '/etc/passwd', 'C:\\x', 'a\u0000b']) {
      rewriteManifest(dir, (m) => ((m.files as Array<{ path: string }>)[0].path = bad));
      await expect(loadScorer(dir)).rejects.toThrow(/invalid manifest \(files\.0\.path: .* is not a safe name: it /);
    }
    const clean = copyModel('traversal-shard');
    const json = JSON.parse(readFileSync(join(clean, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../sentinel-bilstm/weights.bin'];
    writeFileSync(join(clean, 'model.json'), JSON.stringify(json));
    rewriteManifest(clean, () => undefined, true);
    await expect(loadScorer(clean)).rejects.toThrow(
      /weight file named in .*model\.json "\.\.\/sentinel-bilstm\/weights\.bin" is not a safe name: it contains a path separator/,
    );
  });

  it('a file the model reads but the manifest does not list is never read', async () => {
    const dir = copyModel('unlisted');
    rewriteManifest(dir, (m) => {
      m.files = (m.files as Array<{ path: string }>).filter((f) => f.path !== 'vocabulary.json');
    });
    await expect(loadScorer(dir)).rejects.toThrow(/does not list vocabulary\.json, which the model needs/);
  });

  it('a weight file whose checksum does not match', async () => {
    const dir = copyModel('corrupt');
    const weights = readFileSync(join(dir, 'weights.bin'));
    weights[100] ^= 0xff;
    writeFileSync(join(dir, 'weights.bin'), weights);
    await expect(loadScorer(dir)).rejects.toThrow(/weights\.bin: sha256 .* does not match manifest\.json/);
  });

  it('a truncated weight file', async () => {
    const dir = copyModel('truncated');
    const weights = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), weights.subarray(0, 1000));
    await expect(loadScorer(dir)).rejects.toThrow(/weights\.bin: 1000 bytes, manifest\.json says/);
  });

  it('an invalid manifest', async () => {
    const dir = copyModel('badmanifest');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.labels = ['happy', 'sad'];
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(loadScorer(dir)).rejects.toThrow(/invalid manifest \(labels\.0/);
  });
});
