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
