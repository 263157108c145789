import { join } from 'node:path';
import { LinearModel, TfidfVectorizer, ngrams, trainBaseline } from '../../src/train/baseline';
import { readLabelledCsv, type LabelledText } from '../../src/train/dataset';
import { argmaxLabel, evaluatePredictions } from '../../src/train/metrics';

const FIXTURES = join(__dirname, '../fixtures');

describe('TF-IDF features', () => {
  it('uses unigrams and bigrams of the normalised tokens', () => {
    expect(ngrams('@united LOVE it')).toEqual([
      '<user>',
      'love',
      '<allcaps>',
      'it',
      '<user> love',
      'love <allcaps>',
      '<allcaps> it',
    ]);
  });

  it('keeps n-grams seen in at least min_df documents, with l2-normalised rows', () => {
    const { vectorizer } = TfidfVectorizer.fit(['good flight', 'good crew', 'bad flight', 'awful'], 2);
    expect([...vectorizer.terms]).toEqual(['flight', 'good']);
    const x = vectorizer.transform(['good good flight', 'nothing known']);
    const row0 = Array.from(x.values.subarray(x.indptr[0], x.indptr[1]));
    expect(row0.reduce((a, v) => a + v * v, 0)).toBeCloseTo(1, 12);
    // sublinear tf: "good" twice weighs 1 + ln 2 times its idf, "flight" once weighs its idf (both df 2)
    expect(row0[1] / row0[0]).toBeCloseTo(1 + Math.log(2), 5);
    expect(x.indptr[2] - x.indptr[1]).toBe(0);
  });
});

describe('trainBaseline on a toy problem', () => {
  const rows: LabelledText[] = [];
  for (let i = 0; i < 20; i++) {
    rows.push(
      { text: `great flight thanks ${i}`, label: 'positive' },
      { text: `awful delay again ${i}`, label: 'negative' },
      { text: `what time is the flight ${i}`, label: 'neutral' },
    );
  }

  it('learns separable data, is deterministic, and honours balanced class weights', () => {
    const a = trainBaseline(rows, { C: 10 });
    const b = trainBaseline(rows, { C: 10 });
    expect(a.predict(['great thanks', 'awful delay', 'what time is it'])).toEqual(['positive', 'negative', 'neutral']);
    expect(a.predictProba(['great thanks'])).toEqual(b.predictProba(['great thanks']));
    // Skewed towards negative: with balanced weights, an uninformative text leans less to the majority class.
    const skewed = [
      ...rows,
      ...Array.from({ length: 60 }, (_, i): LabelledText => ({ text: `awful delay again ${i}`, label: 'negative' })),
    ];
    const plain = trainBaseline(skewed, { C: 10 }).predictProba([''])[0];
    const balanced = trainBaseline(skewed, { C: 10, classWeight: 'balanced' }).predictProba([''])[0];
    expect(balanced[0]).toBeLessThan(plain[0]);
  });

  it('rejects bad options', () => {
    expect(() => trainBaseline(rows, { C: 0 })).toThrow(/C must be a positive number/);
    expect(() => trainBaseline([], {})).toThrow(/no training rows/);
  });
});

describe('baseline on the airline tweets', () => {
  let model: LinearModel;
  let val: LabelledText[];

  beforeAll(() => {
    const train = readLabelledCsv(join(FIXTURES, 'airline_train.csv'));
    val = readLabelledCsv(join(FIXTURES, 'airline_val_sample.csv'));
    model = trainBaseline(train, { C: 2, classWeight: 'balanced' });
  });

  it('beats the majority class by a wide margin on held-out validation tweets', () => {
    const probs = model.predictProba(val.map((r) => r.text));
    const m = evaluatePredictions(
      val.map((r) => r.label),
      probs.map(argmaxLabel),
      probs,
    );
    // Always answering "negative" scores 0.627 accuracy and 0.257 macro-F1 here; the model measures ≈ 0.80 / 0.76.
    expect(m.accuracy).toBeGreaterThan(0.75);
    expect(m.macro_f1).toBeGreaterThan(0.7);
    expect(m.binary_accuracy).toBeGreaterThan(0.9);
    for (const p of probs.slice(0, 50)) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('round-trips through JSON with identical probabilities and stays under 5 MB', () => {
    const json = JSON.stringify(model.toJSON());
    expect(json.length).toBeLessThan(5e6);
    const loaded = LinearModel.fromJSON(JSON.parse(json));
    const texts = val.slice(0, 300).map((r) => r.text);
    texts.push('', '&lt;3 @united thanks!!! 😍', 'never seen words zzqx');
    expect(loaded.predictProba(texts)).toEqual(model.predictProba(texts));
    expect(JSON.stringify(loaded.toJSON())).toBe(json);
  });

  it('refuses a file that is not a baseline model, saying why', () => {
    const good = model.toJSON();
    expect(() => LinearModel.fromJSON(null)).toThrow(/expected a JSON object/);
    expect(() => LinearModel.fromJSON({ ...good, format: 'other' })).toThrow(/format is "other"/);
    expect(() => LinearModel.fromJSON({ ...good, idf: good.idf.slice(1) })).toThrow(/"idf" must be \d+ finite numbers/);
    expect(() => LinearModel.fromJSON({ ...good, coef: good.coef.slice(0, 2) })).toThrow(/"coef" must hold 3 rows/);
  });
});
