import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ACData from 'adaptivecards-templating';
import { type Attachment, CardFactory } from 'botbuilder';

// Card templates live in cards/ as Adaptive Card JSON with ${} bindings; code supplies data only.
export const CARDS_DIR = path.resolve(__dirname, '..', '..', 'cards');

export type AdaptiveCardJson = Record<string, unknown>;

export class CardRenderer {
  private readonly templates = new Map<string, ACData.Template>();

  constructor(private readonly directory: string = CARDS_DIR) {}

  render(name: string, data: object): AdaptiveCardJson {
    return this.template(name).expand({ $root: data }) as AdaptiveCardJson;
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
