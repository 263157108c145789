/**
 * Who casts a vote from a chat platform, named by where they came from: `slack:<team id>:<user id>`,
 * `teams:<tenant id>:<Entra object id or channel account id>` (the HTTP API's are `api:<key name>`). A
 * platform's user ids are only unique within it — the same `U0123` can exist in two Slack workspaces —
 * so a raw id would let one workspace's user overwrite another's vote, and a caller of another channel
 * touch them. Both parts come from the platform's verified payload (Slack's signed request, the Bot
 * Framework's authenticated activity), never from text anyone typed; so a vote is only ever changed by the
 * same user's own reaction or button. The feedback core stores the id as given (hashed with a keyed HMAC
 * where it is kept).
 */

/** Slack: the workspace (`T…`; an org-wide install's enterprise `E…` when the payload names no team). */
export function slackVoter(workspaceId: string, userId: string): string {
  return `slack:${workspaceId}:${userId}`;
}

/** Teams: the Microsoft Entra tenant (the Bot Framework Emulator has none: its channel id stands in). */
export function teamsVoter(tenantId: string, userId: string): string {
  return `teams:${tenantId}:${userId}`;
}

/** The Slack workspace a request body (event envelope, slash command, interaction) came from, if it says. */
export function slackWorkspaceOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as {
    team_id?: unknown;
    team?: { id?: unknown } | null;
    user?: { team_id?: unknown } | null;
    enterprise_id?: unknown;
    enterprise?: { id?: unknown } | null;
  };
  for (const id of [b.team_id, b.team?.id, b.user?.team_id, b.enterprise_id, b.enterprise?.id]) {
    if (typeof id === 'string' && /^[TE][A-Z0-9]{1,40}$/.test(id)) return id;
  }
  return undefined;
}
