import { clustersPlugin } from './plugins/clusters';
import { environmentsPlugin } from './plugins/environments';
import { kernelsPlugin, kernelViewsPlugin } from './plugins/kernels';
import { launchPlugin } from './plugins/launch';
import { launcherPlugin } from './plugins/launcher';
import { panelPlugin } from './plugins/panel';
import { promptsPlugin } from './plugins/prompts';
import {
  runningAllocationsPlugin,
  runningSessionsPlugin
} from './plugins/running';
import { sessionViewsPlugin } from './plugins/session-views';
import { sessionsPlugin } from './plugins/sessions';
import { settingsPlugin } from './plugins/settings';
import { sidecarPlugin } from './plugins/sidecar';
import { tasksPlugin } from './plugins/tasks';

export * from './tokens';

export default [
  sidecarPlugin,
  settingsPlugin,
  clustersPlugin,
  tasksPlugin,
  environmentsPlugin,
  sessionsPlugin,
  kernelsPlugin,
  launchPlugin,
  kernelViewsPlugin,
  sessionViewsPlugin,
  runningSessionsPlugin,
  runningAllocationsPlugin,
  promptsPlugin,
  panelPlugin,
  launcherPlugin
];
