import { statusMessage } from '../../adapters/slack/blocks';
import { statusCard } from '../../adapters/teams/cards';
import type { ChatStatus } from '../../src/chat/status';

const base: ChatStatus = {
  model: { ready: true, name: 'sentinel-bilstm', version: 'v1', backend: 'wasm' },
  streams: [],
  polls: [],
  openAlerts: [],
  accuracy: [],
  trendsAvailable: true,
};

describe('/sentiment status says who leads', () => {
  it('Slack: a follower names the leader and its token', () => {
    const msg = statusMessage({
      ...base,
      leader: { role: 'follower', holder: 'sentinel-00042:1:ab12cd', token: 7, since: '2026-12-02T18:00:00.000Z' },
    });
    expect(JSON.stringify(msg.blocks)).toContain(
      'Leader: sentinel-00042:1:ab12cd (token 7, since 2026-12-02T18:00:00.000Z); this replica follows',
    );
  });

  it('Teams: the leader says it leads; without leadership known, nothing is said', () => {
    const card = statusCard({
      ...base,
      alertConversations: 1,
      leader: { role: 'leader', holder: 'h:1:x', token: 3, since: null },
    });
    expect(JSON.stringify(card)).toContain('Leader: this replica (h:1:x, token 3)');
    expect(JSON.stringify(statusCard({ ...base, alertConversations: 1 }))).not.toContain('Leader:');
  });
});

describe('/sentiment status shows the X reads of the month and the challenger (issue 13)', () => {
  const xReads = { month: '2026-12', reads: 41_200, costUsd: 206, budget: 100_000, share: 0.412, exhausted: false };
  const challenger = {
    challenger: 'v2',
    champions: ['v1'],
    scored: 1204,
    agreement: 0.913,
    judged: 57,
    championCorrect: 46,
    challengerCorrect: 48,
  };

  it('Slack and Teams: the month, its cost, the budget share; the agreement and each one on judged mentions', () => {
    const lines = [
      'X reads in 2026-12: 41,200 posts (≈ $206.00) of 100,000 (41 %)',
      'Challenger v2: agrees with the champion on 91 % of 1,204 mentions; on 57 judged: champion 81 %, challenger 84 %',
    ];
    const slack = JSON.stringify(statusMessage({ ...base, xReads, challenger }).blocks);
    const teams = JSON.stringify(statusCard({ ...base, xReads, challenger, alertConversations: 1 }));
    for (const l of lines) {
      expect(slack).toContain(l);
      expect(teams).toContain(l);
    }
  });

  it('a spent budget says polling slowed; no budget says how to set one; nothing without X or a challenger', () => {
    const spent = { ...xReads, reads: 100_000, costUsd: 500, share: 1, exhausted: true };
    expect(JSON.stringify(statusMessage({ ...base, xReads: spent }).blocks)).toContain(
      'X reads in 2026-12: 100,000 posts (≈ $500.00) of 100,000 (100 %): budget spent, polling slowed',
    );
    expect(
      JSON.stringify(statusMessage({ ...base, xReads: { ...xReads, budget: null, share: null } }).blocks),
    ).toContain('X reads in 2026-12: 41,200 posts (≈ $206.00), no budget set (X_MONTHLY_READ_BUDGET)');
    const none = JSON.stringify(statusMessage(base).blocks);
    expect(none).not.toContain('X reads');
    expect(none).not.toContain('Challenger');
  });
});

describe('/sentiment status counts each stream’s mentions in other languages (issue 14)', () => {
  const stream = {
    stream: 'AirParadis',
    phase: 'ok',
    share: 0.3,
    baseline: 0.35,
    volume: 120,
    at: '2026-12-02T18:00:00.000Z',
    reason: null,
    snoozedUntil: null,
  };
  const otherLanguages = {
    total: 12,
    byLanguage: [
      { language: 'fr', count: 9 },
      { language: 'es', count: 3 },
    ],
  };
  const line = 'last 24 h: 12 mentions in other languages (fr 9, es 3) were not read';

  it('Slack and Teams say it per stream, only when there are any', () => {
    const withSome = { ...base, streams: [{ ...stream, otherLanguages }] };
    expect(JSON.stringify(statusMessage(withSome).blocks)).toContain(line);
    expect(JSON.stringify(statusCard({ ...withSome, alertConversations: 1 }))).toContain(line);
    const none = { ...base, streams: [{ ...stream, otherLanguages: { total: 0, byLanguage: [] } }] };
    expect(JSON.stringify(statusMessage(none).blocks)).not.toContain('other languages');
    expect(JSON.stringify(statusCard({ ...none, alertConversations: 1 }))).not.toContain('other languages');
  });
});
