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
