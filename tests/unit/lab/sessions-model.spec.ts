import { PromiseDelegate } from '@lumino/coreutils';

import { ISessionInfo } from '../../../src/common/api';
import { ISessionChange, SessionsModel } from '../../../src/lab/sessions/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import {
  FakeSidecar,
  health,
  json,
  sidecarError,
  until,
  whenSignalled
} from './fixtures';
import {
  attachable,
  ended,
  REQUEST,
  running,
  sessionInfo
} from './session-fixtures';

let fake: FakeSidecar;
let sidecar: SidecarModel;
let model: SessionsModel;
/** What GET /api/v1/sessions answers; the test changes it. */
let listed: ISessionInfo[];
let changes: ISessionChange[];

async function setUp(initial: ISessionInfo[] = []): Promise<void> {
  fake = new FakeSidecar();
  listed = initial;
  fake.on('GET', '/api/v1/sessions', () => ({ sessions: listed }));
  fake.on('PUT', '/api/v1/visibility', () => ({}));
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  model = new SessionsModel({ sidecar, serverSettings: fake.serverSettings });
  changes = [];
  model.sessionChanged.connect((_, change) => changes.push(change));
  await whenSignalled(
    sidecar.stateChanged,
    () => sidecar.state.status === 'ready'
  );
  await until(() => fake.calls().includes('GET /api/v1/sessions'));
  await model.refresh();
  fake.socket.open();
}

const listCalls = () =>
  fake.calls().filter(c => c === 'GET /api/v1/sessions').length;

/** Push a session event as the sidecar does. */
const push = (session: ISessionInfo, removed = false) =>
  fake.socket.send({ type: 'session', session, removed });

afterEach(() => {
  model?.dispose();
  sidecar?.dispose();
});

describe('SessionsModel', () => {
  it('reads the list once the sidecar is ready, oldest first', async () => {
    await setUp([
      sessionInfo({ id: 'b', createdAt: 20 }),
      sessionInfo({ id: 'a', createdAt: 10, cluster: 'gpu' })
    ]);
    expect(model.available).toBe(true);
    expect(model.sessions.map(s => s.id)).toEqual(['a', 'b']);
    expect(model.forCluster('gpu').map(s => s.id)).toEqual(['a']);
    expect(model.get('b')?.cluster).toBe('demo');
    expect(changes.map(c => [c.session.id, c.previous, c.removed])).toEqual([
      ['b', null, false],
      ['a', null, false]
    ]);
  });

  it('applies session events, telling each change with what it was before', async () => {
    await setUp([sessionInfo()]);
    changes = [];
    let changed = 0;
    model.changed.connect(() => changed++);

    push(sessionInfo({ phase: 'starting', observedAt: 3_000 }));
    push(running({ observedAt: 4_000 }));

    expect(model.get('s1')?.phase).toBe('running');
    expect(changes.map(c => [c.previous?.phase, c.session.phase])).toEqual([
      ['queued', 'starting'],
      ['starting', 'running']
    ]);
    expect(changed).toBe(2);
  });

  it('says nothing for an event that changes nothing', async () => {
    await setUp([sessionInfo()]);
    changes = [];
    push(sessionInfo());
    expect(changes).toEqual([]);
  });

  it('ignores a view read before the one it has (crossed answers)', async () => {
    await setUp([sessionInfo()]);
    push(running({ observedAt: 5_000 }));
    changes = [];

    // Polled earlier, delivered later.
    push(sessionInfo({ phase: 'starting', observedAt: 4_000 }));
    expect(model.get('s1')?.phase).toBe('running');

    // JupyterLab's own record moves the phase without a new squeue
    // reading: a list asked for before "running" says "connecting" with
    // the same observedAt, and is older.
    const answer = new PromiseDelegate<void>();
    fake.on('GET', '/api/v1/sessions', async () => {
      await answer.promise;
      return {
        sessions: [running({ phase: 'connecting', observedAt: 5_000 })]
      };
    });
    const refreshed = model.refresh();
    answer.resolve();
    await refreshed;

    expect(model.get('s1')?.phase).toBe('running');
    expect(changes).toEqual([]);
  });

  it('takes the answer of a cancel unless an event already said more', async () => {
    await setUp([running()]);
    fake.on('POST', '/api/v1/sessions/s1/cancel', () =>
      running({ phase: 'ending' })
    );
    const answer = await model.cancel('s1');
    expect(answer.phase).toBe('ending');
    expect(model.get('s1')?.phase).toBe('ending');

    // The job ended before the answer to a second cancel came back.
    const late = new PromiseDelegate<void>();
    fake.on('POST', '/api/v1/sessions/s1/cancel', async () => {
      await late.promise;
      return running({ phase: 'ending' });
    });
    const second = model.cancel('s1');
    await until(() => fake.calls().length > 0 && late);
    push(ended('cancelled'));
    late.resolve();
    await second;
    expect(model.get('s1')?.phase).toBe('ended');
  });

  it('never brings an ended session back to life', async () => {
    await setUp([ended('timeout')]);
    changes = [];
    push(running({ observedAt: 99_000 }));
    listed = [running({ observedAt: 99_000 })];
    await model.refresh();
    // Not even from a sidecar that restarted.
    fake.socket.send({ type: 'hello', health: { ...health, pid: 7 } });
    await until(() => listCalls() >= 3);
    await model.refresh();

    expect(model.get('s1')?.phase).toBe('ended');
    expect(model.get('s1')?.end?.outcome).toBe('timeout');
    expect(changes).toEqual([]);
  });

  it('reads the list again at every hello and drops what the sidecar forgot', async () => {
    await setUp([sessionInfo({ id: 'a' }), ended('completed', { id: 'b' })]);
    changes = [];
    listed = [sessionInfo({ id: 'a', phase: 'starting', observedAt: 3_000 })];
    const before = listCalls();

    fake.socket.send({ type: 'hello', health: { ...health, pid: 99 } });
    await until(() => listCalls() === before + 1);
    await whenSignalled(model.changed, () => model.get('b') === null);

    expect(model.sessions.map(s => [s.id, s.phase])).toEqual([
      ['a', 'starting']
    ]);
    expect(
      changes.map(c => [c.session.id, c.removed, c.previous?.phase])
    ).toEqual([
      ['b', true, 'ended'],
      ['a', false, 'queued']
    ]);
  });

  it('takes a restarted sidecar at its word even where it looks older', async () => {
    await setUp([running({ observedAt: 5_000 })]);
    // After a restart the sidecar makes the forward again: "starting",
    // with the reading it kept in its state file.
    listed = [running({ phase: 'starting', localPort: null })];
    fake.socket.send({ type: 'hello', health: { ...health, pid: 100 } });
    await whenSignalled(
      model.changed,
      () => model.get('s1')?.phase === 'starting'
    );

    // From then on the usual order holds again.
    push(running({ phase: 'connecting', observedAt: 6_000 }));
    push(running({ phase: 'starting', observedAt: 6_000 }));
    expect(model.get('s1')?.phase).toBe('connecting');
  });

  it('forgets a dismissed session for good, whatever answer comes late', async () => {
    await setUp([ended('completed')]);
    const late = new PromiseDelegate<void>();
    fake.on('GET', '/api/v1/sessions', async () => {
      await late.promise;
      return { sessions: [ended('completed')] };
    });
    const refreshed = model.refresh();
    fake.on('DELETE', '/api/v1/sessions/s1', () => ({}));
    changes = [];

    await model.dismiss('s1');
    push(ended('completed'), true);
    late.resolve();
    await refreshed;

    expect(model.get('s1')).toBeNull();
    expect(changes.map(c => [c.session.id, c.removed])).toEqual([['s1', true]]);
  });

  it('adds a launched session at once and keeps the events that came first', async () => {
    await setUp();
    const answer = new PromiseDelegate<void>();
    fake.on('POST', '/api/v1/clusters/demo/sessions', async () => {
      await answer.promise;
      return json(201, sessionInfo({ phase: 'queued', observedAt: 2_000 }));
    });
    const launched = model.launch('demo', REQUEST);
    await until(() =>
      fake.calls().includes('POST /api/v1/clusters/demo/sessions')
    );
    push(sessionInfo({ phase: 'starting', observedAt: 2_000 }));
    answer.resolve();

    expect((await launched).phase).toBe('queued');
    expect(model.get('s1')?.phase).toBe('starting');
    expect(fake.requests.at(-1)?.body).toEqual(REQUEST);
  });

  it('carries the problems of a refused launch, field by field', async () => {
    await setUp();
    const problems = [
      { field: 'partition', message: 'There is no partition "nope".' },
      { field: 'wallTime', message: 'At most 1:00:00 on debug.' }
    ];
    fake.on('POST', '/api/v1/clusters/demo/sessions', () =>
      json(400, {
        error: {
          code: 'launch-invalid',
          message: problems.map(p => p.message).join(' '),
          problems
        }
      })
    );

    const error = await model.launch('demo', REQUEST).catch(e => e);

    expect(error).toBeInstanceOf(SidecarRequestError);
    expect(error.code).toBe('launch-invalid');
    expect(error.problems).toEqual(problems);
    expect(model.sessions).toEqual([]);
  });

  it("carries sbatch's own words when the scheduler refuses", async () => {
    await setUp();
    fake.on('POST', '/api/v1/clusters/demo/sessions', () =>
      sidecarError(
        422,
        'sbatch-refused',
        'sbatch: error: Invalid account or account/partition combination specified'
      )
    );
    const error = await model.launch('demo', REQUEST).catch(e => e);
    expect(error.code).toBe('sbatch-refused');
    expect(error.message).toMatch(/^sbatch: error: Invalid account/);
    expect(error.problems).toEqual([]);
  });

  it('asks for the log from a byte offset, and for the URL only when asked', async () => {
    await setUp([running()]);
    fake.on('GET', '/api/v1/sessions/s1/log', () => ({
      size: 12,
      offset: 5,
      next: 12,
      text: 'started'
    }));
    fake.on('GET', '/api/v1/sessions/s1/open', () => ({
      url: 'http://127.0.0.1:40001/lab?token=secret'
    }));
    expect(fake.calls().some(c => c.endsWith('/open'))).toBe(false);

    expect((await model.log('s1', 5.7)).text).toBe('started');
    expect(fake.requests.at(-1)?.search).toBe('?offset=5');
    expect(await model.openUrl('s1')).toBe(
      'http://127.0.0.1:40001/lab?token=secret'
    );
  });

  it('tells a restarted sidecar again that the page is hidden', async () => {
    await setUp();
    await model.setVisible(false);
    const puts = () =>
      fake.requests.filter(r => r.path === '/api/v1/visibility');
    expect(puts().map(r => r.body)).toEqual([{ visible: false }]);

    fake.socket.send({ type: 'hello', health: { ...health, pid: 5 } });
    await until(() => puts().length === 2);
    expect(puts()[1].body).toEqual({ visible: false });
  });

  it('carries the values a cluster without accounting cannot check apart from the problems', async () => {
    await setUp();
    const note = {
      field: 'account',
      message: 'Not checked: this cluster has no accounting to list accounts.'
    };
    let answer: object = { problems: [], unchecked: [note] };
    fake.on('POST', '/api/v1/clusters/demo/launch-check', () => answer);
    const request = { ...REQUEST, account: 'proj-42' };

    expect(await model.check('demo', request)).toEqual({
      problems: [],
      unchecked: [note]
    });
    expect(fake.requests.at(-1)?.body).toEqual(request);

    // A sidecar that sends no `unchecked` (a cluster with accounting).
    const problem = { field: 'qos', message: 'There is no QOS "x".' };
    answer = { problems: [problem] };
    expect(await model.check('demo', request)).toEqual({
      problems: [problem],
      unchecked: []
    });
  });

  it('lists the sessions started elsewhere without following them', async () => {
    await setUp([running()]);
    const far = attachable();
    fake.on('GET', '/api/v1/clusters/demo/sessions/attachable', () => ({
      cluster: 'demo',
      sessions: [far]
    }));
    changes = [];

    expect(await model.attachable('demo')).toEqual([far]);
    expect(model.sessions.map(s => s.id)).toEqual(['s1']);
    expect(changes).toEqual([]);
  });

  it('follows an attached session at once, even one this page saw go', async () => {
    // The sidecar lost its state: its list no longer has the session.
    await setUp([running({ id: 'far1' })]);
    listed = [];
    fake.socket.send({ type: 'hello', health: { ...health, pid: 101 } });
    await whenSignalled(model.changed, () => model.get('far1') === null);

    const attached = running({
      id: 'far1',
      attached: true,
      origin: { host: 'laptop-7', sidecar: 'a1' },
      observedAt: 7_000
    });
    fake.on('POST', '/api/v1/clusters/demo/sessions/far1/attach', () =>
      json(201, attached)
    );
    changes = [];

    expect(await model.attach('demo', 'far1')).toEqual(attached);
    expect(model.get('far1')).toEqual(attached);
    expect(changes.map(c => [c.session.id, c.removed])).toEqual([
      ['far1', false]
    ]);
    // Its events count again.
    push({ ...attached, phase: 'ending', observedAt: 8_000 });
    expect(model.get('far1')?.phase).toBe('ending');
  });

  it('carries the reason an attach is refused', async () => {
    await setUp();
    fake.on('POST', '/api/v1/clusters/demo/sessions/far1/attach', () =>
      sidecarError(409, 'session-not-attachable', 'Job 77 on demo is over.')
    );
    const error = await model.attach('demo', 'far1').catch(e => e);
    expect(error).toBeInstanceOf(SidecarRequestError);
    expect(error.code).toBe('session-not-attachable');
    expect(error.message).toBe('Job 77 on demo is over.');
    expect(model.sessions).toEqual([]);
  });
});
