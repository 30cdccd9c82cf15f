import { splitForMiddleElision } from '../../../src/lab/panel/elide';

describe('splitForMiddleElision', () => {
  it.each([
    ['a short text stays whole, as tail', 'hpc-demo', ['', 'hpc-demo']],
    [
      'a path keeps its last directories whole',
      '/home/hpcdemo/.local/miniforge/envs/jupyterlab/share/jupyter/kernels',
      [
        '/home/hpcdemo/.local/miniforge/envs/jupyterlab',
        '/share/jupyter/kernels'
      ]
    ],
    [
      'a long last directory is kept whole',
      '/home/ana/envs/my-very-long-project-environment',
      ['/home/ana/envs', '/my-very-long-project-environment']
    ],
    [
      'an address is cut at a dot, space, @ or colon',
      'researcher@login-node-01.archer2.hpc.example-university.ac.uk:2222 via gateway.example-university.ac.uk',
      [
        'researcher@login-node-01.archer2.hpc.example-university.ac.uk:2222 via gateway',
        '.example-university.ac.uk'
      ]
    ],
    [
      'text without a boundary is cut where the tail starts',
      'x'.repeat(30),
      ['x'.repeat(8), 'x'.repeat(22)]
    ]
  ])('%s', (_, text, expected) => {
    const [head, tail] = splitForMiddleElision(text);
    expect([head, tail]).toEqual(expected);
    // Nothing is lost: the elided element's text is the whole text.
    expect(head + tail).toBe(text);
  });
});
