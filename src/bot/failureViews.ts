// What a person is told when the bot couldn't finish what they asked (src/bot/failures.ts
// decides which kind of failure it was). Plain words and a next step; never internal detail.
// The reference is the id of the one log line about it, for IT to look up.

/** Kinds of failure a person can act differently on. */
export type FailureKind = 'directoryUnavailable' | 'directoryRefused' | 'storeUnavailable' | 'unexpected';

export interface FailureNotice {
  kind: FailureKind;
  /** e.g. ERR-7K3M9QX2: in the log line and on the answer. */
  reference: string;
}

/** What pressing the button again sends: the same verb and data (form answers included). */
export interface RetryAction {
  verb: string;
  data: Record<string, unknown>;
}

// Handlers change state with conditional updates and keyed work (docs/architecture.md,
// "Concurrency"), so a step that went through before the failure is kept and a retry doesn't
// do it twice. That is what "Try again" may promise; "nothing changed" it may not.
const AGAIN = "Anything that already went through is kept and won't be done twice.";

const WORDS: Record<FailureKind, { title: string; message: string; retry: boolean; chat: string }> = {
  directoryUnavailable: {
    title: "I couldn't reach the directory",
    message: `Microsoft Entra ID, where I look up people and groups, didn't answer just now, so I couldn't finish this. Try again in a minute. ${AGAIN} If it keeps failing, tell your IT admin.`,
    retry: true,
    chat: "Sorry, I couldn't reach the directory (Microsoft Entra ID) just now. Please try again in a minute; if it keeps failing, tell your IT admin.",
  },
  directoryRefused: {
    title: "I'm not allowed to do that in the directory",
    message: "Microsoft Entra ID refused this app's request, so I couldn't finish this. Trying again won't help: the app's permissions need fixing. Please tell your IT admin and give them the reference below.",
    retry: false,
    chat: "Sorry, Microsoft Entra ID refused this app's request, so I couldn't do that. Trying again won't help: please tell your IT admin.",
  },
  storeUnavailable: {
    title: "I couldn't reach my records",
    message: `My database didn't answer just now, so I couldn't finish this. Try again in a minute. ${AGAIN} If it keeps failing, tell your IT admin.`,
    retry: true,
    chat: "Sorry, I couldn't reach my records just now. Please try again in a minute; if it keeps failing, tell your IT admin.",
  },
  unexpected: {
    title: 'Something went wrong on my side',
    message: `I couldn't finish this because of an unexpected error. Try again in a minute. ${AGAIN} If it happens again, tell your IT admin and give them the reference below.`,
    retry: true,
    chat: 'Sorry, something went wrong on my side. Please try again in a minute; if it happens again, tell your IT admin.',
  },
};

/** Retry data larger than this is not put back on the card (keeps the card within Teams' limits). */
const MAX_RETRY_DATA_CHARS = 20_000;

/** Data for cards/failure.json. */
export function failureCard(notice: FailureNotice, retry?: RetryAction) {
  const words = WORDS[notice.kind];
  const again = words.retry && retry && JSON.stringify(retry.data).length <= MAX_RETRY_DATA_CHARS ? retry : undefined;
  return {
    title: words.title,
    message: words.message,
    reference: `Reference: ${notice.reference}`,
    // The same verb and data, so a form's answers aren't lost with the card they were typed on.
    retry: again ? [{ verb: again.verb, data: { ...again.data, verb: again.verb } }] : [],
  };
}

/** The plain apology for a typed message that failed. */
export function failureText(notice: FailureNotice): string {
  return `${WORDS[notice.kind].chat} (Reference: ${notice.reference})`;
}
