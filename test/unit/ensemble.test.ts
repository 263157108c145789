import { join } from 'node:path';
import { EnsembleFile, stack, softmax, Ensemble } from '../../src/sentiment/ensemble';
import { LinearModel, ngramsOfTokens } from '../../src/sentiment/linear-model';
import { lexiconInputs } from '../../src/sentiment/lexicon';
import { normalizeTweet } from '../../src/sentiment/normalize';
import { fitFeatures, trainBaseline } from '../../src/train/baseline';
import { fitStacker, fitEnsembleHead } from '../../src/train/ensemble-fit';
import { LABELS, readLabelledCsv, splitOffFold, stratifiedFolds, sameTextKey } from '../../src/train/dataset';
import { seededRandom } from '../../src/train/random';

const TRAIN = readLabelledCsv(join(__dirname, '../fixtures/airline_train.csv'));

describe('character n-grams of the word + char linear model', () => {
  it("are the padded characters of each word (scikit-learn's char_wb), never of markers, after the word n-grams", () => {
    const grams = ngramsOfTokens(['<user>', 'late', '!'], { charNgrams: [2, 3] });
    expect(grams.slice(0, 5)).toEqual(['<user>', 'late', '!', '<user> late', 'late !']);
    expect(grams.slice(5)).toEqual([
      'c: l',
      'c:la',
      'c:at',
      'c:te',
      'c:e ',
      'c: la',
      'c:lat',
      'c:ate',
      'c:te ',
      'c: !',
      'c:! ',
      'c: ! ',
    ]);
  });

  it('saves and loads with its range, and scores tokens exactly as texts', () => {
    const rows = TRAIN.slice(0, 600);
    const model = trainBaseline(rows, { C: 2, features: fitFeatures(rows, 2, { charNgrams: [2, 4] }) });
    const again = LinearModel.fromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    expect(again.vectorizer.spec).toEqual({ charNgrams: [2, 4] });
    const texts = ['@united soooo late again!!', 'thanks for the great flight'];
    expect(again.predictProba(texts)).toEqual(model.predictProba(texts));
    expect(() => LinearModel.fromJSON({ ...model.toJSON(), features: { char_ngram_range: [0, 'x'] } })).toThrow(
      /char_ngram_range/,
    );
  });

  it('scores a text from its tokens (the serving path, cached per word) as the sparse matrix of training does', () => {
    const rows = TRAIN.slice(0, 800);
    const model = trainBaseline(rows, { C: 4, features: fitFeatures(rows, 2, { charNgrams: [2, 5] }) });
    const texts = [...TRAIN.slice(800, 900).map((r) => r.text), 'soooo late 😡😡 #neveragain', 'naïve café déjà'];
    const x = model.vectorizer.transform(texts);
    const twice = [model.predictProba(texts), model.predictProba(texts)]; // the second from the word cache
    for (let i = 0; i < texts.length; i++) {
      const z = Array.from(model.intercept);
      for (let q = x.indptr[i]; q < x.indptr[i + 1]; q++)
        for (let c = 0; c < 3; c++) z[c] += x.values[q] * model.coef[x.indices[q] * 3 + c];
      const expected = softmax(z);
      for (const run of twice) run[i].forEach((p, c) => expect(p).toBeCloseTo(expected[c], 12));
    }
  });
});

describe('stratified folds', () => {
  const folds = stratifiedFolds(TRAIN, 10, 20261124);

  it('partition the rows, are deterministic, and keep every copy of a text in one fold', () => {
    const all = folds.flat().sort((a, b) => a - b);
    expect(all).toEqual(TRAIN.map((_, i) => i));
    expect(stratifiedFolds(TRAIN, 10, 20261124)).toEqual(folds);
    expect(stratifiedFolds(TRAIN, 10, 1)).not.toEqual(folds);
    const foldOf = new Map<string, number>();
    folds.forEach((f, k) =>
      f.forEach((i) => {
        const key = sameTextKey(TRAIN[i].text);
        expect(foldOf.get(key) ?? k).toBe(k);
        foldOf.set(key, k);
      }),
    );
  });

  it('keep each label in proportion (within a few rows)', () => {
    for (const label of LABELS) {
      const total = TRAIN.filter((r) => r.label === label).length;
      for (const f of folds) {
        const n = f.filter((i) => TRAIN[i].label === label).length;
        expect(Math.abs(n - total / 10)).toBeLessThan(8);
      }
    }
    const { rest, held } = splitOffFold(TRAIN, 10, 0, 20261124);
    expect(held.length).toBe(folds[0].length);
    expect(rest.length + held.length).toBe(TRAIN.length);
  });
});

describe('the stacker', () => {
  // Member probabilities drawn around the truth: the "good" member is right 90 % of the time, the other is noise.
  function members(n: number, seed: number) {
    const random = seededRandom(seed);
    const truth: number[] = [];
    const good: number[][] = [];
    const noise: number[][] = [];
    for (let i = 0; i < n; i++) {
      const y = Math.floor(random() * 3);
      truth.push(y);
      const guess = random() < 0.9 ? y : (y + 1 + Math.floor(random() * 2)) % 3;
      good.push(softmax([0, 1, 2].map((c) => (c === guess ? 2 : 0) + random())));
      noise.push(softmax([0, 1, 2].map(() => 2 * random())));
    }
    return { truth, good, noise };
  }

  it('learns to trust the informative member and not the noise', () => {
    const { truth, good, noise } = members(600, 3);
    const s = fitStacker(good, noise, truth);
    const test = members(400, 4);
    const argmax = (p: number[]) => p.indexOf(Math.max(...p));
    const stacked = test.good.map((g, i) => argmax(stack(s, 1, g, test.noise[i])));
    const agreeGood = stacked.filter((c, i) => c === argmax(test.good[i])).length / 400;
    const agreeNoise = stacked.filter((c, i) => c === argmax(test.noise[i])).length / 400;
    expect(agreeGood).toBeGreaterThan(0.95);
    expect(agreeNoise).toBeLessThan(0.5);
    expect(stacked.filter((c, i) => c === test.truth[i]).length / 400).toBeGreaterThan(0.85);
  });

  it('fits a temperature that makes over-confident members honest, and the file format says what is wrong', () => {
    const { truth, good, noise } = members(800, 5);
    const sharp = good.map((p) => softmax(p.map((x) => 6 * Math.log(x))));
    const head = fitEnsembleHead(sharp, noise, truth, { C: 1e-3 });
    expect(head.temperature).toBeLessThan(1); // a strong L2 penalty shrinks the scores: the temperature undoes it
    const file = { format: 'sentinel-ensemble', version: 1, linear: 'linear.json', ...head };
    expect(EnsembleFile.parse(file).temperature).toBe(head.temperature);
    expect(() => EnsembleFile.parse({ ...file, linear: '../linear.json' })).toThrow(/plain .json file name/);
    expect(() => EnsembleFile.parse({ ...file, temperature: 0 })).toThrow(/positive/);
    expect(() => EnsembleFile.parse({ ...file, stacker: { ...head.stacker, coef: [[1]] } })).toThrow();
  });

  it('reads a word list beside the members when it tells what they do not', () => {
    // Members that know negatives but confuse neutral and positive; a word list that tells those two apart.
    const rows = (n: number, seed: number) => {
      const random = seededRandom(seed);
      const out = { truth: [] as number[], bilstm: [] as number[][], linear: [] as number[][], lex: [] as number[][] };
      for (let i = 0; i < n; i++) {
        const y = Math.floor(random() * 3);
        const blur = y === 0 ? [3, 0, 0] : [0, 1, 1];
        out.truth.push(y);
        out.bilstm.push(softmax(blur.map((v) => v + random())));
        out.linear.push(softmax(blur.map((v) => v + random())));
        out.lex.push(y === 2 ? [0, 0.4 + 0.2 * random()] : [0.1 * random(), 0.1 * random()]);
      }
      return out;
    };
    const fit = rows(600, 11);
    const test = rows(400, 12);
    const accuracy = (s: ReturnType<typeof fitStacker>, lex: boolean) =>
      test.truth.filter((y, i) => {
        const p = stack(s, 1, test.bilstm[i], test.linear[i], lex ? test.lex[i] : []);
        return p.indexOf(Math.max(...p)) === y;
      }).length / test.truth.length;
    const plain = fitStacker(fit.bilstm, fit.linear, fit.truth);
    const withLexicon = fitStacker(fit.bilstm, fit.linear, fit.truth, {}, fit.lex);
    expect(withLexicon.coef[0]).toHaveLength(8);
    expect(accuracy(plain, false)).toBeLessThan(0.8);
    expect(accuracy(withLexicon, true)).toBeGreaterThan(0.95);
    // A stacker and inputs of different widths are refused, never read askew.
    expect(() => stack(withLexicon, 1, test.bilstm[0], test.linear[0])).toThrow(/6 inputs for a stacker of 8/);
  });

  it('the file names its word list, and its weights must match it', () => {
    const coef = (w: number) => [0, 1, 2].map(() => Array.from({ length: w }, () => 0.1));
    const file = {
      format: 'sentinel-ensemble',
      version: 2,
      linear: 'linear.json',
      lexicon: 'afinn',
      stacker: { coef: coef(8), intercept: [0, 0, 0] },
      temperature: 1,
    };
    expect(EnsembleFile.parse(file).lexicon).toBe('afinn');
    expect(() => EnsembleFile.parse({ ...file, stacker: { coef: coef(6), intercept: [0, 0, 0] } })).toThrow(
      /expected 8 weights \(six log-probabilities and afinn's 2\), got 6/,
    );
    expect(() => EnsembleFile.parse({ ...file, version: 1 })).toThrow(/a lexicon needs format version 2/);
    expect(() => EnsembleFile.parse({ ...file, lexicon: 'vader' })).toThrow(/lexicon/);
    const { lexicon: _none, ...plain } = file;
    expect(() => EnsembleFile.parse(plain)).toThrow(/expected 6 weights \(six log-probabilities\), got 8/);
  });

  it("the word list's evidence: rated words, negation, emoji, markers left out, a word removed", () => {
    const tokens = (t: string) => normalizeTweet(t);
    const [neg, pos] = lexiconInputs(tokens('@united Thanks, GREAT crew'));
    expect(neg).toBe(0);
    expect(pos).toBeGreaterThan(0.7); // thanks +2, great +3: 5 / 6
    // "not <allcaps> happy": the marker is left out, so the negation reaches the word.
    const [negated] = lexiconInputs(tokens('@united NOT HAPPY'));
    expect(negated).toBeGreaterThan(0);
    expect(lexiconInputs(tokens('flight 123 at 5pm http://t.co/x'))).toEqual([0, 0]);
    expect(lexiconInputs(tokens('delayed again 😡'))[0]).toBeGreaterThan(0);
    const all = tokens('great crew but awful food');
    const [n, p] = lexiconInputs(all);
    expect(n).toBeGreaterThan(0);
    expect(p).toBeGreaterThan(0);
    expect(lexiconInputs(all.filter((t) => t !== 'awful'))[0]).toBe(0);
  });

  it('divides the scores by the temperature', () => {
    const s = {
      coef: [
        [1, 0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
      ],
      intercept: [0, 0, 0],
    };
    const b = [0.7, 0.2, 0.1];
    const l = [1 / 3, 1 / 3, 1 / 3];
    expect(stack(s, 1, b, l).map((x) => +x.toFixed(6))).toEqual(b);
    const hot = stack(s, 2, b, l);
    expect(hot[0]).toBeCloseTo(Math.sqrt(0.7) / (Math.sqrt(0.7) + Math.sqrt(0.2) + Math.sqrt(0.1)), 6);
    expect(Ensemble.features(b, [0, 0.5, 0.5])[3]).toBeCloseTo(Math.log(1e-7), 6);
  });
});
