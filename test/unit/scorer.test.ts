import { cpSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScorer } from '../../src/sentiment/load';
import type { BiLstmScorer } from '../../src/sentiment/bilstm-scorer';
import { readLabelledCsv } from '../../src/train/dataset';
import { evaluatePredictions } from '../../src/train/metrics';

const MODEL = join(__dirname, '../../models/sentinel-bilstm');
const FIXTURE = join(__dirname, '../fixtures/airline_val_sample.csv');

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

describe('a model directory that is not right is refused with the reason', () => {
  function copyModel(name: string): string {
    const dir = join(tmp, name);
    cpSync(MODEL, dir, { recursive: true });
    return dir;
  }

  it('missing directory', async () => {
    await expect(loadScorer(join(tmp, 'nope'))).rejects.toThrow(/does not exist/);
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
