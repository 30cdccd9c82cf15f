import { readFileSync } from 'fs';
import { join } from 'path';

import { PACKAGE_VERSION } from '../../../src/common/version';

describe('PACKAGE_VERSION', () => {
  it('equals the version in package.json', () => {
    const pkg = JSON.parse(
      readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')
    );
    expect(PACKAGE_VERSION).toBe(pkg.version);
  });
});
