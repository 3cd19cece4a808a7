// The chat commands the bot understands. The help card and the unknown-command card are
// built from this list, so a new command shows up in both by being added here.

// Usage strings avoid angle brackets: Teams renders "<package id>" in a TextBlock as markup
// and shows nothing.
export interface ChatCommand {
  name: string;
  usage: string;
  description: string;
  aliases: string[];
  /** Verb of the card button that does the same, when there is one. */
  buttonVerb?: string;
  buttonTitle?: string;
  adminOnly: boolean;
}

export const CHAT_COMMANDS: readonly ChatCommand[] = [
  {
    name: 'packages',
    usage: 'packages [search words]',
    description: 'Find access packages you can request.',
    aliases: ['browse', 'catalog', 'search', 'find'],
    buttonVerb: 'packages',
    buttonTitle: 'Browse packages',
    adminOnly: false,
  },
  {
    name: 'request',
    usage: 'request package-id',
    description: 'Open a package by its id, including ones shared with you by link.',
    aliases: ['open', 'package'],
    adminOnly: false,
  },
  {
    name: 'my requests',
    usage: 'my requests',
    description: 'Follow your requests, and cancel one that is still waiting.',
    aliases: ['requests', 'status', 'myrequests'],
    buttonVerb: 'myRequests',
    buttonTitle: 'My requests',
    adminOnly: false,
  },
  {
    name: 'my access',
    usage: 'my access',
    description: 'See the access you have, extend it or give it back.',
    aliases: ['access', 'myaccess', 'assignments'],
    buttonVerb: 'myAccess',
    buttonTitle: 'My access',
    adminOnly: false,
  },
  // Admin commands: shown to admins only; everyone else is refused (and the refusal audited).
  {
    name: 'approvals',
    usage: 'approvals [package-id]',
    description: 'Admins: requests waiting for approval, and who holds them.',
    aliases: ['pending', 'pending approvals'],
    adminOnly: true,
  },
  {
    name: 'requests',
    usage: 'requests package-id [state] [page N]',
    description: 'Admins: the requests of a package, optionally of one state (pendingApproval, delivered, denied, ...).',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'assignments',
    usage: 'assignments package-id [active|all|state] [page N]',
    description: 'Admins: who has a package (active by default; or delivered, expired, removed, ...).',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'show',
    usage: 'show request-id or assignment-id',
    description: 'Admins: one request or assignment with its full history.',
    aliases: ['details'],
    adminOnly: true,
  },
  {
    name: 'assign',
    usage: 'assign package-id [policy-id]',
    description: 'Admins: give a user a package directly (approval can be skipped with a justification).',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'remove',
    usage: 'remove assignment-id [reason]',
    description: "Admins: end someone's assignment now (access they had before stays).",
    aliases: ['revoke'],
    adminOnly: true,
  },
  {
    name: 'reprocess',
    usage: 'reprocess assignment-id or request-id',
    description: 'Admins: deliver every resource role again (after fixing a failure).',
    aliases: ['retry'],
    adminOnly: true,
  },
  {
    name: 'cancel',
    usage: 'cancel request-id [reason]',
    description: 'Admins: cancel a request that is waiting for approval or its start.',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'enable',
    usage: 'enable catalog|package|policy id',
    description: 'Admins: turn a catalog, package or policy (package-id/policy-id) back on.',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'disable',
    usage: 'disable catalog|package|policy id',
    description: 'Admins: stop new requests to a catalog, package or policy; existing access stays.',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'apply',
    usage: 'apply catalog',
    description: 'Admins: validate and apply the catalog file the bot was started with.',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'audit',
    usage: 'audit [package id] [user id-or-upn] [from YYYY-MM-DD] [to YYYY-MM-DD]',
    description: 'Admins: the latest audit events, filtered by package, user and time.',
    aliases: ['log'],
    adminOnly: true,
  },
  {
    name: 'export',
    usage: 'export audit [filters] or export assignments package-id [active|all|state]',
    description: 'Admins: a CSV download link (valid for a few minutes).',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'notices',
    usage: 'notices here or notices private',
    description: 'Admins: post admin notices and the digest in this channel, or to each admin 1:1.',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'digest',
    usage: 'digest',
    description: 'Admins: the daily digest now (expiring access, failures, approvals at risk).',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'reconcile',
    usage: 'reconcile',
    description: 'Admins: compare the grant ledger with the directory and list any drift.',
    aliases: [],
    adminOnly: true,
  },
  {
    name: 'help',
    usage: 'help',
    description: 'Show what you can do here.',
    aliases: ['?', 'hi', 'hello', 'start', 'menu'],
    adminOnly: false,
  },
];

export interface ParsedCommand {
  command?: ChatCommand;
  /** The words after the command. */
  args: string[];
  /** The text as typed, trimmed, for messages. */
  text: string;
}

/** Maps typed text (mention already removed) to a command; unknown text gets no command. */
export function parseCommand(rawText: string, commands: readonly ChatCommand[] = CHAT_COMMANDS): ParsedCommand {
  const text = rawText.replace(/\s+/g, ' ').trim();
  const words = text.split(' ');
  // Two-word commands ("my requests") are tried before one-word ones.
  for (const length of [2, 1]) {
    if (words.length < length) continue;
    const phrase = words.slice(0, length).join(' ').toLowerCase().replace(/^\//, '');
    const named = commands.find((c) => c.name === phrase);
    const aliased = commands.find((c) => c.aliases.includes(phrase));
    // A command's own name beats another's alias when words follow: "requests accounting" is the
    // admin list, while a bare "requests" stays the employees' "my requests".
    const command = named && (!aliased || words.length > length) ? named : (aliased ?? named);
    if (command) return { command, args: words.slice(length).filter(Boolean), text };
  }
  return { command: undefined, args: words.slice(1), text };
}

/** The known command closest to a mistyped word (edit distance ≤ 2), for "did you mean". */
export function suggestCommand(rawText: string, commands: readonly ChatCommand[] = CHAT_COMMANDS): string | undefined {
  const words = rawText.trim().toLowerCase().split(/\s+/);
  let best: { name: string; distance: number } | undefined;
  for (const command of commands) {
    const word = words.slice(0, command.name.split(' ').length).join(' ');
    if (word.length < 3) continue;
    const distance = editDistance(word, command.name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: command.name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previousDiagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previousDiagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      previousDiagonal = above;
    }
  }
  return row[b.length]!;
}
