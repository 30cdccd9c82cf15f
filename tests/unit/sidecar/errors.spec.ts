import { isSidecarError, SidecarError } from '../../../src/sidecar/errors';

describe('isSidecarError', () => {
  it('knows an error made by another copy of the module (another bundle)', () => {
    let Other: typeof SidecarError | undefined;
    jest.isolateModules(() => {
      Other = (
        jest.requireActual('../../../src/sidecar/errors') as {
          SidecarError: typeof SidecarError;
        }
      ).SidecarError;
    });
    expect(Other).not.toBe(SidecarError);
    const err = new Other!('unknown-cluster', 'There is no cluster x.');
    expect(err instanceof SidecarError).toBe(false);
    expect(isSidecarError(err)).toBe(true);
  });

  it('is false for other errors, even with a code', () => {
    const err = Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    expect(isSidecarError(err)).toBe(false);
    expect(isSidecarError({ code: 'not-found', message: 'x' })).toBe(false);
  });
});
