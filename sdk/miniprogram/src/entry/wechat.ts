/** The WeChat bundle: only the `wx` adapter. */

import { registerPlatform } from '../api';
import { wxApi } from '../globals';
import { wxLikePort } from '../platforms/wxlike';

registerPlatform('wechat', () => {
  const api = wxApi();
  return api === undefined ? null : wxLikePort('wechat', api);
});

export * from '../api';
