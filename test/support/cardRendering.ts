// Renders a card as a Teams-like client does: the official adaptivecards renderer with
// markdown-it as its markdown processor (what web renderers use), in a jsdom document. Made
// stricter than Teams on purpose: raw HTML is allowed and URLs are auto-linked, so text that
// slips through unescaped shows up as elements. Used to prove that what people type is shown
// as text (docs/text-safety.md).
import { JSDOM } from 'jsdom';
import MarkdownIt from 'markdown-it';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js');

const dom = new JSDOM('<!doctype html><html><body></body></html>');
const { window } = dom;
// jsdom has no innerText; the renderer writes plain text (TextRun, unprocessed TextBlock) with it.
Object.defineProperty(window.HTMLElement.prototype, 'innerText', {
  configurable: true,
  get(this: HTMLElement) {
    return this.textContent;
  },
  set(this: HTMLElement, value: string) {
    this.textContent = value;
  },
});

const markdown = new MarkdownIt({ html: true, linkify: true, breaks: true });

/** Elements only markdown (or HTML in text) can produce: none may come from what people type. */
export const FORMATTING_SELECTOR = 'a, strong, b, em, i, del, s, u, code, pre, blockquote, h1, h2, h3, h4, h5, h6, ul, ol, li, img, th, hr, at, mark';

export interface RenderedCard {
  /** The rendered card's root element. */
  root: HTMLElement;
  /** What a reader sees, whitespace collapsed to single spaces. */
  text: string;
  /** Elements made by markdown or HTML: links, emphasis, headings, lists, code, quotes, mentions. */
  formatting: Element[];
}

/** Renders card JSON (as the bot sends it) to DOM with markdown processing on. */
export function renderCard(card: Record<string, unknown>): RenderedCard {
  // The renderer uses the browser globals; they are set for the render only.
  const globals = globalThis as Record<string, unknown>;
  const names = ['window', 'document', 'HTMLElement'] as const;
  const saved = names.map((name) => (Object.prototype.hasOwnProperty.call(globals, name) ? { name, value: globals[name] } : { name }));
  Object.assign(globals, { window, document: window.document, HTMLElement: window.HTMLElement });
  try {
    AC.AdaptiveCard.onProcessMarkdown = (text: string, result: { outputHtml?: string; didProcess: boolean }) => {
      result.outputHtml = markdown.render(text);
      result.didProcess = true;
    };
    const adaptiveCard = new AC.AdaptiveCard();
    adaptiveCard.parse(card, new AC.SerializationContext());
    const root = adaptiveCard.render() as HTMLElement | undefined;
    if (!root) throw new Error('the card rendered to nothing');
    window.document.body.replaceChildren(root);
    return { root, text: (root.textContent ?? '').replace(/\s+/g, ' ').trim(), formatting: Array.from(root.querySelectorAll(FORMATTING_SELECTOR)) };
  } finally {
    for (const entry of saved) {
      if ('value' in entry) globals[entry.name] = entry.value;
      else delete globals[entry.name];
    }
  }
}

/** Collapses whitespace as the rendered text does, to compare typed text with what is shown. */
export function shown(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
