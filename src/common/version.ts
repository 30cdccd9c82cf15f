/**
 * The package version, shared by the frontend and the sidecar so each can
 * tell the user when the other half of the install is of another release.
 * tests/unit/common/version.spec.ts keeps it equal to package.json's.
 */
export const PACKAGE_VERSION = '0.1.0';
