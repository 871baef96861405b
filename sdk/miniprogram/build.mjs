// Bundles the SDK for mini-programs: one CommonJS file per platform plus the universal one, minified.
import { build } from 'esbuild';

const bundles = [
  ['src/index.ts', 'dist/touchstream.min.js'],
  ['src/entry/wechat.ts', 'dist/touchstream.wechat.min.js'],
  ['src/entry/alipay.ts', 'dist/touchstream.alipay.min.js'],
  ['src/entry/douyin.ts', 'dist/touchstream.douyin.min.js'],
  ['src/entry/baidu.ts', 'dist/touchstream.baidu.min.js'],
];

await Promise.all(
  bundles.map(([entry, outfile]) =>
    build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      minify: true,
      format: 'cjs',
      // Old base libraries run ES2015; esbuild lowers anything newer.
      target: 'es2015',
      platform: 'neutral',
      legalComments: 'none',
      logLevel: 'warning',
    }),
  ),
);
