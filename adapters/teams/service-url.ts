/**
 * Where a Teams activity's replies may go. Every activity names its `serviceUrl`, the Bot Framework
 * connector replies and proactive messages are sent to (with the bot's token). The sender chooses it, so
 * Sentinel sends only to the Bot Framework's own hosts; anything else is refused before any outgoing call
 * (no request to an attacker's URL, no SSRF), and a stored conversation with such a URL gets no alert.
 *
 * With authentication (MicrosoftAppId set), `https://` on port 443 and one of these hosts:
 *
 *   smba.trafficmanager.net               Microsoft Teams, public cloud (`/teams/`, `/amer/`, `/emea/`, `/apac/`…)
 *   smba.infra.gcc.teams.microsoft.com    Microsoft Teams, US Government Community Cloud (GCC)
 *   smba.infra.gov.teams.microsoft.us     Microsoft Teams, GCC High
 *   smba.infra.dod.teams.microsoft.us     Microsoft Teams, US Department of Defense
 *   *.botframework.com                    the other Bot Framework channels (Web Chat, Direct Line: "Test in Web Chat")
 *   *.botframework.us, *.botframework.azure.us   the same in the US Government cloud
 *
 * (Microsoft documents these as the Teams service URLs — Bot Connector API reference, "Base URI", and
 * the Agents SDK's TeamsServiceEndpoints — and the Bot Framework's channels live under botframework.com.)
 *
 * Without authentication (the Emulator, which Sentinel only runs on a loopback address), only this
 * machine: `http(s)://127.0.0.1`, `localhost` or `[::1]`, any port.
 */

export const TEAMS_SERVICE_HOSTS: readonly string[] = [
  'smba.trafficmanager.net',
  'smba.infra.gcc.teams.microsoft.com',
  'smba.infra.gov.teams.microsoft.us',
  'smba.infra.dod.teams.microsoft.us',
];

/** Bot Framework channel domains: any host under them. */
export const BOT_FRAMEWORK_DOMAINS: readonly string[] = [
  'botframework.com',
  'botframework.us',
  'botframework.azure.us',
];

const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

export interface ServiceUrlPolicy {
  allows(serviceUrl: unknown): boolean;
  /** What is allowed, for messages. */
  describe(): string;
}

function parse(serviceUrl: unknown): URL | null {
  if (typeof serviceUrl !== 'string' || serviceUrl.length > 2048) return null;
  try {
    const url = new URL(serviceUrl);
    return url.username || url.password ? null : url;
  } catch {
    return null;
  }
}

/** The Bot Framework's hosts (authentication on). */
export function botFrameworkServiceUrls(): ServiceUrlPolicy {
  return {
    allows(serviceUrl) {
      const url = parse(serviceUrl);
      if (!url || url.protocol !== 'https:' || (url.port !== '' && url.port !== '443')) return false;
      const host = url.hostname.toLowerCase();
      return (
        TEAMS_SERVICE_HOSTS.includes(host) ||
        BOT_FRAMEWORK_DOMAINS.some((domain) => host.endsWith(`.${domain}`) && host.length > domain.length + 1)
      );
    },
    describe: () =>
      `https on ${TEAMS_SERVICE_HOSTS.join(', ')} or under ${BOT_FRAMEWORK_DOMAINS.map((d) => `*.${d}`).join(', ')}`,
  };
}

/** This machine only (the Emulator on loopback, authentication off). */
export function loopbackServiceUrls(): ServiceUrlPolicy {
  return {
    allows(serviceUrl) {
      const url = parse(serviceUrl);
      return (
        url !== null &&
        (url.protocol === 'http:' || url.protocol === 'https:') &&
        LOOPBACK_HOSTS.includes(url.hostname.toLowerCase())
      );
    },
    describe: () => `http(s) on ${LOOPBACK_HOSTS.join(', ')} (the Emulator on this machine)`,
  };
}
