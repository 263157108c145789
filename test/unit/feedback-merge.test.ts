/**
 * Merging the people's labels into the training split (src/train/dataset.ts, mergeFeedback): a judged
 * text overrides its training label (matched on the same text or the same tweet id), a new text is added,
 * a text of the evaluation split is dropped and counted so evaluation stays clean.
 */
import { mergeFeedback, sameTextKey, type LabelledRow } from '../../src/train/dataset';

const train: LabelledRow[] = [
  { tweetId: '1', text: '@united my bag is lost', label: 'negative' },
  { tweetId: '2', text: '@united great crew today', label: 'positive' },
  { tweetId: '3', text: '@united great crew today', label: 'positive' }, // the data set repeats texts
  { tweetId: '4', text: '@united what time is boarding?', label: 'neutral' },
  { tweetId: '5', text: '@united Late Flightr than ever', label: 'negative' },
];
const val: LabelledRow[] = [
  { tweetId: '90', text: '@delta thanks for nothing', label: 'negative' },
  { tweetId: '91', text: '@delta fine', label: 'neutral' },
];

describe('sameTextKey', () => {
  it('ignores case, spacing, HTML entities and the data set artefact, not handles', () => {
    expect(sameTextKey('  @United  Great\tcrew &amp; TODAY ')).toBe('@united great crew & today');
    expect(sameTextKey('@united Late Flightr than ever')).toBe(sameTextKey('@UNITED later than ever'));
    expect(sameTextKey('@united thanks')).not.toBe(sameTextKey('@delta thanks'));
  });
});

describe('mergeFeedback', () => {
  it('overrides, adds, and drops what the evaluation split holds, with counts', () => {
    const feedback: LabelledRow[] = [
      { tweetId: 'x', text: '@UNITED great crew   today', label: 'neutral' }, // same text as 2 and 3
      { tweetId: '4', text: 'a different text, the same tweet', label: 'negative' }, // same tweet id as 4
      { tweetId: '5', text: '@united later than ever', label: 'negative' }, // same text and label as 5
      { tweetId: 'y', text: '@Delta THANKS for nothing', label: 'positive' }, // in the evaluation split (text)
      { tweetId: '91', text: 'reworded', label: 'positive' }, // in the evaluation split (tweet id)
      { tweetId: 'z', text: 'a brand new text', label: 'negative' },
      { tweetId: 'w', text: 'A brand new text', label: 'positive' }, // the same text again: the later one wins
      { tweetId: 'v', text: '   ', label: 'neutral' },
    ];
    const { rows, counts } = mergeFeedback(train, feedback, val);
    expect(counts).toEqual({
      feedback_rows: 8,
      dropped_eval: 2,
      dropped_duplicates: 1,
      dropped_blank: 1,
      overridden: 3,
      relabelled: 2,
      replaced_train_rows: 4,
      added: 1,
      train_rows_before: 5,
      train_rows_after: 5,
    });
    expect(rows).toEqual([
      { text: '@united my bag is lost', label: 'negative' },
      { text: '@UNITED great crew   today', label: 'neutral' },
      { text: 'a different text, the same tweet', label: 'negative' },
      { text: '@united later than ever', label: 'negative' },
      { text: 'A brand new text', label: 'positive' },
    ]);
    // Nothing of the evaluation split made it into training.
    const valKeys = new Set(val.map((r) => sameTextKey(r.text)));
    expect(rows.filter((r) => valKeys.has(sameTextKey(r.text)))).toEqual([]);
  });

  it('without feedback rows, the training split is unchanged', () => {
    const { rows, counts } = mergeFeedback(train, [], val);
    expect(rows).toEqual(train.map(({ text, label }) => ({ text, label })));
    expect(counts).toMatchObject({ overridden: 0, added: 0, train_rows_after: 5 });
  });
});
