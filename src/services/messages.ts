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
