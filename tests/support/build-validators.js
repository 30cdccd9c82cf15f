// jest globalSetup: generate src/common/generated/ (gitignored build output)
// before any test imports it, as `npm run build` and `typecheck` do.
const { execFileSync } = require('child_process');
const { join } = require('path');

module.exports = () => {
  execFileSync(
    process.execPath,
    [join(__dirname, '..', '..', 'scripts', 'build-validators.mjs')],
    { stdio: 'inherit' }
  );
};
