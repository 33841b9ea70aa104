// ESLint (flat config) for amumo's front end: `make lint-js` (run by `make test`).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["amumo/static/**", "node_modules/**", ".venv/**", "**/.venv/**", "tests/artifacts/**", "benchmarks/out/**"] },
  js.configs.recommended,
  {
    // The widgets' ES modules: bundled by esbuild for the browser.
    files: ["js/lib/**/*.js", "js/widgets/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
  },
  {
    // Build scripts run by node.
    files: ["js/*.mjs", "scripts/*.mjs", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
  {
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_", caughtErrors: "none" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "prefer-const": "error",
      "no-var": "error",
      "no-shadow": "error",
      "no-use-before-define": ["error", { functions: false, classes: true, variables: false }],
      "no-implicit-coercion": ["error", { boolean: false }],
      "no-param-reassign": "off",
      "no-constructor-return": "error",
      "no-self-compare": "error",
      "no-template-curly-in-string": "error",
      "no-unmodified-loop-condition": "error",
      "no-unreachable-loop": "error",
      "array-callback-return": "error",
    },
  },
];
