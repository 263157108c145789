import { join } from 'node:path';
import { BiLstmScorer, takeRoundRobin } from '../../src/sentiment/bilstm-scorer';
import { loadScorer } from '../../src/sentiment/load';

describe('takeRoundRobin', () => {
  const a = {};
  const b = {};
  const c = {};
  const item = (call: object, n: number) => ({ call, n });

  it('takes one item per waiting call in turn, in the order the calls queued', () => {
    const queue = [item(a, 1), item(a, 2), item(a, 3), item(a, 4), item(b, 1), item(c, 1), item(c, 2)];
    const taken = takeRoundRobin(queue, 4);
    expect(taken.map((t) => [t.call === a ? 'a' : t.call === b ? 'b' : 'c', t.n])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
      ['a', 2],
    ]);
    expect(queue.map((t) => t.n)).toEqual([3, 4, 2]); // what is left keeps its order
  });

  it('takes everything when it fits', () => {
    const queue = [item(a, 1), item(b, 1)];
    expect(takeRoundRobin(queue, 64)).toHaveLength(2);
    expect(queue).toEqual([]);
  });
});

describe('the scorer shares its passes between calls', () => {
  it('a one-text call queued behind big batches is answered before any of them', async () => {
    const scorer = (await loadScorer(join(__dirname, '../../models/sentinel-bilstm'), {
      maxBatch: 64,
    })) as BiLstmScorer;
    try {
      const texts = Array.from({ length: 256 }, (_, i) => `flight ${i} delayed again, bags lost, no one at the desk`);
      const done: string[] = [];
      const batches = [0, 1, 2, 3].map((i) => scorer.score(texts).then(() => done.push(`batch${i}`)));
      // Queued once the first pass has run: it must wait for one more pass, not for the 1,024 texts.
      await new Promise((r) => setImmediate(r));
      const single = scorer.score(['my flight was cancelled']).then((p) => {
        done.push('single');
        return p;
      });
      await Promise.all([...batches, single]);
      expect(done[0]).toBe('single');
      expect((await single)[0].label).toBe('negative');
    } finally {
      scorer.dispose();
    }
  });
});
