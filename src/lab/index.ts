import { launcherPlugin } from './plugins/launcher';
import { panelPlugin } from './plugins/panel';
import { settingsPlugin } from './plugins/settings';
import { sidecarPlugin } from './plugins/sidecar';

export * from './tokens';

export default [sidecarPlugin, settingsPlugin, panelPlugin, launcherPlugin];
