// Copy the third-party scripts that amumo's offline HTML export inlines into
// amumo/static/vendor/, so end users need neither node nor a network connection.
// Run by `npm run build` (the "postbuild" script) or alone with `npm run vendor`.
//
// Deterministic: exact versions pinned in package.json, esbuild pinned, no
// timestamps; the outputs are committed and `make test` checks they match a
// fresh build.
//
//   require.min.js   requirejs (MIT), minified
//   anywidget.amd.js anywidget's AMD front end (MIT) as the named module "anywidget"
//   embed-amd.js     @jupyter-widgets/html-manager (BSD-3-Clause): the widget
//                    manager for static pages, with @jupyter-widgets/base and
//                    controls; source-map comments removed (maps are not shipped)
//   versions.json    package versions, read by amumo.widgets.export
//   LICENSES.txt     licences of the above
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "amumo", "static", "vendor");

// Direct devDependencies are installed at the top of node_modules by `npm ci`.
function packageDir(name) {
  const dir = path.join(root, "node_modules", ...name.split("/"));
  if (!fs.existsSync(path.join(dir, "package.json"))) {
    fail(`${name} is not installed; run \`npm ci\` first`);
  }
  return dir;
}

function read(name, file) {
  return fs.readFileSync(path.join(packageDir(name), file), "utf8");
}

function version(name) {
  return JSON.parse(read(name, "package.json")).version;
}

function fail(message) {
  console.error(`vendor: ${message}`);
  process.exit(1);
}

function write(file, text) {
  fs.writeFileSync(path.join(outDir, file), text.endsWith("\n") ? text : `${text}\n`);
}

const minify = (code, options = {}) =>
  esbuild.transformSync(code, {
    minify: true,
    legalComments: "inline",
    charset: "utf8",
    target: ["es2022"],
    ...options,
  }).code;

fs.mkdirSync(outDir, { recursive: true });

// requirejs: a classic script declaring the globals requirejs/require/define, so no
// wrapper (esbuild keeps top-level names when no output format is given).
write("require.min.js", minify(read("requirejs", "require.js")));

// anywidget: dist/index.js ends with one anonymous `define([...], factory)`; name it so
// it can be inlined in a page instead of being fetched by requirejs.
const anywidgetSource = read("anywidget", "dist/index.js");
const anonymous = 'define(["@jupyter-widgets/base"],';
const count = anywidgetSource.split(anonymous).length - 1;
if (count !== 1) {
  fail(`expected one '${anonymous}' in anywidget/dist/index.js, found ${count}; update this script`);
}
const named = anywidgetSource.replace(anonymous, 'define("anywidget", ["@jupyter-widgets/base"],');
write(
  "anywidget.amd.js",
  `/*! anywidget ${version("anywidget")} | MIT License | https://github.com/manzt/anywidget */\n` +
    minify(named, { format: "iife" }),
);

// html-manager: already minified; drop source-map comments (the maps are not shipped).
const embed = read("@jupyter-widgets/html-manager", "dist/embed-amd.js");
if (!embed.includes('define("@jupyter-widgets/html-manager/dist/libembed-amd"')) {
  fail("@jupyter-widgets/html-manager/dist/embed-amd.js has an unexpected layout");
}
write("embed-amd.js", embed.replace(/^\/\/# sourceMappingURL=.*$/gm, ""));

const versions = Object.fromEntries(
  ["@jupyter-widgets/html-manager", "anywidget", "requirejs"].map((n) => [n, version(n)]),
);
write("versions.json", JSON.stringify(versions, null, 2));

const licenses = [
  "Third-party scripts inlined by amumo.widgets.export.save_html",
  "",
  `requirejs ${versions.requirejs} (require.min.js)`,
  "MIT License, Copyright jQuery Foundation and other contributors",
  "https://github.com/requirejs/requirejs/blob/master/LICENSE",
  "",
  `anywidget ${versions.anywidget} (anywidget.amd.js)`,
  read("anywidget", "LICENSE").trim(),
  "",
  `@jupyter-widgets/html-manager ${versions["@jupyter-widgets/html-manager"]} (embed-amd.js)`,
  "BSD 3-Clause License, Copyright (c) Project Jupyter Contributors",
  "https://github.com/jupyter-widgets/ipywidgets/blob/main/LICENSE",
  "Bundled third-party notices:",
  read("@jupyter-widgets/html-manager", "dist/embed.js.LICENSE.txt").trim(),
];
write("LICENSES.txt", licenses.join("\n"));
