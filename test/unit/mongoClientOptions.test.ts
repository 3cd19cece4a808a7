import { loadConfig } from '../../src/config';
import { mongoClientOptions } from '../../src/store/mongoStore';

describe('MongoDB timeouts (MONGODB_TIMEOUT_MS)', () => {
  it('gives each driver stage half the budget (the driver retries once), so an operation fails within it', () => {
    expect(mongoClientOptions('mongodb://db.example.com/ap', 5000)).toEqual({
      ignoreUndefined: true,
      serverSelectionTimeoutMS: 2500,
      connectTimeoutMS: 2500,
      waitQueueTimeoutMS: 2500,
      socketTimeoutMS: 2500,
    });
  });

  it('lets a timeout written in the connection string win, whatever its case', () => {
    const options = mongoClientOptions('mongodb://u:p%3Fw@h1,h2/ap?replicaSet=rs0&sockettimeoutms=60000&serverSelectionTimeoutMS=10000', 5000);
    expect(options).toEqual({ ignoreUndefined: true, connectTimeoutMS: 2500, waitQueueTimeoutMS: 2500 });
  });

  it('is configured with defaults and one-line errors', () => {
    expect(loadConfig({}).mongodb).toEqual({ timeoutMs: 5000, migrateAtStartupMaxDocuments: 100_000 });
    expect(loadConfig({}).tasks.leaseMs).toBe(30_000);
    expect(loadConfig({ MONGODB_TIMEOUT_MS: '2000', MIGRATE_AT_STARTUP_MAX_DOCUMENTS: '0', TASK_LEASE_MS: '30000' })).toMatchObject({
      mongodb: { timeoutMs: 2000, migrateAtStartupMaxDocuments: 0 },
      tasks: { leaseMs: 30_000 },
    });
    expect(() => loadConfig({ MONGODB_TIMEOUT_MS: '100' })).toThrow('Configuration error: MONGODB_TIMEOUT_MS must be an integer from 500 to 600000 (got "100")');
    expect(() => loadConfig({ MIGRATE_AT_STARTUP_MAX_DOCUMENTS: 'lots' })).toThrow('MIGRATE_AT_STARTUP_MAX_DOCUMENTS must be an integer');
    expect(() => loadConfig({ TASK_LEASE_MS: '500' })).toThrow('TASK_LEASE_MS must be an integer from 1000 to 3600000');
  });
});
