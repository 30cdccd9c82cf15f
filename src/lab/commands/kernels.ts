import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, editIcon, stopIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import {
  IAllocationInfo,
  IKernelProfile,
  LOCAL_TARGET
} from '../../common/api';
import { toFailure } from '../clusters/model';
import { IEnvironmentsModel } from '../envs/model';
import { profileName } from '../kernels/messages';
import { IKernelsModel } from '../kernels/model';
import {
  IProfileFormOptions,
  showProfileDialog
} from '../kernels/profile-dialog';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { CommandIDs } from '../tokens';

export interface IKernelCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  kernels: IKernelsModel;
  sessions: Pick<ISessionsModel, 'offer' | 'check'>;
  settings: IClusterSettings;
  envs: IEnvironmentsModel | null;
  /** The profile dialog; `showProfileDialog` unless a test replaces it. */
  showForm?: (options: IProfileFormOptions) => Promise<IKernelProfile | null>;
  /** Ask the user; a JupyterLab dialog unless a test replaces it. */
  confirm?: (question: IConfirmation) => Promise<boolean>;
}

/** A yes/no question before something that cannot be undone. */
export interface IConfirmation {
  title: string;
  body: string;
  keep: string;
  act: string;
}

async function confirmDialog(q: IConfirmation): Promise<boolean> {
  const result = await showDialog({
    title: q.title,
    body: q.body,
    buttons: [
      Dialog.cancelButton({ label: q.keep }),
      Dialog.warnButton({ label: q.act })
    ]
  });
  return result.button.accept;
}

/** "job 1234 on hpc", how a confirmation names an allocation. */
export function allocationName(
  allocation: IAllocationInfo,
  trans: TranslationBundle
): string {
  return allocation.jobId
    ? trans.__('job %1 on %2', allocation.jobId, allocation.cluster)
    : trans.__('the job being submitted to %1', allocation.cluster);
}

/** The question before ending an allocation: which kernels stop with it. */
export function endAllocationQuestion(
  allocation: IAllocationInfo,
  trans: TranslationBundle
): IConfirmation {
  const name = allocationName(allocation, trans);
  const live = allocation.kernels.filter(k => k.state !== 'ended');
  const which = live
    .map(k => k.notebookPath ?? trans.__('kernel %1', k.kernelId.slice(0, 8)))
    .join(', ');
  return {
    title: trans.__('End %1?', name),
    body:
      live.length === 0
        ? trans.__(
            'No kernel runs in %1; its allocation is given back now instead of after the grace period.',
            name
          )
        : trans._n(
            'Its kernel stops (%2) and is shown as dead; variables and work not saved in it are lost.',
            'Its %1 kernels stop (%2) and are shown as dead; variables and work not saved in them are lost.',
            live.length,
            which
          ),
    keep: trans.__('Keep it'),
    act: trans.__('End allocation')
  };
}

/** The `describedBy` of a command whose args are these strings. */
function described(properties: Record<string, string>) {
  return {
    args: {
      type: 'object' as const,
      properties: Object.fromEntries(
        Object.entries(properties).map(([key, description]) => [
          key,
          { type: 'string', description }
        ])
      ),
      required: Object.keys(properties)
    }
  };
}

const str = (args: ReadonlyPartialJSONObject, key: string) =>
  String(args[key] ?? '');

/**
 * Cluster kernels: add, edit and remove a profile (an environment of a
 * cluster as a kernel in the picker), end an allocation, cancel a start.
 */
export function addKernelCommands(ctx: IKernelCommandContext): void {
  const { commands, trans, kernels, settings } = ctx;
  const showForm = ctx.showForm ?? showProfileDialog;
  const confirm = ctx.confirm ?? confirmDialog;
  const failed = (sentence: string) =>
    Notification.error(sentence, { autoClose: false });
  const envOf = (target: string, prefix: string) =>
    ctx.envs?.state(target).list?.envs.find(e => e.prefix === prefix) ?? null;
  const envName = (target: string, prefix: string) =>
    envOf(target, prefix)?.name ??
    prefix.split('/').filter(Boolean).pop() ??
    prefix;
  const formOptions = (
    cluster: string,
    environment: string,
    profile: IKernelProfile | null
  ): IProfileFormOptions => ({
    trans,
    cluster,
    environment,
    envName: envName(cluster, environment),
    profile,
    kernels,
    sessions: ctx.sessions,
    settings
  });
  const busy = new Set<string>();

  commands.addCommand(CommandIDs.addKernelProfile, {
    describedBy: described({
      target: trans.__('The cluster'),
      prefix: trans.__("The environment's prefix on the cluster")
    }),
    label: args =>
      args.isPalette
        ? trans.__('Add Environment as Cluster Kernel')
        : trans.__('Add as cluster kernel…'),
    caption: args =>
      trans.__(
        'List %1 in the kernel picker as a kernel that runs in a SLURM job on %2',
        envName(str(args, 'target'), str(args, 'prefix')),
        str(args, 'target')
      ),
    icon: addIcon,
    isEnabled: args => {
      const target = str(args, 'target');
      const prefix = str(args, 'prefix');
      if (!kernels.available || target === LOCAL_TARGET || !prefix) {
        return false;
      }
      const env = envOf(target, prefix);
      // Without ipykernel the environment cannot run a kernel.
      return env === null || env.ipykernelVersion !== null;
    },
    execute: async args => {
      const target = str(args, 'target');
      const prefix = str(args, 'prefix');
      return showForm(formOptions(target, prefix, null));
    }
  });

  commands.addCommand(CommandIDs.editKernelProfile, {
    describedBy: described({ id: trans.__('The kernel profile id') }),
    label: trans.__('Edit'),
    caption: args => {
      const profile = kernels.profile(str(args, 'id'));
      return profile
        ? trans.__('Change the resources of "%1"', profile.displayName)
        : trans.__('Change the resources of this cluster kernel');
    },
    icon: editIcon,
    isEnabled: args =>
      kernels.available && kernels.profile(str(args, 'id')) !== null,
    execute: async args => {
      const profile = kernels.profile(str(args, 'id'));
      if (!profile) {
        return null;
      }
      return showForm(
        formOptions(profile.cluster, profile.environment, profile)
      );
    }
  });

  commands.addCommand(CommandIDs.removeKernelProfile, {
    describedBy: described({ id: trans.__('The kernel profile id') }),
    label: args =>
      busy.has(`profile:${str(args, 'id')}`)
        ? trans.__('Removing…')
        : trans.__('Remove'),
    caption: args => {
      const profile = kernels.profile(str(args, 'id'));
      return profile
        ? trans.__('Take "%1" out of the kernel picker', profile.displayName)
        : trans.__('Take this cluster kernel out of the kernel picker');
    },
    isEnabled: args =>
      kernels.available &&
      kernels.profile(str(args, 'id')) !== null &&
      !busy.has(`profile:${str(args, 'id')}`),
    execute: async args => {
      const id = str(args, 'id');
      const profile = kernels.profile(id);
      if (!profile) {
        return false;
      }
      const ok = await confirm({
        title: trans.__('Remove the cluster kernel "%1"?', profile.displayName),
        body: trans.__(
          'It leaves the kernel picker and the launcher. Its environment on %1 stays as it is.',
          profile.cluster
        ),
        keep: trans.__('Keep it'),
        act: trans.__('Remove')
      });
      if (!ok) {
        return false;
      }
      busy.add(`profile:${id}`);
      commands.notifyCommandChanged(CommandIDs.removeKernelProfile);
      try {
        await kernels.removeProfile(id);
        return true;
      } catch (err) {
        failed(
          trans.__(
            'The cluster kernel "%1" could not be removed: %2',
            profile.displayName,
            toFailure(err).message
          )
        );
        return false;
      } finally {
        busy.delete(`profile:${id}`);
        commands.notifyCommandChanged(CommandIDs.removeKernelProfile);
      }
    }
  });

  commands.addCommand(CommandIDs.endAllocation, {
    describedBy: described({ id: trans.__('The allocation id') }),
    label: args => {
      const allocation = kernels.allocation(str(args, 'id'));
      return allocation?.phase === 'ending' ||
        busy.has(`allocation:${str(args, 'id')}`)
        ? trans.__('Ending…')
        : trans.__('End allocation');
    },
    caption: args => {
      const allocation = kernels.allocation(str(args, 'id'));
      return allocation
        ? trans.__(
            'Cancel %1; the kernels in it stop',
            allocationName(allocation, trans)
          )
        : trans.__('Cancel the job; the kernels in it stop');
    },
    icon: stopIcon,
    isEnabled: args => {
      const allocation = kernels.allocation(str(args, 'id'));
      return (
        kernels.available &&
        allocation !== null &&
        allocation.phase !== 'ending' &&
        allocation.phase !== 'ended' &&
        !busy.has(`allocation:${allocation.id}`)
      );
    },
    execute: async args => {
      const id = str(args, 'id');
      const allocation = kernels.allocation(id);
      if (!allocation) {
        return false;
      }
      if (!(await confirm(endAllocationQuestion(allocation, trans)))) {
        return false;
      }
      busy.add(`allocation:${id}`);
      commands.notifyCommandChanged(CommandIDs.endAllocation);
      try {
        await kernels.endAllocation(id);
        return true;
      } catch (err) {
        failed(
          trans.__(
            '%1 could not be ended: %2',
            allocationName(allocation, trans),
            toFailure(err).message
          )
        );
        return false;
      } finally {
        busy.delete(`allocation:${id}`);
        commands.notifyCommandChanged(CommandIDs.endAllocation);
      }
    }
  });

  commands.addCommand(CommandIDs.cancelKernelStart, {
    describedBy: described({
      kernelId: trans.__("The Jupyter server's kernel id")
    }),
    label: trans.__('Cancel kernel start'),
    caption: args => {
      const start = kernels.starts.find(
        s => s.kernelId === str(args, 'kernelId')
      );
      const name = start ? profileName(kernels.profiles, start.profile) : null;
      return name
        ? trans.__('Give up starting "%1"', name)
        : trans.__('Give up starting this cluster kernel');
    },
    isEnabled: args =>
      kernels.available &&
      kernels.starts.some(s => s.kernelId === str(args, 'kernelId')),
    execute: async args => {
      const kernelId = str(args, 'kernelId');
      try {
        await kernels.cancelStart(kernelId);
        return true;
      } catch (err) {
        failed(
          trans.__(
            'The kernel start could not be cancelled: %1',
            toFailure(err).message
          )
        );
        return false;
      }
    }
  });
}
