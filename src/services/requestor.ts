import type { RequestorFacts } from '../domain/eligibility';
import type { Directory, DirectoryUser } from '../directory/port';
import type { PolicyRepository } from '../store/repositories/policies';
import { type Refusal, refuse } from './outcome';

export interface Requestor {
  user: DirectoryUser;
  facts: RequestorFacts;
}

/**
 * Looks the acting user up in the directory and checks the group memberships that matter:
 * those the enabled policies name, plus any the caller adds (e.g. SoD incompatible groups).
 */
export async function loadRequestor(
  directory: Directory,
  policies: PolicyRepository,
  userId: string,
  extraGroupIds: string[] = [],
): Promise<Requestor | Refusal> {
  const user = await directory.getUser(userId);
  if (!user || !user.accountEnabled) {
    return refuse('unknownUser', "I can't find your account in the directory, so I can't offer you access packages. Ask IT to check your account.");
  }
  const groups = [...new Set([...(await policies.requestorGroupIds()), ...extraGroupIds])];
  const memberOf = groups.length > 0 ? await directory.checkMemberGroups(user.id, groups) : [];
  return { user, facts: { userId: user.id, userType: user.userType, groupIds: new Set(memberOf) } };
}

export function isRefusal<T extends object>(value: T | Refusal): value is Refusal {
  return (value as Refusal).ok === false;
}
