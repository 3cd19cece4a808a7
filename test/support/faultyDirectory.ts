import type { Directory } from '../../src/directory/port';

type Method = keyof Omit<Directory, 'kind'>;

/** Wraps a directory and makes chosen calls fail (or slow, as Graph's round trips are), to test retries and give-up. Counts writes. */
export class FaultyDirectory implements Directory {
  readonly kind: string;
  readonly calls: { method: Method; args: unknown[] }[] = [];
  private readonly faults: { method: Method; error: () => Error; remaining: number; afterCall: boolean }[] = [];
  private latency: (() => number) | undefined;

  constructor(inner: Directory) {
    this.kind = inner.kind;
    for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(inner)) as Method[]) {
      if (method === ('constructor' as Method) || typeof (inner as unknown as Record<string, unknown>)[method] !== 'function') continue;
      (this as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
        this.calls.push({ method, args });
        const wait = this.latency?.() ?? 0;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const fault = this.faults.find((f) => f.method === method && f.remaining > 0);
        if (fault) fault.remaining--;
        if (fault && !fault.afterCall) throw fault.error();
        const result = await (inner[method] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
        // A fault after the call: the write happened, but the caller never hears of it (a crash).
        if (fault) throw fault.error();
        return result;
      };
    }
  }

  fail(method: Method, error: () => Error, times = 1): void {
    this.faults.push({ method, error, remaining: times, afterCall: false });
  }

  /** Every call takes `ms()` milliseconds before it reaches the directory (a network round trip). */
  slowDown(ms: () => number): void {
    this.latency = ms;
  }

  /** The call goes through, then the caller gets an error: as if the process died right after it. */
  failAfter(method: Method, error: () => Error, times = 1): void {
    this.faults.push({ method, error, remaining: times, afterCall: true });
  }

  /** No more faults: the directory answers again. */
  recover(): void {
    this.faults.splice(0);
  }

  count(method: Method): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  // Declared for the type checker; replaced per instance in the constructor.
  getUser!: Directory['getUser'];
  getManager!: Directory['getManager'];
  getGroup!: Directory['getGroup'];
  getServicePrincipal!: Directory['getServicePrincipal'];
  checkMemberGroups!: Directory['checkMemberGroups'];
  listTransitiveGroupMembers!: Directory['listTransitiveGroupMembers'];
  hasGroupRole!: Directory['hasGroupRole'];
  addGroupRole!: Directory['addGroupRole'];
  removeGroupRole!: Directory['removeGroupRole'];
  listAppRoleAssignments!: Directory['listAppRoleAssignments'];
  addAppRoleAssignment!: Directory['addAppRoleAssignment'];
  removeAppRoleAssignment!: Directory['removeAppRoleAssignment'];
  listDirectoryRoleAssignments!: Directory['listDirectoryRoleAssignments'];
  addDirectoryRoleAssignment!: Directory['addDirectoryRoleAssignment'];
  removeDirectoryRoleAssignment!: Directory['removeDirectoryRoleAssignment'];
}
