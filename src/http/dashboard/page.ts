/** The dashboard's HTML: a shell the front end (./client) fills, and the page shown instead when access is refused. */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function shell(title: string, body: string, withApp: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/dashboard/assets/app.css">
${withApp ? '<script defer src="/dashboard/assets/app.js"></script>' : ''}
</head>
<body>
${body}
</body>
</html>
`;
}

export function dashboardPage(): string {
  return shell(
    'Sentinel dashboard',
    `<div id="app" data-state="loading"><p class="muted">Loading…</p></div>
<noscript>The dashboard needs JavaScript.</noscript>`,
    true,
  );
}

export function accessPage(title: string, message: string): string {
  return shell(
    `Sentinel dashboard: ${title}`,
    `<main class="notice"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main>`,
    false,
  );
}
