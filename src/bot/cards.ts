import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ACData from 'adaptivecards-templating';
import { type Attachment, CardFactory } from 'botbuilder';
import { visibleText } from '../services/messages';

// Card templates live in cards/ as Adaptive Card JSON with ${} bindings; code supplies data only.
export const CARDS_DIR = path.resolve(__dirname, '..', '..', 'cards');

export type AdaptiveCardJson = Record<string, unknown>;

export class CardRenderer {
  private readonly templates = new Map<string, ACData.Template>();

  constructor(private readonly directory: string = CARDS_DIR) {}

  /**
   * Every string of the data is passed through visibleText() first: whatever element shows it,
   * no card carries bidi overrides or invisible characters (src/services/messages.ts).
   */
  render(name: string, data: object): AdaptiveCardJson {
    return this.template(name).expand({ $root: visibleData(data) }) as AdaptiveCardJson;
  }

  attachment(name: string, data: object): Attachment {
    return CardFactory.adaptiveCard(this.render(name, data));
  }

  private template(name: string): ACData.Template {
    let template = this.templates.get(name);
    if (!template) {
      if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) throw new Error(`invalid card template name: ${name}`);
      const json: unknown = JSON.parse(readFileSync(path.join(this.directory, `${name}.json`), 'utf8'));
      template = new ACData.Template(json);
      this.templates.set(name, template);
    }
    return template;
  }
}

/** A copy of card data with visibleText() applied to every string in it (keys are ours). */
function visibleData(value: unknown): unknown {
  if (typeof value === 'string') return visibleText(value);
  if (Array.isArray(value)) return value.map(visibleData);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visibleData(item)]));
  }
  return value;
}
