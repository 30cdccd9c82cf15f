import { nullTranslator } from '@jupyterlab/translation';

import { sidecarMessage } from '../../../src/lab/panel/messages';

const trans = nullTranslator.load('jupyterlab_hpc');

describe('sidecarMessage', () => {
  it('tells the user how to install the missing server part', () => {
    const m = sidecarMessage({ status: 'missing' }, trans);
    expect(m.tone).toBe('error');
    expect(m.fix).toBe('pip install jupyterlab-hpc');
  });
});
