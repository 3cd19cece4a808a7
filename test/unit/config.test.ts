import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

const cwd = '/srv/bot';

describe('loadConfig', () => {
  it('runs on embedded defaults with no configuration at all', () => {
    const config = loadConfig({}, cwd);
    expect(config).toMatchObject({
      port: 3978,
      dataDir: path.join(cwd, 'data'),
      catalogFile: path.join(cwd, 'examples/catalog.yaml'),
      localDirectoryFile: path.join(cwd, 'examples/directory.yaml'),
      bot: { appId: '', appType: 'MultiTenant' },
      adminUserIds: [],
      schedulerIntervalMs: 15000,
      logLevel: 'info',
      approvalReminderPercent: 50,
    });
    expect(config.mongodbUri).toBeUndefined();
    expect(config.tenantId).toBeUndefined();
  });

  it('reads every setting', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        DATA_DIR: '/var/lib/ap',
        MONGODB_URI: 'mongodb://db:27017/ap',
        CATALOG_FILE: 'conf/catalog.yaml',
        LOCAL_DIRECTORY_FILE: 'conf/dir.yaml',
        TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        MicrosoftAppId: '11111111-2222-3333-4444-555555555555',
        MicrosoftAppPassword: 's3cret',
        MicrosoftAppType: 'singletenant',
        MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        ADMIN_GROUP_ID: 'grp-it-admins',
        ADMIN_USER_IDS: ' u-1, u-2 ,',
        SCHEDULER_INTERVAL_MS: '500',
        LOG_LEVEL: 'debug',
      },
      cwd,
    );
    expect(config).toMatchObject({
      port: 8080,
      dataDir: '/var/lib/ap',
      mongodbUri: 'mongodb://db:27017/ap',
      catalogFile: path.join(cwd, 'conf/catalog.yaml'),
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      bot: { appId: '11111111-2222-3333-4444-555555555555', appPassword: 's3cret', appType: 'SingleTenant' },
      adminGroupId: 'grp-it-admins',
      adminUserIds: ['u-1', 'u-2'],
      schedulerIntervalMs: 500,
      logLevel: 'debug',
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'Configuration error: PORT must be an integer from 1 to 65535 (got "abc")'],
    [{ PORT: '70000' }, 'Configuration error: PORT must be an integer from 1 to 65535 (got "70000")'],
    [{ SCHEDULER_INTERVAL_MS: '10' }, 'Configuration error: SCHEDULER_INTERVAL_MS must be an integer from 100 to 3600000 (got "10")'],
    [{ APPROVAL_REMINDER_PERCENT: '100' }, 'Configuration error: APPROVAL_REMINDER_PERCENT must be an integer from 1 to 99 (got "100")'],
    [{ LOG_LEVEL: 'loud' }, 'Configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [{ MicrosoftAppType: 'Single' }, 'Configuration error: MicrosoftAppType must be one of MultiTenant, SingleTenant, UserAssignedMSI (got "Single")'],
    [{ MicrosoftAppId: 'not-a-guid' }, /MicrosoftAppId must be the bot's app \(client\) id, a GUID/],
    [{ MicrosoftAppId: '11111111-2222-3333-4444-555555555555' }, 'Configuration error: MicrosoftAppPassword must be set when MicrosoftAppId is set and MicrosoftAppType is MultiTenant'],
    [
      { MicrosoftAppId: '11111111-2222-3333-4444-555555555555', MicrosoftAppPassword: 'x', MicrosoftAppType: 'SingleTenant' },
      "Configuration error: MicrosoftAppTenantId must be set (the bot's tenant GUID) when MicrosoftAppType is SingleTenant",
    ],
    [{ MicrosoftAppTenantId: 'contoso' }, /MicrosoftAppTenantId must be a GUID/],
    [{ TENANT_ID: 'two words' }, /TENANT_ID must be a single id without spaces/],
    [{ ADMIN_USER_IDS: 'u-1, two words' }, /ADMIN_USER_IDS must be a comma-separated list of object ids/],
  ])('refuses %j with one clear line', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env, cwd);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    expect(text.split('\n')).toHaveLength(1);
    if (typeof message === 'string') expect(text).toBe(message);
    else expect(text).toMatch(message);
  });

  it('never echoes a MongoDB connection string, which may hold a password', () => {
    expect(() => loadConfig({ MONGODB_URI: 'postgres://admin:hunter2@db' }, cwd)).toThrow(
      'Configuration error: MONGODB_URI must be a MongoDB connection string starting with mongodb:// or mongodb+srv://',
    );
    try {
      loadConfig({ MONGODB_URI: 'postgres://admin:hunter2@db' }, cwd);
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('a user-assigned managed identity needs no password', () => {
    const config = loadConfig(
      { MicrosoftAppId: '11111111-2222-3333-4444-555555555555', MicrosoftAppType: 'UserAssignedMSI', MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
      cwd,
    );
    expect(config.bot).toEqual({ appId: '11111111-2222-3333-4444-555555555555', appPassword: undefined, appType: 'UserAssignedMSI', appTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' });
  });
});
