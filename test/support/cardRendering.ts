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
markdown.linkify.set({ fuzzyLink: true, fuzzyEmail: true });

/** What the renderer reaches for as globals: the window, its document, element classes, events. */
const BROWSER_GLOBALS = ['window', 'document', 'Node', 'Element', 'Event', 'CustomEvent', 'KeyboardEvent', 'MouseEvent', ...Object.getOwnPropertyNames(window).filter((name) => /^HTML\w*Element$/.test(name))];

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
  const saved = BROWSER_GLOBALS.map((name) => (Object.prototype.hasOwnProperty.call(globals, name) ? { name, value: globals[name] } : { name }));
  for (const name of BROWSER_GLOBALS) globals[name] = name === 'window' ? window : (window as unknown as Record<string, unknown>)[name];
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

// What a hostile user types (a justification, an answer, a display name, a reason). Every
// construct carries "EVIL" or "evil", so anything rendered from it as markup is found.
export const HOSTILE_PIECES = [
  '[Approve here](https://evil.example/approve)',
  '**Manager pre-approval:** ✅ granted by the CISO EVIL',
  '__EVIL strong__',
  '*EVIL em*',
  '_EVIL em2_',
  '~~EVIL del~~',
  '`EVIL code`',
  '<at>EVIL mention</at>',
  '<b>EVIL bold</b>',
  '<a href="https://evil.example/a">EVIL anchor</a>',
  '<img src="https://evil.example/x.png">',
  '![EVIL image](https://evil.example/i.png)',
  '<https://evil.example/autolink>',
  'https://evil.example/bare',
  'www.evil-site.com',
  'evil-site.com/path',
  'EVIL@evil-mail.com',
  '&lt;b&gt;EVIL entity&lt;/b&gt; &#42;EVIL&#42;',
  '| EVIL | table |',
  '{{DATE(2030-01-01T00:00:00Z, LONG)}}',
];
export const HOSTILE_LINES = ['# EVIL heading', '- EVIL item', '+ EVIL item2', '* EVIL item3', '1. EVIL numbered', '2) EVIL numbered2', '> EVIL quote', '    EVIL indented code', '```', 'EVIL fenced', '```', '---', 'EVIL setext', '==='];
/** Bidi controls and invisible characters: "\u202Etxt.exe" reads as "exe.txt" where they work. */
export const INVISIBLES = '\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061C\u200B\u2060\uFEFF\u00AD\u180E\u{E0041}';
/** One line: every inline construct, with bidi overrides in the middle. */
export const HOSTILE_TEXT = `\u202EEVIL-txt.exe\u202C ${HOSTILE_PIECES.join(' ')} ${INVISIBLES}`;
/** Several lines: block constructs at line starts, then the inline ones. */
export const HOSTILE_BLOCK = `${HOSTILE_LINES.join('\n')}\r\n${HOSTILE_PIECES.join('\n')}\u2028${INVISIBLES}`;

const BIDI_OR_INVISIBLE = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C\u200B\uFEFF\u00AD\u180E]|\uDB40[\uDC00-\uDC7F]|\u2060(?!\{(?:DATE|TIME)\()/;

/**
 * Why the rendered card does not show `typed` as plain text: markup made from it (any link,
 * emphasis, heading, list, code, quote, image or mention carrying "evil"), bidi or invisible
 * characters, or the typed characters not all visible (compared on one line, after
 * `expectedVisible`, which says what the card is meant to show of it). [] when all is well.
 */
export function textProblems(rendered: RenderedCard, typed: string[]): string[] {
  const problems: string[] = [];
  for (const element of rendered.formatting) {
    const source = `${element.textContent ?? ''} ${element.getAttribute('href') ?? ''} ${element.getAttribute('src') ?? ''}`;
    if (/evil|approve here|manager pre-approval/i.test(source)) problems.push(`<${element.tagName.toLowerCase()}> made from typed text: ${element.outerHTML.slice(0, 160)}`);
  }
  if (rendered.root.querySelector('[href*="evil"], [src*="evil"]')) problems.push('a link or image points at evil.example');
  const raw = rendered.root.textContent ?? '';
  if (BIDI_OR_INVISIBLE.test(raw)) problems.push(`bidi or invisible character shown: U+${raw.match(BIDI_OR_INVISIBLE)![0].codePointAt(0)!.toString(16).toUpperCase()}`);
  for (const text of typed) {
    const visible = shown(expectedVisible(text));
    if (!rendered.text.includes(visible)) problems.push(`not shown as typed: ${JSON.stringify(visible.slice(0, 120))}`);
  }
  return problems;
}

/** What of typed text a card shows: everything but bidi and invisible characters. */
export function expectedVisible(text: string): string {
  return text.replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C\u200B\u2060\uFEFF\u00AD\u180E]|\uDB40[\uDC00-\uDC7F]/g, '').replace(/\{\{(?=(?:DATE|TIME)\()/g, '{\u2060{');
}
