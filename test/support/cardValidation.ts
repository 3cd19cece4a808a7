// Validates rendered cards with the official adaptivecards library (parse events and
// validateProperties), plus the rules this project sets for every card.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

interface ValidationEvent {
  message: string;
}

export const MAX_CARD_BYTES = 80 * 1024;

export function validateCard(card: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  parsed.parse(card, context);
  for (let i = 0; i < context.eventCount; i++) problems.push(`parse: ${(context.getEventAt(i) as ValidationEvent).message}`);
  for (const event of parsed.validateProperties().validationEvents as ValidationEvent[]) problems.push(`validate: ${event.message}`);

  if (card.version !== '1.5') problems.push(`version is ${String(card.version)}, expected 1.5`);
  const size = Buffer.byteLength(JSON.stringify(card));
  if (size >= MAX_CARD_BYTES) problems.push(`card is ${size} bytes, limit ${MAX_CARD_BYTES}`);
  if (JSON.stringify(card).includes('${')) problems.push('unexpanded ${} binding left in the rendered card');
  for (const action of collectActions(card)) problems.push(...checkAction(action));
  return problems;
}

function collectActions(node: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(node)) node.forEach((n) => collectActions(n, found));
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.type === 'string' && obj.type.startsWith('Action.')) found.push(obj);
    for (const [key, value] of Object.entries(obj)) if (key !== 'fallback') collectActions(value, found);
  }
  return found;
}

/** Every Action.Execute carries a verb (also in its data) and an Action.Submit fallback. */
function checkAction(action: Record<string, unknown>): string[] {
  if (action.type !== 'Action.Execute') return [];
  const problems: string[] = [];
  const verb = action.verb;
  const data = action.data as Record<string, unknown> | undefined;
  const fallback = action.fallback as Record<string, unknown> | undefined;
  if (typeof verb !== 'string' || !verb) problems.push(`Action.Execute "${String(action.title)}" has no verb`);
  if (data?.verb !== verb) problems.push(`Action.Execute "${String(action.title)}" must repeat its verb in data for the Action.Submit fallback`);
  if (fallback?.type !== 'Action.Submit') problems.push(`Action.Execute "${String(action.title)}" has no Action.Submit fallback`);
  else if ((fallback.data as Record<string, unknown> | undefined)?.verb !== verb) problems.push(`fallback of "${String(action.title)}" carries another verb`);
  return problems;
}
