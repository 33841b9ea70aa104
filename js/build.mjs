// Bundle the widget front ends into amumo/static/ (one self-contained ES module per widget).
// Deterministic: pinned esbuild, no timestamps, no source maps, sorted entry points.
// Usage: node js/build.mjs [--watch]
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const widgets = ["comparer", "explorer", "heatmap", "preview", "scatter"];

const options = {
  absWorkingDir: root,
  entryPoints: [
    ...widgets.map((name) => ({ in: `js/widgets/${name}.js`, out: name })),
    { in: "js/css/amumo.css", out: "amumo" },
  ],
  outdir: "amumo/static",
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  sourcemap: false,
  logLevel: "warning",
  banner: { js: "/* amumo widgets — built from js/ by `npm run build`; do not edit. */" },
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log("watching js/ ...");
} else {
  await esbuild.build(options);
}
