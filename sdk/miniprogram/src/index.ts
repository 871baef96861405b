/** The universal bundle: every platform's adapter. Per-platform bundles are in src/entry/. */

import { registerPlatform } from './api';
import { myApi, swanApi, ttApi, wxApi } from './globals';
import { alipayPort } from './platforms/alipay';
import { wxLikePort } from './platforms/wxlike';

registerPlatform('wechat', () => {
  const api = wxApi();
  return api === undefined ? null : wxLikePort('wechat', api);
});
registerPlatform('douyin', () => {
  const api = ttApi();
  return api === undefined ? null : wxLikePort('douyin', api);
});
registerPlatform('baidu', () => {
  const api = swanApi();
  return api === undefined ? null : wxLikePort('baidu', api);
});
registerPlatform('alipay', () => {
  const api = myApi();
  return api === undefined ? null : alipayPort(api);
});

export * from './api';
