import type { Activity, Middleware, TurnContext } from 'botbuilder';
import type { Logger } from '../logger';

/** The tenant an activity comes from, as Teams reports it. */
export function activityTenantId(activity: Partial<Activity>): string | undefined {
  const channelData = activity.channelData as { tenant?: { id?: string } } | undefined;
  return channelData?.tenant?.id ?? activity.conversation?.tenantId;
}

/**
 * When a tenant is configured, activities from any other tenant get no service: they are
 * logged and dropped before any handler (or store write) sees them.
 */
export class TenantGuard implements Middleware {
  constructor(
    private readonly tenantId: string | undefined,
    private readonly logger: Logger,
  ) {}

  async onTurn(context: TurnContext, next: () => Promise<void>): Promise<void> {
    if (!this.tenantId) return next();
    const tenant = activityTenantId(context.activity);
    if (tenant?.toLowerCase() === this.tenantId.toLowerCase()) return next();
    this.logger.warn(
      { activityType: context.activity.type, tenant: tenant ?? '(none)', from: context.activity.from?.aadObjectId },
      'activity from another tenant refused',
    );
    // Invokes still need an HTTP answer; a 403 tells the client plainly without processing anything.
    if (context.activity.type === 'invoke') {
      await context.sendActivity({ type: 'invokeResponse', value: { status: 403, body: { error: 'This tenant is not served by this bot.' } } });
    }
  }
}
