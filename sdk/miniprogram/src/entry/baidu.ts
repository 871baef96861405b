/** The Baidu bundle: only the `swan` adapter. */

import { registerPlatform } from '../api';
import { swanApi } from '../globals';
import { wxLikePort } from '../platforms/wxlike';

registerPlatform('baidu', () => {
  const api = swanApi();
  return api === undefined ? null : wxLikePort('baidu', api);
});

export * from '../api';
