import { decodeEntities, normalizeTweet } from '../../src/sentiment/normalize';
import { Vocabulary, OOV } from '../../src/sentiment/vocabulary';

const tokens = (s: string) => normalizeTweet(s).join(' ');

describe('normalizeTweet', () => {
  it('decodes HTML entities before anything else', () => {
    expect(decodeEntities('A &amp; B &lt;3 &gt; &#39;x&#39; &#x1F600; &bogus;')).toBe("A & B <3 > 'x' 😀 &bogus;");
    expect(tokens('love it &lt;3')).toBe('love it <heart>');
  });

  it('replaces URLs, mentions and numbers by markers, keeps hashtag words', () => {
    expect(tokens('@united see https://t.co/abc and www.example.com #fail')).toBe('<user> see <url> and <url> fail');
    expect(tokens('gate 22 at 3:30pm, paid $200 for 2nd bag')).toBe('gate <num> at <num> paid <num> for <num> bag');
  });

  it('undoes the data set\'s "Late Flight" / "Cancelled Flightled" artefact', () => {
    expect(tokens('Cancelled Flightled again, and Late Flight')).toBe('cancelled again and late');
    expect(tokens('Cancelled Flighted, Cancelled Flightlations, Late Flightr, reLate Flightd')).toBe(
      'canceled cancellations later related',
    );
    expect(tokens('my late flight')).toBe('my late flight'); // people's own words are left alone
  });

  it('keeps emoticons and emoji as tokens', () => {
    expect(tokens('thanks :) :-( :D ;) :P :/ </3')).toBe(
      'thanks <smile> <sadface> <lolface> <wink> <tongue> <neutralface> <brokenheart>',
    );
    expect(tokens('great 😍😍 👍🏽')).toBe('great 😍 😍 👍🏽');
  });

  it('shortens elongated words and marks shouting, lower-cases the rest', () => {
    expect(tokens('Sooooo BAD')).toBe('soo <elong> bad <allcaps>');
    expect(tokens('I am OK')).toBe('i am ok <allcaps>');
  });

  it('keeps ! and ? (once), apostrophes inside words, drops other punctuation', () => {
    expect(tokens("don't... why?!?! 'quoted'")).toBe("don't why ? ! ? ! quoted");
  });

  it('returns no tokens for blank text', () => {
    expect(normalizeTweet('   ')).toEqual([]);
  });
});

describe('Vocabulary', () => {
  const docs = [
    ['a', 'b', 'b', 'c'],
    ['b', 'c', 'd'],
  ];

  it('numbers the most frequent tokens first after padding (0) and unknown (1), deterministically', () => {
    const v = Vocabulary.build(docs, { maxSize: 10, minCount: 2, maxLength: 3 });
    expect(v.id('b')).toBe(2);
    expect(v.id('c')).toBe(3);
    expect(v.id('a')).toBe(OOV); // below minCount
    expect(v.size).toBe(4);
    expect(v.encode(['b', 'zz', 'c', 'b', 'c'])).toEqual([2, 1, 3]); // cut to maxLength, keeping the start
  });

  it('round-trips through JSON', () => {
    const v = Vocabulary.build(docs, { maxSize: 10, minCount: 1, maxLength: 5 });
    const back = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
    expect(back.encode(['d', 'a', 'b'])).toEqual(v.encode(['d', 'a', 'b']));
    expect(back.maxLength).toBe(5);
  });

  it('rejects a malformed file with the field at fault', () => {
    expect(() => Vocabulary.fromJSON({ format: 'sentinel-vocab-v1', tokenizer: 'tweet', maxLength: -1 })).toThrow(
      /maxLength/,
    );
  });
});
