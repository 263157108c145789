import { readLabelledRows, type Label, type LabelledRow } from '../../src/train/dataset';
import {
  aggregateErrors,
  analyseErrors,
  errorMarkdown,
  kindsOf,
  markdownText,
  shorten,
  textFacts,
  type AnalysedRow,
  type Answer,
} from '../../src/train/error-analysis';

// Real validation tweets (test/fixtures/airline_val_sample.csv), looked up by tweet id.
const sample = new Map<string, LabelledRow>(
  readLabelledRows('test/fixtures/airline_val_sample.csv').map((r) => [r.tweetId!, r]),
);
function row(id: string): LabelledRow {
  const r = sample.get(id);
  if (!r) throw new Error(`tweet ${id} is not in the fixture`);
  return r;
}
const kinds = (id: string) => kindsOf(textFacts(row(id).text), row(id).label);

describe('error kinds: the rules on real tweets', () => {
  it('question: a "?" in the text', () => {
    // "@southwestair - kind of early but any idea when dates … will come available?"
    expect(kinds('567717985092395008')).toContain('question');
    // "@JetBlue Thank you!"
    expect(kinds('567727329783582720')).not.toContain('question');
  });

  it('news or link: a link in the text', () => {
    // "@JetBlue Change in the Air for Travelers, Investors - @BloombergNews http://t.co/…"
    expect(kinds('567950666578030594')).toContain('link');
    expect(kinds('567717985092395008')).not.toContain('link');
  });

  it('sarcasm-like: a praise word in a tweet whose truth is negative', () => {
    // negative: "@JetBlue all taken care of .... Other then the dropped call and the total half hour wait #love #jetblue"
    expect(kinds('568051199565533184')).toContain('sarcasm_like');
    // negative, "glad" … "(not)"
    expect(kinds('568018490331930625')).toContain('sarcasm_like');
    // positive: "@SouthwestAir your employees were great!" — praise, but not in a negative tweet
    expect(row('567791182199197697').label).toBe('positive');
    expect(kinds('567791182199197697')).not.toContain('sarcasm_like');
  });

  it("negation: not, no, never, n't (with or without the apostrophe)", () => {
    // "@united I tried 2 DM it would not go thru... not sure why"
    expect(kinds('567617486703853568')).toContain('negation');
    // "... online complaint form won't work #hopeless"
    expect(kinds('567713896627470336')).toContain('negation');
    // "... never fly this airline ..."
    expect(kinds('567734584000135168')).toContain('negation');
    expect(textFacts('I dont know').negation).toBe(true);
    expect(textFacts('I can’t believe it').negation).toBe(true); // typographic apostrophe
    expect(textFacts('a notable nonstop flight').negation).toBe(false);
    expect(kinds('567791182199197697')).not.toContain('negation');
  });

  it('mixed: AFINN finds a positive and a negative word', () => {
    // "... Had to pay ridiculous price difference. Bad weather good for business"
    expect(kinds('567802752677457920')).toContain('mixed');
    expect(kinds('567791182199197697')).not.toContain('mixed'); // "great" only
  });

  it('no sentiment words: AFINN finds none', () => {
    // "@united Confirmation number: NJV4BP - All I need is email confirmation of flight from NYC - SFO Feb 4"
    expect(kinds('567742141334437888')).toContain('no_sentiment_words');
    expect(kinds('567791182199197697')).not.toContain('no_sentiment_words');
  });

  it('very short: at most 4 words, numbers or emoji (mentions, links, punctuation not counted)', () => {
    expect(kinds('567727329783582720')).toContain('short'); // "@JetBlue Thank you!"
    expect(kinds('567868027376517121')).toContain('short'); // "@JetBlue yep it's for tomorrow."
    expect(textFacts('@JetBlue yep it is for tomorrow').tokens).toBe(5);
    expect(kinds('567742141334437888')).not.toContain('short');
  });

  it('emoji or emoticon', () => {
    // "... I wanna go home 👠👠👠 (3 heel clicks)"
    expect(kinds('567897883875217408')).toContain('emoji');
    // "@SouthwestAir I got it added thank you! :)"
    expect(kinds('567845681768968192')).toContain('emoji');
    expect(kinds('567727329783582720')).not.toContain('emoji');
  });

  it("unknown words: ≥ 2 words (≥ 1/5) not in the model's vocabulary, or unreadable to it", () => {
    const text = row('567742141334437888').text; // the confirmation-number tweet: 15 words
    const vocabulary = new Set(['all', 'i', 'need', 'is', 'email', 'of', 'flight', 'from', 'feb', 'number']);
    const facts = textFacts(text, { knows: (t) => vocabulary.has(t) });
    // confirmation ×2, njv4bp, nyc, sfo: unknown
    expect(facts.words).toBe(15);
    expect(facts.unknownWords).toBe(5);
    expect(kindsOf(facts, 'neutral')).toContain('unknown_words');
    const knowsAlmostAll = textFacts(text, { knows: (t) => t !== 'njv4bp' });
    expect(kindsOf(knowsAlmostAll, 'neutral')).not.toContain('unknown_words');
    const unreadable = textFacts('@united ¿¿', { unreadable: () => 'no words the model knows' });
    expect(kindsOf(unreadable, 'neutral')).toContain('unknown_words');
  });

  it('the class pairs apply by the true label', () => {
    expect(kindsOf(textFacts('hello'), 'neutral')).toEqual(
      expect.arrayContaining(['neutral_negative', 'neutral_positive']),
    );
    expect(kindsOf(textFacts('hello'), 'neutral')).not.toContain('negative_positive');
    expect(kindsOf(textFacts('hello'), 'negative')).toEqual(
      expect.arrayContaining(['neutral_negative', 'negative_positive']),
    );
  });
});

describe('aggregation on a hand-made set', () => {
  // Six rows; `kinds` set by hand. Model A is compared with B (the older model).
  const rows: AnalysedRow[] = [
    { text: 'r0', truth: 'negative', kinds: ['question', 'neutral_negative', 'negative_positive'] },
    { text: 'r1', truth: 'negative', kinds: ['question', 'neutral_negative', 'negative_positive'] },
    { text: 'r2', truth: 'neutral', kinds: ['question', 'neutral_negative', 'neutral_positive'] },
    { text: 'r3', truth: 'positive', kinds: ['neutral_positive', 'negative_positive'] },
    { text: 'r4', truth: 'neutral', kinds: ['neutral_negative', 'neutral_positive'] },
    { text: 'r5', truth: 'negative', kinds: ['neutral_negative', 'negative_positive'] },
  ];
  const a = (label: Label, confidence: number): Answer => ({ label, confidence });
  //             r0                    r1                  r2                  r3                  r4                r5
  const A = [
    a('neutral', 0.9),
    a('negative', 0.8),
    a('negative', 0.7),
    a('negative', 0.95),
    a('neutral', 0.6),
    a('positive', 0.5),
  ];
  const B = [
    a('neutral', 0.8),
    a('positive', 0.9),
    a('neutral', 0.6),
    a('positive', 0.7),
    a('negative', 0.9),
    a('negative', 0.6),
  ];
  const report = aggregateErrors(rows, A, {
    compare: B,
    examples: 2,
    data: 'hand.csv',
    model: { name: 'm', version: 'A' },
    compareModel: { name: 'm', version: 'B' },
  });
  const kind = (id: string) => report.kinds.find((k) => k.id === id)!;

  it('counts rows, errors and the error rate per kind', () => {
    expect(report).toMatchObject({ n: 6, errors: 4, compare_errors: 3, fixed: 2, introduced: 3 });
    // question: r0 (A wrong), r1 (A right), r2 (A wrong)
    expect(kind('question')).toMatchObject({ rows: 3, errors: 2, compare_errors: 2, fixed: 1, introduced: 1 });
    expect(kind('question').error_rate).toBeCloseTo(2 / 3, 12);
    // a kind no row is of
    expect(kind('mixed')).toMatchObject({ rows: 0, errors: 0, error_rate: 0, examples: [] });
  });

  it('counts only the confusion of the pair for the class-pair kinds', () => {
    // neutral↔negative rows: r0 r1 r2 r4 r5. A confuses r0 (neg→neu) and r2 (neu→neg); r5 (neg→pos) is not this kind.
    expect(kind('neutral_negative')).toMatchObject({ rows: 5, errors: 2 });
    expect(kind('neutral_negative').confusions).toEqual({ 'negative → neutral': 1, 'neutral → negative': 1 });
    // B confuses r0 (neg→neu) and r4 (neu→neg): fixed r4, introduced r2.
    expect(kind('neutral_negative')).toMatchObject({ compare_errors: 2, fixed: 1, introduced: 1 });
    // negative↔positive rows: r0 r1 r3 r5. A flips r3 and r5; B flips r1.
    expect(kind('negative_positive')).toMatchObject({ rows: 4, errors: 2, compare_errors: 1, fixed: 1, introduced: 2 });
  });

  it('shows the most confident errors first, with the compared answer', () => {
    const ex = kind('negative_positive').examples;
    expect(ex.map((e) => e.text)).toEqual(['r3', 'r5']);
    expect(ex[0]).toEqual({
      text: 'r3',
      truth: 'positive',
      predicted: 'negative',
      confidence: 0.95,
      compare_predicted: 'positive',
      compare_confidence: 0.7,
    });
  });

  it('prefers examples an earlier kind did not show', () => {
    const custom = [
      { id: 'a', title: 'A', rule: 'a', applies: () => true },
      { id: 'b', title: 'B', rule: 'b', applies: () => true },
    ];
    const two: AnalysedRow[] = [
      { text: 'x0', truth: 'negative', kinds: ['a', 'b'] },
      { text: 'x1', truth: 'negative', kinds: ['b'] },
    ];
    const r = aggregateErrors(two, [a('positive', 0.9), a('neutral', 0.5)], { kinds: custom, examples: 1 });
    expect(r.kinds.map((k) => k.examples.map((e) => e.text))).toEqual([['x0'], ['x1']]);

    // question shows r0 and r2 (A's two errors there); neutral↔negative has only r0 and r2 as errors: repeats them.
    expect(kind('question').examples.map((e) => e.text)).toEqual(['r0', 'r2']);
    expect(kind('neutral_negative').examples.map((e) => e.text)).toEqual(['r0', 'r2']);
    // neutral↔positive: A's only error there is r3 (pos→neg is not this pair) → none.
    expect(kind('neutral_positive').errors).toBe(0);
  });

  it('without a compared model there are no compare fields', () => {
    const alone = aggregateErrors(rows, A);
    expect(alone.compare).toBeUndefined();
    expect(alone.kinds[0].fixed).toBeUndefined();
    expect(alone.kinds[0].examples[0].compare_predicted).toBeUndefined();
  });

  it('refuses answers that do not match the rows', () => {
    expect(() => aggregateErrors(rows, A.slice(1))).toThrow(/5 answers for 6 rows/);
    expect(() => aggregateErrors(rows, A, { compare: B.slice(2) })).toThrow(/4 answers of the compared model/);
  });

  it('writes the markdown section: table, summary and examples', () => {
    const md = errorMarkdown(report);
    expect(md).toMatch(/^## Error analysis\n/);
    expect(md).toContain(
      'On `hand.csv` (6 tweets), A gets 4 wrong (66.7 %); B got 3 wrong (50.0 %): A fixes 2 of them and gets 3 others wrong.',
    );
    expect(md).toContain(
      '| Question | has a "?" (outside links) | 3 | 2 | 66.7 % | negative → neutral (1) | 2 | 66.7 % | 1 | 1 |',
    );
    expect(md).toContain('- "r3" — true positive, read as negative (0.95); B: positive 0.70');
  });
});

describe('analyseErrors on real rows, and the text helpers', () => {
  it('finds the kinds from the text and sorts the errors (an answer that is always "negative")', () => {
    const rows = [...sample.values()].slice(0, 40);
    const report = analyseErrors(
      rows,
      rows.map(() => ({ label: 'negative' as Label, confidence: 0.5 })),
    );
    expect(report.errors).toBe(rows.filter((r) => r.label !== 'negative').length);
    expect(report.kinds.find((k) => k.id === 'negative_positive')!.errors).toBe(
      rows.filter((r) => r.label === 'positive').length,
    );
  });

  it('shortens to ~100 characters at a word, on one line', () => {
    const long = `@united ${'delayed again '.repeat(20)}`;
    const s = shorten(long);
    expect([...s].length).toBeLessThanOrEqual(100);
    expect(s.endsWith('…')).toBe(true);
    expect(shorten('a\nb  c')).toBe('a b c');
  });

  it('escapes markdown in tweets', () => {
    expect(markdownText('#fail *so* bad | <url> _x_')).toBe('\\#fail \\*so\\* bad \\| \\<url\\> \\_x\\_');
  });
});
