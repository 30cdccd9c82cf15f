import { LabIcon } from '@jupyterlab/ui-components';

import hpcSvg from '../../style/icons/hpc.svg';

export const hpcIcon = new LabIcon({
  name: 'jupyterlab-hpc:hpc',
  svgstr: hpcSvg
});
