// View models: the data each card template binds to. Pure functions of domain values.
import type { ChatCommand } from './commands';

export interface CommandLine {
  usage: string;
  description: string;
}

export function commandLines(commands: readonly ChatCommand[], isAdmin: boolean): CommandLine[] {
  return commands.filter((c) => isAdmin || !c.adminOnly).map(({ usage, description }) => ({ usage, description }));
}

export function helpCard(commands: readonly ChatCommand[], isAdmin: boolean) {
  const visible = commands.filter((c) => isAdmin || !c.adminOnly);
  return {
    intro: 'Request the access you need, follow your requests, and manage what you have — all from this chat.',
    commands: commandLines(visible, isAdmin),
    buttons: visible.filter((c) => c.buttonVerb).map((c) => ({ title: c.buttonTitle ?? c.name, verb: c.buttonVerb })),
    footer: 'Type a command, or use the buttons below.',
  };
}

/** Echoed user text is cut short so a pasted essay can't blow up the card. */
export function quoteUserText(text: string, max = 80): string {
  const single = text.replace(/\s+/g, ' ').trim();
  return single.length > max ? `${single.slice(0, max - 1)}…` : single;
}

export function unknownCommandCard(text: string, commands: readonly ChatCommand[], isAdmin: boolean, suggestion?: string) {
  return { text: quoteUserText(text), suggestion: suggestion ?? '', commands: commandLines(commands, isAdmin) };
}

export function noticeCard(title: string, message: string, tone: 'info' | 'warning' | 'error' = 'info') {
  return { title, message, tone };
}
