/**
 * The session part of the API: what a cluster offers the launch form, the
 * checks of a launch request, launching, listing, cancelling, opening and
 * removing sessions, attaching to sessions started elsewhere, and the
 * page's visibility (which slows polling).
 */
import {
  LAUNCH_TEXT_FIELDS,
  Routes,
  type IAccountingInfo,
  type IAttachableSessionList,
  type ILaunchCheck,
  type ILaunchOffer,
  type ILaunchRequest,
  type ISessionList,
  type IStateProblem,
  type ISessionOpen
} from '../../common/api';
import type { Accounting } from '../slurm/accounting';
import {
  checkLaunch,
  checkLaunchShape,
  uncheckedFields
} from '../sessions/launch-check';
import type { IClusterFacts } from '../sessions/offer';
import type { SessionService } from '../sessions/service';
import {
  CLUSTER,
  created,
  del,
  get,
  ok,
  post,
  put,
  SESSION,
  type Handler,
  type IReply,
  type IRoute
} from './router';
import { BadRequest, jsonObject } from './validate';

/** A POST body as an ILaunchRequest: types only; launch-check does the rest. */
export function parseLaunchRequest(
  body: Record<string, unknown>
): ILaunchRequest {
  const out: Partial<ILaunchRequest> = {};
  for (const field of LAUNCH_TEXT_FIELDS) {
    const value = body[field] ?? '';
    if (typeof value !== 'string' || value.length > 8192) {
      throw new BadRequest(`${field} must be text.`);
    }
    out[field] = value;
  }
  const gpus = body.gpus ?? { type: '', count: 0 };
  if (
    typeof gpus !== 'object' ||
    gpus === null ||
    typeof (gpus as { type?: unknown }).type !== 'string' ||
    typeof (gpus as { count?: unknown }).count !== 'number'
  ) {
    throw new BadRequest('gpus must be {"type": text, "count": a number}.');
  }
  const { cpus, startTimeoutSeconds } = body;
  if (typeof cpus !== 'number') {
    throw new BadRequest('cpus must be a number.');
  }
  const timeout = startTimeoutSeconds ?? 300;
  if (typeof timeout !== 'number') {
    throw new BadRequest('startTimeoutSeconds must be a number.');
  }
  return {
    ...(out as Omit<ILaunchRequest, 'cpus' | 'gpus' | 'startTimeoutSeconds'>),
    cpus,
    gpus: {
      type: (gpus as { type: string }).type,
      count: (gpus as { count: number }).count
    },
    startTimeoutSeconds: timeout
  };
}

/** The accounting facts in the contract's (JSON) shape. */
export function accountingInfo(accounting: Accounting): IAccountingInfo {
  if (!accounting.enabled) {
    return {
      enabled: false,
      reason: accounting.reason,
      accounts: [],
      defaultAccount: null,
      qosByAccount: {},
      qosMaxWallSeconds: {}
    };
  }
  const qosByAccount: Record<string, string[]> = {};
  for (const a of accounting.associations) {
    const list = (qosByAccount[a.account] ??= []);
    for (const q of a.qos) {
      if (!list.includes(q)) {
        list.push(q);
      }
    }
  }
  return {
    enabled: true,
    reason: null,
    accounts: Object.keys(qosByAccount),
    defaultAccount: accounting.defaultAccount,
    qosByAccount,
    qosMaxWallSeconds: Object.fromEntries(accounting.qosMaxWallSeconds)
  };
}

function offer(cluster: string, facts: IClusterFacts): ILaunchOffer {
  return {
    cluster,
    user: facts.user,
    partitions: facts.partitions,
    accounting: accountingInfo(facts.accounting),
    fetchedAt: Date.now()
  };
}

function invalid(problems: ILaunchCheck['problems']): IReply {
  return {
    status: 400,
    body: {
      error: {
        code: 'launch-invalid',
        message: problems.map(p => p.message).join(' '),
        problems
      }
    }
  };
}

export function sessionRoutes(
  sessions: SessionService,
  stateProblems: () => IStateProblem[] = () => []
): IRoute[] {
  // Nothing is answered before the sessions of the state file are back:
  // a list without them would look like they were lost.
  const after =
    (handler: Handler): Handler =>
    async request => {
      await sessions.restored;
      return handler(request);
    };
  return [
    get(
      Routes.sessions,
      after((): IReply => {
        const body: ISessionList = {
          sessions: sessions.list(),
          stateProblems: stateProblems()
        };
        return ok(body);
      })
    ),
    get(
      Routes.launchOffer(CLUSTER),
      after(async ({ params, query }) =>
        ok(
          offer(
            params.cluster,
            await sessions.facts(params.cluster, query.get('refresh') === '1')
          )
        )
      )
    ),
    post(
      Routes.launchCheck(CLUSTER),
      after(async ({ params, body }) => {
        const request = parseLaunchRequest(jsonObject(body));
        const shape = checkLaunchShape(request);
        if (shape.length > 0) {
          return ok({ problems: shape } satisfies ILaunchCheck);
        }
        const facts = await sessions.facts(params.cluster);
        const answer: ILaunchCheck = {
          problems: checkLaunch(request, facts),
          unchecked: uncheckedFields(request, facts)
        };
        return ok(answer);
      })
    ),
    post(
      Routes.clusterSessions(CLUSTER),
      after(async ({ params, body }) => {
        const request = parseLaunchRequest(jsonObject(body));
        const shape = checkLaunchShape(request);
        if (shape.length > 0) {
          return invalid(shape);
        }
        const problems = checkLaunch(
          request,
          await sessions.facts(params.cluster)
        );
        if (problems.length > 0) {
          return invalid(problems);
        }
        return created(await sessions.launch(params.cluster, request));
      })
    ),
    get(
      Routes.attachableSessions(CLUSTER),
      after(async ({ params }) => {
        const body: IAttachableSessionList = {
          cluster: params.cluster,
          sessions: await sessions.attachable(params.cluster)
        };
        return ok(body);
      })
    ),
    post(
      Routes.attachSession(CLUSTER, SESSION),
      after(async ({ params }) =>
        created(await sessions.attach(params.cluster, params.session))
      )
    ),
    get(
      Routes.session(SESSION),
      after(({ params }) => ok(sessions.get(params.session)))
    ),
    del(
      Routes.session(SESSION),
      after(({ params }) => {
        sessions.dismiss(params.session);
        return ok({});
      })
    ),
    post(
      Routes.sessionCancel(SESSION),
      after(async ({ params }) => ok(await sessions.cancel(params.session)))
    ),
    get(
      Routes.sessionLog(SESSION),
      after(async ({ params, query }) => {
        const offset = Number(query.get('offset') ?? '0');
        if (!Number.isSafeInteger(offset) || offset < 0) {
          throw new BadRequest('offset must be a whole number of bytes.');
        }
        return ok(await sessions.log(params.session, offset));
      })
    ),
    get(
      Routes.sessionOpen(SESSION),
      after(({ params }) => {
        const body: ISessionOpen = { url: sessions.openUrl(params.session) };
        return ok(body);
      })
    ),
    put(
      Routes.visibility,
      after(({ body }) => {
        const { visible } = jsonObject(body);
        if (typeof visible !== 'boolean') {
          throw new BadRequest('visible must be true or false.');
        }
        sessions.setVisible(visible);
        return ok({});
      })
    )
  ];
}
