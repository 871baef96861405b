/** The Alipay bundle: only the `my` adapter. */

import { registerPlatform } from '../api';
import { myApi } from '../globals';
import { alipayPort } from '../platforms/alipay';

registerPlatform('alipay', () => {
  const api = myApi();
  return api === undefined ? null : alipayPort(api);
});

export * from '../api';
