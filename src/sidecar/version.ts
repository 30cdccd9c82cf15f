export { PACKAGE_VERSION as SIDECAR_VERSION } from '../common/version';
