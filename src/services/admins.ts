import type { Directory } from '../directory/port';

export interface AdminSettings {
  userIds: readonly string[];
  groupId?: string;
}

/** Admins are the listed users and the (transitive) members of the admin group. */
export class AdminPolicy {
  constructor(
    private readonly settings: AdminSettings,
    private readonly directory: Directory,
  ) {}

  /** Everyone to tell about failures: the listed users and the group's members. */
  async admins(): Promise<string[]> {
    const members = this.settings.groupId ? await this.directory.listTransitiveGroupMembers(this.settings.groupId) : [];
    return [...new Set([...this.settings.userIds, ...members])];
  }

  async isAdmin(userId: string): Promise<boolean> {
    if (this.settings.userIds.includes(userId)) return true;
    if (!this.settings.groupId) return false;
    return (await this.directory.checkMemberGroups(userId, [this.settings.groupId])).length > 0;
  }
}

/** What self-service offers instead, for an employee who typed an admin command. */
const SELF_SERVICE_HINTS: Record<string, string> = {
  cancel: ' To cancel your own request, type my requests.',
  remove: ' To give back your own access, type my access.',
  reprocess: ' If your own access is missing, tell IT the id from your notice.',
  assignments: ' To see your own access, type my access.',
  requests: ' To follow your own requests, type my requests.',
};

/**
 * The one door to admin acts: admins pass; anyone else gets a clear refusal, and the attempt
 * is audited (who, which command) so probing is visible.
 */
export class AdminGate {
  constructor(
    private readonly policy: AdminPolicy,
    private readonly audit: { append(event: { actorId: string; action: string; details?: Record<string, unknown> }): Promise<unknown> },
  ) {}

  isAdmin(userId: string): Promise<boolean> {
    return this.policy.isAdmin(userId);
  }

  /** Null when allowed; otherwise the message to show (the refusal is already audited). */
  async refusal(userId: string, command: string): Promise<string | null> {
    if (await this.policy.isAdmin(userId)) return null;
    await this.audit.append({ actorId: userId, action: 'admin.refused', details: { command } });
    return `Only access package administrators can use ${command}.${SELF_SERVICE_HINTS[command] ?? ''}`;
  }
}
