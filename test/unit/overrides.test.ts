import { keepOverride, planSwitch } from '../../src/catalog/overrides';
import type { AdminOverride } from '../../src/domain/model';

const ivan = { id: 'u-ivan', name: 'Ivan Petrov' };
const at = new Date('2026-11-22T09:00:00Z');
const disabledByIvan: AdminOverride = { enabled: false, fileEnabled: true, byId: 'u-ivan', byName: 'Ivan Petrov', at };

describe('planSwitch (an admin enables or disables)', () => {
  it('records an override when the admin departs from the stored (file) value', () => {
    expect(planSwitch({ enabled: true }, false, ivan, at)).toEqual({ change: true, enabled: false, override: disabledByIvan });
    expect(planSwitch({ enabled: false }, true, ivan, at)).toEqual({ change: true, enabled: true, override: { ...disabledByIvan, enabled: true, fileEnabled: false } });
  });

  it('clears the override when the admin goes back to what the file says', () => {
    expect(planSwitch({ enabled: false, adminOverride: disabledByIvan }, true, ivan, at)).toEqual({ change: true, enabled: true, override: null });
  });

  it('changes nothing when the value is already as asked', () => {
    expect(planSwitch({ enabled: true }, true, ivan, at)).toEqual({ change: false });
    expect(planSwitch({ enabled: false, adminOverride: disabledByIvan }, false, ivan, at)).toEqual({ change: false });
  });

  it('treats a package stored without the field as enabled', () => {
    expect(planSwitch({}, true, ivan, at)).toEqual({ change: false });
    expect(planSwitch({}, false, ivan, at)).toMatchObject({ change: true, override: { fileEnabled: true } });
  });
});

describe('keepOverride (apply meets a stored override)', () => {
  it('keeps the admin value while the file disagrees, and says so', () => {
    const result = keepOverride({ id: 'p', enabled: true }, { enabled: false, adminOverride: disabledByIvan });
    expect(result).toEqual({ item: { id: 'p', enabled: false, adminOverride: disabledByIvan }, kept: disabledByIvan });
  });

  it('notes a change of the file value on the kept override', () => {
    const enabledByIvan = { ...disabledByIvan, enabled: true, fileEnabled: true };
    expect(keepOverride({ id: 'p', enabled: false }, { enabled: true, adminOverride: enabledByIvan }).kept).toEqual({ ...enabledByIvan, fileEnabled: false });
  });

  it('drops the override once the file agrees with it, and leaves records without one alone', () => {
    expect(keepOverride({ id: 'p', enabled: false }, { enabled: false, adminOverride: disabledByIvan })).toEqual({ item: { id: 'p', enabled: false } });
    expect(keepOverride({ id: 'p', enabled: true }, { enabled: false })).toEqual({ item: { id: 'p', enabled: true } });
    expect(keepOverride({ id: 'p', enabled: true }, undefined)).toEqual({ item: { id: 'p', enabled: true } });
  });
});
