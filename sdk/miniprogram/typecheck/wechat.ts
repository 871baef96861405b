/**
 * Compile-time only (tsconfig.json): the official `wx` typings (miniprogram-api-typings) must fit the part of
 * `wx` that src/platforms/wxlike.ts uses.
 */

import type { WxLikeApi } from '../src/platforms/wxlike';

export const wechatFits: WxLikeApi = wx;
