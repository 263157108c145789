import { BucketSeries } from '../../src/trends/buckets';
import { duration, whyNow } from '../../src/trends/content';
import { evaluate, evaluateScan } from '../../src/trends/detector';
import { mentionEstimate, mentionEstimator } from '../../src/trends/prevalence';
import { riseShare, shareEvidence, usualVolumeBySlot, volumeEvidence } from '../../src/trends/scan';
import { DEFAULT_TREND_SETTINGS, longestWindowMinutes, withSettings } from '../../src/trends/settings';
import { measureConfusionRates, ratesFromManifest } from '../../src/sentiment/confusion-rates';
import {
  DAY,
  bootstrapStream,
  dayStart,
  injectEpisode,
  ordinaryDays,
  quantiles,
  rng,
  shareDispersion,
  splitDays,
  type EvalTweet,
} from '../../src/train/storm-injection';

const H = 3_600_000;
const T0 = Date.UTC(2015, 1, 16, 8); // midnight Pacific
// The scan as measured in docs/alerts.md (off by default).
const S = { ...DEFAULT_TREND_SETTINGS, scanMinutes: 720, prevalence: 'pcc' as const, dispersion: 1.2 };

/** `perHour` mentions an hour for `hours` from `start`, a fraction `share` of them negative (evenly spread). */
function fill(series: BucketSeries, start: number, hours: number, perHour: number, share: number): void {
  for (let h = 0; h < hours; h++)
    for (let i = 0; i < perHour; i++) {
      const negative = (i * share) % 1 >= 1 - share - 1e-9;
      series.add(start + h * H + (i * H) / perHour, negative);
    }
}

describe('the scan: evidence per window', () => {
  it('the share evidence is the quasi-binomial log-likelihood ratio, positive for a rise, negative for none', () => {
    const p1 = riseShare(0.4, 2);
    expect(p1).toBeCloseTo(0.5714, 3);
    // 30 negatives of 40 against 40 % normally, φ = 1: by hand.
    const llr = 30 * Math.log(p1 / 0.4) + 10 * Math.log((1 - p1) / 0.6);
    expect(shareEvidence(30, 40, 0.4, p1, 1)).toBeCloseTo(llr, 9);
    expect(shareEvidence(30, 40, 0.4, p1, 2)).toBeCloseTo(llr / 2, 9);
    expect(shareEvidence(16, 40, 0.4, p1, 1)).toBeLessThan(0);
  });

  it('the volume evidence counts only a surge above the usual', () => {
    expect(volumeEvidence(40, 20, 2, 1)).toBeCloseTo(40 * Math.log(2) - 20, 9);
    expect(volumeEvidence(20, 20, 2, 1)).toBe(0);
    expect(volumeEvidence(40, 20, 1, 1)).toBe(0); // ratio ≤ 1: volume unused
  });

  it('the usual volume follows the time of day, from whole days of history', () => {
    const series = new BucketSeries(15 * 60_000);
    for (let d = 0; d < 3; d++) {
      fill(series, T0 + d * DAY, 12, 4, 0.4); // quiet night…
      fill(series, T0 + d * DAY + 12 * H, 12, 40, 0.4); // …busy day
    }
    const usual = usualVolumeBySlot(series, T0, T0 + 3 * DAY, [])!;
    expect(usual).toHaveLength(96);
    const slot = (t: number) => Math.floor((t % DAY) / (15 * 60_000));
    expect(usual[slot(T0 + 3 * H)]).toBeCloseTo(1, 5); // 4 an hour = 1 a bucket
    expect(usual[slot(T0 + 18 * H)]).toBeCloseTo(10, 5);
    expect(usualVolumeBySlot(series, T0, T0 + 20 * H, [])).toBeNull(); // less than a day
  });
});

describe('the scan in the detector', () => {
  const history = () => {
    const series = new BucketSeries(15 * 60_000);
    fill(series, T0, 72, 20, 0.4);
    return series;
  };

  it('opens on a sharp rise within the half hour, where the fixed windows still wait', () => {
    const series = history();
    fill(series, T0 + 72 * H, 1, 40, 0.9); // 18 of the first half hour's 20 mentions negative, against 40 %
    const at = T0 + 72.5 * H;
    const s = { ...S, scanThreshold: 5 };
    const ev = evaluate(series, at, s);
    expect(ev.status).toBe('elevated');
    expect(ev.windowMinutes).toBe(30);
    expect(ev.total).toBe(20);
    expect(ev.negative).toBe(18);
    expect(ev.evidence!.statistic).toBeGreaterThanOrEqual(5);
    expect(ev.reason).toMatch(/over the last 30 min \(evidence \d+\.\d ≥ 5\)/);
    // The same data with the scan off: the 3 h window (60 % of 50) is not significant at p < 0.001 yet.
    expect(evaluate(series, at, { ...s, scanMinutes: 0 }).status).not.toBe('elevated');
    // …and the scan with too high a threshold waits too.
    expect(evaluate(series, at, { ...s, scanThreshold: 20 }).status).not.toBe('elevated');
  });

  it('stays quiet on an ordinary day, and a surge in volume alone never opens', () => {
    const series = history();
    fill(series, T0 + 72 * H, 3, 20, 0.4);
    expect(evaluate(series, T0 + 75 * H, S).status).toBe('normal');
    const busy = history();
    fill(busy, T0 + 72 * H, 3, 120, 0.4); // six times the volume, the usual share
    const ev = evaluateScan(busy, T0 + 75 * H, S)!;
    expect(ev.status).toBe('normal');
    expect(ev.evidence!.volume).toBe(0); // the share evidence is too weak for the volume to count
  });

  it('says when the volume helped: a moderate rise on a surge', () => {
    const series = history();
    fill(series, T0 + 72 * H, 2, 60, 0.6);
    const ev = evaluateScan(series, T0 + 74 * H, { ...S, scanThreshold: 5 })!;
    expect(ev.evidence!.signal).toBe('share and volume');
    // What the alert says: why now, how sure.
    const why = whyNow({ ...ev, windows: [ev] });
    expect(why.now).toBe(
      `the share and the volume: ${Math.round(ev.share * 100)} % negative over the last ${duration(ev.windowMinutes)} against 40 % normally, on ${ev.total} mentions where about ${Math.round(ev.evidence!.usualVolume!)} are usual at these hours`,
    );
    expect(why.sure).toMatch(
      /^evidence \d+\.\d for a threshold of 5: these mentions are (\d{1,3}(,\d{3})*|\de\+\d+) times likelier under a rise to 57 % than under normal$/,
    );
    expect(ev.evidence!.volume).toBeGreaterThan(0);
    expect(ev.evidence!.usualVolume).toBeCloseTo(40, 0);
  });

  it('never reaches back into an alert already resolved: a told storm is no evidence for a new one', () => {
    const series = history();
    fill(series, T0 + 72 * H, 4, 40, 0.9);
    fill(series, T0 + 76 * H, 4, 20, 0.4);
    const at = T0 + 80 * H;
    expect(evaluateScan(series, at, S)!.status).toBe('elevated'); // the spike is still in its 12 h
    const told = [{ from: T0 + 71 * H, to: T0 + 77 * H }];
    const ev = evaluateScan(series, at, S, told)!;
    expect(ev.windowStart).toBeGreaterThanOrEqual(T0 + 77 * H);
    expect(ev.status).toBe('normal');
  });

  it('knows nothing before the history (24 h and 150 mentions before its longest window)', () => {
    const series = new BucketSeries(15 * 60_000);
    fill(series, T0, 30, 20, 0.4);
    expect(evaluateScan(series, T0 + 30 * H, S)).toBeNull(); // 30 h − 12 h = 18 h of history
  });

  it('withSettings reads --set pairs, the prevalence method included, and refuses nonsense', () => {
    expect(withSettings(S, ['scanThreshold=6', 'prevalence=pacc'])).toMatchObject({
      scanThreshold: 6,
      prevalence: 'pacc',
    });
    expect(() => withSettings(S, ['prevalence=guess'])).toThrow(/prevalence is one of cc, acc, pcc, pacc/);
    expect(() => withSettings(S, ['scanMinutes=100'])).toThrow(/whole number of buckets/);
    expect(() => withSettings(S, ['scanOddsRatio=1'])).toThrow(/must be above 1/);
    expect(() => withSettings(S, ['nope=1'])).toThrow(/expected key=value/);
  });
});

describe('prevalence estimates', () => {
  const rates = measureConfusionRates(
    [
      ...Array.from({ length: 90 }, () => ({ pNegative: 0.9, labelledNegative: true, negative: true })),
      ...Array.from({ length: 10 }, () => ({ pNegative: 0.3, labelledNegative: false, negative: true })),
      ...Array.from({ length: 20 }, () => ({ pNegative: 0.6, labelledNegative: true, negative: false })),
      ...Array.from({ length: 80 }, () => ({ pNegative: 0.1, labelledNegative: false, negative: false })),
    ],
    'constructed',
  );

  it('measures the rates, and a manifest with malformed ones is refused naming the field', () => {
    expect(rates).toMatchObject({ tpr: 0.9, fpr: 0.2, meanOnNegative: 0.84, meanOnOther: 0.2, n: 200 });
    expect(ratesFromManifest({ prevalence: rates }, 'm')).toEqual(rates);
    expect(ratesFromManifest({}, 'm')).toBeUndefined();
    expect(() => ratesFromManifest({ prevalence: { ...rates, fpr: 1.5 } }, 'models/x')).toThrow(
      /^models\/x: metrics.prevalence is malformed: fpr: /,
    );
  });

  it('the longest span judged covers the scan too (what a restart reads back)', () => {
    expect(longestWindowMinutes({ ...S, longWindowMinutes: 0 })).toBe(720);
    expect(longestWindowMinutes({ ...S, scanMinutes: 0 })).toBe(720);
    expect(longestWindowMinutes({ ...S, longWindowMinutes: 0, scanMinutes: 0 })).toBe(180);
    expect(() => withSettings(S, ['baselineLookbackHours=10', 'longWindowMinutes=0', 'minHistoryHours=6'])).toThrow(
      /look-back \(10 h\) must be longer than the windows and the scan/,
    );
  });

  it('adjusted counts recover the true share that a plain count compresses', () => {
    // 50 % truly negative: a count reads 0.5·0.9 + 0.5·0.2 = 55 %; the adjusted count reads 50 %.
    const rows = [
      ...Array.from({ length: 45 }, () => true),
      ...Array.from({ length: 5 }, () => false),
      ...Array.from({ length: 10 }, () => true),
      ...Array.from({ length: 40 }, () => false),
    ];
    const mean = (f: (labelled: boolean) => number) => rows.reduce((s, l) => s + f(l), 0) / rows.length;
    expect(mean((l) => mentionEstimate('cc', 0, l))).toBeCloseTo(0.55, 9);
    expect(mean((l) => mentionEstimate('acc', 0, l, rates))).toBeCloseTo(0.5, 9);
    expect(mentionEstimate('pcc', 0.7, true)).toBe(0.7);
    expect(mentionEstimate('pacc', 0.84, true, rates)).toBeCloseTo(1, 9);
    expect(mentionEstimate('pacc', 0.2, false, rates)).toBeCloseTo(0, 9);
    expect(() => mentionEstimate('acc', 0, true)).toThrow(/needs the model's confusion rates/);
  });

  it('a model without rates is estimated unadjusted, and that is said once per version', () => {
    const told: string[] = [];
    const estimate = mentionEstimator(
      'pacc',
      () => ({ version: 'v1' }),
      (v, used) => told.push(`${v}:${used}`),
    );
    const m = { prediction: { probabilities: { negative: 0.7 } } };
    expect(estimate(m, true)).toBe(0.7);
    expect(estimate(m, true)).toBe(0.7);
    expect(told).toEqual(['v1:pcc']);
  });
});

describe('storm injection', () => {
  const tweet = (stream: string, time: number, i: number, label: EvalTweet['label'] = 'neutral'): EvalTweet => ({
    id: `${stream}-${time}-${i}`,
    stream,
    time,
    label,
    negative: label === 'negative',
    pNegative: label === 'negative' ? 0.9 : 0.1,
  });
  const days = (stream: string, n: number, perDay = 48) =>
    Array.from({ length: n * perDay }, (_, i) =>
      tweet(
        stream,
        T0 + Math.floor(i / perDay) * DAY + ((i % perDay) * DAY) / perDay + 1000,
        i,
        i % 3 ? 'neutral' : 'negative',
      ),
    );

  it('ordinary days: whole, busy enough, untouched by an alert; split alternately', () => {
    const tweets = [...days('A', 5), ...days('B', 5, 10)];
    const ordinary = ordinaryDays(tweets, [{ stream: 'A', from: T0 + 2 * DAY + 5 * H, to: T0 + 2 * DAY + 9 * H }]);
    // A: 5 days seen, the first and the last are the data's edges, day 2 has the alert; B is too quiet.
    expect(ordinary.map((d) => [d.stream, (d.start - T0) / DAY])).toEqual([
      ['A', 1],
      ['A', 3],
    ]);
    expect(dayStart(T0 + 5 * H)).toBe(T0);
    const { tuning, report } = splitDays(ordinary);
    expect(tuning.map((d) => (d.start - T0) / DAY)).toEqual([1]);
    expect(report.map((d) => (d.start - T0) / DAY)).toEqual([3]);
  });

  it('bootstrap fortnights and injected episodes are reproducible and land where they should', () => {
    const ordinary = ordinaryDays(days('A', 6), []);
    const b1 = bootstrapStream(ordinary, 14, rng(7), T0 + 100 * DAY);
    const b2 = bootstrapStream(ordinary, 14, rng(7), T0 + 100 * DAY);
    expect(b1.tweets.map((t) => t.time)).toEqual(b2.tweets.map((t) => t.time));
    expect(b1.dayStarts).toHaveLength(14);
    expect(b1.tweets).toHaveLength(14 * 48);
    expect(Math.min(...b1.tweets.map((t) => t.time))).toBeGreaterThanOrEqual(T0 + 100 * DAY);
    const pool = days('A', 1).filter((t) => t.label === 'negative');
    const ep = { start: T0 + 105 * DAY + 3 * H, end: T0 + 105 * DAY + 18 * H, size: 60 };
    const added = injectEpisode(pool, ep, rng(3));
    expect(added).toHaveLength(60);
    expect(added.every((t) => t.time >= ep.start && t.time < ep.end && t.label === 'negative')).toBe(true);
  });

  it('the dispersion of a count is about 1 on binomial data, and an adjusted estimate scatters more', () => {
    const random = rng(2);
    const tweets: EvalTweet[] = [];
    for (let i = 0; i < 6 * 24 * 30; i++) {
      const negative = random() < 0.4;
      tweets.push(tweet('A', T0 + (i * DAY) / (24 * 30) + 1, i, negative ? 'negative' : 'neutral'));
    }
    const ordinary = ordinaryDays(tweets, []);
    const count = shareDispersion(ordinary, (t) => (t.negative ? 1 : 0));
    expect(count).toBeGreaterThan(0.7);
    expect(count).toBeLessThan(1.3);
    // Adjusting by a gain of 0.5 scales the scatter by about 1 / 0.5² (the stream's mean moves a little too).
    const adjusted = shareDispersion(ordinary, (t) => ((t.negative ? 1 : 0) - 0.2) / 0.5);
    expect(adjusted / count).toBeGreaterThan(3.8);
    expect(adjusted / count).toBeLessThan(4.2);
  });

  it('quantiles: median and 90th percentile by nearest rank', () => {
    expect(quantiles([])).toEqual({ median: null, p90: null });
    expect(quantiles([5, 1, 3, 2, 4, 6, 7, 8, 9, 10])).toEqual({ median: 5.5, p90: 9 });
  });
});
