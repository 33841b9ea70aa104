// Bundle the widget front ends into amumo/static/ (one self-contained ES module per widget).
// Deterministic: pinned esbuild, no timestamps, no source maps, sorted entry points.
// Usage: node js/build.mjs [--watch]
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const widgets = ["comparer", "explorer", "gap_matrix", "gap_sweep", "heatmap", "preview", "scatter"];
// Style sheets: amumo.css for the views built on amumo-root, gap_sweep.css for GapSweep alone.
const styles = ["amumo", "gap_sweep"];

// regl-scatterplot and its dependencies have no side effects on import but do not say so
// in their package.json; marking them lets widgets without a scatter (heatmap, comparer,
// preview) leave the WebGL library out of their bundle.
const WEBGL_PACKAGES = /^(regl-scatterplot|regl|regl-line|pub-sub-es|dom-2d-camera|gl-matrix|earcut|@flekschas\/utils)(\/|$)/;
const pureWebgl = {
  name: "pure-webgl-packages",
  setup(build) {
    build.onResolve({ filter: WEBGL_PACKAGES }, async (args) => {
      if (args.pluginData === "pure") return undefined;
      const result = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: "pure",
      });
      if (result.errors.length) return { errors: result.errors };
      return { path: result.path, sideEffects: false };
    });
  },
};

const options = {
  absWorkingDir: root,
  plugins: [pureWebgl],
  entryPoints: [
    ...widgets.map((name) => ({ in: `js/widgets/${name}.js`, out: name })),
    ...styles.map((name) => ({ in: `js/css/${name}.css`, out: name })),
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
