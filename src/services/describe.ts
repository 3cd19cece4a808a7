// Turns references (resource roles, approvers) into words people understand.
import type { AccessPackage, ApproverRef, Catalog, Policy } from '../domain/model';
import type { Directory } from '../directory/port';

export interface GrantedRole {
  resource: string;
  kind: string;
  role: string;
}

const KIND_NAMES: Record<string, string> = {
  group: 'Group',
  application: 'App',
  sharePointSite: 'SharePoint site',
  directoryRole: 'Directory role',
};

export function grantedRoles(accessPackage: AccessPackage, catalog: Catalog | null): GrantedRole[] {
  return accessPackage.resourceRoles.map((ref) => {
    const resource = catalog?.resources.find((r) => r.id === ref.resource);
    const role = resource?.roles.find((r) => r.id === ref.role);
    return {
      resource: resource?.displayName ?? ref.resource,
      kind: KIND_NAMES[resource?.type ?? ''] ?? 'Resource',
      role: role?.displayName ?? capitalise(ref.role),
    };
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function describeApprover(directory: Directory, approver: ApproverRef): Promise<string> {
  if ('manager' in approver) return 'your manager';
  if ('user' in approver) return (await directory.getUser(approver.user))?.displayName ?? 'a named approver';
  const group = await directory.getGroup(approver.group);
  return group ? `a member of ${group.displayName}` : 'a member of an approver group';
}

/** "Approval by a member of Finance approvers, then by your manager" or "No approval needed". */
export async function describeApproval(directory: Directory, policy: Policy): Promise<string> {
  if (!policy.approval.required || policy.approval.stages.length === 0) return 'No approval needed: access is granted right away.';
  const stages: string[] = [];
  for (const stage of policy.approval.stages) {
    const names = await Promise.all(stage.approvers.map((a) => describeApprover(directory, a)));
    stages.push(names.length > 0 ? joinOr(names) : 'a fallback approver');
  }
  return `Approval by ${stages.join(', then by ')}.`;
}

function joinOr(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
