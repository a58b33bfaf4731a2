// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules over the
// repository's TypeScript, without type information (type-aware rules took 30 s of CPU instead of 6). Layout is
// Prettier's (.prettierrc.json, `npm run format`), so no rule here is about layout.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["**/node_modules/", "bin/", "plan/", "coverage/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        rules: {
            // Leaving a value out by destructuring (`const { provider, ...rest } = opts`) is how the code drops a key.
            "@typescript-eslint/no-unused-vars": [
                "error",
                { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true },
            ],
        },
    },
    {
        // Parsed YAML (stack files the tests edit, chart manifests and CRDs) has no type; `any` says so.
        files: [
            "test/**/*.ts",
            "offline/check/charts.ts",
            "offline/check/check-charts.ts",
            "offline/check/check-schemas.ts",
        ],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
    {
        // The tests match report columns ("PASS  name  detail") and stack frames ("    at ") as printed.
        files: ["test/**/*.ts"],
        rules: { "no-regex-spaces": "off" },
    },
    {
        files: ["**/*.js"],
        languageOptions: {
            sourceType: "commonjs",
            globals: { require: "readonly", module: "writable", __dirname: "readonly", process: "readonly" },
        },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
);
