// Presentation helpers shared by the services' card data and the bot's view models: the notice
// card, and how text people typed (or the directory holds) is made safe to show to others.
//
// Text users type is shown as text (docs/text-safety.md):
// - Card templates bind such text into RichTextBlock > TextRun, which per the Adaptive Cards
//   schema takes no markdown on any client. TextBlock and Fact (both always markdown in Teams)
//   bind only trusted text: our own words, admin-authored descriptions, and values passed
//   through literalText() below (FactSet values, which have no TextRun form).
// - CardRenderer passes every string of every card's data through visibleText(), so no card can
//   carry bidi overrides or invisible characters, whichever element shows it.
import type { OutgoingCard } from './notifications';

export interface NoticeButton {
  title: string;
  verb: string;
  /** What the button acts on (an assignment id, ...); empty for none. */
  id?: string;
}

/** A short message card (cards/notice.json) with optional buttons. */
export function notice(title: string, message: string, tone: 'info' | 'warning' | 'error', buttons: NoticeButton[] = []): OutgoingCard {
  return { template: 'notice', data: { title, message, tone, buttons: buttons.map((b) => ({ id: '', ...b })) } };
}

/**
 * Characters that change how the text around them reads without being seen: bidi controls
 * (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) that reorder text ("exe.txt" shown as
 * "txt.exe"), zero-width and other invisible format characters that hide or split words
 * (U+200B, U+2060–U+2064, U+FEFF, U+180E, U+00AD, U+206A–U+206F, U+FFF9–U+FFFB, U+115F, U+1160,
 * U+3164, U+FFA0, U+1D173–U+1D17A), tag characters (U+E0000–U+E007F, which hide ASCII text), and
 * control characters other than tab and line feed. Kept on purpose: U+200C and U+200D (joiners
 * that Persian, Indic scripts and emoji sequences need) and variation selectors (emoji style).
 */
const INVISIBLE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\u00AD\u061C\u115F\u1160\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB]|\uDB40[\uDC00-\uDC7F]|\uD834[\uDD73-\uDD7A]/g;

/** CRLF, CR, NEL, line and paragraph separators: each is one line break. */
const LINE_BREAK = /\r\n|[\r\u0085\u2028\u2029]/g;

/** Half a surrogate pair: not a character (JSON and renderers would mangle it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Where a card renderer would replace typed text with a formatted date ({{DATE(…)}}, {{TIME(…)}}). */
const DATE_FUNCTION = /\{\{(?=(?:DATE|TIME)\()/g;

/**
 * Text as it may appear anywhere on a card: line breaks made "\n", invisible and bidi control
 * characters removed, lone surrogates replaced (U+FFFD). Keeps everything a reader can see.
 * The one character it adds: a word joiner (U+2060) inside "{{DATE(" and "{{TIME(", so the
 * client's date functions (which work in TextRuns too) show what was typed, not a date.
 */
export function visibleText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(LINE_BREAK, '\n').replace(INVISIBLE, '').replace(DATE_FUNCTION, '{\u2060{');
}

/**
 * Text shown inside one of our sentences or on one line (a name, a reason): visibleText() on one
 * line, so typed line breaks can't make it look like lines of the card.
 */
export function inlineText(text: string): string {
  return visibleText(text).replace(/\s+/g, ' ').trim();
}

/** Markdown characters that are escaped wherever they are (CommonMark backslash escapes). */
const MARKDOWN_PUNCTUATION = /[\\`*_[\]<>~&|]/g;

/**
 * Text for a place Teams reads as markdown (a Fact's title or value, a TextBlock): shown exactly
 * as written, on one line (inlineText), with every markdown construct neutralised by a backslash
 * escape, which Teams and CommonMark renderers honour and show as the character itself:
 * emphasis (* _ ~), links and images ([ ]), code (`), HTML-like tags and mentions (< >, so no
 * <at>, <b>), entities (&), tables (|), a leading list, heading, quote or numbered-list marker
 * (- + # = > 1. 1)), and what a client would auto-link: the ":" and "//" of a scheme, the dots of a
 * host name (evil.example), the @ of an e-mail address. Use it for user text, directory text and
 * names.
 */
export function literalText(text: string): string {
  return inlineText(text)
    .replace(MARKDOWN_PUNCTUATION, '\\$&')
    .replace(/^[-+#=]/, '\\$&')
    .replace(/^(\d{1,9})([.)])/, '$1\\$2')
    .replace(/:(?=\/\/)/g, '\\:')
    .replace(/\/\//g, '/\\/')
    .replace(/(?<=[\p{L}\p{N}])\.(?=\p{L})/gu, '\\.')
    .replace(/(?<=[\p{L}\p{N}._%+-])@(?=[\p{L}\p{N}])/gu, '\\@');
}
