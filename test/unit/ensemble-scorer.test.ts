import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScorer } from '../../src/sentiment/load';
import { BiLstmScorer } from '../../src/sentiment/bilstm-scorer';
import { loadLayersModel } from '../../src/sentiment/model-files';
import { Vocabulary } from '../../src/sentiment/vocabulary';
import { EnsembleFile, stack } from '../../src/sentiment/ensemble';
import { loadLinearModel } from '../../src/sentiment/linear-model';
import { normalizeTweet } from '../../src/sentiment/normalize';
import { lexiconInputs } from '../../src/sentiment/lexicon';
import { describeFiles, readManifest } from '../../src/registry/manifest';
import { reseal } from '../../src/registry/seal';
import { LABELS, readLabelledCsv } from '../../src/train/dataset';

const MODEL = join(__dirname, '../../models/sentinel-bilstm');
const TEXTS = readLabelledCsv(join(__dirname, '../fixtures/airline_val_sample.csv'))
  .slice(0, 40)
  .map((r) => r.text);
const tmp = mkdtempSync(join(tmpdir(), 'sentinel-ensemble-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const probs = (p: { probabilities: Record<string, number> }) => LABELS.map((l) => p.probabilities[l]);

/** The shipped model's BiLSTM on its own, to recompute what the stacker was given. */
async function bilstmAlone(): Promise<BiLstmScorer> {
  return new BiLstmScorer({
    model: await loadLayersModel(MODEL),
    vocabulary: Vocabulary.fromJSON(JSON.parse(readFileSync(join(MODEL, 'vocabulary.json'), 'utf8'))),
    labels: LABELS,
    info: { name: 'bilstm', version: 'alone', backend: 'wasm' },
  });
}

describe('the shipped model is an ensemble', () => {
  const file = EnsembleFile.parse(JSON.parse(readFileSync(join(MODEL, 'ensemble.json'), 'utf8')));

  it('lists its ensemble and linear model in the manifest, and is calibrated', () => {
    const listed = readManifest(MODEL).files.map((f) => f.path);
    expect(listed).toEqual(expect.arrayContaining(['ensemble.json', file.linear, 'model.json', 'vocabulary.json']));
    expect(file.temperature).toBeGreaterThan(0);
    expect(file.fitted).toBeDefined();
  });

  it('scores each text as the stacker of its BiLSTM and linear model probabilities (and its word list\u2019s evidence), divided by the temperature', async () => {
    const served = await loadScorer(MODEL);
    const alone = await bilstmAlone();
    const linear = loadLinearModel(join(MODEL, file.linear));
    try {
      const [ens, bil] = await Promise.all([served.score(TEXTS), alone.score(TEXTS)]);
      const lin = linear.predictTokens(TEXTS.map(normalizeTweet));
      ens.forEach((p, i) => {
        const lexicon = file.lexicon ? lexiconInputs(normalizeTweet(TEXTS[i])) : [];
        const expected = stack(file.stacker, file.temperature, probs(bil[i]), lin[i], lexicon);
        probs(p).forEach((x, c) => expect(x).toBeCloseTo(expected[c], 4));
      });
      // The ensemble is not its BiLSTM: some texts change label, most probabilities move.
      const moved = ens.filter((p, i) => Math.abs(p.probabilities.negative - bil[i].probabilities.negative) > 0.01);
      expect(moved.length).toBeGreaterThan(TEXTS.length / 2);

      // The explanation is the ensemble's: removing a word moves the ensemble's probability by its weight.
      const text = '@united worst airline ever, lost my bag and nobody helps';
      const explained = await served.explain(text);
      expect(explained.label).toBe('negative');
      expect(explained.words.length).toBeGreaterThan(0);
      const top = explained.words[0];
      const without = text.replace(new RegExp(`\\b${top.word}\\b`), '');
      const [after] = await served.score([without]);
      expect(explained.confidence - after.probabilities.negative).toBeCloseTo(top.weight, 2);
    } finally {
      served.dispose();
      alone.dispose();
    }
  });

  function copyModel(name: string): string {
    const dir = join(tmp, name);
    cpSync(MODEL, dir, { recursive: true });
    return dir;
  }

  it('serves a stacker that reads the AFINN word list (format 2): its evidence in every score and explanation', async () => {
    const dir = copyModel('lexicon');
    // The shipped stacker, with weights that push a praise word towards positive and a complaint towards negative.
    const extra = [
      [6, -6],
      [0, 0],
      [-6, 6],
    ];
    const lexiconFile = {
      ...file,
      version: 2,
      lexicon: 'afinn',
      stacker: { coef: file.stacker.coef.map((row, c) => [...row, ...extra[c]]), intercept: file.stacker.intercept },
    };
    writeFileSync(join(dir, 'ensemble.json'), JSON.stringify(lexiconFile));
    await reseal(dir, { update: { version: 'lexicon-test' } });
    const served = await loadScorer(dir);
    const plain = await loadScorer(MODEL);
    const linear = loadLinearModel(join(MODEL, file.linear));
    const alone = await bilstmAlone();
    try {
      const [ens, bil] = await Promise.all([served.score(TEXTS), alone.score(TEXTS)]);
      const lin = linear.predictTokens(TEXTS.map(normalizeTweet));
      ens.forEach((p, i) => {
        const expected = stack(
          lexiconFile.stacker,
          file.temperature,
          probs(bil[i]),
          lin[i],
          lexiconInputs(normalizeTweet(TEXTS[i])),
        );
        probs(p).forEach((x, c) => expect(x).toBeCloseTo(expected[c], 4));
      });
      // The word list moves a text with rated words, and not one without.
      const [rated, unrated] = ['@united the crew was awful', '@united flight 123 to Denver at 5pm'];
      const [withList, withoutList] = await Promise.all([
        served.score([rated, unrated]),
        plain.score([rated, unrated]),
      ]);
      expect(withList[0].probabilities.negative - withoutList[0].probabilities.negative).toBeGreaterThan(0.01);
      expect(withList[1].probabilities.negative).toBeCloseTo(withoutList[1].probabilities.negative, 6);
      // Occlusion removes a word from the word list's evidence too: the weight is the ensemble's whole change.
      const explained = await served.explain(rated);
      const awful = explained.words.find((w) => w.word === 'awful')!;
      const [after] = await served.score(['@united the crew was']);
      expect(explained.label).toBe('negative');
      expect(explained.confidence - after.probabilities.negative).toBeCloseTo(awful.weight, 2);
    } finally {
      served.dispose();
      plain.dispose();
      alone.dispose();
    }
    // A word list whose weights the stacker does not have is refused, saying so.
    writeFileSync(join(dir, 'ensemble.json'), JSON.stringify({ ...lexiconFile, stacker: file.stacker }));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.files = describeFiles(
      dir,
      manifest.files.map((f: { path: string }) => f.path),
    );
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(loadScorer(dir)).rejects.toThrow(/ensemble\.json: .*expected 8 weights/);
  });

  it('is refused when the manifest does not list its ensemble or linear model, or when ensemble.json is wrong', async () => {
    for (const missing of ['ensemble.json', file.linear]) {
      const dir = copyModel(`unlisted-${missing}`);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      manifest.files = manifest.files.filter((f: { path: string }) => f.path !== missing);
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      await expect(loadScorer(dir)).rejects.toThrow(new RegExp(`does not list ${missing.replace('.', '\\.')}`));
    }
    const dir = copyModel('bad-temperature');
    writeFileSync(join(dir, 'ensemble.json'), JSON.stringify({ ...file, temperature: -1 }));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.files = describeFiles(
      dir,
      manifest.files.map((f: { path: string }) => f.path),
    );
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(loadScorer(dir)).rejects.toThrow(/ensemble\.json: temperature: must be positive/);
  });
});
