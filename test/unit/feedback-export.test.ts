/**
 * Judged predictions → training rows (src/feedback/export.ts): the people's label by majority (ties and
 * undecided ❌ majorities dropped and counted), texts gone by retention dropped and counted, never a voter id,
 * and a CSV the training code reads back exactly.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { EXPORT_COLUMNS, exportJudgments, toCsv, type ExportRow } from '../../src/feedback/export';
import { peopleLabel } from '../../src/feedback/people-label';
import type { Judgment, JudgmentVote, StoredPrediction } from '../../src/store/types';
import { readLabelledCsv, readLabelledRows } from '../../src/train/dataset';

const P = { negative: 0.8, neutral: 0.15, positive: 0.05 };

function prediction(id: string, text: string, over: Partial<StoredPrediction> = {}): StoredPrediction {
  return {
    id,
    kind: 'mention',
    text,
    label: 'negative',
    probabilities: P,
    modelVersion: 'v1',
    createdAt: '2026-11-30T10:00:00.000Z',
    ...over,
  };
}

const yes = (at = '2026-11-30T11:00:00.000Z'): JudgmentVote => ({ correct: true, votedAt: at });
const no = (trueLabel?: JudgmentVote['trueLabel'], at = '2026-11-30T12:00:00.000Z'): JudgmentVote => ({
  correct: false,
  ...(trueLabel ? { trueLabel } : {}),
  votedAt: at,
});

function judged(p: StoredPrediction, votes: JudgmentVote[]): Judgment {
  return {
    prediction: p,
    votes,
    lastVotedAt: votes
      .map((v) => v.votedAt)
      .sort()
      .at(-1)!,
  };
}

describe("the people's label", () => {
  it.each([
    ['two ✅ against one ❌', [yes(), yes(), no('neutral')], { label: 'negative' }],
    ['one ✅', [yes()], { label: 'negative' }],
    ['❌ naming neutral twice against one ✅', [no('neutral'), no('neutral'), yes()], { label: 'neutral' }],
    ['one ❌ naming positive', [no('positive')], { label: 'positive' }],
    ['a ❌ naming neutral and one naming none, against one ✅', [no('neutral'), no(), yes()], { label: 'neutral' }],
    ['one ✅, one ❌: a tie', [yes(), no('neutral')], { undecided: 'tie' }],
    ['one ✅, one ❌ naming nothing: a tie', [yes(), no()], { undecided: 'tie' }],
    ['❌ win but name neutral and positive once each', [no('neutral'), no('positive'), yes()], { undecided: 'tie' }],
    ['❌ win but name no label', [no(), no(), yes()], { undecided: 'no_label_named' }],
  ])('%s', (_what, votes, expected) => {
    expect(peopleLabel('negative', votes)).toEqual(expected);
  });
});

describe('exportJudgments', () => {
  const judgments: Judgment[] = [
    judged(prediction('x:569587140490866689', '@AirParadis lost my bag'), [yes(), yes('2026-11-30T10:30:00.000Z')]),
    judged(
      prediction('2b1c3f7e-aaaa-4bbb-8ccc-123456789abc', 'is this negative?', { kind: 'command', label: 'positive' }),
      [no('neutral')],
    ),
    judged(prediction('x:2', 'a tie', { createdAt: '2026-11-29T00:00:00.000Z' }), [yes(), no('neutral')]),
    judged(prediction('x:3', '', { kind: 'mention' }), [yes()]), // blanked by retention
    judged(prediction('api-1', '   ', { kind: 'api' }), [no('positive')]), // /predict with keep_text false
    judged(prediction('x:4', 'nobody said what', { createdAt: '2026-11-29T01:00:00.000Z' }), [no(), no()]),
  ];

  it('writes a row per decided prediction with its text (oldest first), and counts what it drops and why', () => {
    const r = exportJudgments(judgments);
    expect(r).toMatchObject({ judged: 6, droppedTies: 2, droppedNoLabelNamed: 1, droppedNoText: 2 });
    expect(r.rows).toEqual<ExportRow[]>([
      {
        tweet_id: '2b1c3f7e-aaaa-4bbb-8ccc-123456789abc',
        label: 'neutral',
        airline: '',
        created_at: '2026-11-30T10:00:00.000Z',
        text: 'is this negative?',
        model_label: 'positive',
        model_version: 'v1',
        votes_correct: '0',
        votes_wrong: '1',
        first_voted_at: '2026-11-30T12:00:00.000Z',
        last_voted_at: '2026-11-30T12:00:00.000Z',
        kind: 'command',
      },
      {
        tweet_id: '569587140490866689',
        label: 'negative',
        airline: '',
        created_at: '2026-11-30T10:00:00.000Z',
        text: '@AirParadis lost my bag',
        model_label: 'negative',
        model_version: 'v1',
        votes_correct: '2',
        votes_wrong: '0',
        first_voted_at: '2026-11-30T10:30:00.000Z',
        last_voted_at: '2026-11-30T11:00:00.000Z',
        kind: 'mention',
      },
    ]);
  });

  it('never writes a voter id, even one a store would wrongly hand over', () => {
    const leaky = judgments.map((j) => ({
      ...j,
      votes: j.votes.map((v, i) => ({ ...v, userId: `h1:${'A'.repeat(42)}${i}`, rawId: 'slack:T123:U456' })),
    })) as unknown as Judgment[];
    const csv = toCsv(exportJudgments(leaky).rows);
    expect(csv).not.toMatch(/h1:|slack:|U456|T123/);
    expect(csv.split('\n')[0]).toBe(EXPORT_COLUMNS.join(','));
  });
});

describe('the CSV', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'sentinel-export-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back exactly through the training reader: commas, quotes, line breaks, edge spaces, emoji', () => {
    const texts = [
      '@AirParadis "worst" flight, ever',
      'line one\nline two\r\nline three',
      '  leading and trailing spaces  ',
      'plain',
      '✈️ late again 😡, thanks @AirParadis',
      '=1+1 looks like a formula',
      '',
    ];
    const r = exportJudgments(texts.map((t, i) => judged(prediction(`x:${100 + i}`, t), [no('neutral')])));
    const path = join(dir, 'feedback.csv');
    writeFileSync(path, toCsv(r.rows));

    expect(readLabelledCsv(path)).toEqual(texts.slice(0, -1).map((text) => ({ text, label: 'neutral' })));
    expect(readLabelledRows(path).map((x) => x.tweetId)).toEqual(['100', '101', '102', '103', '104', '105']);
    const records: Record<string, string>[] = parse(readFileSync(path), { columns: true });
    expect(records).toEqual(r.rows);
    expect(r.droppedNoText).toBe(1);
  });
});
