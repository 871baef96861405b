/** The Douyin bundle: only the `tt` adapter. */

import { registerPlatform } from '../api';
import { ttApi } from '../globals';
import { wxLikePort } from '../platforms/wxlike';

registerPlatform('douyin', () => {
  const api = ttApi();
  return api === undefined ? null : wxLikePort('douyin', api);
});

export * from '../api';
